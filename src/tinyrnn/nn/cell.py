"""RNNCell, LSTMCell, GRUCell: one time step, computed by the textbook steps of
``tinyrnn.reference`` (``rnn_step``, ``lstm_step``, ``gru_step`` and their backwards).

A cell is one step, so there is no time loop to fuse: the reference step IS the fast way, and
what a learner reads in reference.py is exactly what a cell runs. The cells own their
Parameters under PyTorch's names (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), so a
``torch.nn.*Cell`` state_dict loads unchanged, and each call reads the current Parameter (one
assigned after construction is the one used). This file adds only what a library cell needs
around the step: input checks, zeros for a missing state, unbatched input, accumulation into
``.grad``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import reference
from .._check import check_shape, choice, float_array, positive_int, shape_str
from ..errors import InputError
from ..functional import NONLINEARITIES
from ..init import make_rng, rnn_bound, uniform
from ..module import Module, Parameter
from ._types import ArrayLike, Cache, State, StateIn


class CellCache:
    """What ``backward`` needs from ``forward``: the reference step's cache and the layout."""

    __slots__ = ("step", "batched")

    def __init__(self, step, batched):
        self.step, self.batched = step, batched


class CellBase(Module):
    """One step of a recurrent layer. Subclasses set ``gate_count`` and ``state_names`` and
    supply ``_step(x, states, weights) -> (new states, step cache)`` and
    ``_step_backward(dstates, step cache) -> (dx, dstates, grads)`` from ``tinyrnn.reference``."""

    gate_count = 1
    state_names: tuple[str, ...] = ("h",)
    _pair = False  # LSTMCell: the state is a pair (h, c)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        rng = make_rng(rng)
        rows, bound = self.gate_count * self.hidden_size, rnn_bound(self.hidden_size)
        self.weight_ih = Parameter(uniform(rng, (rows, self.input_size), bound, self.dtype))
        self.weight_hh = Parameter(uniform(rng, (rows, self.hidden_size), bound, self.dtype))
        self.bias_ih = Parameter(uniform(rng, (rows,), bound, self.dtype)) if self.bias else None
        self.bias_hh = Parameter(uniform(rng, (rows,), bound, self.dtype)) if self.bias else None
        self.config = dict(
            input_size=self.input_size, hidden_size=self.hidden_size, bias=self.bias, dtype=self.dtype.name
        )

    def _weights(self) -> tuple:
        """The current Parameters' arrays, in the order of the reference steps' arguments
        (weight_ih, weight_hh, bias_ih, bias_hh); None for the biases of a cell without."""
        b_ih, b_hh = self.bias_ih, self.bias_hh
        if b_ih is None or b_hh is None:
            return self.weight_ih.data, self.weight_hh.data, None, None
        return self.weight_ih.data, self.weight_hh.data, b_ih.data, b_hh.data

    def _step(self, x: np.ndarray, states: tuple, weights: tuple) -> tuple:
        raise NotImplementedError

    def _step_backward(self, dstates: tuple, cache) -> tuple:
        raise NotImplementedError

    def _checked(self, name, value, shape, finite=True) -> np.ndarray:
        """``value`` as an array of ``shape`` and the cell's dtype. An array that already is one
        passes in about a microsecond (finiteness from its sum; a sum that overflows is checked
        element by element); anything else goes through the full checks and their messages."""
        if (
            value.__class__ is np.ndarray
            and value.dtype == self.dtype
            and value.shape == shape
            and (not finite or math.isfinite(np.add.reduce(value, axis=None)))
        ):
            return value
        value = float_array(name, value, self.dtype, finite=finite)
        check_shape(name, value, shape, f" to match x {shape_str(shape[:-1] + (self.input_size,))}")
        return value

    def _states(self, name, value, shape, finite=True):
        """hx (forward) or dhx (backward) -> a tuple of (B, H) arrays, zeros for None."""
        names = self.state_names if name == "hx" else ("dh1", "dc1")
        if not self._pair:
            return (np.zeros(shape, self.dtype) if value is None else self._checked(names[0], value, shape, finite),)
        if value is None:
            value = (None, None)
        elif not (isinstance(value, (tuple, list)) and len(value) == 2):
            pair = "(h, c)" if name == "hx" else "(dh1, dc1)"
            raise TypeError(f"{name} must be a pair {pair} of arrays (or None), got {type(value).__name__}")
        return tuple(
            np.zeros(shape, self.dtype) if s is None else self._checked(n, s, shape, finite)
            for n, s in zip(names, value)
        )

    def forward(self, x: ArrayLike, hx: StateIn = None) -> tuple[State, Cache]:
        """``h1, cache`` (LSTMCell: ``(h1, c1), cache``). x (B, input_size) or (input_size,);
        hx like x with hidden_size (LSTMCell: a pair (h, c), either may be None), None: zeros."""
        if type(x) is np.ndarray and x.ndim == 2 and x.shape[1] == self.input_size:
            x = self._checked("x", x, x.shape)
        else:
            x = self._checked_x(x)
        batched = x.ndim == 2
        states = self._states("hx", hx, x.shape[:-1] + (self.hidden_size,))
        if not batched:
            x, states = x[None], tuple(s[None] for s in states)
        new, step_cache = self._step(x, states, self._weights())  # each (B, H)
        if not batched:
            new = tuple(s[0] for s in new)
        return (new if self._pair else new[0]), CellCache(step_cache, batched)

    def _checked_x(self, x) -> np.ndarray:
        x = float_array("x", x, self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise InputError(
                f"x must have shape (B, {self.input_size}) or ({self.input_size},) "
                f"for input_size={self.input_size}, got {shape_str(x.shape)}"
            )
        return x

    def __call__(self, x: ArrayLike, hx: StateIn = None) -> State:
        return self.forward(x, hx)[0]

    def backward(self, dhx: StateIn, cache: Cache) -> tuple[np.ndarray, State]:
        """``dx, dh`` (LSTMCell: ``dx, (dh, dc)``) from the gradient of the new state(s)
        (LSTMCell: a pair ``(dh1, dc1)``, either may be None); accumulates into ``.grad``."""
        if not isinstance(cache, CellCache):
            raise TypeError("cache must be the second value returned by forward()")
        x = cache.step["x"]
        shape = (x.shape[0], self.hidden_size) if cache.batched else (self.hidden_size,)
        dstates = self._states("dhx", dhx, shape, finite=True)
        if not cache.batched:
            dstates = tuple(s[None] for s in dstates)
        dx, dprev, grads = self._step_backward(dstates, cache.step)
        for name, g in grads.items():
            getattr(self, name).grad += g
        if not cache.batched:
            dx, dprev = dx[0], tuple(s[0] for s in dprev)
        return dx, (dprev if self._pair else dprev[0])


class RNNCell(CellBase):
    """``torch.nn.RNNCell``: one step h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), computed by
    ``reference.rnn_step``. ``nonlinearity``: "tanh" or "relu" as in PyTorch, plus "sigmoid"
    and "identity". ``forward`` returns ``h', cache``; ``backward(dh', cache)`` returns ``dx, dh``.

    >>> cell = RNNCell(3, 4, rng=0)
    >>> h1, cache = cell.forward(np.ones((2, 3), np.float32))
    >>> dx, dh = cell.backward(np.ones_like(h1), cache)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype=np.float32,
        rng=None,
    ):
        nonlinearity = choice("nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias, dtype, rng)
        self.nonlinearity = nonlinearity
        self.config = dict(
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            bias=self.bias,
            nonlinearity=nonlinearity,
            dtype=self.dtype.name,
        )

    def _step(self, x, states, weights):
        h1, cache = reference.rnn_step(x, states[0], *weights, nonlinearity=self.nonlinearity)
        return (h1,), cache

    def _step_backward(self, dstates, cache):
        dx, dh, grads = reference.rnn_step_backward(dstates[0], cache)
        return dx, (dh,), grads


class LSTMCell(CellBase):
    """``torch.nn.LSTMCell``: one step, gates i, f, g, o, computed by ``reference.lstm_step``.
    ``(h1, c1), cache = cell.forward(x, (h, c))``; ``dx, (dh, dc) = cell.backward((dh1, dc1), cache)``;
    ``cell(x, (h, c)) -> (h1, c1)``."""

    gate_count = 4
    state_names = ("h", "c")
    _pair = True

    def _step(self, x, states, weights):
        h1, c1, cache = reference.lstm_step(x, states[0], states[1], *weights)
        return (h1, c1), cache

    def _step_backward(self, dstates, cache):
        dx, dh, dc, grads = reference.lstm_step_backward(dstates[0], dstates[1], cache)
        return dx, (dh, dc), grads


class GRUCell(CellBase):
    """``torch.nn.GRUCell``: one step, gates r, z, n with b_hn inside r * (W_hn h + b_hn),
    computed by ``reference.gru_step``. ``h1, cache = cell.forward(x, h)``;
    ``dx, dh = cell.backward(dh1, cache)``."""

    gate_count = 3

    def _step(self, x, states, weights):
        h1, cache = reference.gru_step(x, states[0], *weights)
        return (h1,), cache

    def _step_backward(self, dstates, cache):
        dx, dh, grads = reference.gru_step_backward(dstates[0], cache)
        return dx, (dh,), grads
