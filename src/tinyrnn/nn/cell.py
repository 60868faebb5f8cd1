"""CellBase: one time step of a recurrent layer (RNNCell, LSTMCell, GRUCell).

A cell is the T = 1, one-layer, one-direction case of its sequence layer, so it runs that
layer's kernel (the same derivation, the same tests) on Parameters it shares with a private
layer instance, registered here under PyTorch's cell names (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import check_shape, float_array, positive_int, shape_str
from ..module import Module


class CellBase(Module):
    layer_class = None      # the sequence layer whose kernel this cell runs

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32,
                 rng=None, **layer_kwargs):
        super().__init__(dtype)
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        layer = self.layer_class(self.input_size, self.hidden_size, bias=self.bias, dtype=dtype,
                                 rng=rng, **layer_kwargs)
        object.__setattr__(self, "_layer", layer)             # not a sub-module: no _l0 names
        self.config = dict(input_size=self.input_size, hidden_size=self.hidden_size, bias=self.bias,
                           **layer_kwargs, dtype=self.dtype.name)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            setattr(self, name, getattr(layer, name + "_l0", None))

    @property
    def _pair(self) -> bool:
        return len(self._layer.state_names) == 2

    def to(self, dtype):
        super().to(dtype)
        object.__setattr__(self._layer, "dtype", self.dtype)
        return self

    def _prepare(self, x, hx):
        x = float_array("x", x, self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"x must have shape (B, {self.input_size}) or ({self.input_size},) "
                             f"for input_size={self.input_size}, got {shape_str(x.shape)}")
        batched = x.ndim == 2
        if hx is None:
            states = (None,) * len(self._layer.state_names)
        elif self._pair:
            states = self._layer._unpack_state(hx, "hx")
        else:
            states = (hx,)
        names = ("h", "c") if self._pair else ("h",)
        out = []
        for name, s in zip(names, states):
            if s is None:
                out.append(None)
                continue
            s = float_array(name, s, self.dtype)
            check_shape(name, s, x.shape[:-1] + (self.hidden_size,), f" to match x {shape_str(x.shape)}")
            out.append(s[None] if batched else s[None, None])
        return (x if batched else x[None])[None], tuple(out), batched

    def forward(self, x, hx=None):
        """``h1, cache`` (LSTMCell: ``(h1, c1), cache``)."""
        x3, states, batched = self._prepare(x, hx)
        hx3 = states if self._pair else states[0]
        _, finals, cache = self._layer.forward(x3, hx3)
        finals = finals if self._pair else (finals,)
        finals = tuple(f[0] if batched else f[0, 0] for f in finals)
        cache = SimpleNamespace(inner=cache, batched=batched)
        return (finals if self._pair else finals[0]), cache

    def __call__(self, x, hx=None):
        return self.forward(x, hx)[0]

    def backward(self, dhx, cache):
        """``dx, dh`` (LSTMCell: ``dx, (dh, dc)``) from the gradient of the new state(s)."""
        if not isinstance(cache, SimpleNamespace) or not hasattr(cache, "inner"):
            raise TypeError("cache must be the second value returned by forward()")
        grads = self._layer._unpack_state(dhx, "dhx") if self._pair else (dhx,)
        expect = (cache.inner.shape[1], self.hidden_size) if cache.batched else (self.hidden_size,)
        grads = tuple(None if g is None else float_array(n, g, self.dtype)
                      for n, g in zip(("dh", "dc"), grads))        # checked here, in the user's shape
        for n, g in zip(("dh", "dc"), grads):
            if g is not None:
                check_shape(n, g, expect)
        lifted = tuple(None if g is None else g[None] if cache.batched else g[None, None] for g in grads)
        dx, dstate = self._layer.backward(None, cache.inner, lifted if self._pair else lifted[0])
        dstate = dstate if self._pair else (dstate,)
        if cache.batched:
            dx, dstate = dx[0], tuple(s[0] for s in dstate)
        else:
            dx, dstate = dx[0, 0], tuple(s[0, 0] for s in dstate)
        return dx, (dstate if self._pair else dstate[0])
