"""The regularising options of RNN, LSTM and GRU, a part of ``RecurrentBase``.

``weight_drop``, ``learn_initial_state``, ``recurrent_dropout``, ``zoneout`` and
``layer_norm`` (docs/bptt.md, "Regularised recurrences"): their checks, their parameters
(``h0``/``c0``; the layer-norm gains and biases, ``LN_NAMES``), the forward and backward around
the plain ones of ``RecurrentBase`` (``_forward_plain``, ``_backward_plain``: W_hh * M and the
learned states) and the choice of the layer-norm kernels (nn/layernorm.py). The masks of the
dropouts and zoneout are drawn in ``RecurrentBase._state_masks``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from .._check import flag, probability
from ..errors import InputError
from ..module import Parameter
from .dropout import dropout_mask

# The layer-norm parameters of one layer and direction (``layer_norm=True``), their names in
# docs/bptt.md: γ_ih, β_ih, γ_hh, β_hh (N1)/(N3) and the LSTM's γ_c, β_c (N2)
LN_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias", "ln_c_weight", "ln_c_bias")

# The options a model passes on to its recurrent layer and keeps in its own config when on
REGULARISERS = ("recurrent_dropout", "weight_drop", "zoneout", "layer_norm")


def regularisers(layer) -> dict:
    """The regularising options that are on in ``layer`` (a recurrent layer), by name: what a
    model adds to its own config, so that a plain model's config is as before."""
    return {name: layer.config[name] for name in REGULARISERS if name in layer.config}


