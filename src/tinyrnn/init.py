"""PyTorch-matching initialisers. Randomness comes from a ``numpy.random.Generator``."""

from __future__ import annotations

import math

import numpy as np


def make_rng(rng) -> np.random.Generator:
    """``None`` -> a fresh unseeded Generator; an int -> a seeded one; a Generator as is."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def uniform(rng: np.random.Generator, shape, bound: float, dtype) -> np.ndarray:
    """U(-bound, bound), as ``torch.nn.init.uniform_(-bound, bound)``."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def rnn_bound(hidden_size: int) -> float:
    """PyTorch's RNN/LSTM/GRU initialisation: every weight U(-1/sqrt(H), 1/sqrt(H))."""
    return 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
