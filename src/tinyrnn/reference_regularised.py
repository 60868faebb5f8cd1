"""The textbook form of the regularised recurrences: recurrent dropout, weight drop, zoneout
and layer normalisation (docs/bptt.md, "Regularised recurrences"), one step per cell and one
sequence loop, written like the plain steps of ``tinyrnn.reference`` (which imports them from
here, so ``from tinyrnn.reference import rnn_step_regularised`` is the path to use).
This module imports only NumPy.
"""

from __future__ import annotations

import numpy as np

from .reference import _check_step, _step_masks, activation, activation_grad, sigmoid

# ------------------------------------------------------------------ regularised steps
# The options of docs/bptt.md, section "Regularised recurrences", in one step per cell. Every
# random draw is an argument, so the steps are deterministic:
#   drop (B, H_in) or None     recurrent dropout: 0 or 1/(1-p), the same at every step   (R1)
#   weight_mask (G*H, H_in)    weight drop: 0 or 1/(1-p), one per forward call           (W1)
#   keep (B, H) or a number    zoneout of h: 1 keeps h_{t-1}; evaluation passes p        (Z1)
#   keep_c (B, H) or a number  zoneout of the LSTM's c                                    (Z2)
#   ln dict or None            layer norm gains and biases: ln_ih_weight, ln_ih_bias,
#                              ln_hh_weight, ln_hh_bias (G*H,), LSTM also ln_c_* (H,)    (N1)-(N3)
# With every option None the steps compute exactly rnn_step / lstm_step / gru_step.
LN_EPS = 1e-5


def layer_norm(a, gain, bias):
    """LN(a; gain, bias) over the last axis, eq. (N0). a (B, F) -> y (B, F), cache."""
    mu = a.mean(axis=1, keepdims=True)  # (N0) mean
    sigma = np.sqrt(((a - mu) ** 2).mean(axis=1, keepdims=True) + LN_EPS)  # (N0) deviation
    a_hat = (a - mu) / sigma  # (N0) normalised
    return gain * a_hat + bias, (a_hat, sigma, gain)  # (N0)


def layer_norm_backward(dy, cache):
    """dy (B, F) -> da (B, F), dgain, dbias (F,), eq. (N4)."""
    a_hat, sigma, gain = cache
    dgain, dbias = (dy * a_hat).sum(axis=0), dy.sum(axis=0)  # (N4)
    dn = dy * gain  # (N4)
    da = (dn - dn.mean(axis=1, keepdims=True) - a_hat * (dn * a_hat).mean(axis=1, keepdims=True)) / sigma  # (N4)
    return da, dgain, dbias


def _mix(keep, old, new):
    """Zoneout, (Z1)/(Z2): keep * old + (1 - keep) * new; keep None means no zoneout."""
    return new if keep is None else keep * old + (1.0 - keep) * new


def _pre_activations(x, h, weight_ih, weight_hh, drop, weight_mask, ln, bias_ih, bias_hh, split):
    """The two products with (R1), (W1), (N1), each + its bias. ``split``: keep the input and
    recurrent parts apart (GRU) rather than summed. Returns (ax, ah) or a, and the cache."""
    h_in = h if drop is None else h * drop  # (R1)
    w_hh = weight_hh if weight_mask is None else weight_hh * weight_mask  # (W1)
    u, v = x @ weight_ih.T, h_in @ w_hh.T  # the two products of (1)/(L1)/(G1)
    ln_x = ln_h = None
    if ln is not None:
        u, ln_x = layer_norm(u, ln["ln_ih_weight"], ln["ln_ih_bias"])  # (N1)
        v, ln_h = layer_norm(v, ln["ln_hh_weight"], ln["ln_hh_bias"])  # (N1)
    cache = dict(
        x=x,
        h_in=h_in,
        w_hh=w_hh,
        weight_ih=weight_ih,
        drop=drop,
        weight_mask=weight_mask,
        ln_x=ln_x,
        ln_h=ln_h,
        bias=bias_ih is not None,
    )
    if split:  # GRU: [x_r, x_z, x_n], [h_r, h_z, h_n]
        return ((u, v) if bias_ih is None else (u + bias_ih, v + bias_hh)), cache
    a = u + v  # (1), (L1)
    return (a if bias_ih is None else a + bias_ih + bias_hh), cache


def _pre_activations_backward(du, dv, pc, grads):
    """(N1), (W1), (R1) backward. du, dv: gradients of the input and recurrent parts (+ bias).
    Fills grads; returns dx (B, I) and the part of dh (B, H_in) through the product."""
    if pc["bias"]:
        grads["bias_ih"], grads["bias_hh"] = du.sum(axis=0), dv.sum(axis=0)
    if pc["ln_x"] is not None:
        du, grads["ln_ih_weight"], grads["ln_ih_bias"] = layer_norm_backward(du, pc["ln_x"])  # (N4)
        dv, grads["ln_hh_weight"], grads["ln_hh_bias"] = layer_norm_backward(dv, pc["ln_h"])  # (N4)
    grads["weight_ih"] = du.T @ pc["x"]
    dw_hh = dv.T @ pc["h_in"]  # (R3): dW~_hh
    grads["weight_hh"] = dw_hh if pc["weight_mask"] is None else dw_hh * pc["weight_mask"]  # (W2)
    dh_in = dv @ pc["w_hh"]
    dh = dh_in if pc["drop"] is None else dh_in * pc["drop"]  # (R2)
    return du @ pc["weight_ih"], dh


