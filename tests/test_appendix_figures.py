"""The appendix figures every experiment gets (loss_ecdf, example_solutions, training_curves,
cost_scaling, outcome_bars), checked against numbers recomputed here from the run artifacts (or the
aggregate's summary), never through the figure code: ECDF step heights are counts, slopes are a
regression done here, bar segments follow the comparison rule written here, the example problems
are the ones the rule of the module docstring picks, the waveforms are the wave-packet formula.

Tiny wave-packet runs (2 n x 2 seeds) in-process, plus a plug-in solver (a copy of the GD runs at
half their losses, failing on two problems of every run) and one problem on which the baseline
failed, so failures are drawn and counted."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from scipy import stats

from helpers import run_plan
from invnet.analysis import aggregate
from invnet.artifacts import STATUS_INF, STATUS_NAN, STATUS_OK, read_h5, write_h5
from invnet.figures import FigureInputs, PanelInputs, figures
from invnet.solver_info import SolverInfo, SolverSet
from invnet.solvers import solver_set

SIZES, SEEDS, RTOL = (4, 8), (0, 1), 1e-3
SOLVERS = {"bfgs": {"maxiter": 10}, "gd": {"steps": 10}, "jpo": {"hidden": [8], "steps": 10},
           "jpo_bfgs": {"maxiter": 10}}
CONFIG = {"history_points": 20, "compare_rtol": RTOL, "experiments": {"wavepacket": {
    "family": "wavepacket", "n": list(SIZES), "seeds": list(SEEDS), "n_test": 2, "solvers": SOLVERS}}}
PLUGIN = SolverInfo(name="heavy_ball", label="Heavy ball", order=25, method="heavy_ball",
                    style={"color": [0.8, 0.1, 0.5], "linestyle": [0, [3, 1]]})
PLUGIN_FAILS = (0, 2)  # problems on which the plug-in run fails (NaN loss), in every run
BASELINE_FAILS = (8, 1, 3)  # (n, seed, problem) on which the baseline's loss is inf
NEW = ("loss_ecdf", "example_solutions", "training_curves", "cost_scaling", "outcome_bars")
# a layout that collapses (labels wider than the figure) draws overlapping text: an error here
pytestmark = pytest.mark.filterwarnings("error:constrained_layout not applied:UserWarning")


def run_path(root, solver, n, seed):
    return root / f"results/runs/wavepacket/{solver}/n{n}/seed{seed}.h5"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(root, data paths by (n, seed), run paths by (solver, n, seed)) after the edits above."""
    root = tmp_path_factory.mktemp("appendix")
    run_plan(CONFIG, root)
    data = {(n, s): root / f"results/data/wavepacket/n{n}/seed{s}.h5" for n in SIZES for s in SEEDS}
    runs = {(solver, n, s): run_path(root, solver, n, s) for solver in SOLVERS for n in SIZES for s in SEEDS}
    for n in SIZES:
        for s in SEEDS:
            arrays, attrs = read_h5(runs["gd", n, s], "run")
            arrays["loss"] = arrays["loss"] * 0.5
            arrays["loss_history"] = arrays["loss_history"] * 0.5
            for i in PLUGIN_FAILS:
                arrays["loss"][i], arrays["problem_status"][i] = np.nan, STATUS_NAN
            runs[PLUGIN.name, n, s] = root / f"plugin_n{n}_s{s}.h5"
            write_h5(runs[PLUGIN.name, n, s], arrays, {**attrs, "solver": PLUGIN.name})
    n, s, i = BASELINE_FAILS
    arrays, attrs = read_h5(runs["bfgs", n, s], "run")
    arrays["loss"][i], arrays["problem_status"][i] = np.inf, STATUS_INF
    write_h5(runs["bfgs", n, s], arrays, attrs)
    return root, data, runs


def configured(names) -> SolverSet:
    known = [s for s in names if s != PLUGIN.name]
    return SolverSet.merge(solver_set(known, SOLVERS), [PLUGIN] if PLUGIN.name in names else [])


