"""The compute device and precision of a run: config key ``device`` (auto | cpu | cuda) resolved to
a torch device, checked before any job runs, and described by name in provenance; config key
``dtype`` (float64 | float32) as a torch dtype."""

from __future__ import annotations

import importlib
import platform
import sys
import types

import torch

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float64": torch.float64, "float32": torch.float32}  # config key `dtype`


def check_device(name: str, where: str = "device") -> None:
    """Refuse ``cuda`` on a machine without CUDA (one line, before any job runs)."""
    if name not in DEVICES:
        raise ConfigError(where, f"got {name!r}; allowed: {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            where,
            "'cuda' requested but torch finds no CUDA device on this machine "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use 'auto' or 'cpu'",
        )


def resolve_device(name: str) -> torch.device:
    """``auto`` -> the first CUDA device if there is one, else the CPU."""
    check_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device("cuda", torch.cuda.current_device()) if name == "cuda" else torch.device("cpu")


def device_name(device: torch.device) -> str:
    """What ran the job: the GPU model for CUDA, the CPU's architecture otherwise."""
    if device.type == "cuda":
        return f"cuda:{device.index or 0} {torch.cuda.get_device_name(device)}"
    return f"cpu {platform.machine()} {platform.processor()}".strip()


def use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True)`` for eager computation, without its import of
    ``torch._inductor.config`` (which pulls in TorchDynamo: about 1.6 s of CPU per job on this
    2-core machine, more than most smoke solves compute). The flag that eager kernels read is
    the C-level one set here; the inductor setting only matters to ``torch.compile``, which no
    invnet job uses, and is set too when inductor is already loaded."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True)
    else:
        setter(True, warn_only=False)
    if not torch.are_deterministic_algorithms_enabled():
        raise RuntimeError("torch refused deterministic algorithms")


class _DeferredDynamo(types.ModuleType):
    """Stands in for ``torch._dynamo`` in a process that never compiles. torch.optim's eager code
    imports TorchDynamo only to call ``disable`` (run a function untraced) and ``graph_break``
    (end a traced region) on its methods; outside ``torch.compile`` both do nothing, so here they
    return the function unchanged and do nothing. Any other attribute loads the real module
    (about 1.6 s of CPU), which then replaces this stand-in."""

    def disable(self, fn=None, recursive=True, *, wrapping=True, reason=None):  # noqa: ARG002
        return (lambda f: f) if fn is None else fn

    def graph_break(self, msg=""):  # noqa: ARG002
        return None

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        sys.modules.pop("torch._dynamo", None)
        if getattr(torch, "_dynamo", None) is self:
            delattr(torch, "_dynamo")
        real = importlib.import_module("torch._dynamo")
        torch._dynamo = real
        return getattr(real, name)


def defer_dynamo_import() -> None:
    """Keep ``torch._dynamo`` from loading when a job builds a ``torch.optim`` optimizer (GD,
    JPO, supervised training): about 1.6 s of CPU per job on this 2-core machine, a third of a
    short job. Numerics are untouched (the optimizers run the same eager code). No invnet job
    uses ``torch.compile``; one that did would load the real module on first use, but the
    optimizer methods already called would stay untraced-as-eager. Does nothing if TorchDynamo
    is already loaded."""
    if "torch._dynamo" not in sys.modules:
        stub = _DeferredDynamo("torch._dynamo")
        sys.modules["torch._dynamo"] = stub
        torch._dynamo = stub
