"""Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import check_cache, check_shape, float_array, probability
from ..init import make_rng
from ..module import Module
from ._types import ArrayLike, Cache


def dropout_mask(rng: np.random.Generator, shape, p: float, dtype) -> np.ndarray:
    """A mask of 0 and 1/(1-p), so that ``x * mask`` keeps the expectation of x."""
    keep = rng.random(shape) >= p
    return keep.astype(dtype) / dtype.type(1.0 - p)


def keep_mask(rng: np.random.Generator, shape, p: float) -> np.ndarray:
    """A bool mask, True with probability p for each element (zoneout's keeps)."""
    return rng.random(shape) < p


class Dropout(Module):
    """``torch.nn.Dropout(p)``: active only in training mode, driven by ``rng``."""

    def __init__(self, p: float = 0.5, rng=None, dtype=np.float32):
        super().__init__(dtype)
        self.p = probability("p", p)
        self.config = dict(p=self.p)
        self.rng = make_rng(rng)

    def forward(self, x: ArrayLike) -> tuple[np.ndarray, Cache]:
        """y (shape of x) and the cache for backward; x is a float array (cast to this dtype)."""
        x = float_array("x", x, self.dtype)
        if not self.training or self.p == 0.0:
            return x, SimpleNamespace(mask=None, shape=x.shape, owner=self)
        mask = dropout_mask(self.rng, x.shape, self.p, x.dtype)
        return x * mask, SimpleNamespace(mask=mask, shape=x.shape, owner=self)

    def __call__(self, x: ArrayLike) -> np.ndarray:
        return self.forward(x)[0]

    def backward(self, dy: ArrayLike, cache: Cache) -> np.ndarray:
        """dx = dy * mask (dy itself in eval mode)."""
        check_cache(cache, self, ("mask", "shape"))
        dy = float_array("dy", dy, self.dtype)
        check_shape("dy", dy, cache.shape)
        return dy if cache.mask is None else dy * cache.mask
