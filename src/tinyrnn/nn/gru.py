"""GRU: ``GRU`` (fused BPTT; ``GRUCell`` is in cell.py; PyTorch's gate order r, z, n, b_hn inside r * (.)).

Equations (docs/bptt.md, section "GRU"), per layer and direction, gates stacked [r | z | n]:

    [x_r, x_z, x_n] = x_t W_ih^T + b_ih                     (input projection, all steps)
    [h_r, h_z, h_n] = h_{t-1} W_hh^T + b_hh                 (recurrent product, per step)
    r = sigmoid(x_r + h_r)     z = sigmoid(x_z + h_z)        (G1)
    n = tanh(x_n + r * h_n)                                  (G2)  reset applied AFTER W_hn, b_hn
    h_t = (1 - z) * n + z * h_{t-1}                          (G3)

Backward, with dh_t = dy_t + dh carried from t+1:

    da_n = dh_t * (1 - z) * (1 - n^2)                        (G4)  gradient of x_n, and of h_n via r
    da_r = da_n * h_n * r(1-r)     da_z = dh_t * (h_{t-1} - n) * z(1-z)          (G5)
    dh_{t-1} = dh_t * z + [da_r, da_z, da_n * r] W_hh        (G6)
    dW_hh = sum_t [da_r, da_z, da_n * r]^T h_{t-1}   db_hh = sum_t [da_r, da_z, da_n * r]   (G7)
    dW_ih = sum_t [da_r, da_z, da_n]^T x_t           db_ih = sum_t [da_r, da_z, da_n]       (G8)
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .recurrent import SingleStateLayer, step_pairs, time_views


def _gate_scale(H, dtype):
    """(3H, 1) row scale: 1/2 on the r, z rows (sigmoid(a) = (1 + tanh(a/2)) / 2), 1 on n."""
    scale = np.full((3 * H, 1), 0.5, dtype)
    scale[2 * H:] = 1.0
    return scale


def gru_forward(xg, h0, w_hh, b_hn=None, mask=None, reverse=False):
    """One direction, feature-major. xg (T, 3H, B) = W_ih x_t + b_ih + [b_hr, b_hz, 0] for all
    steps, with the r, z rows halved (``GRU._input_weight``); it is overwritten in place with
    [r; z; n] and kept as the cache. h0 (B, H).

    The states live in HsT (T+1, H+1, B) whose last row is ones, so the one per-step product
    [W_hh | (0, 0, b_hn)] @ [h; 1] also adds b_hn to the n rows (adding a (H, 1) column to an
    (H, B) block is slow in NumPy for small B). Returns a cache with S (T+1, B, H) the states
    batch-major in time order (see ``time_views``), HsT itself, the gates AT (T, 3H, B) and the
    recurrent n-part HNT = W_hn h_{t-1} + b_hn (T, H, B).
    """
    T, G, B = xg.shape
    H = G // 3
    dt = xg.dtype
    w_s = np.zeros((G, H + 1), dt)
    np.multiply(w_hh, _gate_scale(H, dt), out=w_s[:, :H])   # r, z rows halved like xg's
    if b_hn is not None:
        w_s[2 * H:, H] = b_hn
    AT = xg
    HsT = np.empty((T + 1, H + 1, B), dt)
    HsT[:, H] = 1
    HsT[T if reverse else 0, :H] = h0.T
    HGT = np.empty((T, G, B), dt)
    dot, tanh, multiply, subtract = np.dot, np.tanh, np.multiply, np.subtract
    h_new = np.empty((H, B), dt) if mask is not None else None
    maskT = None if mask is None else mask.transpose(0, 2, 1)   # (T, 1, B)
    for t, h_prev, h in step_pairs(HsT, reverse):
        a, hg = AT[t], HGT[t]
        dot(w_s, h_prev, out=hg)
        rz = a[:2 * H]
        rz += hg[:2 * H]
        tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5                                          # (G1): a = [r; z; .]
        n = a[2 * H:]
        tmp = multiply(a[:H], hg[2 * H:], out=h[:H] if mask is None else h_new)
        n += tmp
        tanh(n, out=n)                                     # (G2)
        out = h[:H] if mask is None else h_new
        subtract(h_prev[:H], n, out=out)
        out *= a[H:2 * H]
        out += n                                           # (G3): n + z (h_{t-1} - n)
        if mask is not None:
            np.copyto(h[:H], h_prev[:H])
            np.copyto(h[:H], h_new, where=maskT[t])
    S = np.ascontiguousarray(HsT[:, :H].transpose(0, 2, 1))   # (T+1, B, H), one pass
    return SimpleNamespace(S=S, HsT=HsT, AT=AT, HNT=HGT[:, 2 * H:], mask=mask, reverse=reverse)


def gru_backward(dy, dh_n, w_hh, kc, dxg):
    """BPTT of one direction. Writes into dxg (3H, T*B) the gradient of the (unscaled) input
    projection, feature-major (column t*B + b); returns dh0 (B, H), dW_hh, db_hh (3H,)."""
    AT, HNT, mask, reverse = kc.AT, kc.HNT, kc.mask, kc.reverse
    T, G, B = AT.shape
    H = G // 3
    dt = AT.dtype
    _, h_prev_all = time_views(kc.S, reverse)               # (T, B, H)
    _, h_prevT = time_views(kc.HsT[:, :H], reverse)         # (T, H, B), feature-major
    r, z, n = AT[:, :H], AT[:, H:2 * H], AT[:, 2 * H:]
    # Step-independent factors of (G4)-(G5), for all steps at once, feature-major (T, H, B).
    Dn = np.subtract(1, z)
    tmp = np.multiply(n, n)
    np.subtract(1, tmp, out=tmp)
    Dn *= tmp                                              # (1 - z)(1 - n^2)
    Pr = np.subtract(1, r)
    Pr *= r
    Pr *= HNT                                              # h_n r (1 - r)
    Pz = np.subtract(1, z)
    Pz *= z
    np.subtract(h_prevT, n, out=tmp)
    Pz *= tmp                                              # (h_{t-1} - n) z (1 - z)
    dHGT = np.empty((T, G, B), dt)                         # [da_r; da_z; da_n * r]
    dANT = np.empty((T, H, B), dt)                         # da_n
    dh = np.zeros((H, B), dt) if dh_n is None else np.array(dh_n.T, dtype=dt, order="C")
    dyT = None if dy is None else np.ascontiguousarray(dy.transpose(0, 2, 1))   # (T, H, B)
    w_t = np.ascontiguousarray(w_hh.T)                     # (H, 3H)
    step = np.empty((H, B), dt)
    if mask is not None:
        maskT = mask.transpose(0, 2, 1).astype(dt)         # (T, 1, B)
        if dyT is not None:
            dyT *= maskT
        keep = 1 - maskT
        dnew = np.empty((H, B), dt)
    dot, multiply = np.dot, np.multiply
    order = range(T) if reverse else range(T - 1, -1, -1)
    for t in order:
        if dyT is not None:
            dh += dyT[t]
        d_in = dh if mask is None else multiply(dh, maskT[t], out=dnew)
        g, dan = dHGT[t], dANT[t]
        multiply(d_in, Dn[t], out=dan)                     # (G4)
        multiply(dan, Pr[t], out=g[:H])                    # (G5) da_r
        multiply(d_in, Pz[t], out=g[H:2 * H])              # (G5) da_z
        multiply(dan, r[t], out=g[2 * H:])                 # gradient of h_n
        dot(w_t, g, out=step)
        if mask is None:
            dh *= z[t]                                     # (G6)
        else:
            dh *= keep[t]
            dnew *= z[t]
            dh += dnew
        dh += step
    np.copyto(dxg.reshape(G, T, B), dHGT.transpose(1, 0, 2))   # one block copy
    dw_hh = dxg @ h_prev_all.reshape(T * B, H)             # (G7)
    db_hh = dxg @ np.ones(T * B, dt)
    np.copyto(dxg[2 * H:].reshape(H, T, B), dANT.transpose(1, 0, 2))   # (G8): n rows are da_n
    return dh.T, dw_hh, db_hh


class GRU(SingleStateLayer):
    """``torch.nn.GRU``: gates r, z, n with ``b_hn`` inside ``r * (W_hn h + b_hn)``.

    Same contract as ``RNN``: ``out, h_n, cache = gru.forward(x, h0)``;
    ``dx, dh0 = gru.backward(dout, cache, dh_n)``.
    """

    gate_count = 3
    feature_major = True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, rng)

    def _input_weight(self, p):
        return p.w_ih.data * _gate_scale(self.hidden_size, self.dtype)      # see gru_forward

    def _input_bias(self, p):
        H = self.hidden_size
        b = p.b_ih.data.copy()
        b[:2 * H] += p.b_hh.data[:2 * H]                   # b_hr, b_hz fold; b_hn stays inside r * (.)
        b[:2 * H] *= 0.5
        return b

    def _bias_hh_grad(self, p, db, kcache):
        pass                                               # done in _kernel_backward from (G7)

    def _kernel_forward(self, xg, states0, p, mask, reverse):
        H = self.hidden_size
        b_hn = None if p.b_hh is None else p.b_hh.data[2 * H:]
        kc = gru_forward(xg, states0[0], p.w_hh.data, b_hn, mask, reverse)
        h_all, _ = time_views(kc.S, reverse)
        y = h_all if mask is None else h_all * mask
        return y, (kc.S[0] if reverse else kc.S[-1],), kc

    def _kernel_backward(self, dy, dstates_n, p, kc, dxg):
        dh0, dw_hh, db_hh = gru_backward(dy, dstates_n[0], p.w_hh.data, kc, dxg)
        p.w_hh.grad += dw_hh
        if p.b_hh is not None:
            p.b_hh.grad += db_hh
        return (dh0,)

