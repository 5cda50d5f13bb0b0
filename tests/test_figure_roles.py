"""Figures pick solvers by their roles (docs: each figure module's docstring), never by name.

A solver the package does not know (a plug-in with its own label and style) appears in every
figure that draws all methods; every figure still renders when the primary method or a
per-problem solver is not configured; what a figure shows is the rule of its docstring. The
figures are rendered in-process from tiny runs of every family and inspected as matplotlib
Figure objects (``plot`` returns the figure it saved)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.text import Text

from invnet.analysis import aggregate
from invnet.artifacts import read_h5, write_h5
from invnet.figures import FigureInputs, PanelInputs, figures
from helpers import generate_data, run_solver
from invnet.solver_info import SolverInfo, SolverSet
from invnet.solvers import solver_set

# A plug-in solver: a name, label and style the package has never seen (colour and dash pattern
# as lists, as they arrive in a job's JSON params), no declared marker.
PLUGIN = SolverInfo(name="heavy_ball", label="Heavy ball", order=25, method="heavy_ball",
                    style={"color": [0.8, 0.1, 0.5], "linestyle": [0, [3, 1]]})
NETWORK = {"hidden": [8], "steps": 10}
EXPERIMENTS = {
    "wavepacket": {"family": "wavepacket", "n": [8], "seeds": [0, 1], "n_test": 2, "solvers": {
        "bfgs": {"maxiter": 10}, "bfgs_multistart": {"maxiter": 10, "starts": 2, "budget": [1, 2]},
        "gd": {"steps": 10}, "jpo": NETWORK}},
    "billiards": {"family": "billiards", "n": [8], "seeds": [0], "n_test": 2, "solvers": {
        "bfgs": {"maxiter": 10}, "gd": {"lr": 2.5e-3, "steps": 10}, "jpo": NETWORK}},
    "ks": {"family": "ks", "n": [8], "seeds": [0], "n_test": 2, "solvers": {
        "bfgs": {"maxiter": 10}, "gd": {"steps": 10}, "jpo": NETWORK}},
    "fluid": {"family": "fluid", "n": [4], "seeds": [0], "n_test": 2, "problem": {"n_grid": 16, "horizon": 0.5},
              "solvers": {"bfgs": {"maxiter": 5}, "gd": {"lr": 50.0, "steps": 5},
                          "jpo": {"network": "cnn", "channels": [4, 8], "hidden": [16], "steps": 5}}},
}
# the figures of each experiment; those marked True draw every method (or every one from x0)
FIGURES = {
    # the other generic figures: tests/test_appendix_figures.py (wave packet); here example_solutions
    # for the data views of the other families
    "wavepacket": {"fig3": True, "beat_fraction": True, "scatter": True, "budget": True},
    "billiards": {"fig4": True, "trajectories": False, "example_solutions": False},  # paths of the data view
    "ks": {"fig5": True, "example_solutions": False},  # curves u(z, T)
    "fluid": {"fig_fluid": True, "example_solutions": False},  # marker images
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """experiment -> (data paths by seed, run paths by (solver, seed)), with a plug-in run (a copy
    of the GD run under another solver name, at half its losses)."""
    root = tmp_path_factory.mktemp("figure_roles")
    config = {"history_points": 20, "experiments": EXPERIMENTS}
    out = {}
    for e, block in EXPERIMENTS.items():
        data, paths = {}, {}
        for seed in block["seeds"]:
            data[seed] = root / f"{e}_data{seed}.h5"
            generate_data(config, e, block["n"][0], seed, data[seed])
            for s in block["solvers"]:
                paths[s, seed] = root / f"{e}_{s}{seed}.h5"
                run_solver(config, e, s, block["n"][0], seed, data=data[seed], out=paths[s, seed])
            arrays, attrs = read_h5(paths["gd", seed], "run")
            arrays["loss"] = arrays["loss"] * 0.5
            arrays["loss_history"] = arrays["loss_history"] * 0.5
            paths[PLUGIN.name, seed] = root / f"{e}_{PLUGIN.name}{seed}.h5"
            write_h5(paths[PLUGIN.name, seed], arrays, {**attrs, "solver": PLUGIN.name})
        out[e] = (data, paths)
    return root, out


def configured(experiment: str, names: tuple[str, ...]) -> SolverSet:
    """The SolverSet of ``names`` (the plug-in among them if named) with the experiment's settings."""
    known = [s for s in names if s != PLUGIN.name]
    base = solver_set(known, EXPERIMENTS[experiment]["solvers"])
    return SolverSet.merge(base, [PLUGIN] if PLUGIN.name in names else [])


@pytest.fixture(scope="module")
def render(runs):
    root, out = runs

    @functools.cache
    def tables(experiment: str, names: tuple[str, ...]) -> dict[str, list]:
        data, paths = out[experiment]
        frames = aggregate([p for (s, _), p in paths.items() if s in names], list(data.values()),
                           configured(experiment, names))
        folder = root / f"{experiment}-{'-'.join(names)}"
        folder.mkdir()
        for name, frame in frames.items():
            frame.to_csv(folder / f"{name}.csv", index=False)
        return {name: [folder / f"{name}.csv"] for name in frames}

    def draw(experiment: str, figure: str, names: tuple[str, ...]):
        spec, solvers = figures()[figure], configured(experiment, names)
        data, paths = out[experiment]
        tag = f"{experiment}-{figure}-{'-'.join(names)}"
        panels = {}
        if spec.panels is not None:
            first = min(data)
            runs = {s: p for (s, seed), p in paths.items() if s in names and seed == first}
            panels[experiment] = str(root / f"{tag}.h5")
            spec.panels(PanelInputs(experiment, data[first], runs, solvers), panels[experiment])
        frames = tables(experiment, names)
        inputs = FigureInputs.load([experiment], {experiment: experiment.title()}, {experiment: experiment},
                                   {t: frames[t] for t in spec.reads}, panels, solvers)
        fig = spec.plot(inputs, root / f"{tag}.pdf", root / f"{tag}.png")
        assert (root / f"{tag}.png").stat().st_size > 1000
        return fig

    return draw


