"""Typed solver settings: one declaration (settings_spec) gives a frozen dataclass per solver that
checks every value with its full key path, is what the solver reads, and round-trips to JSON."""

import dataclasses

import numpy as np
import pytest

from invnet.errors import ConfigError
from invnet.problems import make_family
from invnet.seeding import numpy_rng
from invnet.solvers import SolveProblem, Solver, build_solver, resolve_block, solve, solvers
from invnet.solvers.bfgs import BFGS
from invnet.solvers.gd import GradientDescent
from invnet.spec import ParamSpec


def test_every_solver_has_a_frozen_settings_class_with_its_declared_fields():
    for name, cls in solvers().items():
        solver = build_solver(name, {})
        fields = {f.name for f in dataclasses.fields(solver.settings)}
        if hasattr(solver, "inner"):  # a composition: its own keys, the method keeps its settings
            inner = {f.name for f in dataclasses.fields(solver.inner.settings)}
            assert (fields | inner) - {"start_from"} == set(cls.settings_spec), name  # start_from: declared
        else:
            assert fields == set(cls.settings_spec), name
            assert type(solver.settings) is cls.Settings
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(solver.settings, next(iter(fields)), 0)


def test_settings_are_typed_and_normalised():
    s = build_solver("jpo", {"hidden": [8, 4], "lr": 1}).settings
    assert s.hidden == (8, 4) and isinstance(s.lr, float) and s.lr == 1.0
    assert s.to_dict()["hidden"] == [8, 4]  # JSON form: lists
    assert GradientDescent.Settings(steps=7.0).steps == 7 and isinstance(GradientDescent.Settings(steps=7.0).steps, int)


@pytest.mark.parametrize(
    "name, block, key, message",
    [
        ("gd", {"lr": -1.0}, "experiments.wp.solvers.gd.lr", "must be > 0"),
        ("gd", {"steps": 2.5}, "experiments.wp.solvers.gd.steps", "expected int"),
        ("jpo", {"activation": "swish"}, "experiments.wp.solvers.jpo.activation", "allowed: relu"),
        ("jpo", {"hidden": [8, 0]}, "experiments.wp.solvers.jpo.hidden[1]", "must be > 0"),
        ("bfgs", {"history_points": 20}, "experiments.wp.solvers.bfgs.history_points", "unknown key; allowed: gtol, label, maxiter, method"),
        ("bfgs_multistart", {"starts": 0}, "experiments.wp.solvers.bfgs_multistart.starts", "must be >= 1"),
    ],
)
def test_bad_values_are_refused_with_the_full_key_path(name, block, key, message):
    with pytest.raises(ConfigError) as err:
        resolve_block("wp", name, block)
    assert err.value.key == key and message in err.value.message and "\n" not in str(err.value)


def test_direct_construction_checks_too():
    with pytest.raises(ConfigError, match=r"'solvers\.bfgs\.gtol': must be > 0"):
        BFGS.Settings(gtol=-1.0)
    with pytest.raises(ConfigError, match=r"solvers\.gd\.lr"):
        GradientDescent({"lr": "big"})
    with pytest.raises(TypeError):
        GradientDescent(BFGS.Settings())


def test_the_solver_reads_its_typed_settings():
    """What runs is what the settings object says: two lr give two answers, and replace() gives
    the same result as building from the block."""
    fam = make_family("wavepacket")
    problem = SolveProblem(fam, fam.sample(6, numpy_rng(0, "train")))
    slow = build_solver("gd", {"lr": 0.001, "steps": 5})
    fast = GradientDescent(slow.settings.replace(lr=0.05))
    assert fast.settings.lr == 0.05 and fast.settings.steps == 5
    a, b = solve(slow, problem), solve(fast, problem)
    assert not np.array_equal(a.x, b.x)
    assert np.array_equal(b.x, solve(build_solver("gd", {"lr": 0.05, "steps": 5}), problem).x)
    assert b.info["settings"] == {"method": "gd", "lr": 0.05, "steps": 5}


def test_resolved_block_round_trips_through_build_solver():
    for name in solvers():
        block = resolve_block("wp", name, {})
        assert build_solver(name, block).to_dict() == block, name
        assert block["method"] == (solvers()[name].method_cls.name if hasattr(solvers()[name], "method_cls")
                                   and solvers()[name].method_cls else name)


def test_composition_keys_cannot_be_method_settings():
    with pytest.raises(TypeError, match="reserved for compositions"):
        type("Bad", (Solver,), {"name": "bad", "settings_spec": {"starts": ParamSpec(1, int)}, "run": lambda s, c: None})
