"""The neural adjoint (invnet.solvers.neural_adjoint): on a forward process that is linear in x the
surrogate is learnt to within a small error and its inversions find the truth; the held-out error
the run artifact records is the surrogate's error on the held-out samples, recomputed here with
this file's own F; evaluations are the samples charged per problem plus the one scoring; it runs
on every family of the package and keeps its iterates in the box its samples span. On a family
without identifiers its surrogate is fitted once per seed and shared by every n: the runs are the
ones that fit their own, bit for bit, and are charged the fit's time."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import h5_contents, plan_of, tiny_wavepacket
from invnet.artifacts import read_h5
from invnet.problems import ProblemFamily, ProblemSet, make_family
from invnet.seeding import numpy_rng
from invnet.solvers import SolveProblem, build_solver, solve
from invnet.spec import ParamSpec

# F(x, γ) = A x + γ (γ a scalar per problem, added to every output): linear in x, 5 outputs.
A = np.array([[1.0, 0.5], [-0.3, 1.2], [0.8, -0.7], [0.2, 0.1], [0.0, -1.0]])


class LinearMap(ProblemFamily):
    """y = A x + γ, noise-free; x uniform in [-0.8, 0.8]², γ uniform in [-1, 1]."""

    name = "linear_map"
    param_names = ("a", "b")
    params_spec = {
        "x0": ParamSpec([0.0, 0.0], float, length=2, doc="shared start"),
        "bounds": ParamSpec([[-1.0, 1.0], [-1.0, 1.0]], float, length=2, doc="box (and the default prior)"),
    }

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None = None) -> torch.Tensor:
        return x @ torch.as_tensor(A.T, dtype=x.dtype, device=x.device) + gamma

    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        return ((y - y_target) ** 2).mean(dim=-1)

    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        x = rng.uniform(-0.8, 0.8, size=(n, 2))
        gamma = rng.uniform(-1.0, 1.0, size=(n, 1))
        return ProblemSet(x @ A.T + gamma, x, gamma)


N, N_TEST, SAMPLES, HELD_OUT = 16, 8, 256, 0.2
SETTINGS = {"samples": SAMPLES, "held_out": HELD_OUT, "hidden": [32], "surrogate_steps": 1000, "steps": 300,
            "lr": 0.02}
CONFIG = {"history_points": 20, "experiments": {"lin": {
    "family": f"{__name__}:LinearMap", "n": [N], "seeds": [3], "n_test": N_TEST,
    "solvers": {"bfgs": {}, "neural_adjoint": SETTINGS}}}}


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    """(data arrays, run arrays, run attrs) of the neural adjoint on the linear family, run by the
    plan's own data and solve jobs."""
    root = tmp_path_factory.mktemp("neural_adjoint")
    plan = plan_of(CONFIG)
    plan.run([j for j in plan.jobs if j.rule in ("generate_data", "solve")], root)
    data, _ = read_h5(root / "results/data/lin/n16/seed3.h5", "data")
    run, attrs = read_h5(root / "results/runs/lin/neural_adjoint/n16/seed3.h5", "run")
    return data, run, attrs


def test_a_linear_forward_is_learnt_and_inverted_to_the_truth(linear_run):
    data, run, attrs = linear_run
    surrogate = attrs["provenance"]["info"]["surrogate"]
    assert surrogate["held_out_relative_mse"] < 1e-3  # < 0.1 % of the outputs' variance unexplained
    assert np.abs(run["x"] - data["x_true"]).max() < 0.03  # the truth, to within the surrogate's error
    assert np.abs(run["test_x"] - data["test_x_true"]).max() < 0.03  # new problems: no new samples
    # the recorded losses are the true F's: recomputed with this file's A
    for x, y, g, loss in ((run["x"], data["y_target"], data["gamma"], run["loss"]),
                          (run["test_x"], data["test_y_target"], data["test_gamma"], run["test_loss"])):
        np.testing.assert_allclose(loss, (((x @ A.T + g) - y) ** 2).mean(axis=1), rtol=1e-12, atol=1e-15)
    assert run["loss"].max() < 1e-3


