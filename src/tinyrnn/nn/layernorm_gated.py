"""The layer-normalised LSTM and GRU kernels (``layer_norm=True``), docs/bptt.md (N0)-(N5).

The loops of ``lstm_forward``/``lstm_backward`` and ``gru_forward``/``gru_backward`` with the
normalisations of (N1)-(N3) added, under the same names; what the layer-norm kernels share, and
how they differ from the plain contract of ``RecurrentBase``, is in layernorm.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .gru import _gru_factors
from .layernorm import (
    by_row,
    centred,
    full,
    ln_sums,
    mean_row,
    normalise,
    normalise_backward,
    rnn_ln_backward,
    rnn_ln_forward,
    row_block,
    step_normalise,
    step_normalise_backward,
)
from .lstm import _lstm_factors
from .recurrent import step_pairs, time_views, zoneout_new


def _new_and_carry(keep, mask, shape, dtype):
    """(Z3)-(Z4) for every step, the ``lengths`` mask folded in: ``new`` = m_t * (1 - k_t), the
    share of dh_t (dc_t) that reaches the step's new value (``recurrent.zoneout_new``), and
    ``carry`` = 1 - new, the share passed straight to dh_{t-1}."""
    new = zoneout_new(keep, mask, shape, dtype)
    return new, 1 - new


# ---------------------------------------------------------------- LSTM


def lstm_ln_forward(xg, states0, w, mask=None, reverse=False, empty=None):
    """(N1), (L1)-(L5), (N2) of one direction, feature-major like ``lstm_forward`` (whose names
    and order it keeps): each step equals ``reference.lstm_step_regularised`` with ``ln``.
    xg (T, B, 4H): a transposed view of ``gates`` (T, 4H, B) = u - μ_u, overwritten with (N1)'s input
    part and then [i; f; g; o]. The cache is ``lstm_forward``'s (tanh_c holds tanh(ℓ)) and
    û, v̂, ĉ with their 1/σ."""
    gates = xg.transpose(0, 2, 1)  # (T, 4H, B), contiguous
    h0, c0 = states0
    T, G, B = gates.shape
    H, P, dt, ln = G // 4, h0.shape[-1], gates.dtype, w.ln
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    w_hr, drop, keep = w.w_hr, w.drop, w.keep
    u_hat, inv_u = normalise(gates, 1, empty, "u_hat")  # (N0) of u, all steps: (T, 4H, B), (T, 1, B)
    np.multiply(u_hat, full(ln.gain_ih, B), out=gates)
    gates += full(ln.shift, B)  # (N1) γ_ih û + β_ih + β_hh + b_ih + b_hh (i, f, o rows halved)
    h_out, cs, tanh_c_all = empty("h_out", (T + 1, B, P)), empty("cs", (T + 1, H, B)), empty("tanh_c", (T, H, B))
    v_hat, inv_v = empty("v_hat", (T, G, B)), empty("inv_v", (T, 1, B))
    c_hat, inv_c = empty("c_hat", (T, H, B)), empty("inv_c", (T, 1, B))
    m_all = empty("m", (T, H, B)) if w_hr is not None else None
    h_out[T if reverse else 0], cs[T if reverse else 0] = h0, c0.T
    hpairs, cpairs = step_pairs(h_out.transpose(0, 2, 1), reverse), step_pairs(cs, reverse)
    dot, tanh, multiply = np.dot, np.tanh, np.multiply
    half = np.array(0.5, dt)
    w_c, gain_hh, gain_c, bias_c = centred(w.w_hh), full(ln.gain_hh, B), full(ln.gain_c, B), full(ln.bias_c, B)
    sq, sq_c, ig = np.empty((G, B), dt), np.empty((H, B), dt), np.empty((H, B), dt)
    mean_c, ones_g, ones_h, k_g, k_h = (
        np.empty((1, B), dt),
        mean_row(G, dt),
        mean_row(H, dt),
        row_block(G),
        row_block(H),
    )
    done = None if mask is None else ~mask.transpose(0, 2, 1)  # (T, 1, B): sequence already finished
    drop_fm, h_in = (None, None) if drop is None else (np.ascontiguousarray(drop.T), np.empty((P, B), dt))
    k_s = kc_s = None
    if keep is not None:
        k_s, kc_s = (
            [k] * T if not isinstance(k, np.ndarray) else list(np.ascontiguousarray(k.transpose(0, 2, 1))) for k in keep
        )
        zone = np.empty((H, B), dt)
    i_s, f_s, g_s, o_s = (list(gates[:, k * H : (k + 1) * H]) for k in range(4))
    a_s, if_s, tanh_c_s = list(gates), list(gates[:, : 2 * H]), list(tanh_c_all)
    m_s = None if m_all is None else list(m_all)
    for (t, h, h_next), (_, c, c_next) in zip(hpairs, cpairs):
        a, i_f, i, f, g, o, tanh_c = a_s[t], if_s[t], i_s[t], f_s[t], g_s[t], o_s[t], tanh_c_s[t]
        v_t = v_hat[t]
        dot(w_c, h if drop_fm is None else multiply(h, drop_fm, out=h_in), out=v_t)  # (R1) v - μ = W_c h~
        step_normalise(v_t, v_t, inv_v[t], sq, ones_g, k_g)  # (N0) v̂
        multiply(v_t, gain_hh, out=sq)
        a += sq  # (N1) a = LN(u) + LN(v) + b (halved i, f, o)
        tanh(a, out=a)  # (L2) g = tanh(a_g); i, f, o: tanh(a/2) so far
        i_f *= half
        i_f += half
        o *= half
        o += half  # (L2) i, f, o = sigmoid(a)
        multiply(f, c, out=c_next)
        multiply(i, g, out=ig)
        c_next += ig  # (L3) c^ = f * c + i * g
        dot(ones_h, c_next, out=mean_c)
        by_row(np.subtract, c_next, mean_c, c_hat[t], k_h)  # c^ - μ
        step_normalise(c_hat[t], c_hat[t], inv_c[t], sq_c, ones_h, k_h)  # (N0) ĉ
        multiply(c_hat[t], gain_c, out=tanh_c)
        tanh_c += bias_c  # (N2) ℓ = γ_c ĉ + β_c
        tanh(tanh_c, out=tanh_c)
        if m_s is None:
            multiply(o, tanh_c, out=h_next)  # (L4), (N2) h^ = o * tanh(ℓ)
        else:
            multiply(o, tanh_c, out=m_s[t])  # (L4), (N2) m = o * tanh(ℓ)
            dot(m_s[t].T, w_hr.T, out=h_next.T)  # (L5) h_next = m W_hr^T
        if k_s is not None:  # zoneout: c_next, h_next hold c^, h^ so far
            np.subtract(c, c_next, out=zone)
            zone *= kc_s[t]
            c_next += zone  # (Z2)
            np.subtract(h, h_next, out=zone[:P])
            zone[:P] *= k_s[t]
            h_next += zone[:P]  # (Z1)
        if done is not None:  # finished sequences keep (h, c)
            np.copyto(c_next, c, where=done[t])
            np.copyto(h_next, h, where=done[t])
    h_all, _ = time_views(h_out, reverse)
    y = h_all if mask is None else h_all * mask
    end = 0 if reverse else -1
    kc = SimpleNamespace(
        h_out=h_out, cs=cs, gates=gates, tanh_c=tanh_c_all, m=m_all, mask=mask, reverse=reverse, drop=drop, keep=keep
    )
    kc.u_hat, kc.inv_u, kc.v_hat, kc.inv_v, kc.c_hat, kc.inv_c = u_hat, inv_u, v_hat, inv_v, c_hat, inv_c
    return y, (h_out[end], cs[end].T), kc


def lstm_ln_backward(dy, dstates_n, w, kc, dxg, empty=None):
    """BPTT of ``lstm_ln_forward``, the steps of ``lstm_backward`` with (N5) in (L7) and (N4)
    before (L9); dxg (4H, T*B) gets du, feature-major. The factors of (L7)-(L8) are made for
    all steps at once (``_lstm_factors``)."""
    gates, tanh_c, m_all, mask, reverse, ln = kc.gates, kc.tanh_c, kc.m, kc.mask, kc.reverse, w.ln
    T, G, B = gates.shape
    H, P, dt = G // 4, kc.h_out.shape[2], gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    _, c_prev = time_views(kc.cs, reverse)
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    fac, fac_c = empty("fac", (T, G, B)), empty("fac_c", (T, H, B))
    _lstm_factors(i, f, g, o, tanh_c, c_prev, fac, fac_c)  # fac_c = o (1 - tanh²(ℓ)), (N5)
    da, dv, dl = empty("da", (T, G, B)), empty("dv", (T, G, B)), empty("dl", (T, H, B))
    dh_n, dc_n = dstates_n
    dh_carry = np.zeros((P, B), dt) if dh_n is None else np.array(dh_n.T, dtype=dt, order="C")
    dc_carry = np.zeros((H, B), dt) if dc_n is None else np.array(dc_n.T, dtype=dt, order="C")
    dy_fm = None
    if dy is not None:
        dy_fm = empty("dy", (T, P, B))
        np.copyto(dy_fm, dy.transpose(0, 2, 1))
    w_hh_t = w.w_hh.T
    w_hr_t = None if w.w_hr is None else w.w_hr.T
    dh_all = None if w_hr_t is None else empty("dh", (T, P, B))
    dm = None if w_hr_t is None else np.empty((H, B), dt)
    dc_t = np.empty((H, B), dt)
    if mask is not None or kc.keep is not None:
        dh_in, dc_in, dh_out, dc_out = (np.empty(s, dt) for s in ((P, B), (H, B), (P, B), (H, B)))
    if mask is not None:
        mask_fm = mask.transpose(0, 2, 1)
        mask_f = mask_fm.astype(dt)
        if dy_fm is not None:
            dy_fm *= mask_f  # padded outputs are constant zeros
    drop_fm = None if kc.drop is None else np.ascontiguousarray(kc.drop.T)
    zone = None
    if kc.keep is not None:  # (Z3)-(Z4), the mask folded in
        zone = [
            [np.ascontiguousarray(f.transpose(0, 2, 1)) for f in _new_and_carry(k, mask, (T, B, s), dt)]
            for k, s in zip(kc.keep, (P, H))
        ]
        (new_h, carry_h), (new_c, carry_c) = zone
    gain_hh, gain_c, k_g, k_h = full(ln.gain_hh, B), full(ln.gain_c, B), row_block(G), row_block(H)
    dn, tmp, dn_c, tmp_c = np.empty((G, B), dt), np.empty((G, B), dt), np.empty((H, B), dt), np.empty((H, B), dt)
    means, ones_g, ones_h = np.empty((2, B), dt), mean_row(G, dt), mean_row(H, dt)
    fac_ifg, da_ifg = fac[:, : 3 * H].reshape(T, 3, H, B), da[:, : 3 * H].reshape(T, 3, H, B)
    fac_o, da_o = fac[:, 3 * H :], da[:, 3 * H :]
    dot, multiply = np.dot, np.multiply
    for t in range(T) if reverse else range(T - 1, -1, -1):
        if dy_fm is not None:
            dh_carry += dy_fm[t]  # dh_t = dy_t + dh carried from t+1
        dh_next, dc_next, dh, dc = dh_carry, dc_carry, dh_carry, dc_carry
        if zone is not None:  # (Z3)-(Z4)
            dh_next = multiply(dh_carry, new_h[t], out=dh_in)
            dc_next = multiply(dc_carry, new_c[t], out=dc_in)
            dh, dc = dh_out, dc_out
        elif mask is not None:  # a finished sequence: its step gets zeros
            dh_next = multiply(dh_carry, mask_f[t], out=dh_in)
            dc_next = multiply(dc_carry, mask_f[t], out=dc_in)
            dh, dc = dh_out, dc_out
        if w_hr_t is None:
            dm = dh_next  # (L6)
        else:
            dh_all[t] = dh_next
            dot(w_hr_t, dh_next, out=dm)  # (L6) dm = dh_next W_hr
        multiply(dm, fac_c[t], out=dl[t])  # (N5) dℓ = dm * o * (1 - tanh²(ℓ)), then (N4) of it
        step_normalise_backward(dl[t], gain_c, kc.c_hat[t], kc.inv_c[t], ones_h, dn_c, tmp_c, means, dc_t, k_h)
        dc_t += dc_next  # (L7) dc_t = dc_next + (N4) of dℓ
        multiply(dc_t, fac_ifg[t], out=da_ifg[t])  # (L8) da_i, da_f, da_g
        multiply(dm, fac_o[t], out=da_o[t])  # (L8) da_o = dm * tanh(ℓ) * o(1-o)
        multiply(dc_t, f[t], out=dc)  # (L9) dc = dc_t * f
        step_normalise_backward(da[t], gain_hh, kc.v_hat[t], kc.inv_v[t], ones_g, dn, tmp, means, dv[t], k_g)
        dot(w_hh_t, dv[t], out=dh)  # (N4) dv above; (L9) dh = dv W_hh
        if drop_fm is not None:
            dh *= drop_fm  # (R2)
        if zone is not None:  # (Z3)-(Z4) ... + k * dh_t, + k_c * dc_t
            dh_carry *= carry_h[t]
            dh_carry += dh
            dc_carry *= carry_c[t]
            dc_carry += dc
        elif mask is not None:
            np.copyto(dh_carry, dh, where=mask_fm[t])
            np.copyto(dc_carry, dc, where=mask_fm[t])
    dxg_steps = dxg.reshape(G, T, B)
    _, h_prev = time_views(kc.h_out, reverse)  # (T, B, P)
    if drop_fm is not None:
        h_prev = h_prev * kc.drop  # (R3)
    np.copyto(dxg_steps, dv.transpose(1, 0, 2))  # dxg as scratch: dv (4H, T*B)
    dW = {"w_hh": dxg @ h_prev.reshape(T * B, P)}  # (L10) dW_hh = sum_t dv^T h~
    if w_hr_t is not None:
        dW["w_hr"] = dh_all.transpose(1, 0, 2).reshape(P, T * B) @ m_all.transpose(0, 2, 1).reshape(T * B, H)
    dW["ln_hh_weight"], dW["ln_hh_bias"] = ln_sums(da, kc.v_hat, True)  # (N4)
    dW["ln_ih_weight"], dW["ln_ih_bias"] = ln_sums(da, kc.u_hat, True)
    dW["ln_c_weight"], dW["ln_c_bias"] = ln_sums(dl, kc.c_hat, True)  # (N5)
    if w.b_hh is not None:
        dW["b_ih"] = dW["b_hh"] = dW["ln_ih_bias"]
    normalise_backward(da, kc.u_hat, kc.inv_u, full(ln.gain_ih, B), 1, out=da)  # (N4) du
    np.copyto(dxg_steps, da.transpose(1, 0, 2))
    return (dh_carry.T, dc_carry.T), dW


# ---------------------------------------------------------------- GRU
def gru_ln_forward(xg, states0, w, mask=None, reverse=False, empty=None):
    """(N3), (G1)-(G3) of one direction, feature-major like ``gru_forward`` (whose names it
    keeps): each step equals ``reference.gru_step_regularised`` with ``ln``. xg (T, B, 3H): a
    transposed view of ``gates`` (T, 3H, B) = u - μ_u, overwritten with [x_r; x_z; x_n] (+ the r, z
    rows of β_hh + b_hh) and then [r; z; n]. ah = [h_r; h_z; h_n] = γ_hh v̂ (+ β_hn + b_hn on
    the n rows). The cache is ``gru_forward``'s (hs without its row of ones) and û, v̂, their 1/σ."""
    gates = xg.transpose(0, 2, 1)  # (T, 3H, B), contiguous
    T, G, B = gates.shape
    H, dt, ln, drop, keep = G // 3, gates.dtype, w.ln, w.drop, w.keep
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    u_hat, inv_u = normalise(gates, 1, empty, "u_hat")  # (N0) of u, all steps
    np.multiply(u_hat, full(ln.gain_ih, B), out=gates)
    gates += full(ln.shift, B)  # (N3) [x_r; x_z; x_n] = γ_ih û + β_ih + b_ih (r, z: + β_hh + b_hh, halved)
    hs, hidden = empty("hs", (T + 1, H, B)), empty("hidden", (T, G, B))  # states; ah of every step
    v_hat, inv_v = empty("v_hat", (T, G, B)), empty("inv_v", (T, 1, B))
    hs[T if reverse else 0] = states0[0].T
    w_c, gain_hh, shift_hn, k_g = centred(w.w_hh), full(ln.gain_hh, B), full(ln.shift_hn, B), row_block(G)
    sq, r_hn, ones_g = np.empty((G, B), dt), np.empty((H, B), dt), mean_row(G, dt)
    dot, tanh, multiply, subtract = np.dot, np.tanh, np.multiply, np.subtract
    half = np.array(0.5, dt)
    done = None if mask is None else ~mask.transpose(0, 2, 1)
    drop_fm, h_in = (None, None) if drop is None else (np.ascontiguousarray(drop.T), np.empty((H, B), dt))
    k_s = None
    if keep is not None:
        k = keep[0]
        k_s = [k] * T if not isinstance(k, np.ndarray) else list(np.ascontiguousarray(k.transpose(0, 2, 1)))
        zone = np.empty((H, B), dt)
    rz_s, r_s, z_s, n_s = (
        list(gates[:, rows]) for rows in (slice(0, 2 * H), slice(0, H), slice(H, 2 * H), slice(2 * H, G))
    )
    ah_s, ah_rz_s, h_n_s = list(hidden), list(hidden[:, : 2 * H]), list(hidden[:, 2 * H :])
    for t, h, h_next in step_pairs(hs, reverse):
        rz, r, z, n, h_n = rz_s[t], r_s[t], z_s[t], n_s[t], h_n_s[t]
        dot(w_c, h if drop_fm is None else multiply(h, drop_fm, out=h_in), out=v_hat[t])  # (R1) v - μ = W_c h~
        step_normalise(v_hat[t], v_hat[t], inv_v[t], sq, ones_g, k_g)  # (N0) v̂
        multiply(v_hat[t], gain_hh, out=ah_s[t])
        h_n += shift_hn  # (N3) [h_r; h_z; h_n] = γ_hh v̂ (+ β_hn + b_hn)
        rz += ah_rz_s[t]
        tanh(rz, out=rz)
        rz *= half
        rz += half  # (G1) r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        multiply(r, h_n, out=r_hn)
        n += r_hn
        tanh(n, out=n)  # (G2) n = tanh(x_n + r * h_n)
        subtract(h, n, out=h_next)
        h_next *= z
        h_next += n  # (G3) h_next = n + z * (h - n)
        if k_s is not None:
            np.subtract(h, h_next, out=zone)
            zone *= k_s[t]
            h_next += zone  # (Z1)
        if done is not None:
            np.copyto(h_next, h, where=done[t])
    h_out = empty("h_out", (T + 1, B, H))
    np.copyto(h_out, hs.transpose(0, 2, 1))
    h_all, _ = time_views(h_out, reverse)
    y = h_all if mask is None else h_all * mask
    kc = SimpleNamespace(
        h_out=h_out, hs=hs, gates=gates, hn=hidden[:, 2 * H :], mask=mask, reverse=reverse, drop=drop, keep=keep
    )
    kc.u_hat, kc.inv_u, kc.v_hat, kc.inv_v = u_hat, inv_u, v_hat, inv_v
    return y, (h_out[0] if reverse else h_out[-1],), kc


