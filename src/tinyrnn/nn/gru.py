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

from .recurrent import SingleStateLayer, halve_sigmoid_rows, step_pairs, time_views


def _halve_rz(w, out=None):
    """w (3H, ...) with the r, z rows halved and the n rows as they are (``halve_sigmoid_rows``)."""
    H = w.shape[0] // 3
    return halve_sigmoid_rows(w, slice(2 * H, 3 * H), out)


def gru_forward(gates, h0, w_hh, b_hn=None, mask=None, reverse=False, empty=None):
    """Forward of one direction; each step equals ``tinyrnn.reference.gru_step``.

    gates (T, 3H, B) = W_ih x_t + b_ih + [b_hr; b_hz; 0] of every step, feature-major (the
    transpose of docs/bptt.md's row vectors, as in ``lstm_forward``), the r, z rows halved
    (``GRU._input_weight``: one tanh gives both sigmoids, as in ``lstm_forward``); overwritten
    in place with [r; z; n] and kept for the backward. h0 (B, H).

    Row of ones for b_hn: the states live in hs (T+1, H+1, B) whose last row is ones, so the one
    per-step product [W_hh | (0; 0; b_hn)] @ [h_{t-1}; 1] is [h_r; h_z; h_n] with b_hn already in
    h_n (reference: ``h_n = h W_hn^T + b_hn`` in ``gru_step``; adding an (H, 1) column to an
    (H, B) block is slow in NumPy at small B).

    Returns the cache: h_out (T+1, B, H) the states batch-major in time order (see
    ``time_views``), hs, gates, and hn (T, H, B) = W_hn h_{t-1} + b_hn of every step.
    """
    T, G, B = gates.shape
    H, dt = G // 3, gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    w_aug = np.zeros((G, H + 1), dt)                        # [W_hh | (0; 0; b_hn)], r, z rows halved
    _halve_rz(w_hh, out=w_aug[:, :H])
    if b_hn is not None:
        w_aug[2 * H:, H] = b_hn
    hs = empty("hs", (T + 1, H + 1, B))
    hs[:, H] = 1
    hs[T if reverse else 0, :H] = h0.T
    hidden = empty("hidden", (T, G, B))                     # [h_r; h_z; h_n] of every step
    dot, tanh, multiply, subtract = np.dot, np.tanh, np.multiply, np.subtract
    half = np.array(0.5, dt)                                # 0-d array: a cheaper operand than 0.5 at small B
    r_hn = np.empty((H, B), dt)
    h_new = np.empty((H, B), dt) if mask is not None else None
    mask_fm = None if mask is None else mask.transpose(0, 2, 1)   # (T, 1, B)
    # Per-step views, made once (at B = 1 slicing inside the loop costs as much as the arithmetic).
    rz_s, r_s, z_s, n_s = (list(gates[:, rows]) for rows in (slice(0, 2 * H), slice(0, H), slice(H, 2 * H),
                                                              slice(2 * H, G)))
    hid_s, hid_rz_s, h_n_s = list(hidden), list(hidden[:, :2 * H]), list(hidden[:, 2 * H:])
    # (h_{t-1}; 1) for the product, and h_{t-1}, h_t without the row of ones for (G3)
    pairs = zip(step_pairs(hs, reverse), step_pairs(hs[:, :H], reverse))
    for (t, prev_ones, _), (_, prev, new) in pairs:
        rz, r, z, n, h_n = rz_s[t], r_s[t], z_s[t], n_s[t], h_n_s[t]
        dot(w_aug, prev_ones, out=hid_s[t])                 # [h_r; h_z; h_n], b_hn included
        rz += hid_rz_s[t]
        tanh(rz, out=rz)
        rz *= half
        rz += half                                          # (G1) r, z = sigmoid(x_{r,z} + h_{r,z})
        multiply(r, h_n, out=r_hn)
        n += r_hn
        tanh(n, out=n)                                      # (G2) n = tanh(x_n + r * h_n)
        h_t = new if mask is None else h_new
        subtract(prev, n, out=h_t)
        h_t *= z
        h_t += n                                            # (G3) h_t = n + z * (h_{t-1} - n)
        if mask is not None:                                # finished sequences keep h
            np.copyto(new, prev)
            np.copyto(new, h_new, where=mask_fm[t])
    h_out = empty("h_out", (T + 1, B, H))
    np.copyto(h_out, hs[:, :H].transpose(0, 2, 1))          # batch-major, one pass
    return SimpleNamespace(h_out=h_out, hs=hs, gates=gates, hn=hidden[:, 2 * H:], mask=mask, reverse=reverse)