def test_the_recorded_held_out_error_is_the_surrogates_error_on_its_held_out_samples(linear_run):
    """The samples follow the documented rule (prior draws of stream neural_adjoint/samples, the
    identifiers of problem j mod n, the last round(held_out * samples) held out); the surrogate
    fitted to them, evaluated here on the held-out ones against this file's F, has the error the
    artifact records."""
    from invnet.solvers.neural_adjoint import NeuralAdjoint, fit_surrogate, make_samples

    data, run, attrs = linear_run
    fam = make_family(f"{__name__}:LinearMap", {}, "lin")
    x = fam.sample_prior(SAMPLES, numpy_rng(3, "neural_adjoint/samples"))
    gamma = data["gamma"][np.arange(SAMPLES) % N]
    y = x @ A.T + gamma
    held = int(round(HELD_OUT * SAMPLES))
    samples = make_samples(fam, torch.as_tensor(data["gamma"]), N, SAMPLES, HELD_OUT, 3, torch.float64,
                           torch.device("cpu"))
    np.testing.assert_allclose(samples.y.numpy(), y, rtol=0, atol=1e-14)  # the job's samples are these
    assert samples.held_out == held
    torch.set_num_threads(1)  # as the solve job (threads: 1)
    model = fit_surrogate(samples, fam, NeuralAdjoint.Settings.from_mapping(SETTINGS), 3)
    with torch.no_grad():
        pred = model(torch.as_tensor(x[-held:]), torch.as_tensor(gamma[-held:])).numpy()
    recorded = attrs["provenance"]["info"]["surrogate"]
    assert recorded["held_out_samples"] == held and recorded["train_samples"] == SAMPLES - held
    assert recorded["held_out_mse"] == pytest.approx(((pred - y[-held:]) ** 2).mean(), rel=1e-9)
    spread = ((y[-held:] - y[:-held].mean(axis=0)) ** 2).mean()
    assert recorded["held_out_relative_mse"] == pytest.approx(((pred - y[-held:]) ** 2).mean() / spread, rel=1e-9)


