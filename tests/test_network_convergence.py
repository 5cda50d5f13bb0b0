"""Training the network solvers to convergence, and checkpoints within one run
(docs/experiments.md §2.6; invnet.solvers.network_training, invnet.solvers.convergence)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import plan_of, tiny_wavepacket
from invnet.errors import ConfigError
from invnet.problems import make_family
from invnet.problems.base import ParamSpec, ProblemFamily, ProblemSet
from invnet.seeding import numpy_rng
from invnet.solvers import SolveProblem, SolveStatus, build_solver, solve
from invnet.solvers.convergence import ConvergenceRule


class Identity(ProblemFamily):
    """F(x) = x, y* = x_true without noise: the optimum of every problem is loss 0, and a network
    reading y* can reach it (it has to learn the identity)."""

    name = "identity_test"
    param_names = ("a", "b")
    noise_free = {}
    params_spec = {
        "x0": ParamSpec([0.0, 0.0], float, length=2, doc="start"),
        "bounds": ParamSpec([[-1.0, 1.0], [-1.0, 1.0]], float, length=2, doc="box"),
    }

    def forward(self, x, gamma=None):
        return x

    def loss(self, y, y_target):
        return ((y - y_target) ** 2).mean(dim=1)

    def sample(self, n, rng):
        x = rng.uniform(-0.8, 0.8, size=(n, 2))
        return ProblemSet(x.copy(), x)


RULE = {"hidden": [8], "activation": "tanh", "lr": 3e-2, "converge_window": 20, "converge_rtol": 1e-2}


def _solve(family, train, solver="jpo", **settings):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return solve(build_solver(solver, settings), SolveProblem(family, train, history_points=20))


def _first_hold(losses, window, rtol):
    """Reference: the number of losses after which the window means first agree within rtol."""
    means = np.convolve(losses, np.ones(window) / window, mode="valid")  # means[j] = mean(L[j : j + W])
    for end in range(2 * window, len(losses) + 1):
        before, last = means[end - 2 * window], means[end - window]
        if abs(last - before) <= rtol * abs(before):
            return end
    return None


@pytest.mark.parametrize("seed", range(5))
def test_the_convergence_rule_matches_a_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    k = np.arange(600)
    losses = 0.1 + np.exp(-k / rng.uniform(30, 150)) * (1 + 0.3 * rng.standard_normal(k.size))
    window, rtol = int(rng.integers(5, 40)), float(rng.choice([1e-3, 1e-2, 5e-2]))
    rule = ConvergenceRule(window, rtol)
    holds = [rule.update(v) for v in losses]
    expected = _first_hold(losses, window, rtol)
    assert rule.first == expected
    assert expected is None or (holds.index(True) + 1 == expected and not any(holds[: expected - 1]))


def test_a_rising_loss_does_not_count_as_converged():
    rule = ConvergenceRule(10, 0.01)
    assert not any(rule.update(1.0 + 0.01 * k) for k in range(200))  # +10 % per window


def test_the_network_stops_converged_before_its_cap_near_the_known_optimum():
    family = Identity()
    train = family.sample(16, np.random.default_rng(0))
    start = float(np.mean((train.x_true - family.x0) ** 2))
    run = _solve(family, train, until="converged", steps=20_000, **RULE)
    stop = int(run.iterations[0])
    assert (run.status == SolveStatus.CONVERGED).all()
    assert (run.iterations == stop).all() and 2 * RULE["converge_window"] <= stop < 20_000
    assert run.info["converged_at"] == stop
    assert run.loss.mean() < 1e-3 * start  # the known optimum is 0 (about 1e-4 x start here)
    assert run.evaluations.tolist() == [stop + 1] * 16  # steps 0..stop-1 and the final state

    # the same rule run for exactly `stop` steps: the same state bit for bit, stopped at its budget
    fixed = _solve(family, train, until="steps", steps=stop, **RULE)
    assert (fixed.status == SolveStatus.BUDGET).all() and fixed.info["converged_at"] == stop
    np.testing.assert_array_equal(fixed.x, run.x)
    np.testing.assert_array_equal(fixed.loss, run.loss)
    np.testing.assert_array_equal(fixed.evaluations, run.evaluations)


def test_too_small_a_budget_reports_the_cap():
    family = Identity()
    train = family.sample(16, np.random.default_rng(0))
    cap = 2 * RULE["converge_window"] - 1  # the rule needs two full windows
    run = _solve(family, train, until="converged", steps=cap, **RULE)
    assert (run.status == SolveStatus.BUDGET).all() and (run.iterations == cap).all()
    assert run.info["converged_at"] is None


def test_the_rule_settings_do_not_change_a_fixed_length_run():
    """until: steps (the default) trains exactly `steps` steps whatever the rule's settings:
    the default configs' runs are the same as before the rule existed."""
    family = make_family("wavepacket")
    train = family.sample(8, numpy_rng(0, "wavepacket/train/n8"))
    a = _solve(family, train, hidden=[16], steps=40)
    b = _solve(family, train, hidden=[16], steps=40, converge_window=3, converge_rtol=0.5)
    assert b.info["converged_at"] is not None and (b.status == SolveStatus.BUDGET).all()
    for key in ("x", "loss", "evaluations", "iterations", "loss_history"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


@pytest.mark.parametrize("solver", ["jpo", "supervised"])
def test_checkpoints_equal_shorter_runs_bit_for_bit(solver):
    """With a constant learning rate the state at step s of a long run is the state of an
    s-step run: solutions, losses and evaluations."""
    family = make_family("wavepacket")
    train = family.sample(8, numpy_rng(0, "wavepacket/train/n8"))
    long = _solve(family, train, solver, hidden=[16], steps=60, checkpoints=[7, 25, 60])
    assert long.extras["checkpoint_step"].tolist() == [7, 25, 60]
    assert long.extras["checkpoint_at"].tolist() == [7, 25, 60]
    for c, steps in enumerate((7, 25, 60)):
        short = _solve(family, train, solver, hidden=[16], steps=steps)
        np.testing.assert_array_equal(long.extras["checkpoint_x"][c], short.x)
        np.testing.assert_array_equal(long.extras["checkpoint_loss"][c], short.loss)
        np.testing.assert_array_equal(long.extras["checkpoint_evaluations"][c], short.evaluations)
    no_checkpoints = _solve(family, train, solver, hidden=[16], steps=60)  # recording changes nothing
    np.testing.assert_array_equal(no_checkpoints.x, long.x)


def test_checkpoints_after_a_converged_stop_hold_the_final_state():
    family = Identity()
    train = family.sample(16, np.random.default_rng(0))
    run = _solve(family, train, until="converged", steps=20_000, checkpoints=[10, 19_000], **RULE)
    stop = int(run.iterations[0])
    assert run.extras["checkpoint_at"].tolist() == [10, stop]
    np.testing.assert_array_equal(run.extras["checkpoint_x"][1], run.x)
    np.testing.assert_array_equal(run.extras["checkpoint_evaluations"][1], run.evaluations)


@pytest.mark.parametrize("block, key, words", [
    ({"steps": 50, "checkpoints": [10, 60]}, "checkpoints", "<= steps (50)"),
    ({"checkpoints": [10], "lr_schedule": "cosine"}, "checkpoints", "allowed: constant"),
    ({"until": "flat"}, "until", "allowed: steps, converged"),
    ({"converge_window": 0}, "converge_window", "> 0"),
    ({"checkpoints": [0]}, "checkpoints[0]", "> 0"),
])
def test_bad_training_settings_name_the_key(block, key, words):
    config = tiny_wavepacket({"bfgs": {}, "jpo": block})
    with pytest.raises(ConfigError) as err:
        plan_of(config)
    assert f"experiments.wavepacket.solvers.jpo.{key}" in str(err.value) and words in str(err.value)