ALL = (*SOLVERS, PLUGIN.name)


@pytest.fixture(scope="module")
def draw(study, tmp_path_factory):
    """draw(figure, names) -> the rendered Figure (plot's return value) for the solvers ``names``."""
    root, data, runs = study
    out = tmp_path_factory.mktemp("drawn")
    cache = {}

    def tables(names):
        if names not in cache:
            frames = aggregate([p for (s, *_), p in runs.items() if s in names], list(data.values()),
                               configured(names), RTOL)
            folder = out / "-".join(names)
            folder.mkdir()
            for name, frame in frames.items():
                frame.to_csv(folder / f"{name}.csv", index=False)
            cache[names] = {name: [folder / f"{name}.csv"] for name in frames}
        return cache[names]

    def render(figure: str, names=ALL):
        spec, solvers = figures()[figure], configured(names)
        tag = f"{figure}-{'-'.join(names)}"
        panels = {}
        if spec.panels is not None:
            n, s = max(SIZES), SEEDS[0]
            panels["wavepacket"] = str(out / f"{tag}.h5")
            on_set = {solver: p for (solver, rn, rs), p in runs.items() if solver in names and (rn, rs) == (n, s)}
            spec.panels(PanelInputs("wavepacket", data[n, s], on_set, solvers), panels["wavepacket"])
        frames = tables(names)
        inputs = FigureInputs.load(["wavepacket"], {"wavepacket": "Wave packet"}, {"wavepacket": "wavepacket"},
                                   {t: frames[t] for t in spec.reads}, panels, solvers)
        fig = spec.plot(inputs, out / f"{tag}.pdf", out / f"{tag}.png")
        assert (out / f"{tag}.png").stat().st_size > 1000
        return fig, panels.get("wavepacket"), frames

    return render


def artifact_losses(runs, solver, n):
    """(losses, statuses) of ``solver`` at ``n``, all seeds concatenated, read from the run files."""
    parts = [read_h5(runs[solver, n, s], "run")[0] for s in SEEDS]
    return (np.concatenate([p["loss"] for p in parts]), np.concatenate([p["problem_status"] for p in parts]))


def legend_texts(fig) -> list[str]:
    return [t.get_text() for lg in fig.legends for t in lg.get_texts()]


# ------------------------------------------------------------------------------ loss_ecdf


def test_ecdf_steps_are_problem_counts_and_the_legend_counts_failures(study, draw):
    _, _, runs = study
    fig, _, _ = draw("loss_ecdf")
    solvers = configured(ALL)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title("left") for ax in axes] == [f"$n = {n}$ (2 seeds: {2 * n} problems)" for n in SIZES]
    for ax, n in zip(axes, SIZES):
        lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
        for solver in ALL:
            loss, status = artifact_losses(runs, solver, n)
            ok = (status == STATUS_OK) & np.isfinite(loss)
            x, y = (np.asarray(v, dtype=np.float64) for v in lines[solvers.label(solver)].get_data())
            # a step from 0 at the left edge, then one step of 1/(n x seeds) per solved problem
            assert y[0] == 0.0 and np.allclose(np.diff(y), 1.0 / loss.size)
            assert y[-1] == pytest.approx(ok.sum() / loss.size)
            np.testing.assert_allclose(x[1:], np.sort(loss[ok]), rtol=1e-12)
        failed = {s: int((artifact_losses(runs, s, n)[1] != STATUS_OK).sum()) for s in ALL}
        note = " ".join(t.get_text() for t in ax.texts)
        assert f"Heavy ball {failed[PLUGIN.name]}/{2 * n}" in note and failed[PLUGIN.name] == 2 * len(PLUGIN_FAILS)
        assert ("BFGS 1/16" in note) == (n == 8)
    total = sum(2 * n for n in SIZES)
    texts = legend_texts(fig)
    assert f"Heavy ball ({2 * len(PLUGIN_FAILS) * len(SIZES)}/{total} failed)" in texts
    assert f"BFGS (1/{total} failed)" in texts and "JPO" in texts  # no failure: the plain label
    # the noise floor: the median loss of the truth on the representative set, recomputed here
    data, _ = read_h5(study[1][max(SIZES), SEEDS[0]], "data")
    t = np.linspace(0, 1, 256)[None, :] - data["x_true"][:, :1]
    clean = data["x_true"][:, 1:] * np.exp(-t**2 / (2 * 0.1**2)) * np.sin(2 * np.pi * 10 * t)
    floor = np.median(((clean - data["y_target"]) ** 2).mean(axis=1))
    vertical = [line.get_xdata()[0] for line in axes[0].get_lines() if line.get_label().startswith("_")]
    assert vertical == [pytest.approx(floor, rel=1e-10)]


