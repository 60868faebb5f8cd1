"""LSTM: ``LSTMCell`` and ``LSTM`` (fused BPTT, PyTorch's gate order i, f, g, o, optional projection).

Equations (docs/bptt.md, section "LSTM"), per layer and direction, gates stacked as
[i | f | g | o] in the rows of W_ih (4H, I) and W_hh (4H, P):

    [a_i, a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh     (L1)
    i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)  (L2)
    c_t = f * c_{t-1} + i * g                                            (L3)
    m_t = o * tanh(c_t)                                                   (L4)
    h_t = m_t W_hr^T   (proj_size > 0)   or   h_t = m_t                   (L5)

Backward, with dh_t = dy_t + dh carried from t+1 and dc carried from t+1:

    dm_t = dh_t W_hr (proj) or dh_t                                       (L6)
    dc_t += dm_t * o * (1 - tanh(c_t)^2)                                  (L7)
    da_i = dc_t * g * i(1-i)    da_f = dc_t * c_{t-1} * f(1-f)
    da_g = dc_t * i * (1-g^2)   da_o = dm_t * tanh(c_t) * o(1-o)          (L8)
    dc_{t-1} = dc_t * f         dh_{t-1} = da_t W_hh                      (L9)
    dW_hh = sum_t da_t^T h_{t-1}    dW_hr = sum_t dh_t^T m_t              (L10)

Implementation note: sigmoid(a) = (1 + tanh(a/2)) / 2, so scaling the i, f, o columns of the
input projection and of W_hh^T by 1/2 once lets ONE tanh over the whole (B, 4H) block and one
multiply-add give all four gates at every step.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .cell import CellBase
from .recurrent import RecurrentBase, step_pairs, time_views


def _gate_affine(H, dtype):
    """Per-column (scale, shift) turning tanh of the pre-scaled block into [i, f, g, o]."""
    scale = np.full(4 * H, 0.5, dtype)
    shift = np.full(4 * H, 0.5, dtype)
    scale[2 * H:3 * H], shift[2 * H:3 * H] = 1.0, 0.0
    return scale, shift


def lstm_forward(xg, h0, c0, w_hh, w_hr=None, mask=None, reverse=False):
    """One direction. xg (T, B, 4H) input projection (+ biases) of all steps; h0 (B, P), c0 (B, H).

    Returns a cache with Hs (T+1, B, P), Cs (T+1, B, H) in time order (see ``time_views``),
    the gates A (T, B, 4H), tanh(c) TC (T, B, H) and, with a projection, M (T, B, H).
    """
    T, B, G = xg.shape
    H = G // 4
    P = h0.shape[-1]
    dt = xg.dtype
    scale, shift = _gate_affine(H, dt)
    w_t = np.ascontiguousarray(w_hh.T) * scale             # (P, 4H), i/f/o columns halved
    xs = xg * scale                                        # (T, B, 4H), same scaling
    Hs, Cs = np.empty((T + 1, B, P), dt), np.empty((T + 1, B, H), dt)
    A, TC = np.empty((T, B, G), dt), np.empty((T, B, H), dt)
    M = np.empty((T, B, H), dt) if w_hr is not None else None
    w_hr_t = None if w_hr is None else np.ascontiguousarray(w_hr.T)   # (H, P)
    Hs[T if reverse else 0], Cs[T if reverse else 0] = h0, c0
    hpairs, cpairs = step_pairs(Hs, reverse), step_pairs(Cs, reverse)
    dot, tanh, multiply = np.dot, np.tanh, np.multiply
    tmp = np.empty((B, H), dt)
    if mask is not None:
        c_new, h_new = np.empty((B, H), dt), np.empty((B, P), dt)
    for (t, h_prev, h), (_, c_prev, c) in zip(hpairs, cpairs):
        a = A[t]
        dot(h_prev, w_t, out=a)
        a += xs[t]
        tanh(a, out=a)
        a *= scale
        a += shift                                         # (L1)-(L2): a = [i, f, g, o]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        cn = c if mask is None else c_new
        multiply(f, c_prev, out=cn)
        multiply(i, g, out=tmp)
        cn += tmp                                          # (L3)
        tanh(cn, out=TC[t])
        hn = h if mask is None else h_new
        if M is None:
            multiply(o, TC[t], out=hn)                     # (L4)
        else:
            multiply(o, TC[t], out=M[t])
            dot(M[t], w_hr_t, out=hn)                      # (L5)
        if mask is not None:                               # finished sequences keep (h, c)
            np.copyto(c, c_prev)
            np.copyto(c, cn, where=mask[t])
            np.copyto(h, h_prev)
            np.copyto(h, hn, where=mask[t])
    return SimpleNamespace(Hs=Hs, Cs=Cs, A=A, TC=TC, M=M, mask=mask, reverse=reverse)


def lstm_backward(dy, dh_n, dc_n, w_hh, w_hr, kc):
    """BPTT of one direction: returns dA (T, B, 4H) (= d xg), dh0, dc0, dW_hh, dW_hr."""
    A, TC, M, mask, reverse = kc.A, kc.TC, kc.M, kc.mask, kc.reverse
    T, B, G = A.shape
    H = G // 4
    P = kc.Hs.shape[-1]
    dt = A.dtype
    _, h_prev_all = time_views(kc.Hs, reverse)
    _, c_prev_all = time_views(kc.Cs, reverse)
    # Everything that does not depend on the carried gradients, for all steps at once.
    D = A * (1 - A)                                        # sigmoid' for i, f, o
    g = A[:, :, 2 * H:3 * H]
    D[:, :, 2 * H:3 * H] = 1 - g * g                       # tanh' for g
    PQ = np.empty_like(A)                                  # partners of dc (i,f,g) and dm (o) in (L8)
    PQ[:, :, :H] = g
    PQ[:, :, H:2 * H] = c_prev_all
    PQ[:, :, 2 * H:3 * H] = A[:, :, :H]
    PQ[:, :, 3 * H:] = TC
    PQ *= D
    R = A[:, :, 3 * H:] * (1 - TC * TC)                    # o * tanh'(c), for (L7)
    F = A[:, :, H:2 * H]
    dA = np.empty_like(A)
    dh = np.zeros((B, P), dt) if dh_n is None else np.array(dh_n, dtype=dt)
    dc = np.zeros((B, H), dt) if dc_n is None else np.array(dc_n, dtype=dt)
    DH = np.empty((T, B, P), dt) if w_hr is not None else None
    dm = np.empty((B, H), dt) if w_hr is not None else None
    tmp = np.empty((B, H), dt)
    if mask is not None:
        maskf = mask.astype(dt)
        dy = None if dy is None else dy * maskf
        keep = 1 - maskf
        dnew, dcn, tmp_h = np.empty((B, P), dt), np.empty((B, H), dt), np.empty((B, P), dt)
    dot, multiply = np.dot, np.multiply
    order = range(T) if reverse else range(T - 1, -1, -1)
    for t in order:
        if dy is not None:
            dh += dy[t]                                    # dh_t = dy_t + dh carried
        dh_in = dh if mask is None else multiply(dh, maskf[t], out=dnew)
        if w_hr is None:
            dm_t = dh_in
        else:
            DH[t] = dh_in
            dm_t = dot(dh_in, w_hr, out=dm)                # (L6)
        if mask is None:
            dc_t = dc
        else:
            dc_t = multiply(dc, maskf[t], out=dcn)
        multiply(dm_t, R[t], out=tmp)
        dc_t += tmp                                        # (L7)
        da = dA[t]
        pq = PQ[t]
        multiply(dc_t[:, None, :], pq.reshape(B, 4, H)[:, :3], out=da.reshape(B, 4, H)[:, :3])
        multiply(dm_t, pq[:, 3 * H:], out=da[:, 3 * H:])   # (L8)
        if mask is None:
            dc *= F[t]                                     # (L9)
            dot(da, w_hh, out=dh)
        else:
            dc *= keep[t]
            multiply(dc_t, F[t], out=tmp)
            dc += tmp
            dh *= keep[t]
            dot(da, w_hh, out=tmp_h)
            dh += tmp_h
    dw_hh = dA.reshape(T * B, G).T @ h_prev_all.reshape(T * B, P)          # (L10)
    dw_hr = None if w_hr is None else DH.reshape(T * B, P).T @ M.reshape(T * B, H)
    return dA, dh, dc, dw_hh, dw_hr


class LSTM(RecurrentBase):
    """``torch.nn.LSTM``: gates i, f, g, o; optional ``proj_size`` (``weight_hr_l{k}`` (P, H)).

    ``out, (h_n, c_n), cache = lstm.forward(x, (h0, c0))``; ``h0`` (D*L, B, P or H),
    ``c0`` (D*L, B, H); either may be None (zeros), or pass ``hx=None``.
    ``dx, (dh0, dc0) = lstm.backward(dout, cache, (dh_n, dc_n))``.
    """

    gate_count = 4
    state_names = ("h0", "c0")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype, rng)
        self.config["proj_size"] = self.proj_size

    def _state_sizes(self):
        return (self.output_size, self.hidden_size)

    def _unpack_state(self, hx, name="hx"):
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{name} must be a pair (h, c) of arrays (or None), got {type(hx).__name__}")
        return tuple(hx)

    def _pack_state(self, states):
        return tuple(states)

    def forward(self, x, hx=None, lengths=None):
        """``out, (h_n, c_n), cache``; see ``RecurrentBase.forward``."""
        return super().forward(x, hx, lengths=lengths)

    def backward(self, dout, cache, dhx=None):
        """``dx, (dh0, dc0)``; ``dhx`` is ``(dh_n, dc_n)`` (either may be None) or None."""
        return super().backward(dout, cache, dhx)

    def _kernel_forward(self, xg, states0, p, mask, reverse):
        kc = lstm_forward(xg, states0[0], states0[1], p.w_hh.data,
                          None if p.w_hr is None else p.w_hr.data, mask, reverse)
        h_all, _ = time_views(kc.Hs, reverse)
        y = h_all if mask is None else h_all * mask
        end = 0 if reverse else -1
        return y, (kc.Hs[end], kc.Cs[end]), kc

    def _kernel_backward(self, dy, dstates_n, p, kc):
        dA, dh0, dc0, dw_hh, dw_hr = lstm_backward(dy, dstates_n[0], dstates_n[1], p.w_hh.data,
                                                   None if p.w_hr is None else p.w_hr.data, kc)
        p.w_hh.grad += dw_hh
        if dw_hr is not None:
            p.w_hr.grad += dw_hr
        return dA, (dh0, dc0)


class LSTMCell(CellBase):
    """``torch.nn.LSTMCell``: one step. ``(h1, c1), cache = cell.forward(x, (h, c))``;
    ``dx, (dh, dc) = cell.backward((dh1, dc1), cache)``; ``cell(x, (h, c)) -> (h1, c1)``."""

    layer_class = LSTM
