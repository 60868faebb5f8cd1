"""GRU: ``GRUCell`` and ``GRU`` (fused BPTT, PyTorch's gate order r, z, n, b_hn inside r * (.)).

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

from ..functional import _sigmoid_raw
from .cell import CellBase
from .recurrent import SingleStateLayer, step_pairs, time_views


def gru_forward(xg, h0, w_hh, b_hn=None, mask=None, reverse=False):
    """One direction. xg (T, B, 3H) = x W_ih^T + b_ih + [b_hr, b_hz, 0]; h0 (B, H).

    Returns a cache with Hs (T+1, B, H) in time order, RZ (T, B, 2H), N (T, B, H) and the
    recurrent n-part HN (T, B, H) = h_{t-1} W_hn^T + b_hn.
    """
    T, B, G = xg.shape
    H = G // 3
    dt = xg.dtype
    w_t = np.ascontiguousarray(w_hh.T)                     # (H, 3H)
    Hs = np.empty((T + 1, B, H), dt)
    HG = np.empty((T, B, G), dt)                           # h_{t-1} W_hh^T (+ b_hn on n)
    RZ, N = np.empty((T, B, 2 * H), dt), np.empty((T, B, H), dt)
    Hs[T if reverse else 0] = h0
    dot, tanh, multiply, add = np.dot, np.tanh, np.multiply, np.add
    h_new = np.empty((B, H), dt) if mask is not None else None
    with np.errstate(over="ignore"):
        for t, h_prev, h in step_pairs(Hs, reverse):
            hg = HG[t]
            dot(h_prev, w_t, out=hg)
            hn = hg[:, 2 * H:]
            if b_hn is not None:
                hn += b_hn
            rz, n, x_t = RZ[t], N[t], xg[t]
            add(x_t[:, :2 * H], hg[:, :2 * H], out=rz)
            _sigmoid_raw(rz, rz)                           # (G1)
            multiply(rz[:, :H], hn, out=n)
            n += x_t[:, 2 * H:]
            tanh(n, out=n)                                 # (G2)
            out = h if mask is None else h_new
            np.subtract(h_prev, n, out=out)
            out *= rz[:, H:]
            out += n                                       # (G3): n + z (h_{t-1} - n)
            if mask is not None:
                np.copyto(h, h_prev)
                np.copyto(h, h_new, where=mask[t])
    return SimpleNamespace(Hs=Hs, RZ=RZ, N=N, HN=HG[:, :, 2 * H:], mask=mask, reverse=reverse)


def gru_backward(dy, dh_n, w_hh, kc):
    """BPTT of one direction: returns dxg (T, B, 3H), dh0, dW_hh, db_hh (3H,)."""
    RZ, N, HN, mask, reverse = kc.RZ, kc.N, kc.HN, kc.mask, kc.reverse
    T, B, H = N.shape
    dt = N.dtype
    _, h_prev_all = time_views(kc.Hs, reverse)
    r, z = RZ[:, :, :H], RZ[:, :, H:]
    # Step-independent factors of (G4)-(G5), for all steps at once.
    Dn = (1 - z) * (1 - N * N)
    Pr = HN * r * (1 - r)
    Pz = (h_prev_all - N) * z * (1 - z)
    dHG = np.empty((T, B, 3 * H), dt)                      # [da_r, da_z, da_n * r]
    dAN = np.empty((T, B, H), dt)                          # da_n
    dh = np.zeros((B, H), dt) if dh_n is None else np.array(dh_n, dtype=dt)
    tmp = np.empty((B, H), dt)
    if mask is not None:
        maskf = mask.astype(dt)
        dy = None if dy is None else dy * maskf
        keep = 1 - maskf
        dnew = np.empty((B, H), dt)
    dot, multiply = np.dot, np.multiply
    order = range(T) if reverse else range(T - 1, -1, -1)
    for t in order:
        if dy is not None:
            dh += dy[t]
        d_in = dh if mask is None else multiply(dh, maskf[t], out=dnew)
        g, dan = dHG[t], dAN[t]
        multiply(d_in, Dn[t], out=dan)                     # (G4)
        multiply(dan, Pr[t], out=g[:, :H])                 # (G5) da_r
        multiply(d_in, Pz[t], out=g[:, H:2 * H])           # (G5) da_z
        multiply(dan, r[t], out=g[:, 2 * H:])              # gradient of h_n
        dot(g, w_hh, out=tmp)
        if mask is None:
            dh *= z[t]                                     # (G6)
        else:
            dh *= keep[t]
            dnew *= z[t]
            dh += dnew
        dh += tmp
    G2 = dHG.reshape(T * B, 3 * H)
    dw_hh = G2.T @ h_prev_all.reshape(T * B, H)            # (G7)
    db_hh = np.ones(T * B, dt) @ G2
    dxg = dHG.copy()
    dxg[:, :, 2 * H:] = dAN                                # (G8): n-part is da_n, not da_n * r
    return dxg, dh, dw_hh, db_hh


class GRU(SingleStateLayer):
    """``torch.nn.GRU``: gates r, z, n with ``b_hn`` inside ``r * (W_hn h + b_hn)``.

    Same contract as ``RNN``: ``out, h_n, cache = gru.forward(x, h0)``;
    ``dx, dh0 = gru.backward(dout, cache, dh_n)``.
    """

    gate_count = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, rng)

    def _input_bias(self, p):
        H = self.hidden_size
        b = p.b_ih.data.copy()
        b[:2 * H] += p.b_hh.data[:2 * H]                   # b_hr, b_hz fold; b_hn stays inside r * (.)
        return b

    def _bias_hh_grad(self, p, db, kcache):
        pass                                               # done in _kernel_backward from (G7)

    def _kernel_forward(self, xg, states0, p, mask, reverse):
        H = self.hidden_size
        b_hn = None if p.b_hh is None else p.b_hh.data[2 * H:]
        kc = gru_forward(xg, states0[0], p.w_hh.data, b_hn, mask, reverse)
        h_all, _ = time_views(kc.Hs, reverse)
        y = h_all if mask is None else h_all * mask
        return y, (kc.Hs[0] if reverse else kc.Hs[-1],), kc

    def _kernel_backward(self, dy, dstates_n, p, kc):
        dxg, dh0, dw_hh, db_hh = gru_backward(dy, dstates_n[0], p.w_hh.data, kc)
        p.w_hh.grad += dw_hh
        if p.b_hh is not None:
            p.b_hh.grad += db_hh
        return dxg, (dh0,)


class GRUCell(CellBase):
    """``torch.nn.GRUCell``: one step. ``h1, cache = cell.forward(x, h)``;
    ``dx, dh = cell.backward(dh1, cache)``."""

    layer_class = GRU