def test_evaluations_are_the_samples_charged_per_problem_plus_the_final_one(linear_run):
    _, run, attrs = linear_run
    expected = np.array([SAMPLES // N + (i < SAMPLES % N) + 1 for i in range(N)])  # sample j -> problem j mod n
    np.testing.assert_array_equal(run["evaluations"], expected)
    assert run["evaluations"].sum() == SAMPLES + N
    assert (run["iterations"] == SETTINGS["steps"]).all()
    assert attrs["provenance"]["info"]["inference_passes"] == SETTINGS["steps"]


def test_uneven_samples_are_charged_to_the_first_problems():
    """37 samples over 8 problems: problems 0-4 pay 5 samples, 5-7 pay 4 (plus one scoring each)."""
    fam = LinearMap()
    train = fam.sample(8, numpy_rng(0, "train"))
    res = solve(build_solver("neural_adjoint", {"samples": 37, "hidden": [4], "surrogate_steps": 3, "steps": 2}),
                SolveProblem(fam, train, seed=0))
    np.testing.assert_array_equal(res.evaluations, [6, 6, 6, 6, 6, 5, 5, 5])


TINY = {"samples": 24, "hidden": [8], "surrogate_steps": 5, "steps": 5, "lr": 0.5}
FAMILIES = {  # every family of the package, at test sizes (fluid: image-shaped y and γ)
    "wavepacket": {}, "billiards": {}, "billiards_chain": {}, "ks": {"horizon": 2.0},
    "fluid": {"n_grid": 16, "horizon": 0.2},
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_it_runs_on_every_family_within_the_box_of_its_samples(family):
    """A large step (lr 0.5) would leave the prior: every solution stays inside the box the prior
    draws span (where the surrogate has data); evaluations follow the rule; test predictions too."""
    from invnet.solvers.neural_adjoint import SAMPLES_STREAM

    fam = make_family(family, FAMILIES[family], family)
    train, test = fam.sample(7, numpy_rng(0, "train")), fam.sample(3, numpy_rng(0, "test"))
    res = solve(build_solver("neural_adjoint", TINY), SolveProblem(fam, train, test, seed=1))
    draws = fam.sample_prior(TINY["samples"], numpy_rng(1, SAMPLES_STREAM))
    lo, hi = draws.min(axis=0), draws.max(axis=0)
    for x in (res.x, res.extras["test_x"]):
        assert ((x >= lo - 1e-12) & (x <= hi + 1e-12)).all()
    np.testing.assert_array_equal(res.evaluations, [5, 5, 5, 4, 4, 4, 4])  # 24 = 3·7 + 3 samples, + 1
    assert res.extras["test_loss"].shape == (3,) and np.isfinite(res.info["surrogate"]["held_out_mse"])


def test_too_few_samples_is_refused_naming_the_key():
    from invnet.config import InvalidConfig, resolve_config

    config = {"experiments": {"wavepacket": {"family": "wavepacket", "solvers": {
        "bfgs": {}, "neural_adjoint": {"samples": 1}}}}}
    with pytest.raises(InvalidConfig, match=r"experiments\.wavepacket\.solvers\.neural_adjoint\.samples"):
        resolve_config(config, check_cuda=False)


# ------------------------------------------------------------------------------ shared across n
# The wave packet has no identifiers: its surrogate is the same at every n, fitted once per seed
# (rule fit_surrogate) and loaded by each n's run.
SHARED_NA = {"samples": 48, "hidden": [8], "surrogate_steps": 40, "steps": 30, "lr": 0.05}
SHARED = tiny_wavepacket({"bfgs": {"maxiter": 5}, "neural_adjoint": SHARED_NA})
SHARED["experiments"]["wavepacket"].update(n=[4, 8], seeds=[2])
SURROGATE = "results/surrogates/wavepacket/neural_adjoint/seed2.h5"


def _na_runs(plan) -> list:
    return [j for j in plan.rule_jobs("solve") if j.wildcards["solver"] == "neural_adjoint"]


def _run_file(n: int) -> str:
    return f"results/runs/wavepacket/neural_adjoint/n{n}/seed2.h5"


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """(plan, root, own): the neural adjoint's runs at n = 4 and 8 as the plan runs them, through
    one shared surrogate fit (under root), and the same solve jobs without that input, each fitting
    its own surrogate as every run did before (under own)."""
    plan = plan_of(SHARED)
    root, own = tmp_path_factory.mktemp("shared"), tmp_path_factory.mktemp("own")
    data = plan.rule_jobs("generate_data")
    plan.run(data + plan.rule_jobs("fit_surrogate") + _na_runs(plan), root)
    plan.run(data + [replace(j, inputs={"data": j.inputs["data"]}) for j in _na_runs(plan)], own)
    return plan, root, own


def test_a_run_through_the_shared_surrogate_is_the_run_that_fits_its_own_bit_for_bit(shared_runs):
    plan, root, own = shared_runs
    assert len(plan.rule_jobs("fit_surrogate")) == 1 and all(j.inputs["shared"] == [SURROGATE] for j in _na_runs(plan))
    assert not (own / "results/surrogates").exists()
    for n in (4, 8):
        shared, _ = read_h5(root / _run_file(n), "run")
        assert {"x", "loss", "test_x", "test_loss", "loss_history", "evaluations"} <= set(shared)
        # every dataset (dtype, shape, bytes) and every attribute but the provenance
        assert h5_contents(root / _run_file(n)) == h5_contents(own / _run_file(n)), n
        info = {p: read_h5(p / _run_file(n), "run")[1]["provenance"]["info"] for p in (root, own)}
        assert info[root] == info[own] and info[root]["surrogate"]["held_out_mse"] > 0
    # the stored surrogate: every parameter and buffer of the network, as float64
    arrays, attrs = read_h5(root / SURROGATE, "surrogate", {"experiment": "wavepacket", "seed": 2})
    assert {"x_mid", "x_half", "y_mean", "y_scale", "body.0.weight", "head.bias"} <= set(arrays)
    assert all(a.dtype == np.float64 for a in arrays.values())
    assert attrs["config"]["solver"]["surrogate_steps"] == SHARED_NA["surrogate_steps"]


def test_the_shared_run_is_charged_the_fits_time(shared_runs):
    """Its wall time is its own plus the whole fit's (each n pays for it in full); its provenance
    names the surrogate, and the fit's wall and CPU time; its evaluations are the samples' charge
    plus one, as a run fitting its own."""
    _, root, own = shared_runs
    fit = read_h5(root / SURROGATE, "surrogate")[1]["provenance"]
    assert fit["wall_time_s"] > 0 and fit["cpu_time_s"] > 0
    for n in (4, 8):
        run, attrs = read_h5(root / _run_file(n), "run")
        prov = attrs["provenance"]
        assert prov["wall_time_s"] >= fit["wall_time_s"]
        assert prov["wall_time_s"] == prov["shared"]["run_wall_time_s"] + fit["wall_time_s"]
        assert prov["shared"]["wall_time_s"] == fit["wall_time_s"] and prov["shared"]["cpu_time_s"] == fit["cpu_time_s"]
        assert prov["shared"]["file"] == str(root / SURROGATE)
        assert "shared" not in read_h5(own / _run_file(n), "run")[1]["provenance"]
        assert run["evaluations"].sum() == SHARED_NA["samples"] + n


def test_the_run_computes_with_the_stored_surrogate_and_refuses_one_of_other_samples_or_settings(shared_runs, tmp_path):
    """A changed parameter changes the run (it is the stored network that is inverted); a changed
    buffer is another sample set's surrogate, and a fit with other settings is another surrogate:
    both refused."""
    from invnet.artifacts import write_h5
    from invnet.errors import ArtifactError
    from invnet.jobs import run_job

    plan, root, _ = shared_runs
    job = plan.job("solve", {"experiment": "wavepacket", "solver": "neural_adjoint", "n": 4, "seed": 2}).under(root)
    arrays, attrs = read_h5(root / SURROGATE, "surrogate")
    attrs = {k: v for k, v in attrs.items() if k not in ("complete", "schema_version")}

    def run_with(changed: dict, attrs: dict = attrs) -> dict:
        write_h5(tmp_path / "s.h5", {**arrays, **changed}, attrs)
        run_job("solve", job.params, {**job.inputs, "shared": [str(tmp_path / "s.h5")]},
                {"run": str(tmp_path / "r.h5")})
        return read_h5(tmp_path / "r.h5", "run")[0]

    assert np.array_equal(run_with({})["x"], read_h5(root / _run_file(4), "run")[0]["x"])
    assert not np.array_equal(run_with({"head.bias": arrays["head.bias"] + 0.1})["x"],
                              read_h5(root / _run_file(4), "run")[0]["x"])
    with pytest.raises(ValueError, match="y_mean is not this run's samples'"):
        run_with({"y_mean": arrays["y_mean"] + 1e-9})
    other = {**attrs, "config": {**attrs["config"], "solver": {**attrs["config"]["solver"], "surrogate_steps": 41}}}
    with pytest.raises(ArtifactError, match="other settings or code"):
        run_with({}, other)
    # and a damaged one is refused before any job runs, as a damaged run
    damaged = tmp_path / "check" / SURROGATE
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not HDF5")
    with pytest.raises(ArtifactError, match="seed2.h5 is not a readable HDF5 file"):
        plan.check_existing_artifacts(tmp_path / "check")