# ------------------------------------------------------------------------------ cost_scaling


def test_cost_slopes_are_a_least_squares_fit_of_the_summary(study, draw):
    fig, _, frames = draw("cost_scaling")
    summary = pd.read_csv(frames["summary"][0]).set_index(["solver", "n"])
    solvers = configured(ALL)
    log_n = np.log10(SIZES)
    for ax, quantity in zip(fig.axes, ("evaluations", "wall_time")):
        shown = {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}
        for solver in ALL:
            if quantity == "evaluations":  # the aggregate's total: a refinement adds its start run
                mean = [summary.loc[(solver, n), "mean_total_evaluations_mean"] for n in SIZES]
            else:
                chain = [solver] + (["jpo"] if solver == "jpo_bfgs" else [])
                mean = [sum(summary.loc[(s, n), "wall_time_s_mean"] for s in chain) for n in SIZES]
            slope = stats.linregress(log_n, np.log10(mean)).slope
            label = f"{solvers.label(solver)}: {slope:.2f}"
            assert label in shown, (label, list(shown))
            np.testing.assert_allclose(shown[label].lines[0].get_ydata(), mean, rtol=1e-12)
    # networks and GD spend a fixed number of evaluations per problem, whatever n
    assert "JPO: 0.00" in [c.get_label() for c in fig.axes[0].containers]


# ------------------------------------------------------------------------------ outcome_bars


def reference_outcomes(runs, solver, n, seed) -> np.ndarray:
    """docs/experiments.md §2.2, written out: beat / tie / lose against the baseline for finite
    pairs, failed where the method failed, bfgs_failed where only the baseline did."""
    m, _ = read_h5(runs[solver, n, seed], "run")
    b, _ = read_h5(runs["bfgs", n, seed], "run")
    out = []
    for lm, sm, lb, sb in zip(m["loss"], m["problem_status"], b["loss"], b["problem_status"]):
        if sm != STATUS_OK:
            out.append("failed")
        elif sb != STATUS_OK:
            out.append("bfgs_failed")
        elif lm < lb * (1 - RTOL):
            out.append("beat")
        elif lm > lb * (1 + RTOL):
            out.append("lose")
        else:
            out.append("tie")
    return np.array(out)


