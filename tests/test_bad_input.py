"""Bad input, as a skeptical user gives it: nonsense configs and damaged artifacts.

Every case is checked in-process, where the workflow checks it before any job runs: a config
by ``invnet.config.resolve_config`` (what the Snakefile calls at parse time), existing artifacts
by ``Plan.check_existing_artifacts`` (what it calls before scheduling). Each must fail with one
line naming the key or the file. One case of each kind, and the two that only Snakemake can show
(a YAML error in the default config file, a bad ``--config`` value), also run through the real
command (``snakemake --cores 1 --configfile case.yaml``, slow tier), which must fail with that
one line, no Python traceback, and no job run (no log, no new or changed file under results/).
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from helpers import copy_workflow, run_plan, set_key, snakemake, tiny_wavepacket

BASE = tiny_wavepacket({"bfgs": {"maxiter": 20}, "gd": {"steps": 20}})
WP = "experiments.wavepacket"


def _config(**changes):
    """BASE with dotted-path changes ("experiments.wavepacket.n": [0]); value None deletes."""
    config = BASE
    for path, value in changes.items():
        config = set_key(config, path, value)
    return config


def _block(**problem):
    return {f"{WP}.problem": problem}


# (case id, config, the key or file the one error line must name)
CONFIG_CASES = [
    ("unknown_top_key", _config(threds=2), "threds"),
    ("misspelt_solver", _config(**{f"{WP}.solvers.bfsg": {}}), f"{WP}.solvers.bfsg"),
    ("no_baseline", _config(**{f"{WP}.solvers": {"gd": {}}}), f"{WP}.solvers.bfgs"),
    ("unknown_family", _config(**{f"{WP}.family": "wavepackets"}), f"{WP}.family"),
    ("family_bad_import_path", _config(**{f"{WP}.family": "nowhere.mod:Fam"}), f"{WP}.family"),
    ("n_zero", _config(**{f"{WP}.n": [0]}), f"{WP}.n[0]"),
    ("n_negative", _config(**{f"{WP}.n": [-8]}), f"{WP}.n[0]"),
    ("n_huge", _config(**{f"{WP}.n": [10**9]}), f"{WP}.n[0]"),
    ("n_string", _config(**{f"{WP}.n": "many"}), f"{WP}.n"),
    ("n_float", _config(**{f"{WP}.n": [8.5]}), f"{WP}.n[0]"),
    ("n_empty", _config(**{f"{WP}.n": []}), f"{WP}.n"),
    ("n_duplicate", _config(**{f"{WP}.n": [8, 8]}), f"{WP}.n"),
    ("seed_2_64", _config(**{f"{WP}.seeds": [2**64]}), f"{WP}.seeds[0]"),
    ("seed_10_40", _config(**{f"{WP}.seeds": [10**40]}), f"{WP}.seeds[0]"),
    ("seed_negative", _config(**{f"{WP}.seeds": [-1]}), f"{WP}.seeds[0]"),
    ("n_test_zero", _config(**{f"{WP}.n_test": 0}), f"{WP}.n_test"),
    ("n_test_huge", _config(**{f"{WP}.n_test": 10**8}), f"{WP}.n_test"),
    ("rtol_above_one", _config(compare_rtol=1.5), "compare_rtol"),
    ("dtype_float16", _config(dtype="float16"), "dtype"),
    ("device_tpu", _config(device="tpu"), "device"),
    ("threads_zero", _config(threads=0), "threads"),
    ("history_points_one", _config(history_points=1), "history_points"),
    ("x0_outside_bounds", _config(**_block(x0=[1.5, 1.0])), f"{WP}.problem.x0"),
    ("t0_prior_outside_window", _config(**_block(t0_range=[0.5, 1.3])), f"{WP}.problem.t0_range"),
    ("prior_outside_widened_bounds", _config(**_block(t0_range=[-0.2, 0.5], bounds=[[-1.0, 1.0], [0.0, 2.0]])),
     f"{WP}.problem.t0_range"),
    ("amplitude_prior_outside_bounds", _config(**_block(amplitude_range=[0.5, 2.5])), f"{WP}.problem.amplitude_range"),
    ("prior_reversed", _config(**_block(amplitude_range=[1.5, 0.5])), f"{WP}.problem.amplitude_range"),
    ("n_samples_one", _config(**_block(n_samples=1)), f"{WP}.problem.n_samples"),
    ("sigma_negative", _config(**_block(sigma=-0.1)), f"{WP}.problem.sigma"),
    ("frequency_string", _config(**_block(frequency="ten")), f"{WP}.problem.frequency"),
    ("noise_negative", _config(**_block(noise=-1.0)), f"{WP}.problem.noise"),
    ("bounds_three_rows", _config(**_block(bounds=[[0, 1], [0, 2], [0, 3]])), f"{WP}.problem.bounds"),
    ("unknown_problem_key", _config(**_block(sigmaa=0.1)), f"{WP}.problem.sigmaa"),
    ("problem_not_mapping", _config(**{f"{WP}.problem": [1, 2]}), f"{WP}.problem"),
    ("solvers_list", _config(**{f"{WP}.solvers": ["bfgs"]}), f"{WP}.solvers"),
    ("refinement_without_start", _config(**{f"{WP}.solvers.jpo_bfgs": {}}), f"{WP}.solvers.jpo_bfgs"),
    ("gd_lr_negative", _config(**{f"{WP}.solvers.gd": {"lr": -0.1}}), f"{WP}.solvers.gd.lr"),
    ("bfgs_maxiter_zero", _config(**{f"{WP}.solvers.bfgs": {"maxiter": 0}}), f"{WP}.solvers.bfgs.maxiter"),
    ("experiment_name_dash", {"experiments": {"wave-packet": BASE["experiments"]["wavepacket"]}}, "wave-packet"),
    ("no_experiments", {"experiments": {}}, "experiments"),
    ("ks_prior_outside_bounds",
     {"experiments": {"ks": {"family": "ks", "n": [8], "seeds": [0], "problem": {"beta_range": [-2.0, 2.0]},
                             "solvers": {"bfgs": {}}}}}, "experiments.ks.problem.beta_range"),
    ("billiards_x0_outside_bounds",
     {"experiments": {"billiards": {"family": "billiards", "n": [8], "seeds": [0], "problem": {"x0": [4.0, 0.0]},
                                    "solvers": {"bfgs": {}}}}}, "experiments.billiards.problem.x0"),
    ("unknown_study", _config(studies={"alignmnet": {}}), "studies.alignmnet"),
]


# One case of each kind runs through Snakemake too (slow tier): the wiring of the check.
THROUGH_SNAKEMAKE = {"misspelt_solver"}


def _artifacts(root: Path) -> None:
    """Valid data and run artifacts of BASE under root/results (in-process, seconds)."""
    run_plan(BASE, root)


RUN = "results/runs/wavepacket/bfgs/n8/seed0.h5"
DATA = "results/data/wavepacket/n8/seed0.h5"


def _edit(path: str, action):
    """Damage ``path`` through h5py: ``action(file)``."""
    def apply(root: Path) -> None:
        with h5py.File(root / path, "a") as f:
            action(f)
    return apply


def _bytes(path: str, action):
    """Damage ``path`` as bytes: ``action(bytes) -> bytes``."""
    def apply(root: Path) -> None:
        (root / path).write_bytes(action((root / path).read_bytes()))
    return apply


def _resize(name: str, n: int):
    def action(f):
        data = f[name][()]
        del f[name]
        f.create_dataset(name, data=np.resize(data, (n,) + data.shape[1:]))
    return action


def _set_attr(name: str, value):
    def action(f):
        f.attrs[name] = value
    return action


def _del(name: str):
    def action(f):
        if name in f:
            del f[name]
        else:
            del f.attrs[name]
    return action


# (case id, damage, the file the one error line must name)
ARTIFACT_CASES = [
    ("run_truncated", _bytes(RUN, lambda b: b[: len(b) // 2]), RUN),
    ("run_garbage_bytes", _bytes(RUN, lambda b: bytes(range(256)) * 8), RUN),
    ("run_empty_file", _bytes(RUN, lambda b: b""), RUN),
    ("run_missing_loss", _edit(RUN, _del("loss")), RUN),
    ("run_missing_x", _edit(RUN, _del("x")), RUN),
    ("run_missing_status", _edit(RUN, _del("problem_status")), RUN),
    ("run_loss_wrong_shape", _edit(RUN, _resize("loss", 9)), RUN),
    ("run_x_wrong_dim", _edit(RUN, lambda f: (f.__delitem__("x"), f.create_dataset("x", data=np.zeros((8, 3))))), RUN),
    ("run_old_schema", _edit(RUN, _set_attr("schema_version", 1)), RUN),
    ("run_no_schema_attr", _edit(RUN, _del("schema_version")), RUN),
    ("run_not_complete", _edit(RUN, _set_attr("complete", False)), RUN),
    ("run_is_other_seed", _edit(RUN, _set_attr("seed", 3)), RUN),
    ("run_bad_json_attr", _edit(RUN, _set_attr("config", "{not json")), RUN),
    ("data_truncated", _bytes(DATA, lambda b: b[:100]), DATA),
    ("data_missing_y_target", _edit(DATA, _del("y_target")), DATA),
    ("data_x_true_wrong_shape", _edit(DATA, _resize("x_true", 7)), DATA),
    ("data_old_schema", _edit(DATA, _set_attr("schema_version", 1)), DATA),
    ("data_in_run_place", lambda root: shutil.copy(root / DATA, root / RUN), RUN),
]


ARTIFACTS_THROUGH_SNAKEMAKE = {"run_truncated"}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input_template")
    _artifacts(root)  # valid artifacts, damaged per case
    return root


@pytest.mark.parametrize("case_id, damage, names", ARTIFACT_CASES, ids=[c[0] for c in ARTIFACT_CASES])
def test_damaged_artifact_one_line_naming_the_file(template, tmp_path, case_id, damage, names):
    """Every damaged-artifact case, in-process: the pre-run check fails with one line naming
    the file (and what is wrong, with the advice to delete it)."""
    from helpers import plan_of
    from invnet.errors import ArtifactError

    shutil.copytree(template / "results", tmp_path / "results")
    damage(tmp_path)
    with pytest.raises(ArtifactError) as err:
        plan_of(BASE).check_existing_artifacts(tmp_path)
    message = str(err.value)
    assert "\n" not in message and names in message and message.startswith("Refusing to run: "), message
    assert "delete" in message


def test_valid_artifacts_pass_the_check(template):
    from helpers import plan_of

    plan_of(BASE).check_existing_artifacts(template)


def _snapshot(root: Path) -> dict[str, int]:
    results = root / "results"
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in results.rglob("*")} if results.exists() else {}


def _case(root: Path, config, damage=None, files: dict[str, str] | None = None, args=None, template=None):
    """Run one case in ``root`` (named by number: no key appears in the paths Snakemake prints)."""
    copy_workflow(root)
    (root / "case.yaml").write_text(yaml.safe_dump(config) if config is not None else "", encoding="utf-8")
    for name, text in (files or {}).items():
        (root / name).write_text(text, encoding="utf-8")
    if damage is not None:
        shutil.copytree(template / "results", root / "results")
        damage(root)
    before = _snapshot(root)
    proc = snakemake(root, *(args or ["--cores", "1", "--configfile", "case.yaml"]), timeout=300)
    return root, before, proc


OTHER_CASES = [
    # the default config file with a YAML syntax error: the file and the line are named
    ("default_config_yaml_error", None, {"config/config.yaml": "experiments:\n  wavepacket: {family: wavepacket\n"},
     ["--cores", "1"], "config/config.yaml: line 3"),
    # a bad value given on the command line, on top of a good config file
    ("config_override", BASE, {}, ["--cores", "1", "--configfile", "case.yaml", "--config", "threads=0"], "threads"),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, template):
    tmp = tmp_path_factory.mktemp("bad_input")
    jobs = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for case_id, config, _ in CONFIG_CASES:
            if case_id in THROUGH_SNAKEMAKE:
                jobs[case_id] = pool.submit(_case, tmp / f"c{len(jobs)}", config)
        for case_id, damage, _ in ARTIFACT_CASES:
            if case_id in ARTIFACTS_THROUGH_SNAKEMAKE:
                jobs[case_id] = pool.submit(_case, tmp / f"c{len(jobs)}", BASE, damage, template=template)
        for case_id, config, files, args, _ in OTHER_CASES:
            jobs[case_id] = pool.submit(_case, tmp / f"c{len(jobs)}", config, None, files, args)
        return {case_id: job.result() for case_id, job in jobs.items()}


THROUGH = [(c, key) for c, _, key in CONFIG_CASES if c in THROUGH_SNAKEMAKE] + [
    (c, key) for c, _, key in ARTIFACT_CASES if c in ARTIFACTS_THROUGH_SNAKEMAKE
] + [(c[0], c[-1]) for c in OTHER_CASES]


def test_there_are_at_least_40_cases():
    cases = [c for c, _, _ in CONFIG_CASES] + [c for c, _, _ in ARTIFACT_CASES] + [c[0] for c in OTHER_CASES]
    assert len(cases) >= 40 and len(set(cases)) == len(cases)
    assert THROUGH_SNAKEMAKE <= {c for c, _, _ in CONFIG_CASES}
    assert ARTIFACTS_THROUGH_SNAKEMAKE <= {c for c, _, _ in ARTIFACT_CASES}


@pytest.mark.parametrize("case_id, config, names", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_one_line_naming_the_key(case_id, config, names):
    """Every config case, in-process: exactly one error line, and it names the key."""
    from invnet.config import InvalidConfig, resolve_config

    with pytest.raises(InvalidConfig) as err:
        resolve_config(config, check_cuda=False)
    assert len(err.value.lines) == 1 and names in err.value.lines[0], err.value.lines


@pytest.mark.slow
@pytest.mark.parametrize("case_id, names", THROUGH, ids=[c for c, _ in THROUGH])
def test_bad_input_fails_before_any_job(outcomes, case_id, names):
    root, before, proc = outcomes[case_id]
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "Traceback" not in out and "UnicodeDecodeError" not in out, out[-3000:]
    naming = [line for line in out.splitlines() if names in line]
    assert len(naming) == 1, f"expected one line naming {names!r}:\n{out[-3000:]}"
    # no job ran: nothing scheduled, no job log, results/ exactly as before
    assert "Job stats" not in out and "rule " not in out
    assert not (root / "logs").exists()
    assert _snapshot(root) == before
