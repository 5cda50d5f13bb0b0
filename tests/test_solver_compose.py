"""Refinement and multi-start compose over any per-problem method by config; the named
compositions keep their names, labels, orders and styles; refused combinations say so in one line
naming the key."""

import copy

import jsonschema
import numpy as np
import pytest

from invnet.config import InvalidConfig, resolve_config
from invnet.errors import ConfigError
from invnet.problems import make_family
from invnet.seeding import numpy_rng
from invnet.solvers import (
    SolveProblem, SolveStatus, baseline_name, build_solver, resolve_solvers, solve, solver_info, solver_set,
    solvers_schema,
)
from invnet.solvers.compose import MultiStart, Refine

from references import numpy_loss_and_grad

WP = make_family("wavepacket")


def _resolve(block):
    return resolve_solvers("wp", block, WP)


def _problem(n=8, seed=0, init=None) -> SolveProblem:
    return SolveProblem(WP, WP.sample(n, numpy_rng(seed, "train")), seed=seed, init=init)


def test_named_compositions_keep_their_declarations():
    r = _resolve({"bfgs": {}, "jpo": {}, "jpo_bfgs": {}, "supervised": {}, "supervised_bfgs": {},
                  "bfgs_multistart": {}})
    assert r["bfgs_multistart"].settings == {"method": "bfgs", "starts": 20, "budget": [1, 2, 5, 20],
                                             "gtol": 1e-5, "maxiter": 1000}
    assert r["jpo_bfgs"].settings == {"method": "bfgs", "start_from": "jpo", "gtol": 1e-5, "maxiter": 1000}
    assert r["jpo_bfgs"].start_from == "jpo" and r["supervised_bfgs"].start_from == "supervised"
    labels = {n: (i.info.label, i.info.order) for n, i in r.items()}
    assert labels == {"bfgs": ("BFGS", 0), "jpo": ("JPO", 40), "jpo_bfgs": ("JPO + BFGS", 50),
                      "supervised": ("Supervised", 60), "supervised_bfgs": ("Supervised + BFGS", 70),
                      "bfgs_multistart": ("BFGS multi-start", 5)}
    assert r["bfgs_multistart"].info.style["linestyle"] == (0, (1, 1)) and r["bfgs_multistart"].info.starts == 20
    assert r["jpo_bfgs"].info.style == {"color": ("colorblind", 9), "marker": "d", "linestyle": (0, (4, 1.5))}
    roles = solver_set(r, {n: x.settings for n, x in r.items()})
    assert roles.baseline == "bfgs" == baseline_name() and roles.primary == "jpo"
    assert roles.select(network=True) == ["jpo", "supervised"]
    assert roles.select(from_x0=True) == ["bfgs", "jpo", "supervised"]
    assert roles.chain("supervised_bfgs") == ["supervised_bfgs", "supervised"]
    assert isinstance(build_solver("jpo_bfgs", r["jpo_bfgs"].settings), Refine)
    assert isinstance(build_solver("bfgs_multistart", r["bfgs_multistart"].settings), MultiStart)
    assert r["bfgs_multistart"].code == ("invnet.solvers.multistart", "invnet.solvers.bfgs", "invnet.solvers.compose",
                                         "invnet.solvers.driver")
    assert r["bfgs"].code == ("invnet.solvers.bfgs", "invnet.solvers.driver")


def test_config_compositions_get_generated_labels_and_styles():
    r = _resolve({
        "bfgs": {}, "jpo": {}, "gd": {},
        "jpo_gd": {"method": "gd", "start_from": "jpo", "steps": 5},
        "gd_multistart": {"method": "gd", "starts": 10},
        "gd_fast": {"method": "gd", "lr": 0.1, "label": "GD, lr 0.1"},
        "jpo_gd_ms": {"method": "gd", "start_from": "jpo", "starts": 3},
    })
    info = {n: x.info for n, x in r.items()}
    assert info["jpo_gd"].label == "JPO + GD" and info["jpo_gd"].start_from == "jpo" and info["jpo_gd"].method == "gd"
    assert info["jpo_gd"].style == {"color": ("colorblind", 1), "marker": "s", "linestyle": (0, (4, 1.5))}
    assert info["gd_multistart"].label == "GD multi-start" and info["gd_multistart"].starts == 10
    assert r["gd_multistart"].settings["budget"] == [1, 2, 5, 10]  # default curve: 1, 2, 5, ... and K
    assert info["gd_fast"].label == "GD, lr 0.1" and "label" not in r["gd_fast"].settings
    assert r["gd_fast"].block["label"] == "GD, lr 0.1"
    assert info["jpo_gd_ms"].label == "JPO + GD multi-start"
    assert not any(i.baseline or i.primary for n, i in info.items() if n not in ("bfgs", "jpo"))
    order = list(solver_set(r, {n: x.block for n, x in r.items()}))
    assert order.index("jpo") < order.index("jpo_gd") and order.index("gd") < order.index("gd_multistart")
    assert r["gd_multistart"].cost == 20.0 and r["jpo_gd"].code[-2:] == ("invnet.solvers.compose", "invnet.solvers.driver")
    for name, x in r.items():  # what the job params carry rebuilds the same solver
        assert build_solver(name, x.settings).to_dict() == x.settings
        assert solver_info(name, x.block).label == x.info.label or x.start_from is not None


