"""Code fingerprints: a hash of the code a job's result depends on.

The files are a plug-in's module plus, transitively, the modules of this package it imports
(read from the source with :mod:`ast`, so nothing is executed). What is hashed is each file's
syntax tree without docstrings, so comments, docstrings and formatting do not rerun anything
(a new Python version may change the dump and rerun once). The workflow passes the
fingerprint as a job parameter, so editing a family reruns that experiment's data and solve jobs,
editing a solver only its runs, editing a figure only that figure; run artifacts record the same
value in their provenance.

A module that cannot be found fails loudly (:class:`~invnet.errors.FingerprintError`): a
fingerprint that silently hashed nothing would stop reruns without a word.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .errors import FingerprintError

PACKAGE = __name__.split(".")[0]
ROOT = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None) if module is not None else None
    if path is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        path = spec.origin if spec is not None else None
    return Path(path).resolve() if path and path.endswith(".py") else None


def _module_name(path: Path) -> str | None:
    try:
        rel = path.relative_to(ROOT)
    except ValueError:
        return None
    parts = [PACKAGE, *rel.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def _imports(path: Path, name: str) -> tuple[tuple[str, bool], ...]:
    """Modules of this package imported anywhere in the file ``path`` (module ``name``), each
    with whether it must exist (``import m``, ``from m import x``: m must; ``x`` may be a name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, True) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, True))
            found += [(f"{target}.{alias.name}", False) for alias in node.names]  # `from . import module`
    return tuple((m, must) for m, must in found if m == PACKAGE or m.startswith(PACKAGE + "."))


def source_files(modules: Iterable[str]) -> list[Path]:
    """The files of ``modules`` and of every module of this package they import, transitively.

    FingerprintError if one of ``modules``, or a module of this package one of them imports,
    cannot be found (a typo in a rule, a module deleted or renamed).
    """
    seen: dict[Path, str] = {}
    todo = [(m, True, None) for m in modules]
    while todo:
        name, must, importer = todo.pop()
        path = _module_file(name)
        if path is None:
            if must:
                where = f" (imported by {importer})" if importer else ""
                raise FingerprintError(f"cannot fingerprint module '{name}'{where}: no such module")
            continue
        if path in seen:
            continue
        seen[path] = name
        own = _module_name(path) or name
        todo += [(m, must_exist, own) for m, must_exist in _imports(path, own)]
    return sorted(seen)


def code_fingerprint(*objects: Any) -> str:
    """sha256 over the source closure of the modules defining ``objects`` (classes, functions,
    modules or module names), each file keyed by its path inside the package (or its name)."""
    names = []
    for obj in objects:
        if isinstance(obj, str):
            names.append(obj)
        else:
            module = inspect.getmodule(obj)
            if module is None:
                raise ValueError(f"cannot find the module of {obj!r}")
            names.append(module.__name__)
    digest = hashlib.sha256()
    for path in source_files(names):
        label = _module_name(path) or path.name
        digest.update(label.encode() + b"\0" + _code(path).encode() + b"\0")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def _code(path: Path) -> str:
    """The file's syntax tree without docstrings, as text."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)