def rnn_step_regularised(
    x,
    h,
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    nonlinearity="tanh",
    drop=None,
    weight_mask=None,
    keep=None,
    ln=None,
):
    """(R1), (W1), (N1), (1)-(2), (Z1). x (B, I), h (B, H) -> h_next (B, H), cache."""
    _check_step("rnn_step_regularised", 1, x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    a, pc = _pre_activations(x, h, weight_ih, weight_hh, drop, weight_mask, ln, bias_ih, bias_hh, False)
    h_new = activation(nonlinearity, a)  # (2)
    h_next = _mix(keep, h, h_new)  # (Z1)
    return h_next, dict(pre=pc, h_new=h_new, keep=keep, nonlinearity=nonlinearity)


def rnn_step_regularised_backward(dh_next, cache):
    """dh_next (B, H) -> dx (B, I), dh (B, H), grads."""
    keep, grads = cache["keep"], {}
    dh_new = dh_next if keep is None else (1.0 - keep) * dh_next  # (Z3)
    da = dh_new * activation_grad(cache["nonlinearity"], cache["h_new"])  # (3)
    dx, dh = _pre_activations_backward(da, da, cache["pre"], grads)
    if keep is not None:
        dh = dh + keep * dh_next  # (Z3)
    return dx, dh, grads


def lstm_step_regularised(
    x,
    h,
    c,
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    drop=None,
    weight_mask=None,
    keep=None,
    keep_c=None,
    ln=None,
):
    """(R1), (W1), (N1), (L2), (L3), (N2), (Z2), (Z1). -> h_next, c_next (B, H), cache."""
    _check_step("lstm_step_regularised", 4, x, h, weight_ih, weight_hh, bias_ih, bias_hh, c)
    a, pc = _pre_activations(x, h, weight_ih, weight_hh, drop, weight_mask, ln, bias_ih, bias_hh, False)
    H = h.shape[1]
    i = sigmoid(a[:, :H])  # (L2)
    f = sigmoid(a[:, H : 2 * H])  # (L2)
    g = np.tanh(a[:, 2 * H : 3 * H])  # (L2)
    o = sigmoid(a[:, 3 * H :])  # (L2)
    c_new = f * c + i * g  # (L3)
    ln_c = None
    if ln is not None:
        c_norm, ln_c = layer_norm(c_new, ln["ln_c_weight"], ln["ln_c_bias"])  # (N2)
    else:
        c_norm = c_new
    tanh_c = np.tanh(c_norm)
    h_new = o * tanh_c  # (L4), (N2)
    c_next = _mix(keep_c, c, c_new)  # (Z2)
    h_next = _mix(keep, h, h_new)  # (Z1)
    cache = dict(pre=pc, c=c, i=i, f=f, g=g, o=o, tanh_c=tanh_c, ln_c=ln_c, keep=keep, keep_c=keep_c)
    return h_next, c_next, cache


def lstm_step_regularised_backward(dh_next, dc_next, cache):
    """dh_next, dc_next (B, H) -> dx (B, I), dh, dc (B, H), grads."""
    c, i, f, g, o, tanh_c = (cache[k] for k in ("c", "i", "f", "g", "o", "tanh_c"))
    keep, keep_c, grads = cache["keep"], cache["keep_c"], {}
    dh_new = dh_next if keep is None else (1.0 - keep) * dh_next  # (Z3)
    dc_new = dc_next if keep_c is None else (1.0 - keep_c) * dc_next  # (Z4)
    dc_norm = dh_new * o * (1.0 - tanh_c**2)  # (L7), (N5)
    if cache["ln_c"] is not None:
        dc_norm, grads["ln_c_weight"], grads["ln_c_bias"] = layer_norm_backward(dc_norm, cache["ln_c"])  # (N5)
    dc_t = dc_new + dc_norm  # (L7)
    da = np.concatenate(
        [
            dc_t * g * i * (1.0 - i),  # (L8) da_i
            dc_t * c * f * (1.0 - f),  # (L8) da_f
            dc_t * i * (1.0 - g**2),  # (L8) da_g
            dh_new * tanh_c * o * (1.0 - o),
        ],
        axis=1,
    )  # (L8) da_o
    dx, dh = _pre_activations_backward(da, da, cache["pre"], grads)  # (L9)
    dc = dc_t * f  # (L9)
    if keep is not None:
        dh = dh + keep * dh_next  # (Z3)
    if keep_c is not None:
        dc = dc + keep_c * dc_next  # (Z4)
    return dx, dh, dc, grads


def gru_step_regularised(
    x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, drop=None, weight_mask=None, keep=None, ln=None
):
    """(R1), (W1), (N3), (G1)-(G3), (Z1). x (B, I), h (B, H) -> h_next (B, H), cache."""
    _check_step("gru_step_regularised", 3, x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    (ax, ah), pc = _pre_activations(x, h, weight_ih, weight_hh, drop, weight_mask, ln, bias_ih, bias_hh, True)
    H = h.shape[1]
    h_n = ah[:, 2 * H :]
    r = sigmoid(ax[:, :H] + ah[:, :H])  # (G1)
    z = sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])  # (G1)
    n = np.tanh(ax[:, 2 * H :] + r * h_n)  # (G2)
    h_new = (1.0 - z) * n + z * h  # (G3): z mixes the undropped h
    h_next = _mix(keep, h, h_new)  # (Z1)
    return h_next, dict(pre=pc, h=h, r=r, z=z, n=n, h_n=h_n, keep=keep)


