"""Figure 4 and the billiards trajectories figure: panel data checked against the simulator's
event flags (an independent route to "the gradient is exactly zero"), example selection, and
both figures rendered over both billiards experiments (the smoke DAG carries only one)."""

import json

import numpy as np
import pytest
import torch

from invnet.analysis import aggregate
from invnet.artifacts import read_h5
from invnet.config import resolve_config
from invnet.figures import FigureInputs, PanelInputs, figures
from invnet.figures.fig4 import mark_sizes, plane_box, select_example
from invnet.figures.trajectories import select_examples
from helpers import generate_data, run_solver
from invnet.problems.billiards import Billiards, BilliardsChain
from invnet.solvers import solver_set

SOLVERS = {"bfgs": {"maxiter": 30}, "gd": {"lr": 2.5e-3, "steps": 20}, "jpo": {"hidden": [8], "steps": 20}}
SOLVER_SET = solver_set(SOLVERS, SOLVERS)
FAMILIES = {"billiards": Billiards, "billiards_chain": BilliardsChain}


def test_select_example_prefers_flat_starts_where_jpo_gains_most():
    flat = np.array([False, True, True, False])
    losses = {"bfgs": np.array([1.0, 2.0, 3.0, 9.0]), "jpo": np.array([1e-6, 1.0, 1e-3, 1.0])}
    idx, why = select_example(flat, losses, SOLVER_SET)
    assert idx == 2 and "zero gradient" in why  # problem 0 has the larger ratio but is not flat
    idx, _ = select_example(np.zeros(4, bool), losses, SOLVER_SET)
    assert idx == 0  # none flat: over all problems
    picked = [i for i, _ in select_examples(flat, losses, SOLVER_SET)]
    assert picked == [2, 1, 3]  # flat best, flat worst, non-flat worst; each once
    assert [i for i, _ in select_examples(np.ones(4, bool), losses, SOLVER_SET)] == [0, 1]  # no non-flat: two
    # no primary method configured: the first flat problem, and why
    idx, why = select_example(flat, {"bfgs": losses["bfgs"], "gd": losses["jpo"]}, solver_set(["bfgs", "gd"]))
    assert idx == 1 and "first problem" in why and "zero gradient" in why


def test_plane_box_contains_points_and_falls_back_without_far_solutions():
    x0, truth = np.array([1.0, 0.0]), np.array([1.2, 0.3])
    box = plane_box([x0, truth, np.array([0.9, -0.1])], max_half=3.0)
    assert np.allclose(box[:, 1] - box[:, 0], box[0, 1] - box[0, 0])  # square
    for p in (x0, truth, [0.9, -0.1]):
        assert np.all(box[:, 0] <= p) and np.all(p <= box[:, 1])
    assert box[0, 1] - box[0, 0] >= 0.7 - 1e-12
    far = plane_box([x0, truth, np.array([50.0, 40.0])], max_half=3.0)  # fitted to x0 and truth
    assert far[0, 1] - far[0, 0] <= 6.0 and np.all(far[:, 0] <= x0) and np.all(truth <= far[:, 1])


def test_marks_at_one_point_nest_in_table_order():
    sizes = mark_sizes({"bfgs": (1.0, 0.0), "gd": (1.0, 0.001), "jpo": (1.3, 0.2), "lbfgsb": (1.0, 0.0)}, tol=0.01)
    assert sizes["bfgs"] > sizes["gd"] > sizes["lbfgsb"]  # stuck at x0: each inside the one before
    assert sizes["jpo"] not in (sizes["bfgs"], sizes["gd"], sizes["lbfgsb"])  # alone: its own size


@pytest.fixture(scope="module")
def billiards_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("billiards_figs")
    cfg = resolve_config(
        {"experiments": {e: {"family": e, "n": [16], "seeds": [0], "n_test": 2, "solvers": SOLVERS} for e in FAMILIES}}
    )
    out = {}
    for e in FAMILIES:
        data = root / f"{e}.h5"
        generate_data(cfg, e, 16, 0, data)
        runs = {s: root / f"{e}_{s}.h5" for s in SOLVERS}
        for s, path in runs.items():
            run_solver(cfg, e, s, 16, 0, data, path)
        frames = aggregate(runs.values(), [data], SOLVER_SET)
        frames["fractions"].to_csv(root / f"{e}_fractions.csv", index=False)
        out[e] = (data, runs, root / f"{e}_fractions.csv")
    return root, out


