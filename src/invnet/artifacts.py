"""HDF5 artifacts: atomic writes (temporary file in the same folder, then rename), deterministic
bytes (no timestamps) and provenance (config, seed, versions, git commit) in attributes."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # NFS/Lustre; one writer, readers after rename

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from .errors import ArtifactError  # noqa: E402

JSON_ATTRS = ("provenance", "problem", "config")

# Version of the artifact layout (datasets, shapes, attributes; docs/artifacts.md). Bumped when
# a reader needs something older artifacts lack; every read refuses another version.
# 2: schema_version attribute; run artifacts carry `problem_status` (finite / nan / inf / failure).
SCHEMA_VERSION = 2
REBUILD = "delete it and rerun the same snakemake command (a deleted artifact is rebuilt)"

# Per-problem status of a run (dataset `problem_status`): only STATUS_OK counts in comparisons.
STATUS_OK, STATUS_NAN, STATUS_INF, STATUS_FAILED = 0, 1, 2, 3
STATUS_NAMES = {STATUS_OK: "finite", STATUS_NAN: "nan", STATUS_INF: "inf", STATUS_FAILED: "optimiser failure"}


def write_h5(path: str | os.PathLike, datasets: Mapping[str, np.ndarray], attrs: Mapping[str, Any]) -> None:
    """Write datasets and attributes to ``path`` atomically; ``complete=True`` is set last.

    Dicts/lists in ``attrs`` are stored as JSON strings. The file appears under its final name
    only once fully written and closed, so an interrupted job never leaves a complete-looking file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w", libver=("earliest", "v110")) as f:
            for name in sorted(datasets):
                data = np.asarray(datasets[name])
                f.create_dataset(name, data=data, track_times=False)
            for key in sorted({**attrs, "schema_version": SCHEMA_VERSION}):
                f.attrs[key] = _attr_value(attrs.get(key, SCHEMA_VERSION))
            f.attrs["complete"] = True
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _attr_value(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=_json_default)
    return value


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def read_h5(
    path: str | os.PathLike, kind: str | None = None, expect: Mapping[str, Any] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read every dataset and attribute; JSON attributes are decoded.

    Refuses, with an ArtifactError naming the file and what is wrong: a missing, unreadable or
    incomplete file, another schema version, and for ``kind`` "data" or "run" a file that lacks
    a dataset or attribute of that kind or holds one of the wrong shape (:func:`check_artifact`).
    ``expect`` maps attributes to the values they must have (e.g. ``{"n": 16}``).
    """
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"artifact {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            attrs = _check(f, path, kind, expect)
            data = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    except ArtifactError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as err:
        raise ArtifactError(f"artifact {path} is not a readable HDF5 file ({err}); {REBUILD}") from None
    return data, attrs


def check_artifact(
    path: str | os.PathLike, kind: str | None = None, expect: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The decoded attributes of ``path`` after the checks of :func:`read_h5`, reading no data
    (the workflow checks every existing artifact this way before any job runs)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            return _check(f, path, kind, expect)
    except ArtifactError:
        raise
    except FileNotFoundError:
        raise ArtifactError(f"artifact {path} does not exist") from None
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as err:
        raise ArtifactError(f"artifact {path} is not a readable HDF5 file ({err}); {REBUILD}") from None


def _check(f: h5py.File, path: Path, kind: str | None, expect: Mapping[str, Any] | None) -> dict[str, Any]:
    try:
        attrs = {k: _decode(k, v) for k, v in f.attrs.items()}
    except json.JSONDecodeError as err:
        raise ArtifactError(f"artifact {path} has an attribute that is not valid JSON ({err}); {REBUILD}") from None
    if not attrs.get("complete", False):
        raise ArtifactError(f"artifact {path} is incomplete (no complete=True attribute); {REBUILD}")
    version = attrs.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"artifact {path} has schema version {version}, this code reads version {SCHEMA_VERSION}; "
            f"{REBUILD}; for a whole older results/ folder: rm -r results/data results/runs results/studies"
        )
    if kind is not None:
        if attrs.get("kind") != kind:
            raise ArtifactError(f"artifact {path} is of kind {attrs.get('kind')!r}, expected a {kind} artifact; {REBUILD}")
        missing = [a for a in REQUIRED_ATTRS[kind] if a not in attrs]
        if missing:
            raise ArtifactError(f"artifact {path} lacks attribute {', '.join(missing)}; {REBUILD}")
        shapes = {k: f[k].shape for k in f.keys() if isinstance(f[k], h5py.Dataset)}
        problem = _SHAPES[kind](attrs, shapes)
        if problem:
            raise ArtifactError(f"artifact {path}: {problem}; {REBUILD}")
    for key, value in (expect or {}).items():
        if attrs.get(key) != value:
            raise ArtifactError(f"artifact {path} holds {key}={attrs.get(key)!r}, expected {value!r}; {REBUILD}")
    return attrs


REQUIRED_ATTRS = {
    "data": ("experiment", "n", "seed", "n_test", "problem", "provenance"),
    "run": ("experiment", "solver", "n", "seed", "config", "provenance"),
    "test_run": ("experiment", "solver", "n", "seed", "data_n", "config", "provenance"),  # n: test problems
    "surrogate": ("experiment", "solver", "seed", "config", "provenance"),  # a solver's part shared across n
}


def _shape_problem(shapes: Mapping[str, tuple], wanted: Mapping[str, tuple]) -> str | None:
    """The first dataset of ``wanted`` that is missing or has another shape (None: a free axis)."""
    for name, shape in wanted.items():
        if name not in shapes:
            return f"dataset {name!r} is missing"
        got = shapes[name]
        if len(got) != len(shape) or any(w is not None and g != w for g, w in zip(got, shape)):
            want = "(" + ", ".join("*" if w is None else str(w) for w in shape) + ")"
            return f"dataset {name!r} has shape {got}, expected {want}"
    return None


def _data_shapes(attrs: Mapping[str, Any], shapes: Mapping[str, tuple]) -> str | None:
    n, n_test = int(attrs["n"]), int(attrs["n_test"])
    problem = attrs["problem"] if isinstance(attrs["problem"], dict) else {}
    dim = len(problem.get("param_names") or []) or None
    wanted: dict[str, tuple] = {"x_true": (n, dim)}
    if "y_target" not in shapes or not shapes["y_target"] or shapes["y_target"][0] != n:
        return _shape_problem(shapes, {"y_target": (n,) + tuple(shapes.get("y_target", (None, None))[1:])})
    if "gamma" in shapes:
        wanted["gamma"] = (n,) + tuple(shapes["gamma"][1:])
    if n_test:
        wanted["test_x_true"] = (n_test, dim)
        wanted["test_y_target"] = (n_test,) + tuple(shapes["y_target"][1:])
    return _shape_problem(shapes, wanted)


def _run_shapes(attrs: Mapping[str, Any], shapes: Mapping[str, tuple]) -> str | None:
    n = int(attrs["n"])
    problem = (attrs["config"] or {}).get("problem") if isinstance(attrs["config"], dict) else None
    dim = len((problem or {}).get("param_names") or []) or None
    steps = shapes.get("loss_history", (None,))
    wanted = {
        "x": (n, dim), "loss": (n,), "problem_status": (n,), "iterations": (n,), "evaluations": (n,),
        "loss_history": (None,), "history_step": tuple(steps),
    }
    return _shape_problem(shapes, wanted)


def _shared_shapes(attrs: Mapping[str, Any], shapes: Mapping[str, tuple]) -> str | None:
    """A solver's per-seed part: whatever arrays the solver stored, at least one."""
    return None if shapes else "it holds no dataset"


_SHAPES = {"data": _data_shapes, "run": _run_shapes, "test_run": _run_shapes, "surrogate": _shared_shapes}


def _decode(key: str, value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, np.generic):
        value = value.item()
    if key in JSON_ATTRS and isinstance(value, str):
        return json.loads(value)
    return value


def git_commit(start: str | os.PathLike | None = None) -> str:
    """The current git commit (with '-dirty' if the tree has changes), or 'unknown'."""
    cwd = Path(start) if start else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of Python and of every package whose numerics affect the artifacts."""
    import scipy
    import torch

    from . import __version__

    return {
        "invnet": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
        "platform": platform.platform(),
    }


def provenance(**extra: Any) -> dict[str, Any]:
    """Provenance record: versions, git commit, host, device, SLURM job id, plus ``extra``."""
    rec: dict[str, Any] = {
        "versions": versions(),
        "git_commit": git_commit(),
        "hostname": platform.node(),
        "device": "cpu",
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    rec.update(extra)
    return rec


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (links a run to its exact problem set;
    the bundle's and the status check's per-file checksum)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
