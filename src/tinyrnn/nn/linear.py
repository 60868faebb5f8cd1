"""Linear layer: y = x W^T + b, over any leading dimensions."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from .._check import check_cache, check_shape, float_array, positive_int
from ..errors import InputError
from ..init import make_rng, uniform
from ..module import Module, Parameter


class Linear(Module):
    """``torch.nn.Linear(in_features, out_features, bias=True)``.

    weight (out_features, in_features), bias (out_features,), both U(-1/sqrt(in), 1/sqrt(in))
    as PyTorch initialises them. Input (..., in_features) -> output (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__(dtype)
        in_features = positive_int("in_features", in_features)
        out_features = positive_int("out_features", out_features)
        self.config = dict(in_features=in_features, out_features=out_features, bias=bool(bias), dtype=self.dtype.name)
        self.in_features, self.out_features = in_features, out_features
        rng = make_rng(rng)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(uniform(rng, (out_features, in_features), bound, self.dtype))
        self.bias = Parameter(uniform(rng, (out_features,), bound, self.dtype)) if bias else None

    @staticmethod
    def param_shapes(config: dict):
        """(name, shape) of each parameter, without allocating (see ``RecurrentBase.param_shapes``)."""
        i = positive_int("in_features", config["in_features"])
        o = positive_int("out_features", config["out_features"])
        yield "weight", (o, i)
        if config.get("bias", True):
            yield "bias", (o,)

    def _check_input(self, x):
        x = float_array("x", x, self.dtype)
        if x.ndim < 1:
            raise InputError(f"x must have shape (..., {self.in_features}), got a scalar")
        check_shape("x", x, (None,) * (x.ndim - 1) + (self.in_features,), f" for in_features={self.in_features}")
        return x

    def forward(self, x):
        """y (..., out) and the cache for backward."""
        x = self._check_input(x)
        # One 2-D product: NumPy runs (T, B, in) @ (in, out) as T separate small products.
        y = (x.reshape(-1, self.in_features) @ self.weight.data.T).reshape(x.shape[:-1] + (self.out_features,))
        if self.bias is not None:
            y += self.bias.data
        return y, SimpleNamespace(x=x, owner=self)

    def __call__(self, x):
        return self.forward(x)[0]

    def backward(self, dy, cache):
        """dx (..., in); accumulates dW = dy^T x and db = sum(dy)."""
        check_cache(cache, self, ("x",))
        x = cache.x
        dy = float_array("dy", dy, self.dtype)
        check_shape("dy", dy, x.shape[:-1] + (self.out_features,))
        dy2 = dy.reshape(-1, self.out_features)  # (N, out)
        self.weight.grad += dy2.T @ x.reshape(-1, self.in_features)
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)
        return (dy2 @ self.weight.data).reshape(x.shape)
