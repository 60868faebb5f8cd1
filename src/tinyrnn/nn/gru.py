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

from .recurrent import SingleStateLayer, step_pairs, time_views, zoneout_hold, zoneout_new


def gru_forward(xg, states0, w, mask=None, reverse=False, empty=None):
    """Forward of one direction (the kernel contract of ``RecurrentBase``); each step equals
    ``tinyrnn.reference.gru_step``, whose names it uses.

    xg (T, B, 3H): a transposed view of ``gates`` (T, 3H, B) = [x_r; x_z; x_n] = W_ih x + b_ih +
    [b_hr; b_hz; 0] of every step, feature-major (as in ``lstm_forward``), its r, z rows halved
    (one tanh gives both sigmoids, as in ``lstm_forward``); overwritten in place with [r; z; n]
    and kept for the backward. states0 = (h0 (B, H),); w.w_hh (3H, H) with its r, z rows
    halved, w.b_hh (3H,) or None (only its n rows, b_hn, are used here).

    Row of ones for b_hn: the states live in hs (T+1, H+1, B) whose last row is ones, so the one
    per-step product [W_hh | (0; 0; b_hn)] @ [h; 1] is ah = [h_r; h_z; h_n] with b_hn already in
    h_n (reference: ``ah = h @ weight_hh.T + bias_hh``; adding an (H, 1) column to an (H, B)
    block is slow in NumPy at small B).

    Returns y (T, B, H), (h_n,) and the cache: h_out (T+1, B, H) the states batch-major in time
    order (see ``time_views``), hs, gates, and hn (T, H, B) = W_hn h + b_hn of every step.
    """
    gates = xg.transpose(0, 2, 1)  # (T, 3H, B), contiguous
    T, G, B = gates.shape
    H, dt = G // 3, gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    w_aug = np.zeros((G, H + 1), dt)  # [W_hh | (0; 0; b_hn)], r, z rows halved
    w_aug[:, :H] = w.w_hh
    if w.b_hh is not None:
        w_aug[2 * H :, H] = w.b_hh[2 * H :]
    hs = empty("hs", (T + 1, H + 1, B))
    hs[:, H] = 1
    hs[T if reverse else 0, :H] = states0[0].T
    hidden = empty("hidden", (T, G, B))  # ah = [h_r; h_z; h_n] of every step
    dot, tanh, multiply, subtract = np.dot, np.tanh, np.multiply, np.subtract
    half = np.array(0.5, dt)  # 0-d array: a cheaper operand than 0.5 at small B
    r_hn = np.empty((H, B), dt)
    done = None if mask is None else ~mask.transpose(0, 2, 1)  # (T, 1, B): sequence already finished
    # Regularised (docs/bptt.md): [h~; 1] for the product (R1), and the zoneout keeps (Z1), feature-major
    drop, keep, h_in, hold_s, k_eval = w.drop, w.keep, None, None, None
    if drop is not None:
        h_in = np.empty((H + 1, B), dt)
        h_in[H] = 1
        drop_fm = np.ascontiguousarray(drop.T)
    if keep is not None and isinstance(keep[0], np.ndarray):  # training: where h is kept (T, H, B)
        hold_s = list(zoneout_hold(keep[0].transpose(0, 2, 1), done))
        done = None  # folded into the holds
    elif keep is not None:  # evaluation: the number p
        k_eval, zone = keep[0], np.empty((H, B), dt)
    # Per-step views, made once (they pay at B = 1, see lstm_forward).
    rz_s, r_s, z_s, n_s = (
        list(gates[:, rows]) for rows in (slice(0, 2 * H), slice(0, H), slice(H, 2 * H), slice(2 * H, G))
    )
    ah_s, ah_rz_s, h_n_s = list(hidden), list(hidden[:, : 2 * H]), list(hidden[:, 2 * H :])
    # [h; 1] for the product, and h, h_next without the row of ones for (G3)
    pairs = zip(step_pairs(hs, reverse), step_pairs(hs[:, :H], reverse))
    for (t, h_ones, _), (_, h, h_next) in pairs:
        rz, r, z, n, h_n = rz_s[t], r_s[t], z_s[t], n_s[t], h_n_s[t]
        if h_in is not None:
            multiply(h, drop_fm, out=h_in[:H])  # (R1) h~ = h * drop, (G3) keeps h
            h_ones = h_in
        dot(w_aug, h_ones, out=ah_s[t])  # ah = [h_r; h_z; h_n] = h W_hh^T + b_hh
        rz += ah_rz_s[t]
        tanh(rz, out=rz)
        rz *= half
        rz += half  # (G1) r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        multiply(r, h_n, out=r_hn)
        n += r_hn
        tanh(n, out=n)  # (G2) n = tanh(x_n + r * h_n)
        subtract(h, n, out=h_next)
        h_next *= z
        h_next += n  # (G3) h_next = (1 - z) * n + z * h = n + z * (h - n)
        if hold_s is not None:
            np.copyto(h_next, h, where=hold_s[t])  # (Z1) h_next = h where k, else h^ (and past the end)
        elif k_eval is not None:
            np.subtract(h, h_next, out=zone)
            zone *= k_eval
            h_next += zone  # (Z1) h_next = h^ + p * (h - h^) (evaluation)
        if done is not None:  # finished sequences keep h
            np.copyto(h_next, h, where=done[t])
    h_out = empty("h_out", (T + 1, B, H))
    np.copyto(h_out, hs[:, :H].transpose(0, 2, 1))  # batch-major, one pass
    h_all, _ = time_views(h_out, reverse)
    y = h_all if mask is None else h_all * mask
    kc = SimpleNamespace(
        h_out=h_out, hs=hs, gates=gates, hn=hidden[:, 2 * H :], mask=mask, reverse=reverse, drop=drop, keep=keep
    )
    return y, (h_out[0] if reverse else h_out[-1],), kc


