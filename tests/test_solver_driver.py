"""The one solver driver: history subsampling (as subsample_history always did), the progress
line, evaluation counts, the typed SolveStatus each method reports and problem_status derived
from it exactly as the pipeline derived it before (SciPy status 3 = failure)."""

import itertools

import numpy as np
import pytest
import torch

from invnet import artifacts
from invnet.problems import ProblemFamily, ProblemSet, make_family
from invnet.seeding import numpy_rng
from invnet.solvers import Recorder, SolveProblem, SolveStatus, build_solver, solve
from invnet.solvers import base
from invnet.solvers.bfgs import BFGS_STATUS, LBFGSB_STATUS, decode_status
from invnet.solvers.driver import eta, final_status, problem_status, progress_line
from invnet.spec import ParamSpec


def reference_subsample(steps: int, points: int) -> list[int]:
    """The history indices of the solvers before the driver existed (written out again here)."""
    if steps + 1 <= points:
        return list(range(steps + 1))
    return sorted({int(round(v)) - 1 for v in np.geomspace(1, steps + 1, points)})


def reference_problem_status(loss, x, scipy_status=None) -> np.ndarray:
    """pipeline.problem_status at 9de7e37: nan 1, inf 2, non-finite x or SciPy status 3 -> 3."""
    loss = np.asarray(loss, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64).reshape(loss.shape[0], -1)
    out = np.zeros(loss.shape, dtype=np.int64)
    bad = ~np.isfinite(x).all(axis=1)
    if scipy_status is not None:
        bad |= np.asarray(scipy_status).reshape(loss.shape) == 3
    out[bad] = 3
    out[np.isinf(loss)] = 2
    out[np.isnan(loss)] = 1
    return out


@pytest.mark.parametrize("expect", [False, True])
def test_recorder_keeps_the_log_spaced_subset_of_every_step(expect):
    for steps, points in itertools.product([0, 1, 2, 7, 49, 50, 51, 300, 4321], [2, 5, 50, 200]):
        rec = Recorder(points)
        if expect:
            rec.expect(steps)
        for k in range(steps + 1):
            rec.record(k, torch.full((3,), float(k)) + torch.arange(3.0))
        values, idx = rec.history()
        want = reference_subsample(steps, points)
        assert idx.tolist() == want and idx.dtype == np.int64, (steps, points)
        np.testing.assert_array_equal(values, np.asarray(want, dtype=np.float64) + 1.0)  # mean of k + (0, 1, 2)
        assert len(idx) <= points and idx[0] == 0 and idx[-1] == steps


def test_recorder_evaluates_only_kept_steps_and_reduces_before_the_mean():
    rec = Recorder(3)
    rec.expect(100)
    calls = []
    for k in range(101):
        rec.record(k, lambda k=k: calls.append(k) or torch.tensor([1.0, 3.0]), reduce=lambda f: f.min().reshape(1))
    assert calls == reference_subsample(100, 3)
    assert rec.history()[0].tolist() == [1.0] * len(calls)  # min over the row, then the mean


def test_progress_line_at_most_every_ten_seconds():
    now = [0.0]
    lines: list[str] = []
    rec = Recorder(10, progress=lines.append, label="gd", clock=lambda: now[0])
    for k in range(30):
        now[0] = 4.0 * k
        rec.record(k, torch.tensor([2.0]))
    assert len(lines) == 9 and lines[0] == "gd: step 3, 0:12 elapsed, mean loss 2.0000e+00"  # at 12 s, ..., 108 s
    now[0] = 200.0
    rec = Recorder(3, progress=lines.append, label="jpo", clock=lambda: now[0])
    rec.expect(100)
    for k in range(60):
        now[0] = 200.0 + 11.0 * k
        rec.record(k, torch.tensor([2.0]))
    # a declared budget: share done, elapsed 59 x 11 s = 649 s, left 649 x 41 / 59 = 451 s
    assert lines[-1] == ("jpo: step 59/100 (59 %), 10:49 elapsed, about 7:31 left, "
                         "mean loss 2.0000e+00 (recorded at step 9)")


def test_eta_arithmetic():
    assert eta(30.0, 25, 100) == pytest.approx(90.0)  # 25 steps in 30 s: 75 more take 90 s
    assert eta(30.0, 100, 100) == 0.0 and eta(30.0, 120, 100) == 0.0
    assert eta(5.0, 0, 100) is None  # no rate before the first step
    assert progress_line("gd", 0, 10, 1.0, "x") == "gd: step 0/10 (0 %), 0:01 elapsed, time left unknown yet, x"
    assert progress_line("gd", 5, 10, 3725.0, "x") == "gd: step 5/10 (50 %), 1:02:05 elapsed, about 1:02:05 left, x"


def test_history_of_a_run_is_the_subsample_of_its_full_history():
    fam = make_family("wavepacket")
    train = fam.sample(5, numpy_rng(0, "t"))
    full = solve(build_solver("gd", {"steps": 120}), SolveProblem(fam, train, history_points=1000))
    few = solve(build_solver("gd", {"steps": 120}), SolveProblem(fam, train, history_points=6))
    assert few.history_step.tolist() == reference_subsample(120, 6)
    np.testing.assert_array_equal(few.loss_history, full.loss_history[few.history_step])
    assert full.history_step.tolist() == list(range(121))
    np.testing.assert_array_equal(few.x, full.x)  # the history never changes the run