def test_gd_refinement_starts_where_it_is_given():
    init = np.stack([np.linspace(0.2, 0.8, 8), np.linspace(0.6, 1.4, 8)], axis=1)
    problem = _problem(init=init)
    res = solve(build_solver("jpo_gd", {"method": "gd", "start_from": "jpo", "steps": 1, "lr": 0.01}), problem)
    _, g = numpy_loss_and_grad(init, problem.train.y_target, np.linspace(0, 1, 256), 0.1, 10.0)
    np.testing.assert_allclose(res.x, init - 0.01 * g, rtol=1e-12, atol=1e-14)
    f0, _ = numpy_loss_and_grad(init, problem.train.y_target, np.linspace(0, 1, 256), 0.1, 10.0)
    assert res.loss_history[0] == pytest.approx(f0.mean(), rel=1e-12)  # step 0: the loss at the given starts
    plain = solve(build_solver("gd", {"steps": 1, "lr": 0.01}), problem)  # a plain method honours init too
    np.testing.assert_array_equal(plain.x, res.x)


def test_gd_multistart_keeps_the_best_start_and_its_history_is_the_mean_best_loss():
    problem = _problem()
    res = solve(build_solver("gd_ms", {"method": "gd", "starts": 4, "steps": 30, "lr": 0.003}), problem)
    single = solve(build_solver("gd", {"steps": 30, "lr": 0.003}), problem)
    assert np.all(res.loss <= single.loss)
    assert res.extras["start_x"].shape == (8, 4, 2) and res.extras["start_loss"].shape == (8, 4)
    best = res.extras["best_start"]
    np.testing.assert_array_equal(res.loss, res.extras["start_loss"][np.arange(8), best])
    np.testing.assert_array_equal(res.extras["start_loss"][:, 0], single.loss)  # start 0 is x0: plain GD
    assert np.all(res.extras["start_evaluations"] == 31) and np.all(res.evaluations == 4 * 31)
    assert res.loss_history[-1] == pytest.approx(res.loss.mean(), rel=1e-15)
    assert (res.status == SolveStatus.BUDGET).all() and np.all(res.iterations == 30)


def _one_line(block, key, *words):
    with pytest.raises(ConfigError) as err:
        _resolve(block)
    assert err.value.key == key, str(err.value)
    assert "\n" not in err.value.message and all(w in err.value.message for w in words), err.value.message