def legend_and_titles(fig) -> list[str]:
    """The texts of every legend, title, suptitle and axis label of ``fig`` (subfigures too)."""
    texts = []
    for obj in fig.findobj(lambda a: hasattr(a, "get_legend") or hasattr(a, "legends")):
        legends = list(getattr(obj, "legends", [])) + ([obj.get_legend()] if hasattr(obj, "get_legend") else [])
        texts += [t.get_text() for lg in legends if lg is not None for t in lg.get_texts()]
    for ax in fig.findobj(lambda a: hasattr(a, "get_title") and hasattr(a, "get_xlabel")):
        texts += [ax.get_title(loc) for loc in ("left", "center", "right")] + [ax.get_xlabel(), ax.get_ylabel()]
    texts += [t.get_text() for t in fig.findobj(Text)]  # suptitles, annotations, no-data notes
    return [t for t in texts if t]


def colours(fig) -> list[tuple[float, float, float]]:
    """Every line, marker and collection colour drawn in ``fig``."""
    out = []
    for art in fig.findobj():
        for getter in ("get_color", "get_markerfacecolor", "get_facecolor", "get_edgecolor"):
            value = getattr(art, getter, None)
            if value is None:
                continue
            try:
                value = value()
            except (TypeError, ValueError, AttributeError):
                continue
            arr = np.atleast_2d(np.asarray(value, dtype=object))
            for row in arr:
                try:
                    out.append(to_rgb(tuple(row) if len(row) > 1 else row[0]))
                except (ValueError, TypeError):
                    pass
    return out


ALL = {e: tuple(EXPERIMENTS[e]["solvers"]) + (PLUGIN.name,) for e in EXPERIMENTS}


@pytest.mark.parametrize("experiment,figure", [(e, f) for e, figs in FIGURES.items() for f, every in figs.items() if every])
def test_a_plugin_solver_is_in_every_figure_that_draws_all_methods(render, experiment, figure):
    fig = render(experiment, figure, ALL[experiment])
    texts = legend_and_titles(fig)
    solvers = configured(experiment, ALL[experiment])
    assert any(PLUGIN.label in t for t in texts), (figure, texts)
    assert any(np.allclose(c, PLUGIN.style["color"]) for c in colours(fig)), figure  # in its declared colour
    # no configured solver is lost: each one the figure's rule picks is named
    if figure == "fig4":  # the solvers from x0 (marks and curves)
        expected = solvers.select(from_x0=True)
    elif figure in ("beat_fraction", "scatter"):  # every method against the baseline
        expected = [s for s in solvers if s != solvers.baseline]
    else:  # fig3, fig5, fig_fluid: curves or marks of the baseline, and every method's fractions; budget (b)
        expected = list(solvers)
    missing = [solvers.label(s) for s in expected if not any(solvers.label(s) in t for t in texts)]
    assert not missing, (figure, missing)


@pytest.mark.parametrize("experiment", sorted(FIGURES))
@pytest.mark.parametrize("absent", ["primary", "per-problem"])
def test_figures_render_without_the_primary_method_or_a_per_problem_solver(render, experiment, absent):
    full = configured(experiment, ALL[experiment])
    if absent == "primary":
        drop = full.primary
    else:  # a per-problem solver from x0 that is neither the baseline nor a network
        drop = next(s for s in full.select(from_x0=True, network=False) if s != full.baseline and s != PLUGIN.name)
    names = tuple(s for s in ALL[experiment] if s != drop)
    for figure in FIGURES[experiment]:
        fig = render(experiment, figure, names)
        texts = legend_and_titles(fig)
        assert not any(t == full.label(drop) for t in texts), (figure, drop)  # not drawn, not in a legend
        if FIGURES[experiment][figure]:
            assert any(PLUGIN.label in t for t in texts), figure  # the others still are
    if absent == "primary" and experiment == "wavepacket":  # budget says why (a) is empty
        fig = render(experiment, "budget", names)
        assert any("no runs of the primary method" in t for t in legend_and_titles(fig))


def test_example_problem_follows_the_roles_not_the_names():
    from invnet.figures.example_problem import select_example

    base = {"bfgs": np.array([1.0, 5.0, 2.0]), "jpo": np.array([1.0, 1.0, 1.0]), "gd": np.array([1.0, 1.0, 0.01])}
    assert select_example(base, solver_set(["bfgs", "gd", "jpo"]))[0] == 1  # JPO gains most on problem 1
    # a plug-in declared as the primary method: the ratio is against it, its label in the reason
    mine = SolverSet.merge(solver_set(["bfgs"]), [SolverInfo("mine", "Mine", 45, "mine", primary=True)])
    assert select_example({"bfgs": base["bfgs"], "mine": base["gd"]}, mine) == (2, "largest finite L_BFGS / L_Mine")


def test_a_figure_given_no_solvers_says_so(runs):
    _, out = runs
    data, paths = out["wavepacket"]
    runs0 = {s: p for (s, seed), p in paths.items() if seed == 0}
    for name in ("fig3", "scatter"):
        spec = figures()[name]
        with pytest.raises(ValueError, match="needs the configured solvers"):
            if spec.panels is not None:
                spec.panels(PanelInputs("wavepacket", data[0], runs0), "unused.h5")
            spec.plot(FigureInputs(["wavepacket"], {}, {}, {}), "unused.pdf", "unused.png")
