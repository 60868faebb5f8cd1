"""Elman RNN: ``RNN`` (fused BPTT over a whole sequence; the one-step ``RNNCell`` is in cell.py).

Equations (docs/bptt.md, section "Elman RNN"), per layer and direction:

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh          (1)
    h_t = act(a_t)                                          (2)

and, with dh_t the total gradient reaching h_t (from the output and from step t+1):

    da_t      = dh_t * act'(a_t)        act' read from h_t   (3)
    dh_{t-1} += da_t W_hh                                   (4)  carried back
    dW_hh     = sum_t da_t^T h_{t-1}                         (5)  one product after the loop
    dW_ih     = sum_t da_t^T x_t                             (6)  one product (RecurrentBase)
    db_ih = db_hh = sum_t da_t                               (7)
    dx_t      = da_t W_ih                                    (8)  one product (RecurrentBase)
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import choice
from ..functional import NONLINEARITIES, activate_, activation_grad
from .recurrent import SingleStateLayer, step_pairs, time_views, zoneout_hold, zoneout_new


def rnn_forward(xg, states0, w, mask=None, reverse=False, empty=None):
    """Recurrence of one direction (the kernel contract of ``RecurrentBase``): eq. (1)-(2), the
    loop of ``tinyrnn.reference.rnn_step`` (``rnn_step_regularised`` with w.drop, w.keep).

    xg (T, B, H) = x W_ih^T + b_ih + b_hh for all steps, states0 = (h0,) with h0 (B, H), w.w_hh
    (H, H), w.act the nonlinearity, w.drop (B, H) and w.keep (k,) or None. Returns y (T, B, H),
    (h_n,) and the cache: S (T+1, B, H), every state (see ``time_views``), and with zoneout
    h_new (T, B, H), each step's (2) before (Z1). Only the recurrent product and the
    elementwise step are inside the loop. ``empty(name, shape)`` gives S (default: a new array).
    """
    T, B, H = xg.shape
    act, drop, keep = w.act, w.drop, w.keep
    S = np.empty((T + 1, B, H), xg.dtype) if empty is None else empty("S", (T + 1, B, H))
    w_hh_t = np.ascontiguousarray(w.w_hh.T)  # (H, H); a transposed view is ~1.7x slower
    S[T if reverse else 0] = states0[0]
    xs = list(xg)  # per-step views, made once
    steps = step_pairs(S, reverse)
    pairs = [(h_prev, h, xs[t]) for t, h_prev, h in steps]
    dot, tanh = np.dot, np.tanh
    h_new = None
    with np.errstate(over="ignore"):
        if mask is None and drop is None and keep is None:
            for h_prev, h, x_t in pairs:
                dot(h_prev, w_hh_t, out=h)  # h_{t-1} W_hh^T
                h += x_t  # a_t = ... + x_t W_ih^T + b     (1)
                if act == "tanh":
                    tanh(h, out=h)  # h_t = act(a_t)                 (2)
                elif act != "identity":
                    activate_(act, h)
        else:
            a = np.empty((B, H), xg.dtype)
            h_in = None if drop is None else np.empty((B, H), xg.dtype)
            hold = None
            if keep is not None:
                h_new = np.empty((T, B, H), xg.dtype) if empty is None else empty("h_new", (T, B, H))
                if isinstance(keep[0], np.ndarray):  # training: where h is kept, (T, B, H)
                    hold = zoneout_hold(keep[0], None if mask is None else ~mask)
            for t, h_prev, h in steps:
                if drop is not None:
                    h_prev_in = np.multiply(h_prev, drop, out=h_in)  # (R1) h~ = h_{t-1} * drop
                else:
                    h_prev_in = h_prev
                a_t = a if h_new is None else h_new[t]
                dot(h_prev_in, w_hh_t, out=a_t)
                a_t += xs[t]  # (1)
                activate_(act, a_t)  # (2) h^ = act(a_t)
                if h_new is None or hold is not None:
                    np.copyto(h, a_t)
                if hold is not None:
                    np.copyto(h, h_prev, where=hold[t])  # (Z1) h = h_{t-1} where k, else h^ (and past the end)
                elif h_new is not None:
                    np.subtract(h_prev, a_t, out=h)
                    h *= keep[0]
                    h += a_t  # (Z1) h = h^ + p * (h_{t-1} - h^) (evaluation)
                if mask is not None and hold is None:
                    np.copyto(h, h_prev, where=~mask[t])  # finished sequences keep h
    h_all, _ = time_views(S, reverse)
    y = h_all if mask is None else h_all * mask
    kc = SimpleNamespace(S=S, mask=mask, reverse=reverse, drop=drop, keep=keep, h_new=h_new)
    return y, (S[0] if reverse else S[-1],), kc


def rnn_backward(dy, dstates_n, w, kc, dxg, empty=None):
    """BPTT of one direction (the kernel contract of ``RecurrentBase``): eq. (3)-(5), the loop
    of ``tinyrnn.reference.rnn_step_backward`` (with (R2)-(R3), (Z3)).

    dy (T, B, H) or None, dstates_n = (dh_n,) with dh_n (B, H) or None, kc from ``rnn_forward``.
    Writes da (T*B, H) into dxg (the gradient of xg and of the biases); returns (dh0,) (B, H)
    and {"w_hh": dW_hh (H, H)}.

    With ``lengths`` or zoneout, ``zoneout_new`` gives per step the share ``new`` of dh_t that
    reaches act (folded into act' before the loop); the share ``carry`` = 1 - new passes on.
    """
    S, mask, reverse, act, drop, keep = kc.S, kc.mask, kc.reverse, w.act, kc.drop, kc.keep
    T, B, H = S.shape[0] - 1, S.shape[1], S.shape[2]
    da = dxg.reshape(T, B, H)
    h_all, h_prev = time_views(S, reverse)
    if activation_grad(act, h_all if kc.h_new is None else kc.h_new, out=da) is None:  # act'(a_t), all steps
        da[...] = 1  # identity: act' = 1
    carry = None
    if mask is not None or keep is not None:
        if keep is None:
            new = mask.astype(S.dtype)  # no gradient through padded steps
        else:
            new = zoneout_new(keep[0], mask, (T, B, H), S.dtype)  # (Z3) (1 - k), and the mask
        da *= new
        if mask is not None and dy is not None:
            dy = dy * mask  # padded outputs are constant zeros
        carry = list(1 - new)  # padded steps pass dh through, (Z3) k * dh
        tmp = np.empty((B, H), S.dtype)
    dh_n = dstates_n[0]
    dh = np.zeros((B, H), S.dtype) if dh_n is None else np.array(dh_n, dtype=S.dtype)
    order = range(T) if reverse else range(T - 1, -1, -1)
    das = list(da)
    dys = list(dy) if dy is not None else None
    w_hh = w.w_hh
    dot, multiply = np.dot, np.multiply
    for t in order:
        if dys is not None:
            dh += dys[t]  # dh_t = dy_t + dh carried from t+1
        da_t = das[t]
        multiply(dh, da_t, out=da_t)  # da_t = dh_t * act'(a_t)    (3)
        if carry is None:
            dot(da_t, w_hh, out=dh)  # dh_{t-1} = da_t W_hh       (4)
            if drop is not None:
                dh *= drop  # (R2)
        else:
            dh *= carry[t]
            dot(da_t, w_hh, out=tmp)
            if drop is not None:
                tmp *= drop  # (R2)
            dh += tmp
    if drop is not None:
        h_prev = h_prev * drop  # (R3) h~ = h_{t-1} * drop
    dw_hh = da.reshape(T * B, H).T @ h_prev.reshape(T * B, H)  # (5), one product
    return (dh,), {"w_hh": dw_hh}


class RNN(SingleStateLayer):
    """``torch.nn.RNN``: multi-layer Elman RNN, h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    ``nonlinearity`` is "tanh" or "relu" as in PyTorch, plus "sigmoid" and "identity" for the
    classic tutorials. Parameters ``weight_ih_l{k}[_reverse]`` (H, I_k), ``weight_hh_l{k}`` (H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,), all U(-1/sqrt(H), 1/sqrt(H)).

    >>> rnn = RNN(8, 16, num_layers=2, rng=np.random.default_rng(0))
    >>> out, h_n, cache = rnn.forward(np.zeros((5, 3, 8), np.float32))
    >>> out.shape, h_n.shape
    ((5, 3, 16), (2, 3, 16))
    >>> dx, dh0 = rnn.backward(np.ones_like(out), cache)
    """

    forward_kernel = staticmethod(rnn_forward)
    backward_kernel = staticmethod(rnn_backward)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=np.float32,
        rng=None,
        weight_drop: float = 0.0,
        learn_initial_state: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        layer_norm: bool = False,
    ):
        nonlinearity = choice("nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            dtype,
            rng,
            weight_drop,
            learn_initial_state,
            recurrent_dropout,
            zoneout,
            layer_norm,
        )
        self.nonlinearity = nonlinearity
        self.config["nonlinearity"] = nonlinearity

    def _kernel_weights(self, p, forward):
        """``RecurrentBase._kernel_weights`` and the nonlinearity, ``w.act``."""
        w = super()._kernel_weights(p, forward)
        w.act = self.nonlinearity
        return w

    @staticmethod
    def _step_values(kc):
        """{"h": (T, B, H)} of every step in time order, views of ``rnn_forward``'s cache."""
        return {"h": time_views(kc.S, kc.reverse)[0]}