def test_outcome_bar_segments_follow_the_comparison_rule(study, draw):
    _, _, runs = study
    fig, _, _ = draw("outcome_bars")
    methods = [s for s in configured(ALL) if s != "bfgs"]  # table order: the plug-in's order 25 after GD
    order = ("beat", "tie", "lose", "failed", "bfgs_failed")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == [configured(ALL).label(s) for s in methods]
    for ax, n in zip(axes, SIZES):
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert len(bars) == len(order)
        for k, solver in enumerate(methods):
            per_seed = [reference_outcomes(runs, solver, n, s) for s in SEEDS]
            pooled = np.concatenate(per_seed)
            widths = [bars[j].patches[k].get_width() for j in range(len(order))]
            expected = [float((pooled == o).mean()) for o in order]
            np.testing.assert_allclose(widths, expected, atol=1e-12, err_msg=f"{solver} n={n}")
            assert sum(widths) == pytest.approx(1.0)
            beats = [float((o == "beat").mean()) for o in per_seed]
            whiskers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)
                        and c.lines[2] and np.allclose(c.lines[2][0].get_segments()[0][0][1], k - 0.2)]
            if max(beats) > min(beats):
                segment = whiskers[0].lines[2][0].get_segments()[0]
                assert sorted(segment[:, 0]) == pytest.approx([min(beats), max(beats)])
            else:
                assert not whiskers
    # the failures are segments of their own: the plug-in's and, at n = 8, the baseline's
    n8 = [c for c in axes[1].containers if isinstance(c, BarContainer)]
    assert n8[3].patches[methods.index(PLUGIN.name)].get_width() == pytest.approx(len(PLUGIN_FAILS) / 8)
    assert n8[4].patches[methods.index("jpo")].get_width() == pytest.approx(1 / 16)


# ------------------------------------------------------------------------------ example_solutions


def reference_examples(losses: dict[str, np.ndarray]) -> list[int]:
    """The rule of the figure's docstring, written out: log gain of JPO over BFGS, its largest,
    its smallest and the one nearest its median, each problem once, lowest index on ties."""
    tiny = np.finfo(np.float64).tiny
    b, p = losses["bfgs"], losses["jpo"]
    ok = [i for i in range(b.size) if math.isfinite(b[i]) and math.isfinite(p[i])]
    g = {i: math.log(max(b[i], tiny)) - math.log(max(p[i], tiny)) for i in ok}
    median = float(np.median(list(g.values())))
    best = max(ok, key=lambda i: (g[i], -i))
    worst = max((i for i in ok if i != best), key=lambda i: (-g[i], -i))
    typical = max((i for i in ok if i not in (best, worst)), key=lambda i: (-abs(g[i] - median), -i))
    return [best, worst, typical]


