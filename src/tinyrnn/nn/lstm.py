"""LSTM: ``LSTM`` (fused BPTT; ``LSTMCell`` is in cell.py; PyTorch's gate order i, f, g, o, optional projection).

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

Implementation notes: sigmoid(a) = (1 + tanh(a/2)) / 2, so scaling the i, f, o rows of the
input projection and of W_hh by 1/2 once lets ONE tanh over the whole (4H, B) block and a
multiply-add on the i, f and o rows give all four gates at every step. The loop is
feature-major ((features, B) arrays), see ``lstm_forward``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .recurrent import RecurrentBase, step_pairs, time_views


def _gate_scale(H, dtype):
    """(4H, 1) row scale: 1/2 on the i, f, o rows, 1 on g (sigmoid(a) = (1 + tanh(a/2)) / 2)."""
    scale = np.full((4 * H, 1), 0.5, dtype)
    scale[2 * H:3 * H] = 1.0
    return scale


def lstm_forward(xg, h0, c0, w_hh, w_hr=None, mask=None, reverse=False):
    """One direction, feature-major. xg (T, 4H, B): the input projection plus biases of all
    steps, with the i, f, o rows halved (``LSTM._input_weight``); it is overwritten in place
    with the gates and kept as the cache. h0 (B, P), c0 (B, H).

    Every per-step array is (features, B), so the gate product is W_hh (4H, P) @ h^T (P, B)
    (faster in OpenBLAS than h @ W_hh^T for small B) and each gate is a contiguous block of
    rows. Returns a cache with, in time order (see ``time_views``): S (T+1, B, P) the states
    batch-major; HsT (T+1, P, B), CsT (T+1, H, B); the gates AT (T, 4H, B), tanh(c)
    TCT (T, H, B) and, with a projection, MT (T, H, B).
    """
    T, G, B = xg.shape
    H = G // 4
    P = h0.shape[-1]
    dt = xg.dtype
    w_s = w_hh * _gate_scale(H, dt)                         # (4H, P), i/f/o rows halved
    AT = xg
    HsT, CsT = np.empty((T + 1, P, B), dt), np.empty((T + 1, H, B), dt)
    TCT = np.empty((T, H, B), dt)
    MT = np.empty((T, H, B), dt) if w_hr is not None else None
    HsT[T if reverse else 0], CsT[T if reverse else 0] = h0.T, c0.T
    hpairs, cpairs = step_pairs(HsT, reverse), step_pairs(CsT, reverse)
    dot, tanh, multiply = np.dot, np.tanh, np.multiply
    tmp, gh = np.empty((H, B), dt), np.empty((G, B), dt)
    if mask is not None:
        maskT = mask.transpose(0, 2, 1)                     # (T, 1, B)
        c_new, h_new = np.empty((H, B), dt), np.empty((P, B), dt)
    for (t, h_prev, h), (_, c_prev, c) in zip(hpairs, cpairs):
        a = AT[t]
        dot(w_s, h_prev, out=gh)                            # W_hh h_{t-1} (scaled rows)
        a += gh                                             # (L1), halved on i, f, o
        tanh(a, out=a)
        sig_if, sig_o = a[:2 * H], a[3 * H:]
        sig_if *= 0.5
        sig_if += 0.5
        sig_o *= 0.5
        sig_o += 0.5                                        # (L2): a = [i; f; g; o]
        i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        cn = c if mask is None else c_new
        multiply(f, c_prev, out=cn)
        multiply(i, g, out=tmp)
        cn += tmp                                           # (L3)
        tc = TCT[t]
        tanh(cn, out=tc)
        hn = h if mask is None else h_new
        if MT is None:
            multiply(o, tc, out=hn)                         # (L4)
        else:
            multiply(o, tc, out=MT[t])
            dot(w_hr, MT[t], out=hn)                        # (L5)
        if mask is not None:                                # finished sequences keep (h, c)
            np.copyto(c, c_prev)
            np.copyto(c, cn, where=maskT[t])
            np.copyto(h, h_prev)
            np.copyto(h, hn, where=maskT[t])
    S = np.ascontiguousarray(HsT.transpose(0, 2, 1))        # (T+1, B, P), one pass
    return SimpleNamespace(S=S, HsT=HsT, CsT=CsT, AT=AT, TCT=TCT, MT=MT, mask=mask, reverse=reverse)


def lstm_backward(dy, dh_n, dc_n, w_hh, w_hr, kc, dxg):
    """BPTT of one direction. Writes into dxg (4H, T*B) the gradient of the (unscaled) input
    projection, feature-major (column t*B + b); returns dh0 (B, P), dc0 (B, H), dW_hh, dW_hr."""
    AT, TCT, MT, mask, reverse = kc.AT, kc.TCT, kc.MT, kc.mask, kc.reverse
    T, G, B = AT.shape
    H = G // 4
    P = kc.HsT.shape[1]
    dt = AT.dtype
    _, c_prev_all = time_views(kc.CsT, reverse)
    i, f, g, o = AT[:, :H], AT[:, H:2 * H], AT[:, 2 * H:3 * H], AT[:, 3 * H:]
    # Step-independent factors of (L7)-(L8), all steps at once, feature-major (T, ., B):
    # PQ = [g i(1-i); c_{t-1} f(1-f); i (1-g^2); tanh(c) o(1-o)],  R = o (1 - tanh(c)^2).
    PQ = np.empty(AT.shape, dt)
    for k, (gate, partner) in enumerate(((i, g), (f, c_prev_all), (None, i), (o, TCT))):
        blk = PQ[:, k * H:(k + 1) * H]
        if gate is None:                                    # tanh' for g
            np.multiply(g, g, out=blk)
            np.subtract(1, blk, out=blk)
        else:                                               # sigmoid' = s (1 - s)
            np.subtract(1, gate, out=blk)
            blk *= gate
        blk *= partner
    R = np.multiply(TCT, TCT)
    np.subtract(1, R, out=R)
    R *= o
    dAT = np.empty(AT.shape, dt)
    dh = np.zeros((P, B), dt) if dh_n is None else np.array(dh_n.T, dtype=dt, order="C")
    dc = np.zeros((H, B), dt) if dc_n is None else np.array(dc_n.T, dtype=dt, order="C")
    dyT = None if dy is None else np.ascontiguousarray(dy.transpose(0, 2, 1))   # (T, P, B)
    w_hh_t = np.ascontiguousarray(w_hh.T)                   # (P, 4H)
    DHT = np.empty((T, P, B), dt) if w_hr is not None else None
    w_hr_t = None if w_hr is None else np.ascontiguousarray(w_hr.T)              # (H, P)
    dm = np.empty((H, B), dt) if w_hr is not None else None
    tmp = np.empty((H, B), dt)
    if mask is not None:
        maskT = mask.transpose(0, 2, 1).astype(dt)          # (T, 1, B)
        if dyT is not None:
            dyT *= maskT
        keep = 1 - maskT
        dnew, dcn, tmp_h = np.empty((P, B), dt), np.empty((H, B), dt), np.empty((P, B), dt)
    dot, multiply = np.dot, np.multiply
    order = range(T) if reverse else range(T - 1, -1, -1)
    for t in order:
        if dyT is not None:
            dh += dyT[t]                                    # dh_t = dy_t + dh carried
        dh_in = dh if mask is None else multiply(dh, maskT[t], out=dnew)
        if w_hr is None:
            dm_t = dh_in
        else:
            DHT[t] = dh_in
            dm_t = dot(w_hr_t, dh_in, out=dm)               # (L6)
        dc_t = dc if mask is None else multiply(dc, maskT[t], out=dcn)
        multiply(dm_t, R[t], out=tmp)
        dc_t += tmp                                         # (L7)
        da, pq = dAT[t], PQ[t]
        multiply(dc_t, pq[:3 * H].reshape(3, H, B), out=da[:3 * H].reshape(3, H, B))
        multiply(dm_t, pq[3 * H:], out=da[3 * H:])          # (L8)
        if mask is None:
            dc *= f[t]                                      # (L9)
            dot(w_hh_t, da, out=dh)
        else:
            dc *= keep[t]
            multiply(dc_t, f[t], out=tmp)
            dc += tmp
            dh *= keep[t]
            dot(w_hh_t, da, out=tmp_h)
            dh += tmp_h
    np.copyto(dxg.reshape(G, T, B), dAT.transpose(1, 0, 2))   # one block copy
    _, h_prev_all = time_views(kc.S, reverse)
    dw_hh = dxg @ h_prev_all.reshape(T * B, P)              # (L10)
    dw_hr = None
    if w_hr is not None:
        dw_hr = (np.ascontiguousarray(DHT.transpose(0, 2, 1)).reshape(T * B, P).T
                 @ np.ascontiguousarray(MT.transpose(0, 2, 1)).reshape(T * B, H))
    return dh.T, dc.T, dw_hh, dw_hr


class LSTM(RecurrentBase):
    """``torch.nn.LSTM``: gates i, f, g, o; optional ``proj_size`` (``weight_hr_l{k}`` (P, H)).

    ``out, (h_n, c_n), cache = lstm.forward(x, (h0, c0))``; ``h0`` (D*L, B, P or H),
    ``c0`` (D*L, B, H); either may be None (zeros), or pass ``hx=None``.
    ``dx, (dh0, dc0) = lstm.backward(dout, cache, (dh_n, dc_n))``.
    """

    gate_count = 4
    state_names = ("h0", "c0")
    feature_major = True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype, rng)
        self.config["proj_size"] = self.proj_size

    def _state_sizes(self):
        return (self.output_size, self.hidden_size)

    def _input_weight(self, p):
        return p.w_ih.data * _gate_scale(self.hidden_size, self.dtype)      # see lstm_forward

    def _input_bias(self, p):
        return (p.b_ih.data + p.b_hh.data) * _gate_scale(self.hidden_size, self.dtype)[:, 0]

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
        h_all, _ = time_views(kc.S, reverse)
        y = h_all if mask is None else h_all * mask
        end = 0 if reverse else -1
        return y, (kc.S[end], kc.CsT[end].T), kc

    def _kernel_backward(self, dy, dstates_n, p, kc, dxg):
        dh0, dc0, dw_hh, dw_hr = lstm_backward(dy, dstates_n[0], dstates_n[1], p.w_hh.data,
                                               None if p.w_hr is None else p.w_hr.data, kc, dxg)
        p.w_hh.grad += dw_hh
        if dw_hr is not None:
            p.w_hr.grad += dw_hr
        return dh0, dc0

