"""HDF5 artifacts: atomic writes (temporary file in the same folder, then rename), deterministic
bytes (no timestamps) and provenance (config, seed, versions, git commit) in attributes."""

from __future__ import annotations

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
            for key in sorted(attrs):
                f.attrs[key] = _attr_value(attrs[key])
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


def read_h5(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read every dataset and attribute; JSON attributes are decoded. Refuses incomplete files."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"artifact {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: _decode(k, v) for k, v in f.attrs.items()}
            if not attrs.get("complete", False):
                raise ArtifactError(f"artifact {path} is incomplete (no complete=True attribute)")
            data = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    except OSError as err:
        raise ArtifactError(f"artifact {path} is not a readable HDF5 file: {err}") from None
    return data, attrs


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