def test_example_solutions_pick_the_problems_of_the_rule_and_draw_the_wave_packet(study, draw):
    _, data, runs = study
    n, seed = max(SIZES), SEEDS[0]
    losses = {s: read_h5(runs[s, n, seed], "run")[0]["loss"] for s in ALL}
    expected = reference_examples(losses)
    fig, panel, _ = draw("example_solutions")
    arrays, attrs = read_h5(panel)
    layout = json.loads(attrs["examples"])
    assert layout["indices"] == expected
    titles = [sf._suptitle.get_text() for sf in fig.subfigs]
    assert [int(re.match(r"problem (\d+):", t).group(1)) for t in titles] == expected
    x_all = {s: read_h5(runs[s, n, seed], "run")[0]["x"] for s in ALL}
    truth, _ = read_h5(data[n, seed], "data")
    for k, idx in enumerate(expected):
        others = {s: losses[s][idx] for s in ("gd", "jpo_bfgs", PLUGIN.name) if np.isfinite(losses[s][idx])}
        best_other = min(others, key=lambda s: (others[s], ALL.index(s)))
        assert layout["shown"][k] == ["bfgs", "jpo", best_other]
        xs = np.vstack([truth["x_true"][idx]] + [x_all[s][idx] for s in layout["shown"][k]])
        np.testing.assert_array_equal(arrays[f"ex{k}_x"], xs)
        # the data view: u(t) = A exp(-(t - t0)^2 / (2 sigma^2)) sin(2 pi f (t - t0)), NumPy here
        t = np.linspace(0.0, 1.0, 256)
        dt = t[None, :] - xs[:, :1]
        u = xs[:, 1:] * np.exp(-dt**2 / (2 * 0.1**2)) * np.sin(2 * np.pi * 10.0 * dt)
        np.testing.assert_allclose(arrays[f"ex{k}_outputs"], u, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(arrays[f"ex{k}_target"], truth["y_target"][idx])
        # the curves drawn are those outputs: truth first, then the solvers in the order shown
        drawn = [line.get_ydata() for line in fig.subfigs[k].axes[0].get_lines()][1:]  # after y*
        for curve, reference in zip(drawn, u):
            np.testing.assert_allclose(curve, reference, rtol=1e-12, atol=1e-14)
    labels = legend_texts(fig)
    assert {"truth", "BFGS", "JPO", "target $y^*$"} <= set(labels)


def test_example_solutions_fall_back_to_parameter_space_without_a_hook(study, draw, monkeypatch):
    from invnet.problems.wavepacket import WavePacket

    monkeypatch.setattr(WavePacket, "data_view", lambda self, x, gamma, y_target: None)
    fig, panel, _ = draw("example_solutions", ("bfgs", "jpo", PLUGIN.name))
    arrays, attrs = read_h5(panel)
    layout = json.loads(attrs["examples"])
    assert layout["views"] == [] and not any(k.endswith("_outputs") for k in arrays)
    assert "parameter space (the family draws no data view)" in fig._suptitle.get_text()
    assert len(fig.axes) == len(layout["indices"]) == 3
    bounds = np.array([[0.0, 1.0], [0.0, 2.0]])  # the wave packet's default bounds
    for ax, k in zip(fig.axes, range(3)):
        xs = arrays[f"ex{k}_x"]
        position = (xs - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])
        bars = [line for line in ax.get_lines() if line.get_linewidth() > 2]  # the truth, one per unknown
        assert [line.get_ydata()[0] for line in bars] == pytest.approx(list(position[0]))
        assert [t.get_text() for t in ax.get_xticklabels()] == ["t0", "A"]
        # every solver's point sits at its position in the bounds (hollow at the edge if outside)
        points = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
        drawn = sorted(float(v) for line in points for v in line.get_ydata())
        assert drawn == pytest.approx(sorted(np.clip(position[1:], -0.25, 1.25).ravel()))


# ------------------------------------------------------------------------------ training_curves


