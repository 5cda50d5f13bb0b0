"""The compute device and precision of a run: config key ``device`` (auto | cpu | cuda) resolved to
a torch device, checked before any job runs, and described by name in provenance; config key
``dtype`` (float64 | float32) as a torch dtype."""

from __future__ import annotations

import platform
import sys

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
