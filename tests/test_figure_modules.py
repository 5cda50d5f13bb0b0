"""The figure package's structure: no figure module names a solver, no figure module imports
another (an edit of one figure redraws only that figure), helpers are modules without
``FIGURE``, style.py resolves a solver's look from the SolverSet alone (not the registry)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import invnet.figures
from invnet.figures import figures
from invnet.figures.style import _MARKERS, _palette, loss_label, solver_color, solver_style
from invnet.solver_info import SolverInfo, SolverSet
from invnet.solvers import solver_set, solvers

PACKAGE = Path(invnet.figures.__file__).parent
MODULES = {p.stem: p for p in sorted(PACKAGE.glob("*.py")) if p.stem != "__init__"}
FIGURE_MODULES = {spec.plot.__module__.rsplit(".", 1)[-1] for spec in figures().values()}
# Columns of the aggregate schema (invnet.analysis) named after the baseline: the baseline's loss
# and status next to each method's, whatever the baseline is called.
SCHEMA_COLUMNS = {"loss_bfgs", "status_bfgs", "bfgs_failed"}


def _string_constants(tree: ast.AST) -> list[ast.Constant]:
    """Every string constant except docstrings (f-string parts included)."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [n for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_no_figure_module_names_a_registered_solver():
    names = set(solvers())
    labels = {cls.display_name() for cls in solvers().values()}
    words = {label for label in labels if re.fullmatch(r"\w+", label)}  # BFGS, JPO, GD, ...
    standalone = {spec.plot.__module__.rsplit(".", 1)[-1] for spec in figures().values() if spec.standalone}
    assert {"bfgs", "jpo", "gd"} <= names and {"BFGS", "JPO"} <= words
    found = []
    for module, path in MODULES.items():
        for node in _string_constants(ast.parse(path.read_text())):
            for token in re.findall(r"\w+", node.value):
                if token in SCHEMA_COLUMNS:
                    continue
                # a name, or a name inside an identifier ("x_jpo"); a label word, except in the
                # figures drawn from no experiment (Figure 1's schematic names the paper's methods)
                if token in names or set(token.split("_")) & names or (token in words and module not in standalone):
                    found.append(f"{path.name}:{node.lineno}: {token!r} in {node.value[:60]!r}")
    assert not found, "\n".join(found)


def test_the_scan_finds_a_name():  # the test above is not vacuous
    tree = ast.parse('"""Docstring: bfgs."""\nA = f"x_{s}" if s else "x_jpo"\nB = ("gd", "BFGS better")\n')
    tokens = [t for n in _string_constants(tree) for t in re.findall(r"\w+", n.value)]
    assert "x_jpo" in tokens and "gd" in tokens and "BFGS" in tokens and "Docstring" not in tokens


def _relative_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            out |= {node.module} if node.module else {a.name for a in node.names}
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("invnet.figures."):
            out.add(node.module.split(".")[2])
    return out


def test_figure_modules_import_helpers_only():
    assert {"fig3", "fig4", "fig5", "fig_fluid", "ks_roughness", "trajectories"} <= FIGURE_MODULES
    for module in FIGURE_MODULES:
        others = _relative_imports(MODULES[module]) & (FIGURE_MODULES - {module})
        assert not others, f"{module} imports the figure module(s) {others}"


def test_helper_modules_are_not_figures_and_need_no_underscore():
    helpers = set(MODULES) - FIGURE_MODULES
    assert {"base", "style", "example_problem", "fractions_vs_n", "failures", "landscape", "problem_runs",
            "billiards_runs", "roles", "data_view", "log_ticks"} <= helpers
    for module in helpers:
        assert not module.startswith("_")
        assert not re.search(r"^FIGURE\s*=", MODULES[module].read_text(), re.M), module
    # the old names that hid what the modules hold are gone
    assert not {"inputs", "panels", "notes", "_billiards"} & set(MODULES)


def test_figures_that_draw_the_first_experiments_say_so():
    specs = figures()
    assert {n: specs[n].max_experiments for n in ("fig3", "fig4", "fig5", "fig_fluid")} == {
        "fig3": 1, "fig4": 2, "fig5": 1, "fig_fluid": 1}
    for spec in specs.values():  # per-experiment figures draw one experiment by construction
        assert spec.max_experiments is None or not spec.per_experiment