def gru_ln_backward(dy, dstates_n, w, kc, dxg, empty=None):
    """BPTT of ``gru_ln_forward``, the steps of ``gru_backward`` with (N4) on dah before (G6);
    dxg (3H, T*B) gets du, feature-major."""
    gates, mask, reverse, ln = kc.gates, kc.mask, kc.reverse, w.ln
    T, G, B = gates.shape
    H, dt = G // 3, gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    _, h_prev_bm = time_views(kc.h_out, reverse)
    _, h_prev = time_views(kc.hs, reverse)
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    fac_n, fac_r, fac_z, da_n_all = _gru_factors(r, z, n, kc.hn, h_prev, empty)
    dah_all, dv = empty("dah", (T, G, B)), empty("dv", (T, G, B))
    dh_carry = np.zeros((H, B), dt) if dstates_n[0] is None else np.array(dstates_n[0].T, dtype=dt, order="C")
    dy_fm = None
    if dy is not None:
        dy_fm = empty("dy", (T, H, B))
        np.copyto(dy_fm, dy.transpose(0, 2, 1))
    w_hh_t = w.w_hh.T
    dh_rec = np.empty((H, B), dt)
    if mask is not None:
        mask_fm = mask.transpose(0, 2, 1)
        mask_f = mask_fm.astype(dt)
        if dy_fm is not None:
            dy_fm *= mask_f
    if mask is not None or kc.keep is not None:
        dh_in, dh_out = np.empty((H, B), dt), np.empty((H, B), dt)
    drop_fm = None if kc.drop is None else np.ascontiguousarray(kc.drop.T)
    new_h = carry_h = None
    if kc.keep is not None:
        new_h, carry_h = (
            np.ascontiguousarray(f.transpose(0, 2, 1)) for f in _new_and_carry(kc.keep[0], mask, (T, B, H), dt)
        )
    gain_hh, ones_g, k_g = full(ln.gain_hh, B), mean_row(G, dt), row_block(G)
    dn, tmp, means = np.empty((G, B), dt), np.empty((G, B), dt), np.empty((2, B), dt)
    dot, multiply = np.dot, np.multiply
    for t in range(T) if reverse else range(T - 1, -1, -1):
        if dy_fm is not None:
            dh_carry += dy_fm[t]
        dh_next, dh = dh_carry, dh_carry
        if new_h is not None:  # (Z3)
            dh_next, dh = multiply(dh_carry, new_h[t], out=dh_in), dh_out
        elif mask is not None:
            dh_next, dh = multiply(dh_carry, mask_f[t], out=dh_in), dh_out
        dah, da_n = dah_all[t], da_n_all[t]
        multiply(dh_next, fac_n[t], out=da_n)  # (G4)
        multiply(da_n, fac_r[t], out=dah[:H])  # (G5) da_r
        multiply(dh_next, fac_z[t], out=dah[H : 2 * H])  # (G5) da_z
        multiply(da_n, r[t], out=dah[2 * H :])  # dah = [da_r, da_z, da_n * r]
        step_normalise_backward(dah, gain_hh, kc.v_hat[t], kc.inv_v[t], ones_g, dn, tmp, means, dv[t], k_g)  # (N4)
        dot(w_hh_t, dv[t], out=dh_rec)
        if drop_fm is not None:
            dh_rec *= drop_fm  # (R2)
        multiply(dh_next, z[t], out=dh)
        dh += dh_rec  # (G6) dh = dh_next * z + dv W_hh
        if new_h is not None:
            dh_carry *= carry_h[t]
            dh_carry += dh
        elif mask is not None:
            np.copyto(dh_carry, dh, where=mask_fm[t])
    dxg_steps = dxg.reshape(G, T, B)
    if drop_fm is not None:
        h_prev_bm = h_prev_bm * kc.drop  # (R3)
    np.copyto(dxg_steps, dv.transpose(1, 0, 2))  # dxg as scratch: dv (3H, T*B)
    dW = {"w_hh": dxg @ h_prev_bm.reshape(T * B, H)}  # (G7) dW_hh = sum_t dv^T h~
    dW["ln_hh_weight"], dW["ln_hh_bias"] = ln_sums(dah_all, kc.v_hat, True)  # (N4) of dah
    dah_all[:, 2 * H :] = da_n_all  # now dax = [da_r, da_z, da_n]
    dW["ln_ih_weight"], dW["ln_ih_bias"] = ln_sums(dah_all, kc.u_hat, True)  # (N4) of dax
    if w.b_hh is not None:
        dW["b_hh"], dW["b_ih"] = dW["ln_hh_bias"], dW["ln_ih_bias"]  # (G7), (G8)
    normalise_backward(dah_all, kc.u_hat, kc.inv_u, full(ln.gain_ih, B), 1, out=dah_all)  # (N4) du
    np.copyto(dxg_steps, dah_all.transpose(1, 0, 2))
    return (dh_carry.T,), dW


# The kernel pairs by the layer's gate count (RecurrentBase._kernels): RNN 1, LSTM 4, GRU 3.
LN_KERNELS = {
    1: (rnn_ln_forward, rnn_ln_backward),
    4: (lstm_ln_forward, lstm_ln_backward),
    3: (gru_ln_forward, gru_ln_backward),
}
