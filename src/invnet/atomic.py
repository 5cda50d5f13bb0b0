"""Atomic file writes, the one way every artifact, table and figure is written: a temporary
file in the same folder, then a rename, so an interrupted job never leaves a complete-looking
output under its final name (``.<name>.tmp.<pid>`` files of killed writes can be deleted)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_path(path: str | os.PathLike) -> Path:
    """The temporary name of ``path`` while it is being written (same folder, so the rename is
    atomic on every POSIX file system)."""
    path = Path(path)
    return path.parent / f".{path.name}.tmp.{os.getpid()}"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to ``path``, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