@pytest.mark.parametrize("experiment", sorted(FAMILIES))
def test_fig4_panel_flat_region_is_where_the_target_ball_never_moves(billiards_runs, experiment):
    root, out = billiards_runs
    data, runs, _ = out[experiment]
    panel = root / f"{experiment}_fig4.h5"
    idx = figures()["fig4"].panels(PanelInputs(experiment, data, runs, SOLVER_SET), panel)
    land, attrs = read_h5(panel)
    arrays, _ = read_h5(data)
    fam = FAMILIES[experiment]()
    key = "hit2" if experiment == "billiards_chain" else "hit1"
    # the flat mask of the grid (gradient exactly zero) equals "the intended collisions do not happen"
    grid = torch.as_tensor(np.stack(np.meshgrid(land["vx"], land["vy"], indexing="xy"), -1).reshape(-1, 2))
    gamma = torch.as_tensor(arrays["gamma"][idx]).expand(grid.shape[0], -1)
    hit = fam.events(grid, gamma)[key].numpy().reshape(land["flat_grid"].shape)
    assert np.array_equal(land["flat_grid"].astype(bool), ~hit)
    assert 0 < hit.sum() < hit.size  # both regions are in view
    # on the flat region the loss is the constant |ball start - y*|^2
    start = arrays["gamma"][idx][-2:]
    flat_value = float(((start - arrays["y_target"][idx]) ** 2).sum())
    np.testing.assert_array_equal(land["loss_grid"][~hit], flat_value)
    # the recorded fraction of flat starts is the fraction of problems the shot from x0 misses
    x0 = torch.as_tensor(fam.x0).expand(16, -1)
    missed = ~fam.events(x0, torch.as_tensor(arrays["gamma"]))[key].numpy()
    assert attrs["flat_fraction"] == pytest.approx(missed.mean())
    np.testing.assert_array_equal(land["flat_at_x0"].astype(bool), missed)  # per problem
    for s in SOLVERS:
        box_lo = np.array([land["vx"][0], land["vy"][0]])
        box_hi = np.array([land["vx"][-1], land["vy"][-1]])
        assert land[f"x_{s}"].shape == (2,)
        if np.all(np.abs(land[f"x_{s}"]) < 10):
            assert np.all(box_lo <= land[f"x_{s}"]) and np.all(land[f"x_{s}"] <= box_hi)


@pytest.mark.parametrize("experiment", sorted(FAMILIES))
def test_trajectory_panel_ends_at_the_simulated_rest_positions(billiards_runs, experiment):
    root, out = billiards_runs
    data, runs, _ = out[experiment]
    panel = root / f"{experiment}_traj.h5"
    indices = figures()["trajectories"].panels(PanelInputs(experiment, data, runs, SOLVER_SET), panel)
    land, attrs = read_h5(panel)
    arrays, _ = read_h5(data)
    fam = FAMILIES[experiment]()
    assert json.loads(attrs["indices"]) == indices and 1 <= len(indices) <= 3
    for k, idx in enumerate(indices):
        gamma = torch.as_tensor(arrays["gamma"][idx : idx + 1])
        for shot in ("truth", "bfgs", "jpo"):
            knots = land[f"ex{k}_{shot}_knots"]
            x = torch.as_tensor(land[f"ex{k}_{shot}_x"][None])
            np.testing.assert_allclose(knots[0, 0], 0.0)  # cue starts at the origin
            np.testing.assert_allclose(knots[0, 1:].reshape(-1), arrays["gamma"][idx])
            np.testing.assert_allclose(knots[-1, -1], fam.forward(x, gamma)[0].numpy(), atol=1e-12)
        # noise 0: the true shot's target ball stops on y*
        np.testing.assert_allclose(land[f"ex{k}_truth_knots"][-1, -1], arrays["y_target"][idx], atol=1e-12)


def test_fig4_and_trajectories_render_over_both_experiments(billiards_runs):
    root, out = billiards_runs
    experiments = sorted(FAMILIES)
    panels = {}
    for e in experiments:
        panels[e] = root / f"{e}_fig4_render.h5"
        figures()["fig4"].panels(PanelInputs(e, out[e][0], out[e][1], SOLVER_SET), panels[e])
    inputs = FigureInputs.load(
        experiments, {e: e for e in experiments}, {e: e for e in experiments},
        {"fractions": [out[e][2] for e in experiments]}, {e: str(p) for e, p in panels.items()}, SOLVER_SET,
    )
    fig = figures()["fig4"].plot(inputs, root / "fig4.pdf", root / "fig4.png")
    assert (root / "fig4.pdf").stat().st_size > 1000 and (root / "fig4.png").stat().st_size > 1000
    titles = [ax.get_title(loc="left") for ax in fig.axes]  # the panels first, then the colour bars
    for k, e in enumerate(experiments):  # one landscape per experiment, named in its title
        assert titles[k].startswith(f"({'ab'[k]}) {e}, problem ")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"BFGS", "GD", "JPO"} <= set(legend)  # the solvers from x0 are marked
    for e in experiments:
        traj = root / f"{e}_traj_render.h5"
        figures()["trajectories"].panels(PanelInputs(e, out[e][0], out[e][1], SOLVER_SET), traj)
        inputs = FigureInputs.load([e], {e: e}, {e: e}, {}, {e: str(traj)}, SOLVER_SET)
        fig = figures()["trajectories"].plot(inputs, root / f"{e}_traj.pdf", root / f"{e}_traj.png")
        assert (root / f"{e}_traj.png").stat().st_size > 1000
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert legend[:3] == ["true shot", "BFGS shot", "JPO shot"]
