"""RecurrentBase: what RNN, LSTM and GRU share (with nn/options.py and nn/layout.py).

Parameters and their PyTorch names, layers and directions, ``batch_first``, unbatched
input, inter-layer dropout, ``lengths=`` masks, the fused input projection before the time
loop, every gradient's accumulation into ``.grad``, and the arrays reused from call to call.
A subclass names the two functions that run the recurrence of one direction of one layer (its
*kernels*, class attributes ``forward_kernel`` and ``backward_kernel``), all three with ONE
contract:

    forward_kernel(xg, states0, w, mask, reverse, empty)  -> y, states_n, kc
    backward_kernel(dy, dstates_n, w, kc, dxg, empty)     -> dstates0, dW

- ``xg`` (T, B, G*H): the input projection of every step (all gates at once, biases folded
  in, ``_input_bias``), computed here as ONE matrix product for all steps and both directions.
  The kernel may overwrite it (it is its own, and kept in its cache ``kc``).
- ``w``: the layer's arrays the recurrence reads, ``w_hh``, ``w_hr`` (LSTM projection or None),
  ``b_hh`` (or None), ``act`` (the RNN's nonlinearity, else None), and the forward kernel's
  masks (docs/bptt.md, "Regularised recurrences"): ``drop`` (B, P) the recurrent dropout mask
  of (R1) or None, ``keep`` None or one zoneout keep per state, (h,) or (h, c), each a
  (T, B, size) bool mask, True where the unit keeps its previous value (training; for the
  feature-major kernels the transposed view of a (T, size, B) array), or the number p
  (evaluation), (Z1)-(Z2). The forward kernel keeps them in ``kc`` for the backward.
- ``y`` (T, B, P) the outputs (zeros past a sequence's length), ``states0``/``states_n``/
  ``dstates*`` tuples of (B, size) arrays (dstates_n entries may be None), ``mask`` (T, B, 1)
  bool or None, ``empty(name, shape)`` gives the kernel its arrays (reused, ``buffers.py``).
- ``dxg``: the kernel writes the gradient of the (unscaled) projection into it; dW_ih, db_ih
  and dx are then ONE product each here. ``dW`` maps the names of ``w`` to their gradients
  (``w_hh``, ``w_hr``, and ``b_hh`` where b_hh's gradient differs from b_ih's, as in the GRU);
  this class adds each to its Parameter's ``.grad``.

The gated cells compute sigmoid(a) = (1 + tanh(a/2)) / 2, so that ONE tanh gives every gate:
the class declares which gate is the tanh one (``tanh_gate``), and ``halve_sigmoid_rows`` (the
one place of the trick) halves the other gates' rows of W_ih, of the folded bias and of the
``w.w_hh`` the forward kernel gets. The backward kernel gets the true weights, and ``dxg`` is
the gradient of the unscaled projection x W_ih^T + b.

Where ``xg`` and ``dxg`` live in memory is the kernel's choice, ``feature_major``: the LSTM and
GRU loops run on (features, B) arrays (the per-step gate product W_hh (G*H, H) @ h^T (H, B) is
faster there and every gate is a contiguous block of rows), so for them ``xg`` is a transposed
view of a (T, G*H, B) array (``xg.transpose(0, 2, 1)[t]`` is contiguous) and ``dxg`` is
(G*H, T*B), column t*B + b; for the RNN ``dxg`` is (T*B, H).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from .._check import check_shape, float_array, positive_int, probability
from ..errors import InputError
from ..init import make_rng, rnn_bound, uniform
from ..module import Module, Parameter
from ._types import ArrayLike, Cache
from .buffers import BufferPool, Scope
from .dropout import dropout_mask, keep_mask
from .layout import UserLayout
from .options import LN_NAMES, REGULARISERS, RecurrentOptions, regularisers  # noqa: F401  (public path)
from .steps import (  # noqa: F401  (their public path)
    halve_sigmoid_rows,
    step_pairs,
    time_views,
    zoneout_hold,
    zoneout_new,
)


class RecurrentBase(RecurrentOptions, UserLayout, Module):
    """Multi-layer, optionally bidirectional recurrent layer with PyTorch's semantics."""

    gate_count = 1  # G: rows of weight_ih are G * hidden_size
    tanh_gate: int | None = None  # the gate computed by tanh (others are sigmoids), None: no gates
    state_names: tuple[str, ...] = ("h0",)  # names used in error messages for the initial states
    feature_major = False  # kernel layout, see the module docstring
    forward_kernel: Callable[..., Any] | None = None  # the kernels of one direction (module docstring),
    backward_kernel: Callable[..., Any] | None = None  # staticmethods

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype=np.float32,
        rng=None,
        weight_drop: float = 0.0,
        learn_initial_state: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        layer_norm: bool = False,
    ):
        super().__init__(dtype)
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("num_layers", num_layers)
        self.proj_size = positive_int("proj_size", proj_size, allow_zero=True)
        if self.proj_size >= self.hidden_size:
            raise InputError(f"proj_size must be smaller than hidden_size={hidden_size}, got {proj_size}")
        self.dropout = probability("dropout", dropout)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.output_size = self.proj_size or self.hidden_size  # size of h (and of each output half)
        self.rng = make_rng(rng)
        self.config = dict(
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bias=self.bias,
            batch_first=self.batch_first,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
            dtype=self.dtype.name,
        )
        bound = rnn_bound(self.hidden_size)
        for name, shape in self.param_shapes(self.config | dict(proj_size=self.proj_size)):
            if name not in self.state_names:  # the learned initial states: _init_options
                setattr(self, name, Parameter(uniform(self.rng, shape, bound, self.dtype)))
        self._init_options(weight_drop, learn_initial_state, recurrent_dropout, zoneout, layer_norm)

    @classmethod
    def param_shapes(cls, config: dict):
        """(name, shape) of every parameter a layer built with ``config`` has, in the order they
        are created, without allocating anything (a checkpoint's header is checked with it)."""
        c = dict(num_layers=1, bias=True, bidirectional=False, proj_size=0) | config
        h = positive_int("hidden_size", c["hidden_size"])
        x = positive_int("input_size", c["input_size"])
        layers = positive_int("num_layers", c["num_layers"])
        proj = positive_int("proj_size", c["proj_size"], allow_zero=True)
        gh, o, directions = cls.gate_count * h, proj or h, 2 if c["bidirectional"] else 1
        for layer in range(layers):
            layer_in = x if layer == 0 else o * directions
            for d in range(directions):
                sfx = cls._suffix(layer, d)
                yield "weight_ih" + sfx, (gh, layer_in)
                yield "weight_hh" + sfx, (gh, o)
                if c["bias"]:
                    yield "bias_ih" + sfx, (gh,)
                    yield "bias_hh" + sfx, (gh,)
                if proj:
                    yield "weight_hr" + sfx, (proj, h)
        if c.get("learn_initial_state"):  # after the weights, (D*num_layers, 1, size)
            yield "h0", (layers * directions, 1, o)
            if "c0" in cls.state_names:
                yield "c0", (layers * directions, 1, h)
        if c.get("layer_norm"):  # after those, per layer and direction: gains and biases of (N1)-(N3)
            for layer in range(layers):
                for d in range(directions):
                    for name, size in cls._ln_sizes(h):
                        yield name + cls._suffix(layer, d), (size,)

    # --------------------------------------------------------------- subclass hooks
    @staticmethod
    def _step_values(kc) -> dict:  # pragma: no cover - each layer class defines it
        """The arrays of every step one direction's forward kept in ``kc``, by name (``tinyrnn.states``)."""
        raise NotImplementedError

    def _state_sizes(self) -> tuple[int, ...]:
        """Feature size of each state array (h for RNN/GRU; h and c for LSTM)."""
        return (self.output_size,)

    def _unpack_state(self, hx, name="hx"):
        """User's state argument -> tuple of arrays (or Nones)."""
        return (hx,)

    def _pack_state(self, states):
        """Tuple of state arrays -> what the user sees."""
        return states[0]

    def _input_bias(self, p):
        """Bias folded into the input projection: b_ih + b_hh (the GRU keeps b_hn out)."""
        return p.b_ih.data + p.b_hh.data

    def _halved(self, w):
        """w (G*H, ...) as the forward kernel takes it (``halve_sigmoid_rows``)."""
        return halve_sigmoid_rows(w, self.gate_count, self.tanh_gate)

    def _kernel_weights(self, p, forward: bool) -> SimpleNamespace:
        """``w`` of the kernel contract for the Parameters ``p`` of one direction; for the
        forward kernel the sigmoid gates' rows of W_hh are halved (module docstring)."""
        w_hh = self._halved(p.w_hh.data) if forward and not self.layer_norm else p.w_hh.data
        return SimpleNamespace(
            w_hh=w_hh,
            w_hr=None if p.w_hr is None else p.w_hr.data,
            b_hh=None if p.b_hh is None else p.b_hh.data,
            act=None,
            drop=None,
            keep=None,
            ln=self._ln_weights(p, forward) if self.layer_norm else None,
        )

    def _state_masks(self, T: int, B: int):
        """``drop``, ``keep`` of the kernel contract for one layer and direction: in training,
        drawn from ``rng`` in this order, the recurrent dropout mask (B, P) of (R1), then the
        zoneout keep masks of h and of c (LSTM), (Z1)-(Z2), each ``keep_mask`` (True
        with probability p, each unit and step its own draw) with shape (T, size, B) for the
        feature-major kernels (LSTM, GRU; passed on as its (T, B, size) transposed view) and
        (T, B, size) for the RNN; in evaluation no dropout and keep = p, the expectation."""
        drop = keep = None
        if self.training and self.recurrent_dropout:
            drop = dropout_mask(self.rng, (B, self.output_size), self.recurrent_dropout, self.dtype)
        if self.zoneout:
            if not self.training:
                keep = (self.zoneout,) * len(self._state_sizes())
            elif self.feature_major:
                keep = tuple(
                    keep_mask(self.rng, (T, s, B), self.zoneout).transpose(0, 2, 1) for s in self._state_sizes()
                )
            else:
                keep = tuple(keep_mask(self.rng, (T, B, s), self.zoneout) for s in self._state_sizes())
        return drop, keep

    # --------------------------------------------------------------- helpers
    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _layer_params(self, layer: int, direction: int) -> SimpleNamespace:
        """The Parameters of one layer and direction (w_ih, w_hh, b_ih, b_hh, w_hr or None).
        Kept between calls and dropped by ``__setattr__``, so a replaced Parameter is used."""
        groups = self.__dict__.get("_groups")
        if groups is None:
            get = lambda name, l, d: getattr(self, name + self._suffix(l, d), None)  # noqa: E731
            groups = [
                [
                    SimpleNamespace(
                        **{
                            k: get(n, l, d)
                            for k, n in (
                                ("w_ih", "weight_ih"),
                                ("w_hh", "weight_hh"),
                                ("b_ih", "bias_ih"),
                                ("b_hh", "bias_hh"),
                                ("w_hr", "weight_hr"),
                                *((n, n) for n in LN_NAMES),
                            )
                        }
                    )
                    for d in range(self.num_directions)
                ]
                for l in range(self.num_layers)
            ]
            object.__setattr__(self, "_groups", groups)
        return groups[layer][direction]

    def __setattr__(self, name, value):
        self.__dict__.pop("_groups", None)  # e.g. lstm.weight_hh_l0 = Parameter(...)
        super().__setattr__(name, value)

    def __delattr__(self, name):
        self.__dict__.pop("_groups", None)
        super().__delattr__(name)

    def _empty(self, prefix: str) -> Scope:
        """``empty(name, shape)`` for the arrays of one call part, reused between calls."""
        pool = self.__dict__.get("_buffers")
        if pool is None:
            pool = BufferPool()
            object.__setattr__(self, "_buffers", pool)
        return pool.scope(prefix, self.dtype)

    # --------------------------------------------------------------- forward / backward
    def forward(self, x, hx=None, lengths=None):
        """``out, h_n, cache`` (LSTM: ``out, (h_n, c_n), cache``).

        x: (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched.
        hx: initial state(s) (D*num_layers, B, H), or None for zeros.
        lengths: optional (B,) ints in [1, T]; steps past a sequence's length keep its state
        and output zeros, as PyTorch's packed sequences do.

        The arrays the cache holds are reused by a later forward once the cache (and every
        view of them) is released; while it is referenced they are never written to.
        """
        x, states0, mask, batched = self._prepare(x, hx, lengths)
        T, B, _ = x.shape
        D, o, gh = self.num_directions, self.output_size, self.gate_count * self.hidden_size
        finals = [np.empty((self.num_layers * D, B, s), self.dtype) for s in self._state_sizes()]
        layer_caches = []
        inp = x  # (T, B, I_layer)
        for layer in range(self.num_layers):
            empty = self._empty(f"forward{layer}.")
            drop = None
            if layer > 0 and self.training and self.dropout > 0:
                drop = dropout_mask(self.rng, inp.shape, self.dropout, self.dtype)
                inp = np.multiply(inp, drop, out=empty("dropped", inp.shape))
            ps = [self._layer_params(layer, d) for d in range(D)]
            xg_all, w_cat = self._project(inp, ps, empty)  # (T, B, D*G*H); W_ih for dx or None
            out = empty("out", (T, B, D * o))
            kcaches = []
            for d in range(D):
                idx = layer * D + d
                w = self._kernel_weights(ps[d], forward=True)
                w.drop, w.keep = self._state_masks(T, B)
                y, s_n, kc = self._kernels()[0](
                    xg_all[:, :, d * gh : (d + 1) * gh],
                    tuple(s[idx] for s in states0),
                    w,
                    mask,
                    d == 1,
                    self._empty(f"forward{layer}.{d}."),
                )
                for f, s in zip(finals, s_n):
                    f[idx] = s
                out[:, :, d * o : (d + 1) * o] = y  # the user may edit out: a copy
                kcaches.append(kc)
            if w_cat is None:
                w_cat = ps[0].w_ih.data if D == 1 else np.concatenate([p.w_ih.data for p in ps])
            layer_caches.append(SimpleNamespace(inp=inp, drop=drop, w_cat=w_cat, kcaches=kcaches))
            inp = out
        cache = RecurrentCache(owner=self, layers=layer_caches, batched=batched, shape=(T, B), mask=mask)
        finals = [f if batched else f[:, 0, :] for f in finals]
        return self._to_user(inp, batched), self._pack_state(tuple(finals)), cache

    def __call__(self, x, hx=None, lengths=None):
        out, h_n, _ = self.forward(x, hx, lengths=lengths)
        return out, h_n

    def _check_cache(self, cache):
        if not isinstance(cache, RecurrentCache):
            raise TypeError(f"cache must be the cache returned by this layer's forward(), got {type(cache).__name__}")
        if cache.owner is not self:
            raise InputError(
                f"cache was returned by the forward() of another layer "
                f"({type(cache.owner).__name__} {cache.owner.config}); pass the cache "
                f"returned by this layer's forward()"
            )

    def backward(self, dout, cache, dh_n=None):
        """``dx, dh0`` (LSTM: ``dx, (dh0, dc0)``); accumulates every parameter's ``.grad``.

        dout: gradient of ``out`` in the layout ``forward`` returned it, or None (zeros);
        dh_n: gradient of the final state(s), or None.
        """
        self._check_cache(cache)
        T, B = cache.shape
        D, o, L = self.num_directions, self.output_size, self.num_layers
        gh = self.gate_count * self.hidden_size
        batched = cache.batched
        dlayer = None if dout is None else self._from_user("dout", dout, (T, B, D * o), batched)
        given = self._unpack_state(dh_n, "dh_n") if dh_n is not None else (None,) * len(self._state_sizes())
        dfinals = []
        for name, size, g in zip(self.state_names, self._state_sizes(), given):
            if g is None:
                dfinals.append(None)
                continue
            name = "d" + name.replace("0", "_n")
            g = float_array(name, g, self.dtype)
            check_shape(name, g, (L * D, B, size) if batched else (L * D, size))
            dfinals.append(g if batched else g[:, None, :])
        dstates0 = [np.zeros((L * D, B, s), self.dtype) for s in self._state_sizes()]
        for layer in reversed(range(L)):
            lc = cache.layers[layer]
            empty = self._empty(f"backward{layer}.")
            # dxg of both directions, (D*G*H, T*B) as the gradient rows of the projection; the
            # kernels write into it in their layout (module docstring)
            if self.feature_major:
                dxg_all = empty("dxg", (D * gh, T * B))  # direction d: rows d*G*H ...
            else:
                dxg_all = empty("dxg", (T * B, D * gh)).T  # direction d: its transpose's columns
            ps = [self._layer_params(layer, d) for d in range(D)]
            dWs = []
            for d, p in enumerate(ps):
                idx = layer * D + d
                dy = None if dlayer is None else dlayer[:, :, d * o : (d + 1) * o]
                dsn = tuple(None if g is None else g[idx] for g in dfinals)
                dxg = dxg_all[d * gh : (d + 1) * gh]
                ds0, dW = self._kernels()[1](
                    dy,
                    dsn,
                    self._kernel_weights(p, forward=False),
                    lc.kcaches[d],
                    dxg if self.feature_major else dxg.T,
                    self._empty(f"backward{layer}.{d}."),
                )
                for acc, s in zip(dstates0, ds0):
                    acc[idx] = s
                dWs.append(dW)
            dw = dxg_all @ lc.inp.reshape(T * B, -1)  # (D*G*H, I_layer): dW_ih, one product
            # sum over steps and batch (the layer-norm kernels give db_ih themselves: dxg is then after (N4))
            db = np.ones(T * B, self.dtype) @ dxg_all.T if self.bias and not self.layer_norm else None
            for d, (p, dW) in enumerate(zip(ps, dWs)):
                rows = slice(d * gh, (d + 1) * gh)
                p.w_ih.grad += dw[rows]
                if self.bias:
                    p.b_ih.grad += dW.pop("b_ih") if db is None else db[rows]
                    # b_hh enters the same pre-activation as b_ih, so its gradient is the same
                    # sum, unless the kernel gives its own (the GRU's b_hn sits inside r * (.))
                    p.b_hh.grad += dW.pop("b_hh") if "b_hh" in dW else db[rows]
                for name, g in dW.items():  # w_hh, w_hr
                    getattr(p, name).grad += g
            dlayer = np.matmul(dxg_all.T, lc.w_cat, out=empty("dx", (T * B, lc.w_cat.shape[1]))).reshape(T, B, -1)
            if lc.drop is not None:
                dlayer *= lc.drop
        dstates0 = [s if batched else s[:, 0, :] for s in dstates0]
        return self._to_user(dlayer, batched), self._pack_state(tuple(dstates0))

    # the plain forward and backward, whatever a subclass's are (the options wrap them, nn/options.py)
    _forward_plain = forward
    _backward_plain = backward


class RecurrentCache(SimpleNamespace):
    """What ``forward`` returns for ``backward``: the layer that made it (``owner``), the
    (T, B) shape, and per layer its input, dropout mask, stacked W_ih and kernel caches."""


class SingleStateLayer(RecurrentBase):
    """RNN and GRU: one state, named ``h0`` in the public signatures (pinned)."""

    def forward(
        self, x: ArrayLike, h0: ArrayLike | None = None, lengths: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray, Cache]:
        """``out, h_n, cache``; see ``RecurrentBase.forward``."""
        return self._forward_with_options(x, h0, lengths)

    def __call__(
        self, x: ArrayLike, h0: ArrayLike | None = None, lengths: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        out, h_n, _ = self.forward(x, h0, lengths=lengths)
        return out, h_n

    def backward(
        self, dout: ArrayLike | None, cache: Cache, dh_n: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``dx, dh0``; see ``RecurrentBase.backward``."""
        return self._backward_with_options(dout, cache, dh_n)
