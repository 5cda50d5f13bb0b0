"""Plug-in discovery: families, solvers, figures, tables and studies register themselves by
living in their package (``invnet.problems``, ``invnet.solvers``, ``invnet.figures``,
``invnet.tables``, ``invnet.studies``); code outside the package is named by import path
``package.module:Name`` in the config's ``plugins`` list (:mod:`invnet.plugins`; a family may also
be named by import path in its experiment's ``family`` key). No central list to edit.

This module imports no plug-in package, so it is in every plug-in's code fingerprint without
pulling the others in."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import lru_cache
from typing import Any

from .errors import ConfigError


# Plug-ins loaded from outside the package (config key ``plugins``), by kind and name.
_PLUGINS: dict[str, dict[str, Any]] = {}


@lru_cache(maxsize=None)
def _modules(package: str) -> tuple[Any, ...]:
    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    return tuple(importlib.import_module(f"{package}.{name}") for name in names)


def discover(package: str, base: type) -> dict[str, Any]:
    """Subclasses of ``base`` defined in the modules of ``package`` that declare their own ``name``."""
    return dict(_discover(package, base))


@lru_cache(maxsize=None)
def _discover(package: str, base: type) -> tuple[tuple[str, Any], ...]:
    found: dict[str, Any] = {}
    for module in _modules(package):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and issubclass(obj, base) and "name" in vars(obj):
                if obj.name in found and found[obj.name] is not obj:
                    raise RuntimeError(f"two classes named '{obj.name}': {found[obj.name]} and {obj}")
                found[obj.name] = obj
    return tuple(found.items())


def discover_values(package: str, attribute: str) -> list[Any]:
    """The module-level ``attribute`` of every module of ``package`` that defines it."""
    return [getattr(m, attribute) for m in _modules(package) if hasattr(m, attribute)]


def discover_named(package: str, attribute: str) -> dict[str, Any]:
    """The module-level ``attribute`` objects of ``package`` by their ``name``, sorted; two with
    one name are an error (figures' ``FIGURE``, studies' ``STUDY``)."""
    found: dict[str, Any] = {}
    for spec in discover_values(package, attribute):
        if spec.name in found:
            raise RuntimeError(f"two {attribute} declarations named '{spec.name}' in {package}")
        found[spec.name] = spec
    return dict(sorted(found.items()))


def import_path(path: str, base: type | None, where: str) -> Any:
    """The object at ``package.module:Name``; a ConfigError naming ``where`` if it is not there."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(where, f"expected an import path package.module:Name, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(where, f"cannot import module '{module_name}' ({err}); is it on PYTHONPATH?") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise ConfigError(where, f"module '{module_name}' has no attribute '{attr}'")
    if base is not None and not (inspect.isclass(obj) and issubclass(obj, base)):
        raise ConfigError(where, f"'{path}' is not a subclass of {base.__name__}")
    return obj


def register_plugin(kind: str, name: str, obj: Any, where: str) -> None:
    """Register a plug-in loaded from outside the package (see :mod:`invnet.plugins`)."""
    known = _PLUGINS.setdefault(kind, {})
    if name in known and known[name] is not obj:
        raise ConfigError(where, f"two {kind} plug-ins named '{name}': {known[name]!r} and {obj!r}")
    known[name] = obj


def plugins(kind: str) -> dict[str, Any]:
    """The plug-ins of ``kind`` loaded so far, by name."""
    return dict(_PLUGINS.get(kind, {}))


def with_plugins(kind: str, found: dict[str, Any]) -> dict[str, Any]:
    """``found`` (discovered in the package) plus the loaded plug-ins of ``kind``; a plug-in
    whose name a package module already declares is an error."""
    extra = plugins(kind)
    clash = sorted(n for n in set(found) & set(extra) if found[n] is not extra[n])
    if clash:
        raise ConfigError("plugins", f"the {kind} name(s) {', '.join(clash)} are taken by the package")
    return {**found, **extra}