def test_training_curves_are_the_mean_and_range_over_seeds(study, draw):
    _, _, runs = study
    fig, _, _ = draw("training_curves")
    solvers = configured(ALL)
    panels = {ax.get_title("left"): ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {solvers.label(s) for s in ALL}
    for solver in ("gd", PLUGIN.name):  # fixed steps: every seed records the same iterations
        ax = panels[solvers.label(solver)]
        lines = {line.get_label(): line for line in ax.get_lines()}
        for k, n in enumerate(SIZES):
            hist = [read_h5(runs[solver, n, s], "run")[0] for s in SEEDS]
            steps = hist[0]["history_step"]
            assert all(np.array_equal(h["history_step"], steps) for h in hist)
            values = np.vstack([h["loss_history"] for h in hist])
            line = lines[f"$n = {n}$"]
            np.testing.assert_array_equal(line.get_xdata(), steps + 1)
            np.testing.assert_allclose(line.get_ydata(), values.mean(axis=0), rtol=1e-12)
            band = ax.collections[k].get_paths()[0].vertices[:, 1]
            assert band.min() == pytest.approx(values.min()) and band.max() == pytest.approx(values.max())
        colour = np.asarray(lines[f"$n = {max(SIZES)}$"].get_color()[:3], dtype=float)
        if solver == PLUGIN.name:  # the largest n in the solver's own colour
            np.testing.assert_allclose(colour, PLUGIN.style["color"])


# ------------------------------------------------------------------------------ roles


@pytest.mark.parametrize("figure", NEW)
def test_every_new_figure_renders_without_the_primary_method(draw, figure):
    names = tuple(s for s in ALL if s not in ("jpo", "jpo_bfgs"))
    fig, _, _ = draw(figure, names)
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert not any(t == "JPO" or t.startswith("JPO:") or t.startswith("JPO (") for t in texts), figure
    # every method is drawn; example_solutions shows the first problem, where the plug-in failed,
    # so its best other method there is GD
    shown = "GD" if figure == "example_solutions" else "Heavy ball"
    assert any(t == shown or t.startswith(shown + " ") or t.startswith(shown + ":") for t in texts), figure
    if figure == "example_solutions":
        assert PLUGIN_FAILS[0] == 0 and any(t.startswith("problem 0: first problem") for t in texts)


def test_the_default_config_renders_at_least_forty_figures():
    from invnet.config import load_yaml, resolve_config
    from invnet.plan import Plan
    from helpers import REPO

    plan = Plan(resolve_config(load_yaml(REPO / "config" / "config.yaml"), check_cuda=False))
    pngs = [p for f in plan.figures for p in plan.figure_targets(f) if p.endswith(".png")]
    assert len(pngs) == len(set(pngs)) >= 40
    for name in NEW:  # each new figure for every experiment
        assert {p for p in pngs if p.endswith(f"/{name}.png")} == {
            f"results/figures/{e}/{name}.png" for e in plan.experiments}


# ------------------------------------------------------------------------------ data views


@pytest.mark.parametrize("name", ["wavepacket", "billiards", "billiards_chain", "ks", "fluid"])
def test_each_family_view_shows_its_forward_on_that_problem(name):
    """Noise-free targets: the view of the truth reproduces the target y* of the problem it was
    given (its own γ, not another problem's), and the view of x0 does not."""
    from invnet.figures.data_view import DataView
    from invnet.problems import families

    cls = families()[name]
    family = cls(**{**cls.test_params, **(cls.noise_free or {})})
    pset = family.sample(3, np.random.default_rng(7))
    i = 1
    gamma = None if pset.gamma is None else pset.gamma[i]
    xs = np.vstack([pset.x_true[i], family.x0])
    view = DataView.from_hook(family.data_view(xs, gamma, pset.y_target[i]), 2, name)
    np.testing.assert_array_equal(view.target, pset.y_target[i])
    if view.kind == "paths":  # the target ball comes to rest at y*; every ball starts where γ puts it
        chain = family.params["chain"]
        np.testing.assert_allclose(view.outputs[0][-1, chain], pset.y_target[i], atol=1e-12)
        np.testing.assert_allclose(view.outputs[:, 0, 1:].reshape(2, -1), np.tile(gamma, (2, 1)), atol=0)
        np.testing.assert_array_equal(view.outputs[:, 0, 0], np.zeros((2, 2)))  # the cue at the origin
        assert view.path_names == ("cue", *(f"ball {b}" for b in range(1, chain + 1)))
        reached = view.outputs[1][-1, chain]
    else:
        np.testing.assert_allclose(view.outputs[0], pset.y_target[i], rtol=0, atol=1e-10)
        reached = view.outputs[1]
        others = [j for j in range(3) if j != i]  # another problem's target is not reproduced
        assert all(np.abs(view.outputs[0] - pset.y_target[j]).max() > 1e-6 for j in others)
    assert np.abs(reached - pset.y_target[i]).max() > 1e-6


def test_a_bad_data_view_is_one_line_naming_the_hook():
    from invnet.figures.data_view import DataView

    with pytest.raises(ValueError, match=r"^Mine.data_view: kind must be one of curves, paths, images, got 'plot'$"):
        DataView.from_hook({"kind": "plot", "outputs": np.zeros((2, 3))}, 2, "Mine.data_view")
    with pytest.raises(ValueError, match=r"^Mine.data_view \(curves\): outputs \(m, T\) need an axis \(T,\)"):
        DataView.from_hook({"kind": "curves", "outputs": np.zeros((2, 3)), "axis": np.zeros(4)}, 2, "Mine.data_view")
    with pytest.raises(ValueError, match="one entry per solution"):
        DataView.from_hook({"kind": "images", "outputs": np.zeros((3, 4, 4))}, 2, "Mine.data_view")