def gru_backward(dy, dh_n, w_hh, kc, gate_grad_out, empty=None):
    """BPTT of one direction; each step equals ``tinyrnn.reference.gru_step_backward``.

    dy (T, B, H) or None, dh_n (B, H) or None, kc from ``gru_forward``. Writes into
    gate_grad_out (3H, T*B) [da_r; da_z; da_n] of every step, feature-major (column t*B + b):
    the gradient of the unscaled input projection. Returns dh0 (B, H), dW_hh (3H, H), db_hh (3H,).
    """
    gates, hn, mask, reverse = kc.gates, kc.hn, kc.mask, kc.reverse
    T, G, B = gates.shape
    H, dt = G // 3, gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    _, h_prev_bm = time_views(kc.h_out, reverse)            # (T, B, H)
    _, h_prev = time_views(kc.hs[:, :H], reverse)           # (T, H, B), feature-major
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    # The factors of (G4)-(G5) that do not depend on dh, all steps at once (T, H, B):
    # da_n = dh_t * fac_n, da_r = da_n * fac_r, da_z = dh_t * fac_z.
    fac_n = np.subtract(1, z, out=empty("fac_n", (T, H, B)))
    tmp = np.multiply(n, n, out=empty("tmp", (T, H, B)))
    np.subtract(1, tmp, out=tmp)
    fac_n *= tmp                                            # (1 - z)(1 - n^2)
    fac_r = np.subtract(1, r, out=empty("fac_r", (T, H, B)))
    fac_r *= r
    fac_r *= hn                                             # h_n r(1 - r)
    fac_z = np.subtract(1, z, out=empty("fac_z", (T, H, B)))
    fac_z *= z
    np.subtract(h_prev, n, out=tmp)
    fac_z *= tmp                                            # (h_{t-1} - n) z(1 - z)
    hidden_grad = empty("hidden_grad", (T, G, B))           # [da_r; da_z; da_n * r]: of [h_r; h_z; h_n]
    dn_all = tmp                                            # da_n of every step (tmp is free again)
    dh = np.zeros((H, B), dt) if dh_n is None else np.array(dh_n.T, dtype=dt, order="C")
    dy_fm = None
    if dy is not None:
        dy_fm = empty("dy", (T, H, B))
        np.copyto(dy_fm, dy.transpose(0, 2, 1))
    w_hh_t = w_hh.T                                         # (H, 3H), a view: BLAS reads it transposed
    dh_rec = np.empty((H, B), dt)
    if mask is not None:
        mask_fm = mask.transpose(0, 2, 1).astype(dt)        # (T, 1, B)
        if dy_fm is not None:
            dy_fm *= mask_fm
        keep = 1 - mask_fm
        dh_in = np.empty((H, B), dt)
    dot, multiply = np.dot, np.multiply
    order = range(T) if reverse else range(T - 1, -1, -1)
    for t in order:
        if dy_fm is not None:
            dh += dy_fm[t]                                  # dh_t = dy_t + dh carried from t+1
        dh_t = dh if mask is None else multiply(dh, mask_fm[t], out=dh_in)
        hg, da_n = hidden_grad[t], dn_all[t]
        multiply(dh_t, fac_n[t], out=da_n)                  # (G4) da_n = dh_t (1-z)(1-n^2)
        multiply(da_n, fac_r[t], out=hg[:H])                # (G5) da_r = da_n h_n r(1-r)
        multiply(dh_t, fac_z[t], out=hg[H:2 * H])           # (G5) da_z = dh_t (h_{t-1}-n) z(1-z)
        multiply(da_n, r[t], out=hg[2 * H:])                #      gradient of h_n: da_n * r
        dot(w_hh_t, hg, out=dh_rec)                         # [da_r, da_z, da_n * r] W_hh
        if mask is None:
            dh *= z[t]                                      # (G6) dh_{t-1} = dh_t * z + ...
        else:
            dh *= keep[t]
            dh_in *= z[t]
            dh += dh_in
        dh += dh_rec                                        # (G6)
    np.copyto(gate_grad_out.reshape(G, T, B), hidden_grad.transpose(1, 0, 2))   # one block copy (see lstm_backward)
    dw_hh = gate_grad_out @ h_prev_bm.reshape(T * B, H)     # (G7)
    db_hh = gate_grad_out @ np.ones(T * B, dt)              # (G7)
    np.copyto(gate_grad_out[2 * H:].reshape(H, T, B), dn_all.transpose(1, 0, 2))   # (G8): n rows are da_n
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
                 dtype=np.float32, rng=None, weight_drop: float = 0.0, learn_initial_state: bool = False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, rng, weight_drop, learn_initial_state)

    def _input_weight(self, p):
        return _halve_rz(p.w_ih.data)                       # see gru_forward

    def _input_bias(self, p):
        H = self.hidden_size
        b = p.b_ih.data.copy()
        b[:2 * H] += p.b_hh.data[:2 * H]                   # b_hr, b_hz fold; b_hn stays inside r * (.)
        b[:2 * H] *= 0.5
        return b

    hidden_bias_in_projection = False                       # b_hn sits inside r * (.): (G7) in the kernel

    def _kernel_forward(self, xg, states0, p, mask, reverse, empty):
        """Forward of one direction: ``gru_forward`` (step: ``tinyrnn.reference.gru_step``)."""
        H = self.hidden_size
        b_hn = None if p.b_hh is None else p.b_hh.data[2 * H:]
        kc = gru_forward(xg.transpose(0, 2, 1), states0[0], p.w_hh.data, b_hn, mask, reverse, empty)
        h_all, _ = time_views(kc.h_out, reverse)
        y = h_all if mask is None else h_all * mask
        return y, (kc.h_out[0] if reverse else kc.h_out[-1],), kc

    def _kernel_backward(self, dy, dstates_n, p, kc, dxg, empty):
        """BPTT of one direction: ``gru_backward`` (``tinyrnn.reference.gru_step_backward``)."""
        dh0, dw_hh, db_hh = gru_backward(dy, dstates_n[0], p.w_hh.data, kc, dxg.T, empty)
        p.w_hh.grad += dw_hh
        if p.b_hh is not None:
            p.b_hh.grad += db_hh
        return (dh0,)