class RecurrentOptions:
    """The options' methods of ``RecurrentBase`` (a base class of it; it holds no state)."""

    gate_count: int  # declared by RecurrentBase
    state_names: tuple[str, ...]
    _halved: Callable[..., Any]

    @classmethod
    def _ln_sizes(cls, hidden_size: int):
        """(name, size) of one direction's layer-norm parameters, docs/bptt.md (N1)-(N3):
        γ_ih, β_ih, γ_hh, β_hh (G*H,), and the LSTM's γ_c, β_c (H,)."""
        sizes = [cls.gate_count * hidden_size] * 4 + ([hidden_size] * 2 if "c0" in cls.state_names else [])
        return list(zip(LN_NAMES, sizes))

    def _kernels(self):
        """(forward, backward) kernels of one direction: the class's, or with ``layer_norm`` its
        pair in nn/layernorm.py, layernorm_gated.py (imported here: they build on the cells' modules)."""
        if not self.layer_norm:
            return self.forward_kernel, self.backward_kernel
        from .layernorm_gated import LN_KERNELS

        return LN_KERNELS[self.gate_count]

    def _ln_weights(self, p, forward: bool) -> SimpleNamespace:
        """``w.ln`` of the layer-norm kernels (nn/layernorm.py): the gains ``gain_ih``, ``gain_hh``
        (G*H,) and the LSTM's ``gain_c``, ``bias_c`` (H,) (else None). For the forward kernel,
        the constant terms of (N1)/(N3) folded into ``shift`` (G*H,), added to the normalised
        input part, and for the GRU ``shift_hn`` (H,) = β_hn + b_hn, which stays inside r * (.)
        (``_ln_shifts``); there the sigmoid gates' rows of the gains and of ``shift`` are halved
        (``halve_sigmoid_rows``; the statistics of (N0) are taken before, on the true u, v)."""
        data = lambda q: None if q is None else q.data  # noqa: E731
        ln = SimpleNamespace(
            gain_ih=p.ln_ih_weight.data,
            gain_hh=p.ln_hh_weight.data,
            gain_c=data(p.ln_c_weight),
            bias_c=data(p.ln_c_bias),
            shift=None,
            shift_hn=None,
        )
        if forward:
            shift, ln.shift_hn = self._ln_shifts(p)
            ln.shift, ln.gain_ih, ln.gain_hh = (self._halved(a) for a in (shift, ln.gain_ih, ln.gain_hh))
        return ln

    def _ln_shifts(self, p):
        """(shift, shift_hn) of ``_ln_weights``: (N1) β_ih + β_hh + b_ih + b_hh, and None."""
        shift = p.ln_ih_bias.data + p.ln_hh_bias.data
        return (shift + self._input_bias(p) if self.bias else shift), None

    def _init_options(self, weight_drop, learn_initial_state, recurrent_dropout, zoneout, layer_norm):
        """Validate the options; each is in ``config`` only when on (PyTorch's configs stay as
        they are). The learned initial states ``h0`` (and ``c0``) start at zero,
        (D*num_layers, 1, size), after the weights (so the default weights are unchanged); then
        the layer-norm gains (ones) and biases (zeros), ``ln_*_l{k}[_reverse]`` (``_ln_sizes``).

        The masks of one training-mode forward are drawn from ``rng`` in this order: the
        weight_drop masks of every W_hh (``_forward_with_options``), then layer by layer the
        dropout mask between layers, then direction by direction ``_state_masks``."""
        try:
            self.weight_drop = probability("weight_drop", weight_drop)
            self.learn_initial_state = flag("learn_initial_state", learn_initial_state)
            self.recurrent_dropout = probability("recurrent_dropout", recurrent_dropout)
            self.zoneout = probability("zoneout", zoneout)
            self.layer_norm = flag("layer_norm", layer_norm)
        except (TypeError, ValueError) as e:
            raise InputError(str(e)) from None
        if self.layer_norm and self.hidden_size < 2:
            raise InputError(
                f"layer_norm needs hidden_size >= 2, got {self.hidden_size}: normalised over one feature, "
                "every output would be the same constant"
            )
        for name in REGULARISERS:
            if getattr(self, name):
                self.config[name] = getattr(self, name)
        if self.learn_initial_state:
            self.config["learn_initial_state"] = True
            n = self.num_layers * self.num_directions
            for name, size in zip(self.state_names, self._state_sizes()):
                setattr(self, name, Parameter(np.zeros((n, 1, size), self.dtype)))
        if self.layer_norm:
            for layer in range(self.num_layers):
                for d in range(self.num_directions):
                    for name, size in self._ln_sizes(self.hidden_size):
                        init = np.ones if name.endswith("weight") else np.zeros
                        setattr(self, name + self._suffix(layer, d), Parameter(init(size, self.dtype)))

    def _forward_with_options(self, x, hx, lengths):
        """``RecurrentBase.forward`` (``_forward_plain``) with the learned initial states filled in where ``hx`` gives
        none, and W_hh * M (docs/bptt.md (W1)) in place of W_hh while it runs."""
        hx, learned = self._learned_states(x, hx)
        if not (self.training and self.weight_drop):
            out, h_n, cache = self._forward_plain(x, hx, lengths)
            cache.learned, cache.weight_masks, cache.dropped = learned, None, None
            return out, h_n, cache
        w_hh = self._all_w_hh()  # one mask per W_hh per call, in this order
        masks = [dropout_mask(self.rng, w.shape, self.weight_drop, self.dtype) for w in w_hh]
        kept = [w.data for w in w_hh]
        dropped = [w * m for w, m in zip(kept, masks)]  # (W1)
        try:
            for w, wd in zip(w_hh, dropped):
                w.data = wd
            out, h_n, cache = self._forward_plain(x, hx, lengths)
        finally:
            for w, data in zip(w_hh, kept):
                w.data = data
        cache.learned, cache.weight_masks, cache.dropped = learned, masks, dropped
        return out, h_n, cache

    def _all_w_hh(self):
        """The W_hh Parameters, layer by layer, direction by direction."""
        return [self._layer_params(l, d).w_hh for l in range(self.num_layers) for d in range(self.num_directions)]

    def _learned_states(self, x, hx):
        """hx with the learned states (broadcast over the batch) where it gives none; and which."""
        if not self.learn_initial_state:
            return hx, ()
        given = self._unpack_state(hx) if hx is not None else (None,) * len(self.state_names)
        shape = np.shape(x)
        if len(shape) not in (2, 3):
            return hx, ()  # _prepare names the mistake
        B = (shape[0] if self.batch_first else shape[1]) if len(shape) == 3 else None
        states = []
        for name, s in zip(self.state_names, given):
            if s is None:
                s0 = getattr(self, name).data  # (D*L, 1, size)
                s = s0[:, 0, :].copy() if B is None else np.repeat(s0, B, axis=1)
            states.append(s)
        learned = tuple(s is None for s in given)
        return self._pack_state(tuple(states)), learned

    def _backward_with_options(self, dout, cache, dh_n):
        """``RecurrentBase.backward`` through W_hh * M (the gradient reaches W_hh as dW~ * M,
        (W2)) and into the learned initial states (dh0 summed over the batch, (S2))."""
        self._check_cache(cache)
        if getattr(cache, "dropped", None) is None:
            dx, dstates = self._backward_plain(dout, cache, dh_n)
        else:
            w_hh = self._all_w_hh()
            kept = [(w.data, w.grad) for w in w_hh]
            try:
                for w, wd in zip(w_hh, cache.dropped):
                    w.data, w.grad = wd, np.zeros_like(wd)  # the kernels add dW~_hh here
                dx, dstates = self._backward_plain(dout, cache, dh_n)
                for w, (_, grad), m in zip(w_hh, kept, cache.weight_masks):
                    grad += w.grad * m  # (W2)
            finally:
                for w, (data, grad) in zip(w_hh, kept):
                    w.data, w.grad = data, grad
        for name, learned, ds in zip(self.state_names, getattr(cache, "learned", ()), self._unpack_state(dstates)):
            if learned:
                getattr(self, name).grad += ds.sum(axis=1, keepdims=True) if cache.batched else ds[:, None, :]  # (S2)
        return dx, dstates