def _gru_factors(r, z, n, h_n, h, empty):
    """The factors of (G4)-(G5) that do not depend on the carried gradient, for all steps at once
    (each argument (T, H, B)): fac_n = (1-z)(1-n^2), fac_r = h_n r(1-r), fac_z = (h - n) z(1-z),
    so that a step of ``gru_backward`` is only da_n = dh_next * fac_n, da_r = da_n * fac_r,
    da_z = dh_next * fac_z. Also returns a free (T, H, B) array.

    Why before the loop: these are eleven NumPy calls; inside the loop they would be most of a
    step's calls, and at small batch the cost of a NumPy call, not the arithmetic, is the time.
    r and z are the true sigmoid values (see ``_lstm_factors`` in lstm.py), so r(1-r) and
    z(1-z) are the derivatives for the unhalved pre-activations.
    """
    T, H, B = r.shape
    fac_n = np.subtract(1, z, out=empty("fac_n", (T, H, B)))
    tmp = np.multiply(n, n, out=empty("tmp", (T, H, B)))
    np.subtract(1, tmp, out=tmp)
    fac_n *= tmp  # (1 - z)(1 - n^2)
    fac_r = np.subtract(1, r, out=empty("fac_r", (T, H, B)))
    fac_r *= r
    fac_r *= h_n  # h_n r(1 - r)
    fac_z = np.subtract(1, z, out=empty("fac_z", (T, H, B)))
    fac_z *= z
    np.subtract(h, n, out=tmp)
    fac_z *= tmp  # (h - n) z(1 - z)
    return fac_n, fac_r, fac_z, tmp