def test_problem_status_is_derived_exactly_as_before():
    rows = list(itertools.product(
        [0.5, np.nan, np.inf, -np.inf],  # loss
        [(1.0, 2.0), (np.nan, 2.0), (1.0, np.inf)],  # x
        [0, 1, 2, 3],  # SciPy BFGS status
    ))
    loss = np.array([r[0] for r in rows])
    x = np.array([r[1] for r in rows])
    raw = np.array([r[2] for r in rows])
    typed = final_status(decode_status(raw, BFGS_STATUS), loss, x)
    np.testing.assert_array_equal(problem_status(typed, loss), reference_problem_status(loss, x, raw))
    budget = final_status(np.full(len(rows), int(SolveStatus.BUDGET)), loss, x)  # solvers without SciPy codes
    np.testing.assert_array_equal(problem_status(budget, loss), reference_problem_status(loss, x))
    assert set(typed[~np.isfinite(loss)]) == {SolveStatus.NONFINITE}


def test_status_numbers_are_those_of_the_artifacts():
    assert (base.PROBLEM_OK, base.PROBLEM_NAN, base.PROBLEM_INF, base.PROBLEM_FAILED) == (
        artifacts.STATUS_OK, artifacts.STATUS_NAN, artifacts.STATUS_INF, artifacts.STATUS_FAILED)
    assert [s.value for s in SolveStatus] == [0, 1, 2, 3, 4]
    assert decode_status(np.array([0, 1, 2, 7]), LBFGSB_STATUS).tolist() == [0, 1, 2, int(SolveStatus.FAILED)]


class Flagged(ProblemFamily):
    """y = (x, flag); loss (x - x*)² (flag 0), NaN (flag 1), |x - x*| (flag 2: NaN gradient at x*)."""

    name = "flagged"
    param_names = ("x",)
    params_spec = {
        "x0": ParamSpec([0.0], float, length=1, doc="start"),
        "bounds": ParamSpec([[-5.0, 5.0]], float, length=1, doc="box"),
    }

    def forward(self, x, gamma=None):
        return torch.cat([x, gamma], dim=1)

    def loss(self, y, y_target):
        d2 = (y[:, 0] - y_target[:, 0]) ** 2
        flag = y[:, 1]
        root = torch.sqrt(torch.where(flag == 2, d2, torch.ones_like(d2)))  # no NaN gradient elsewhere
        return torch.where(flag == 2, root, d2) + torch.where(flag == 1, torch.nan, 0.0)

    def sample(self, n, rng):
        x = rng.uniform(1.0, 2.0, size=(n, 1))
        flag = np.arange(n, dtype=np.float64)[:, None] % 3
        x[flag[:, 0] == 2] = 0.0  # |x - 0| at the start x0 = 0: loss 0, gradient 0/0
        return ProblemSet(np.concatenate([x, flag], axis=1), x, flag)


def _flagged(n: int = 6) -> SolveProblem:
    fam = Flagged()
    return SolveProblem(fam, fam.sample(n, numpy_rng(0, "flagged")))


def test_statuses_of_bfgs_converged_nan_and_failure():
    res = solve(build_solver("bfgs"), _flagged())
    flag = np.arange(6) % 3
    assert (res.status[flag == 0] == SolveStatus.CONVERGED).all() and (res.extras["status"][flag == 0] == 0).all()
    assert (res.status[flag == 1] == SolveStatus.NONFINITE).all() and (res.problem_status[flag == 1] == 1).all()
    # a finite loss with a NaN gradient: SciPy status 3, a failure, at loss 0
    assert (res.extras["status"][flag == 2] == 3).all() and (res.loss[flag == 2] == 0).all()
    assert (res.status[flag == 2] == SolveStatus.FAILED).all() and (res.problem_status[flag == 2] == 3).all()
    assert (res.problem_status[flag == 0] == 0).all()


def test_fixed_budget_methods_report_budget_and_nan_as_nonfinite():
    res = solve(build_solver("gd", {"steps": 3, "lr": 0.1}), _flagged())
    flag = np.arange(6) % 3
    assert (res.status[flag == 0] == SolveStatus.BUDGET).all() and (res.problem_status[flag == 0] == 0).all()
    # NaN loss (flag 1), and a NaN gradient that GD steps into (flag 2: x and loss NaN)
    assert (res.status[flag != 0] == SolveStatus.NONFINITE).all() and (res.problem_status[flag != 0] == 1).all()
    assert np.isnan(res.x[flag == 2]).all()
    assert np.all(res.evaluations == 4) and np.all(res.iterations == 3)


def test_bfgs_at_maxiter_reports_budget_and_evaluations_are_counted():
    fam = make_family("wavepacket")
    problem = SolveProblem(fam, fam.sample(8, numpy_rng(1, "t")))
    res = solve(build_solver("bfgs", {"maxiter": 2}), problem)
    assert (res.extras["status"] == 1).any()
    np.testing.assert_array_equal(res.status == SolveStatus.BUDGET, res.extras["status"] == 1)
    assert np.all(res.iterations <= 2) and np.all(res.evaluations >= res.iterations + 1)
    assert res.info["settings"] == {"method": "bfgs", "gtol": 1e-5, "maxiter": 2} and res.info["batched_rounds"] > 0
    sup = solve(build_solver("supervised", {"steps": 3, "hidden": [4]}), problem)
    assert np.all(sup.evaluations == 1) and (sup.status == SolveStatus.BUDGET).all()


def test_a_refinement_without_its_start_is_refused():
    with pytest.raises(ValueError, match="starts from 'jpo'.*init"):
        solve(build_solver("jpo_bfgs"), _flagged())
