"""Layer-normalised recurrences (``layer_norm=True``): the kernels of ``RNN``, ``LSTM``, ``GRU``.

Equations (docs/bptt.md, "Layer normalisation"), with u_t = x_t W_ih^T and v_t = h~_{t-1} W_hh^T
the two products, each normalised over its G*H features:

    LN(a; γ, β) = γ * (a - μ) / σ + β,   σ = sqrt(mean((a - μ)²) + ε)                 (N0)
    a_t = LN(u_t; γ_ih, β_ih) + LN(v_t; γ_hh, β_hh) + b_ih + b_hh      (RNN, LSTM)   (N1)
    h^_t = o * tanh(LN(c^_t; γ_c, β_c))                                (LSTM)        (N2)
    [x_r, x_z, x_n] = LN(u_t) + b_ih    [h_r, h_z, h_n] = LN(v_t) + b_hh   (GRU)     (N3)
    da = (dn - mean(dn) - â * mean(dn * â)) / σ,  dn = dy * γ                          (N4)
    dc^_t += (N4) of dℓ_t = dh^_t * o * (1 - tanh²(ℓ_t)),  ℓ_t = LN(c^_t)    (LSTM)    (N5)

The RNN's pair is here, the LSTM's and GRU's in layernorm_gated.py, with the (N0)/(N4) helpers
they share. Each pair has the kernel contract of ``RecurrentBase``, with these differences, all chosen by
the layer when ``layer_norm`` is on (``RecurrentBase._kernels``, ``layernorm_gated.LN_KERNELS``):

- ``xg`` is the bare product u (no bias, no halved rows): the forward normalises it for all
  steps at once before the loop, then writes γ_ih * û + ``shift`` over it, ``shift`` the
  constant terms of (N1)/(N3) folded into one vector (``RecurrentBase._ln_weights``);
- ``w.w_hh`` is the true W_hh (the statistics of v need the true v), and the gains and the
  shift arrive in ``w.ln`` with the sigmoid gates' rows halved, so that one tanh still gives
  every gate (``halve_sigmoid_rows``: LN(v)'s rows are halved after the normalisation);
- the backward writes into ``dxg`` the gradient of u, after (N4), and returns the bias and
  layer-norm gradients in ``dW`` (``b_ih``, ``b_hh``, ``ln_*``): db_ih is no longer a sum of dxg.

Per step, the mean of v over its G*H rows comes out of the recurrent product itself: the
product is with [W_hh; mean of W_hh's rows] (G*H+1, P), whose last row gives mean(v) for free;
the other means of a step are one (1, F) @ (F, B) product each. The loops are those of the
plain kernels (rnn.py, lstm.py, gru.py) with the normalisations added; the readable form of a
step is ``tinyrnn.reference.{rnn,lstm,gru}_step_regularised`` with ``ln=``.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ..functional import activate_, activation_grad
from ..reference import LN_EPS
from .recurrent import step_pairs, time_views, zoneout_new


# ---------------------------------------------------------------- (N0), (N4): all steps, one step
# Speed, at small B: NumPy runs an op that broadcasts a (1, B) row over an (F, B) array as F
# loops of B elements each, several times slower than the same op without broadcasting (35 us
# against 4 us at (F, B) = (1024, 32)). So a step never subtracts the mean row: the products
# are taken with centred weights, W - mean of its rows, which give v - μ directly (the mean of
# u over its rows is x times the mean of W_ih's rows; ``centred``); the gains come as full
# (F, B) arrays (``full``); and the remaining row ops go through ``by_row``.
def centred(w):
    """w (F, ...) minus the mean of its rows: w h = v - μ, (N0)'s centring inside the product.
    The backward may keep the true w: the gradient after (N4) sums to 0 over the F rows."""
    return w - w.mean(axis=0, keepdims=True)


def full(a, B):
    """a (F,) as a contiguous (F, B) array (a gain or a shift, the same for every column)."""
    out = np.empty((a.shape[0], B), a.dtype)
    out[...] = a[:, None]
    return out


def row_block(F):
    """k for ``by_row``: how many rows of an (F, B) array are taken as one."""
    return math.gcd(F, 16)


def by_row(op, x, row, out, k):
    """op(x, row) into ``out`` for x, out (..., F, B) and a broadcast row (..., 1, B): through
    the (..., F/k, k*B) views and the row tiled k times, so NumPy's loops run k*B long (module
    comment). k = 1 (any layout): the plain op. Returns ``out``."""
    if k == 1:
        return op(x, row, out=out)
    lead, (F, B) = x.shape[:-2], x.shape[-2:]
    rows = np.empty(lead + (k, B), x.dtype)
    rows[...] = row  # the row k times (np.tile: the same, at several times the cost of a call)
    op(x.reshape(lead + (F // k, k * B)), rows.reshape(lead + (1, k * B)), out=out.reshape(lead + (F // k, k * B)))
    return out


def _mean(a, axis, F):
    """The mean over the F features of ``axis`` (1: (T, F, B); 2: (T, B, F)) as one product."""
    ones = np.full((1, F) if axis == 1 else (F, 1), 1.0 / F, a.dtype)
    return np.matmul(ones, a) if axis == 1 else np.matmul(a, ones)


def normalise(d, axis, empty, name):
    """(N0) for every step at once, from the centred product d = u - μ (features on ``axis``:
    1 feature-major (T, F, B), 2 batch-major (T, B, F)). Returns â = d / σ (from
    ``empty(name, ...)``) and 1/σ (``axis`` kept as 1)."""
    F = d.shape[axis]
    inv = _mean(np.multiply(d, d, out=empty("sq", d.shape)), axis, F)  # σ² - ε
    inv += LN_EPS
    np.sqrt(inv, out=inv)
    np.divide(1, inv, out=inv)  # 1/σ
    return by_row(np.multiply, d, inv, empty(name, d.shape), row_block(F) if axis == 1 else 1), inv


def normalise_backward(dy, a_hat, inv, gain, axis, out):
    """(N4) for every step at once: out = (dn - mean(dn) - â mean(dn â)) / σ, dn = dy * γ
    (``out`` may be ``dy``; gain broadcasts against dy)."""
    F = dy.shape[axis]
    k = row_block(F) if axis == 1 else 1
    dn = np.multiply(dy, gain, out=out)
    mean_dn = _mean(dn, axis, F)
    tmp = np.multiply(dn, a_hat)
    by_row(np.multiply, a_hat, _mean(tmp, axis, F), tmp, k)  # â mean(dn â)
    dn -= tmp
    by_row(np.subtract, dn, mean_dn, dn, k)
    return by_row(np.multiply, dn, inv, dn, k)


def step_normalise(d, d_hat, inv, sq, ones, k):
    """(N0) of one step, feature-major: d (F, B) = v - μ -> d_hat (F, B) = â (may be d), inv
    (1, B) = 1/σ. ``ones`` (1, F) holds 1/F: a mean over the features is one product; sq a
    spare (F, B); k from ``row_block``."""
    np.multiply(d, d, out=sq)
    np.dot(ones, sq, out=inv)  # σ² - ε
    inv += LN_EPS
    np.sqrt(inv, out=inv)
    np.divide(1, inv, out=inv)  # 1/σ
    by_row(np.multiply, d, inv, d_hat, k)  # â


def step_normalise_backward(dy, gain, v_hat, inv, ones, dn, tmp, means, out, k):
    """(N4) of one step, feature-major: out (F, B) = (dn - mean(dn) - â mean(dn â)) / σ with
    dn = dy * γ (gain (F, B)); dn, tmp spare (F, B), means a spare (2, B)."""
    np.multiply(dy, gain, out=dn)  # dn = dy * γ
    np.multiply(dn, v_hat, out=tmp)
    np.dot(ones, dn, out=means[:1])  # mean(dn)
    np.dot(ones, tmp, out=means[1:])  # mean(dn â)
    by_row(np.multiply, v_hat, means[1:], tmp, k)
    np.subtract(dn, tmp, out=out)
    by_row(np.subtract, out, means[:1], out, k)
    by_row(np.multiply, out, inv, out, k)  # (N4)


def ln_sums(dy, a_hat, feature_major):
    """dγ = Σ dy * â and dβ = Σ dy over steps and batch, (N4); dy, a_hat (T, F, B) or (T, B, F)."""
    if feature_major:
        return np.einsum("tfb,tfb->f", dy, a_hat), (dy @ np.ones(dy.shape[2], dy.dtype)).sum(axis=0)
    return np.einsum("tbf,tbf->f", dy, a_hat), dy.reshape(-1, dy.shape[2]).sum(axis=0)


def mean_row(F, dt):
    return np.full((1, F), 1.0 / F, dt)


# ---------------------------------------------------------------- RNN
def rnn_ln_forward(xg, states0, w, mask=None, reverse=False, empty=None):
    """(N1), (1)-(2) of one direction, batch-major like ``rnn_forward``: each step equals
    ``reference.rnn_step_regularised`` with ``ln``. xg (T, B, H) = u - μ_u; w.ln from
    ``RecurrentBase._ln_weights``. Returns y, (h_n,), the cache (``rnn_forward``'s, and û, v̂,
    their 1/σ)."""
    T, B, H = xg.shape
    dt, ln, act, drop, keep = xg.dtype, w.ln, w.act, w.drop, w.keep
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    u_hat, inv_u = normalise(xg, 2, empty, "u_hat")  # (N0) of u, all steps: (T, B, H), (T, B, 1)
    np.multiply(u_hat, ln.gain_ih, out=xg)
    xg += ln.shift  # (N1) γ_ih û + β_ih + β_hh + b_ih + b_hh
    S, v_hat, inv_v = empty("S", (T + 1, B, H)), empty("v_hat", (T, B, H)), empty("inv_v", (T, 1, B))
    S[T if reverse else 0] = states0[0]
    w_c = np.ascontiguousarray(centred(w.w_hh).T)  # (H, H): h W_c = v - μ
    sq, h_in, ones = np.empty((H, B), dt), np.empty((B, H), dt), mean_row(H, dt)
    gain_hh = ln.gain_hh
    h_new = empty("h_new", (T, B, H)) if keep is not None else None
    k_s = None if keep is None else (list(keep[0]) if isinstance(keep[0], np.ndarray) else [keep[0]] * T)
    a = np.empty((B, H), dt)
    with np.errstate(over="ignore"):
        for t, h_prev, h in step_pairs(S, reverse):
            np.dot(h_prev if drop is None else np.multiply(h_prev, drop, out=h_in), w_c, out=v_hat[t])  # (R1) v - μ
            step_normalise(v_hat[t].T, v_hat[t].T, inv_v[t], sq, ones, 1)  # (N0) v̂
            a_t = a if h_new is None else h_new[t]
            np.multiply(v_hat[t], gain_hh, out=a_t)
            a_t += xg[t]  # (N1) a = LN(u) + LN(v) + b
            activate_(act, a_t)  # (2) h^ = act(a)
            if h_new is None:
                np.copyto(h, a_t)
            else:
                np.subtract(h_prev, a_t, out=h)
                h *= k_s[t]
                h += a_t  # (Z1) h = h^ + k * (h_{t-1} - h^)
            if mask is not None:
                np.copyto(h, h_prev, where=~mask[t])  # finished sequences keep h
    h_all, _ = time_views(S, reverse)
    y = h_all if mask is None else h_all * mask
    kc = SimpleNamespace(S=S, mask=mask, reverse=reverse, drop=drop, keep=keep, h_new=h_new)
    kc.u_hat, kc.inv_u, kc.v_hat, kc.inv_v = u_hat, inv_u, v_hat, inv_v
    return y, (S[0] if reverse else S[-1],), kc


def rnn_ln_backward(dy, dstates_n, w, kc, dxg, empty=None):
    """BPTT of ``rnn_ln_forward``: (3), (N4), (4), (R2), (Z3); dxg (T*B, H) gets du."""
    S, mask, reverse, act, drop, keep, ln = kc.S, kc.mask, kc.reverse, w.act, kc.drop, kc.keep, w.ln
    T, B, H = S.shape[0] - 1, S.shape[1], S.shape[2]
    dt = S.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    h_all, h_prev = time_views(S, reverse)
    da = empty("da", (T, B, H))
    if activation_grad(act, h_all if kc.h_new is None else kc.h_new, out=da) is None:
        da[...] = 1  # identity: act' = 1
    carry = None
    if mask is not None or keep is not None:
        new = mask.astype(dt) if keep is None else zoneout_new(keep[0], mask, (T, B, H), dt)  # (Z3)
        da *= new
        if mask is not None and dy is not None:
            dy = dy * mask  # padded outputs are constant zeros
        carry = list(1 - new)  # padded steps pass dh through, (Z3) k * dh
    dh = np.zeros((B, H), dt) if dstates_n[0] is None else np.array(dstates_n[0], dtype=dt)
    dv, tmp = empty("dv", (T, B, H)), np.empty((B, H), dt)
    dn, tmp_fm, means = np.empty((H, B), dt), np.empty((H, B), dt), np.empty((2, B), dt)
    ones, gain_hh = mean_row(H, dt), ln.gain_hh[:, None]
    for t in range(T) if reverse else range(T - 1, -1, -1):
        if dy is not None:
            dh += dy[t]  # dh_t = dy_t + dh carried from t+1
        da[t] *= dh  # (3) da = dh * act'(a)
        step_normalise_backward(da[t].T, gain_hh, kc.v_hat[t].T, kc.inv_v[t], ones, dn, tmp_fm, means, dv[t].T, 1)
        np.dot(dv[t], w.w_hh, out=tmp)  # (N4) dv above; (4) dh_{t-1} = dv W_hh
        if drop is not None:
            tmp *= drop  # (R2)
        if carry is None:
            dh, tmp = tmp, dh
        else:
            dh *= carry[t]  # (Z3) k * dh, or a finished step's dh passed on
            dh += tmp
    h_in = h_prev if drop is None else h_prev * drop  # (R3)
    dW = {"w_hh": dv.reshape(T * B, H).T @ h_in.reshape(T * B, H)}
    dW["ln_hh_weight"], dW["ln_hh_bias"] = ln_sums(da, kc.v_hat, False)  # (N4)
    dW["ln_ih_weight"], dW["ln_ih_bias"] = ln_sums(da, kc.u_hat, False)
    if w.b_hh is not None:
        dW["b_ih"] = dW["b_hh"] = dW["ln_ih_bias"]  # the biases enter a as β does
    normalise_backward(da, kc.u_hat, kc.inv_u, ln.gain_ih, 2, out=dxg.reshape(T, B, H))  # (N4) du
    return (dh,), dW