def gru_backward(dy, dstates_n, w, kc, dxg, empty=None):
    """BPTT of one direction (the kernel contract of ``RecurrentBase``); each step equals
    ``tinyrnn.reference.gru_step_backward``, with its names in its order.

    dy (T, B, H) or None, dstates_n = (dh_n (B, H) or None,), w the true weights, kc from
    ``gru_forward``. Writes into dxg (3H, T*B) dax = [da_r; da_z; da_n] of every step,
    feature-major (column t*B + b): the gradient of the unscaled projection. Returns
    (dh0 (B, H),) and {"w_hh": dW_hh (3H, H), "b_hh": db_hh (3H,)} (b_hh with a bias only).

    dh_carry holds the gradient carried from the later step; a step reads it as the
    reference's dh_next and writes its dh over it.
    """
    gates, mask, reverse = kc.gates, kc.mask, kc.reverse
    T, G, B = gates.shape
    H, dt = G // 3, gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    _, h_prev_bm = time_views(kc.h_out, reverse)  # (T, B, H)
    _, h_prev = time_views(kc.hs[:, :H], reverse)  # (T, H, B): h of each step's (G3)
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    fac_n, fac_r, fac_z, da_n_all = _gru_factors(r, z, n, kc.hn, h_prev, empty)  # da_n_all: free array
    dah_all = empty("dah", (T, G, B))  # dah = [da_r; da_z; da_n * r]: of [h_r; h_z; h_n]
    dh_n = dstates_n[0]
    dh_carry = np.zeros((H, B), dt) if dh_n is None else np.array(dh_n.T, dtype=dt, order="C")
    dy_fm = None
    if dy is not None:
        dy_fm = empty("dy", (T, H, B))
        np.copyto(dy_fm, dy.transpose(0, 2, 1))
    w_hh_t = w.w_hh.T  # (H, 3H), a view: BLAS reads it transposed
    dh_rec = np.empty((H, B), dt)
    mask_fm = None if mask is None else mask.transpose(0, 2, 1)  # (T, 1, B) bool
    if mask is not None:
        mask_f = mask_fm.astype(dt)
        if dy_fm is not None:
            dy_fm *= mask_f  # padded outputs are constant zeros
    if mask is not None or kc.keep is not None:
        dh_in, dh_out = np.empty((H, B), dt), np.empty((H, B), dt)
    drop_fm = None if kc.drop is None else np.ascontiguousarray(kc.drop.T)  # (H, B)
    new_h = None
    if kc.keep is not None:  # (Z3), the mask folded in: (T, H, B)
        k = kc.keep[0]
        new_h = zoneout_new(k.transpose(0, 2, 1) if isinstance(k, np.ndarray) else k, mask_fm, (T, H, B), dt)
    dot, multiply = np.dot, np.multiply
    for t in range(T) if reverse else range(T - 1, -1, -1):
        if dy_fm is not None:
            dh_carry += dy_fm[t]  # dh_t = dy_t + dh carried from t+1
        dh_next, dh = dh_carry, dh_carry
        if new_h is not None:  # (Z3) dh^ = (1 - k) * dh
            dh_next, dh = multiply(dh_carry, new_h[t], out=dh_in), dh_out
        elif mask is not None:  # a finished sequence: its step gets zeros
            dh_next, dh = multiply(dh_carry, mask_f[t], out=dh_in), dh_out
        dah, da_n = dah_all[t], da_n_all[t]
        multiply(dh_next, fac_n[t], out=da_n)  # (G4) da_n = dh_next * (1 - z) * (1 - n^2)
        multiply(da_n, fac_r[t], out=dah[:H])  # (G5) da_r = da_n * h_n * r(1 - r)
        multiply(dh_next, fac_z[t], out=dah[H : 2 * H])  # (G5) da_z = dh_next * (h - n) * z(1 - z)
        multiply(da_n, r[t], out=dah[2 * H :])  #      dah = [da_r, da_z, da_n * r]
        dot(w_hh_t, dah, out=dh_rec)
        if drop_fm is not None:
            dh_rec *= drop_fm  # (R2) (dah W_hh) * drop
        multiply(dh_next, z[t], out=dh)
        dh += dh_rec  # (G6) dh = dh_next * z + dah W_hh
        if new_h is not None:  # (Z3) ... + k * dh_t = dh_t - dh^_t
            dh_carry -= dh_next
            dh_carry += dh
        elif mask is not None:  # ... and passes the carried one on
            np.copyto(dh_carry, dh, where=mask_fm[t])
    np.copyto(dxg.reshape(G, T, B), dah_all.transpose(1, 0, 2))  # one block copy (see lstm_backward)
    if drop_fm is not None:
        h_prev_bm = h_prev_bm * kc.drop  # (R3) h~ = h * drop
    dW = {"w_hh": dxg @ h_prev_bm.reshape(T * B, H)}  # (G7) dW_hh = sum_t dah^T h
    if w.b_hh is not None:
        dW["b_hh"] = dxg @ np.ones(T * B, dt)  # (G7) db_hh = sum_t dah
    np.copyto(dxg[2 * H :].reshape(H, T, B), da_n_all.transpose(1, 0, 2))  # dax = [da_r, da_z, da_n], for (G8)
    return (dh_carry.T,), dW


class GRU(SingleStateLayer):
    """``torch.nn.GRU``: gates r, z, n with ``b_hn`` inside ``r * (W_hn h + b_hn)``.

    Same contract as ``RNN``: ``out, h_n, cache = gru.forward(x, h0)``;
    ``dx, dh0 = gru.backward(dout, cache, dh_n)``.
    """

    gate_count = 3
    tanh_gate = 2  # n; r, z are sigmoids
    feature_major = True
    forward_kernel = staticmethod(gru_forward)
    backward_kernel = staticmethod(gru_backward)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
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

    def _input_bias(self, p):
        """b_ih + [b_hr; b_hz; 0]: b_hr and b_hz fold, b_hn stays inside r * (.) (``gru_forward``)."""
        H = self.hidden_size
        b = p.b_ih.data.copy()
        b[: 2 * H] += p.b_hh.data[: 2 * H]
        return b

    def _ln_shifts(self, p):
        """(N3): shift = β_ih + b_ih + [β_hr + b_hr; β_hz + b_hz; 0] (r, z fold into the input
        part), and shift_hn = β_hn + b_hn, added to the normalised h_n inside r * (.)."""
        H = self.hidden_size
        rec = p.ln_hh_bias.data + p.b_hh.data if self.bias else p.ln_hh_bias.data
        shift = p.ln_ih_bias.data + p.b_ih.data if self.bias else p.ln_ih_bias.data.copy()
        shift[: 2 * H] += rec[: 2 * H]
        return shift, rec[2 * H :]

    @staticmethod
    def _step_values(kc):
        """{"h", "r", "z", "n"}: (T, B, H) of every step in time order, views of
        ``gru_forward``'s cache; with ``lengths``, the gates are a copy with 0 past each length."""
        H = kc.h_out.shape[2]
        gates = kc.gates if kc.mask is None else kc.gates * kc.mask.transpose(0, 2, 1)  # one contiguous product
        values = {"h": time_views(kc.h_out, kc.reverse)[0]}
        for k, name in enumerate("rzn"):
            values[name] = gates[:, k * H : (k + 1) * H].transpose(0, 2, 1)
        return values