def test_refused_combinations_name_the_key():
    base = {"bfgs": {}, "jpo": {}}
    _one_line({**base, "jpo_ms": {"method": "jpo", "starts": 4}}, "experiments.wp.solvers.jpo_ms.starts",
              "network method", "cannot multi-start")
    _one_line({**base, "bfgs_jpo": {"method": "jpo", "start_from": "bfgs"}}, "experiments.wp.solvers.bfgs_jpo.start_from",
              "network method", "cannot start from")
    _one_line({**base, "x": {"method": "gd", "start_from": "supervised"}}, "experiments.wp.solvers.x.start_from",
              "'supervised'", "not configured")
    _one_line({"bfgs": {}, "jpo_bfgs": {}}, "experiments.wp.solvers.jpo_bfgs", "starts from 'jpo'", "not configured")
    _one_line({**base, "x": {"method": "gd", "starts": 3, "budget": [1, 5]}}, "experiments.wp.solvers.x.budget",
              "<= starts (3)", "[5]")
    _one_line({**base, "x": {"method": "gd", "budget": [1]}}, "experiments.wp.solvers.x.budget", "needs starts")
    _one_line({**base, "x": {"method": "gd", "start_from": "x"}}, "experiments.wp.solvers.x.start_from", "itself")
    _one_line({**base, "a": {"method": "gd", "start_from": "b"}, "b": {"method": "gd", "start_from": "a"}},
              "experiments.wp.solvers.a.start_from", "cycle", "a -> b -> a")
    _one_line({**base, "gd": {"starts": 5}}, "experiments.wp.solvers.gd.starts", "plain method",
              "gd_multistart: {method: gd, starts: 10}")
    _one_line({**base, "gd": {"method": "adam"}}, "experiments.wp.solvers.gd.method", "allowed: gd")
    _one_line({**base, "jpo_bfgs": {"start_from": "bfgs"}}, "experiments.wp.solvers.jpo_bfgs.start_from", "allowed: jpo")
    _one_line({**base, "jpo_bfgs": {"starts": 3}}, "experiments.wp.solvers.jpo_bfgs.starts", "declared composition")
    _one_line({**base, "bfgs_multistart": {"method": "gd"}}, "experiments.wp.solvers.bfgs_multistart.method",
              "allowed: bfgs")
    _one_line({**base, "x": {"method": "jpo_bfgs"}}, "experiments.wp.solvers.x.method", "composition, not a method")
    _one_line({**base, "x": {"method": "newton"}}, "experiments.wp.solvers.x.method", "unknown method 'newton'")
    _one_line({**base, "newton": {}}, "experiments.wp.solvers.newton", "unknown key; allowed:", "bfgs", "method")
    _one_line({**base, "x": {"method": "gd", "momentum": 0.9}}, "experiments.wp.solvers.x.momentum",
              "unknown key; allowed:", "start_from", "starts")
    _one_line({"gd": {}}, "experiments.wp.solvers", "must include 'bfgs'")
    _one_line({**base, "a-b": {"method": "gd"}}, "experiments.wp.solvers.a-b", "letters, digits")


def test_compositions_through_the_whole_config(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg["experiments"]["wavepacket"]["solvers"].update(
        {"jpo_gd": {"method": "gd", "start_from": "jpo"}, "gd_multistart": {"method": "gd", "starts": 3, "steps": 4}})
    out = resolve_config(cfg, check_cuda=False)
    block = out["experiments"]["wavepacket"]["solvers"]
    assert block["gd_multistart"] == {"method": "gd", "starts": 3, "budget": [1, 2, 3], "lr": 0.01, "steps": 4}
    assert resolve_config(out, check_cuda=False) == out  # the resolved config resolves to itself
    for bad, line in [
        ({"method": "gd", "starts": 0}, "experiments.wavepacket.solvers.x.starts: must be >= 1"),
        ({"method": "gd", "lr": "big"}, "experiments.wavepacket.solvers.x.lr: expected number"),
        ({"method": "gd", "momentum": 1}, "experiments.wavepacket.solvers.x.momentum: unknown key; allowed: budget, label"),
        ({"method": "jpo", "starts": 2}, "experiments.wavepacket.solvers.x.starts: 'jpo' is a network method"),
    ]:
        cfg2 = copy.deepcopy(cfg)
        cfg2["experiments"]["wavepacket"]["solvers"]["x"] = bad
        with pytest.raises(InvalidConfig) as err:
            resolve_config(cfg2, check_cuda=False)
        assert len(err.value.lines) == 1 and err.value.lines[0].startswith(line), err.value.lines


def test_schema_describes_compositions():
    schema = solvers_schema()
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors({"bfgs": {}, "jpo": {}, "jpo_bfgs": {}, "g": {"method": "gd", "starts": 2}}))
    errors = list(validator.iter_errors({"bfgs": {}, "g": {"method": "gd", "step": 2}}))
    assert [list(e.absolute_path) for e in errors] == [["g"]] and "step" in errors[0].message
    assert list(validator.iter_errors({"gd": {}}))  # the baseline is required
    assert schema["dependentRequired"] == {"jpo_bfgs": ["jpo"], "supervised_bfgs": ["supervised"]}
    assert set(schema["properties"]["bfgs_multistart"]["properties"]) == {"gtol", "maxiter", "starts", "budget",
                                                                        "method", "label"}
