"""Derive independent, reproducible random streams from one user seed and a purpose label."""

from __future__ import annotations

import zlib

import numpy as np
import torch


def _entropy(seed: int, purpose: str) -> list[int]:
    return [int(seed), zlib.crc32(purpose.encode("utf-8"))]


def numpy_rng(seed: int, purpose: str) -> np.random.Generator:
    """A NumPy generator for (seed, purpose); different purposes give independent streams."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(_entropy(seed, purpose))))


def torch_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU torch generator for (seed, purpose), e.g. for network initialisation."""
    ss = np.random.SeedSequence(_entropy(seed, purpose))
    g = torch.Generator(device="cpu")
    g.manual_seed(int(ss.generate_state(1, dtype=np.uint64)[0] & ((1 << 63) - 1)))
    return g