def test_figure_modules_do_not_import_the_solver_registry():
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                assert target not in ("..solvers", "invnet.solvers") and not target.startswith(
                    ("..solvers.", "invnet.solvers.")), f"{module} imports {target}"
    code = "import sys, invnet.figures.style; print(any(m.startswith('invnet.solvers') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------ style


def test_declared_styles_survive_the_json_round_trip():
    configured = solver_set(["bfgs", "lbfgsb", "jpo"])
    again = SolverSet(json.loads(json.dumps(configured.to_list())))  # as a job's params carry it
    for name in configured:
        assert solver_style(again, name) == solver_style(configured, name)
    style = solver_style(again, "lbfgsb")
    assert style["linestyle"] == (0.0, (4.0, 1.5)) and style["marker"] == "v" and style["label"] == "L-BFGS-B"
    assert style["color"] == _palette()[7]  # ("colorblind", 7)
    assert solver_color(again, "bfgs") == (0.0, 0.0, 0.0)


def test_every_solver_of_the_package_has_a_colour_of_its_own():
    """Two solvers of one legend in the same colour are told apart by marker only (the neural
    adjoint and Supervised + BFGS once shared the palette's brown)."""
    configured = solver_set(sorted(solvers()))
    colours = {name: solver_color(configured, name) for name in configured}
    clashes = [(a, b) for a in colours for b in colours if a < b and colours[a] == colours[b]]
    assert len(colours) >= 10 and not clashes, clashes


def test_undeclared_solvers_get_free_palette_colours_and_markers_in_table_order():
    configured = solver_set(["bfgs", "gd", "jpo"])
    first = SolverInfo("first", "First", 21, "first")
    second = SolverInfo("second", "Second", 22, "second", style={"marker": "s"})  # GD's marker, declared
    named = SolverInfo("named", "Named", 23, "named", style={"color": "crimson"})
    both = SolverSet.merge(configured, [second, first, named])
    taken = {solver_color(both, s) for s in ("bfgs", "gd", "jpo", "named")}
    free = [c for c in _palette() if c not in taken]
    assert solver_color(both, "first") == free[0] and solver_color(both, "second") == free[1]
    assert solver_color(both, "named") == pytest.approx((0.862745, 0.078431, 0.235294), abs=1e-6)
    markers = {solver_style(both, s)["marker"] for s in ("bfgs", "gd", "jpo")}
    assert solver_style(both, "first")["marker"] == next(m for m in _MARKERS if m not in markers)
    assert solver_style(both, "second")["marker"] == "s"
    assert solver_style(both, "first")["label"] == "First" and solver_style(both, "first")["linestyle"] == "-"
    # the same set gives the same look whatever order the solvers were listed in
    again = SolverSet.merge(SolverSet([named, first, second]), configured)
    assert all(solver_style(again, s) == solver_style(both, s) for s in both)
    # a name outside the set: its own name as label, a colour all the same
    assert solver_style(both, "unknown")["label"] == "unknown" and len(solver_color(both, "unknown")) == 3


def test_loss_label_subscripts_plain_labels_only():
    configured = SolverSet.merge(solver_set(["bfgs", "jpo_bfgs"]), [SolverInfo("x", "my_method", 90, "x")])
    assert loss_label(configured, "bfgs") == r"$L_\mathrm{BFGS}$"
    assert loss_label(configured, "jpo_bfgs") == "$L$ of JPO + BFGS"
    assert loss_label(configured, "x") == "$L$ of my_method"  # an underscore would break mathtext


def test_loss_curves_are_the_optimisers_of_l_from_x0():
    from invnet.figures.roles import baseline_and_primary, loss_curves

    every = solver_set(["bfgs", "bfgs_multistart", "lbfgsb", "gd", "adam", "jpo", "jpo_bfgs", "supervised"],
                       {"bfgs_multistart": {"starts": 20}})
    plugin = SolverInfo("heavy_ball", "Heavy ball", 25, "heavy_ball")
    assert loss_curves(SolverSet.merge(every, [plugin])) == ["bfgs", "lbfgsb", "gd", "heavy_ball", "adam", "jpo"]
    assert baseline_and_primary(every) == ["bfgs", "jpo"] and baseline_and_primary(solver_set(["bfgs", "gd"])) == ["bfgs"]