def gru_step_regularised_backward(dh_next, cache):
    """dh_next (B, H) -> dx (B, I), dh (B, H), grads."""
    h, r, z, n, h_n, keep = (cache[k] for k in ("h", "r", "z", "n", "h_n", "keep"))
    grads = {}
    dh_new = dh_next if keep is None else (1.0 - keep) * dh_next  # (Z3)
    da_n = dh_new * (1.0 - z) * (1.0 - n**2)  # (G4)
    da_r = da_n * h_n * r * (1.0 - r)  # (G5)
    da_z = dh_new * (h - n) * z * (1.0 - z)  # (G5)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)
    dx, dh = _pre_activations_backward(dax, dah, cache["pre"], grads)
    dh = dh + dh_new * z  # (G6)
    if keep is not None:
        dh = dh + keep * dh_next  # (Z3)
    return dx, dh, grads


# ------------------------------------------------------------------ regularised sequence loops
def _step_keep(keep, t):
    """keep for step t: a (T, B, H) array gives its row t, a number (evaluation) or None itself."""
    return keep[t] if isinstance(keep, np.ndarray) and keep.ndim == 3 else keep


def regularised_sequence(cell, x, state0, weights, options, nonlinearity="tanh", lengths=None):
    """Forward over t with the options of ``cell`` ("rnn", "lstm", "gru"). x (T, B, I);
    state0 (h0,) or (h0, c0), each (B, H); options: drop (B, H), weight_mask, keep and keep_c
    ((T, B, H) masks, or p for evaluation), ln, each optional; lengths as in ``rnn_sequence``
    (the step mask comes after zoneout). Returns y (T, B, H), the final states (a tuple) and
    a cache."""
    step = {"rnn": rnn_step_regularised, "lstm": lstm_step_regularised, "gru": gru_step_regularised}[cell]
    fixed = {k: options[k] for k in ("drop", "weight_mask", "ln") if options.get(k) is not None}
    if cell == "rnn":
        fixed["nonlinearity"] = nonlinearity
    states, ys, steps = tuple(state0), [], []
    masks = _step_masks(len(x), len(state0[0]), lengths)
    for t in range(len(x)):
        keeps = {"keep": _step_keep(options.get("keep"), t)}
        if cell == "lstm":
            keeps["keep_c"] = _step_keep(options.get("keep_c"), t)
        *new, cache = step(x[t], *states, **weights, **fixed, **keeps)
        states = tuple(np.where(masks[t], n, s) for n, s in zip(new, states))  # a finished sequence keeps its state
        ys.append(np.where(masks[t], states[0], 0.0))  # ... and outputs zeros
        steps.append(cache)
    return np.stack(ys), states, dict(cell=cell, steps=steps, masks=masks)


def regularised_sequence_backward(dy, dstates_n, cache):
    """Backward over reversed t. dy (T, B, H), dstates_n (dh_n,) or (dh_n, dc_n) ->
    dx (T, B, I), dstates0 (a tuple), grads (weights and layer-norm parameters, summed over t)."""
    back = {
        "rnn": rnn_step_regularised_backward,
        "lstm": lstm_step_regularised_backward,
        "gru": gru_step_regularised_backward,
    }[cache["cell"]]
    steps, masks, dx, grads = cache["steps"], cache["masks"], [None] * len(cache["steps"]), {}
    dstates = list(dstates_n)
    for t in reversed(range(len(steps))):
        m = masks[t]
        dstates[0] = dstates[0] + np.where(m, dy[t], 0.0)  # (4): dh_t = dy_t + carried
        dx[t], *dnew, step_grads = back(*(np.where(m, d, 0.0) for d in dstates), steps[t])
        dstates = [np.where(m, dn, d) for dn, d in zip(dnew, dstates)]  # a finished step passes its gradient on
        for name, g in step_grads.items():
            grads[name] = grads.get(name, 0.0) + g  # shared weights: sum over steps
    return np.stack(dx), tuple(dstates), grads
