"""The textbook form of each recurrent cell: read this first.

One time step of the Elman RNN, the LSTM and the GRU, forward and backward, written the way
docs/bptt.md writes them: batch-major (x is (B, I), h and c are (B, H)), PyTorch's weight
layout and names (weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,)), PyTorch's
gate order (LSTM i, f, g, o; GRU r, z, n with b_hn inside r * (W_hn h + b_hn)), a plain
sigmoid, one equation per line with its number in docs/bptt.md, no buffers and no tricks.

    h_next, cache = rnn_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh, "tanh")
    dx, dh, grads = rnn_step_backward(dh_next, cache)       # grads["weight_ih"], ...

``grads`` is a dict keyed ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (the biases
only when they were given). Below the steps, one sequence loop per cell in the shape of
min-char-rnn: forward over t, backward over reversed t with ``dh_next`` (and ``dc_next``)
carried and the weight gradients summed with ``+=``. ``layer_weights(layer)`` reads the
weights of a one-layer, one-direction ``tinyrnn.RNN``/``LSTM``/``GRU`` for them.

The library's cells (``RNNCell``, ``LSTMCell``, ``GRUCell``) compute with these steps, and
tests/test_reference.py proves that the fused sequence layers give the same numbers as the
loops below to 1e-12 in float64. The regularised steps (recurrent dropout, weight drop,
zoneout, layer normalisation) are in reference_regularised.py, imported here at the end: they
build on these. This module imports only NumPy.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

NONLINEARITIES = ("tanh", "relu", "sigmoid", "identity")


# ------------------------------------------------------------------ activations
def sigmoid(a):
    with np.errstate(over="ignore"):  # exp(-a) = inf for a << 0 gives exactly 0
        return 1.0 / (1.0 + np.exp(-a))


def activation(nonlinearity, a):
    """act(a) for the Elman RNN, eq. (2)."""
    if nonlinearity == "tanh":
        return np.tanh(a)
    if nonlinearity == "relu":
        return np.maximum(a, 0.0)
    if nonlinearity == "sigmoid":
        return sigmoid(a)
    return a  # identity


def activation_grad(nonlinearity, y):
    """act'(a) read from the output y = act(a), eq. (3)."""
    if nonlinearity == "tanh":
        return 1.0 - y**2
    if nonlinearity == "relu":
        return (y > 0).astype(y.dtype)
    if nonlinearity == "sigmoid":
        return y * (1.0 - y)
    return np.ones_like(y)  # identity


# ------------------------------------------------------------------ input checks
def _check_step(fn, gates, x, h, weight_ih, weight_hh, bias_ih, bias_hh, c=None, weight_hr=None):
    """One clear line for a wrong shape, before any product (a user's mistake, not a bug)."""
    if x.ndim != 2:
        raise InputError(f"{fn}: x must have shape (B, I), got {tuple(x.shape)}")
    (B, I), P = x.shape, weight_hh.shape[-1]  # P: size of h (proj_size with weight_hr)
    H = P if weight_hr is None else weight_hr.shape[-1]
    G = gates * H
    for name, arr, shape in (
        ("h", h, (B, P)),
        ("c", c, (B, H)),
        ("weight_ih", weight_ih, (G, I)),
        ("weight_hh", weight_hh, (G, P)),
        ("bias_ih", bias_ih, (G,)),
        ("bias_hh", bias_hh, (G,)),
        ("weight_hr", weight_hr, (P, H)),
    ):
        if arr is not None and arr.shape != shape:
            raise InputError(
                f"{fn}: {name} must have shape {shape} for x {tuple(x.shape)} "
                f"and hidden size {H}, got {tuple(arr.shape)}"
            )
    if (bias_ih is None) != (bias_hh is None):
        raise InputError(f"{fn}: give both bias_ih and bias_hh, or neither")


# ------------------------------------------------------------------ Elman RNN
def rnn_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """h_next = act(x W_ih^T + b_ih + h W_hh^T + b_hh). x (B, I), h (B, H) -> h_next (B, H)."""
    if nonlinearity not in NONLINEARITIES:
        raise InputError(f"rnn_step: nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    _check_step("rnn_step", 1, x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    a = x @ weight_ih.T + h @ weight_hh.T  # (1)
    if bias_ih is not None:
        a = a + bias_ih + bias_hh  # (1)
    h_next = activation(nonlinearity, a)  # (2)
    cache = dict(
        x=x,
        h=h,
        h_next=h_next,
        weight_ih=weight_ih,
        weight_hh=weight_hh,
        bias=bias_ih is not None,
        nonlinearity=nonlinearity,
    )
    return h_next, cache


def rnn_step_backward(dh_next, cache):
    """dh_next (B, H), the gradient reaching h_next -> dx (B, I), dh (B, H), grads."""
    x, h = cache["x"], cache["h"]
    da = dh_next * activation_grad(cache["nonlinearity"], cache["h_next"])  # (3)
    dh = da @ cache["weight_hh"]  # (4), (9)
    dx = da @ cache["weight_ih"]  # (8)
    grads = {
        "weight_ih": da.T @ x,  # (6)
        "weight_hh": da.T @ h,
    }  # (5)
    if cache["bias"]:
        grads["bias_ih"] = da.sum(axis=0)  # (7)
        grads["bias_hh"] = da.sum(axis=0)  # (7)
    return dx, dh, grads


# ------------------------------------------------------------------ LSTM
def lstm_step(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None):
    """One LSTM step, gates [i | f | g | o]. x (B, I), h (B, P), c (B, H) -> h_next (B, P),
    c_next (B, H); P = H, or proj_size with the projection weight_hr (P, H)."""
    _check_step("lstm_step", 4, x, h, weight_ih, weight_hh, bias_ih, bias_hh, c, weight_hr)
    a = x @ weight_ih.T + h @ weight_hh.T  # (L1)
    if bias_ih is not None:
        a = a + bias_ih + bias_hh  # (L1)
    H = c.shape[1]
    a_i, a_f, a_g, a_o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]  # (L1) per gate
    i = sigmoid(a_i)  # (L2) input gate
    f = sigmoid(a_f)  # (L2) forget gate
    g = np.tanh(a_g)  # (L2) candidate
    o = sigmoid(a_o)  # (L2) output gate
    c_next = f * c + i * g  # (L3)
    tanh_c = np.tanh(c_next)
    m = o * tanh_c  # (L4)
    h_next = m if weight_hr is None else m @ weight_hr.T  # (L5)
    cache = dict(
        x=x,
        h=h,
        c=c,
        i=i,
        f=f,
        g=g,
        o=o,
        tanh_c=tanh_c,
        m=m,
        weight_ih=weight_ih,
        weight_hh=weight_hh,
        weight_hr=weight_hr,
        bias=bias_ih is not None,
    )
    return h_next, c_next, cache


def lstm_step_backward(dh_next, dc_next, cache):
    """dh_next (B, P), dc_next (B, H) reaching h_next and c_next -> dx (B, I), dh (B, P),
    dc (B, H), grads (with "weight_hr" when the step has a projection)."""
    x, h, c = cache["x"], cache["h"], cache["c"]
    i, f, g, o, tanh_c = cache["i"], cache["f"], cache["g"], cache["o"], cache["tanh_c"]
    weight_hr = cache["weight_hr"]
    dm = dh_next if weight_hr is None else dh_next @ weight_hr  # (L6)
    dc_t = dc_next + dm * o * (1.0 - tanh_c**2)  # (L7)
    da_i = dc_t * g * i * (1.0 - i)  # (L8)
    da_f = dc_t * c * f * (1.0 - f)  # (L8)
    da_g = dc_t * i * (1.0 - g**2)  # (L8)
    da_o = dm * tanh_c * o * (1.0 - o)  # (L8)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (B, 4H), rows as in weight_ih
    dc = dc_t * f  # (L9)
    dh = da @ cache["weight_hh"]  # (L9)
    dx = da @ cache["weight_ih"]  # dx_t = da_t W_ih
    grads = {
        "weight_ih": da.T @ x,  # dW_ih = sum_t da_t^T x_t
        "weight_hh": da.T @ h,
    }  # (L10)
    if cache["bias"]:
        grads["bias_ih"] = da.sum(axis=0)  # db_ih = db_hh = sum_t da_t
        grads["bias_hh"] = da.sum(axis=0)
    if weight_hr is not None:
        grads["weight_hr"] = dh_next.T @ cache["m"]  # (L10)
    return dx, dh, dc, grads


# ------------------------------------------------------------------ GRU
def gru_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step, gates [r | z | n], b_hn inside r * (W_hn h + b_hn). x (B, I), h (B, H)."""
    _check_step("gru_step", 3, x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    ax = x @ weight_ih.T  # [x_r, x_z, x_n]
    ah = h @ weight_hh.T  # [h_r, h_z, h_n]
    if bias_ih is not None:
        ax = ax + bias_ih
        ah = ah + bias_hh
    H = h.shape[1]
    x_r, x_z, x_n = ax[:, :H], ax[:, H : 2 * H], ax[:, 2 * H :]
    h_r, h_z, h_n = ah[:, :H], ah[:, H : 2 * H], ah[:, 2 * H :]
    r = sigmoid(x_r + h_r)  # (G1) reset gate
    z = sigmoid(x_z + h_z)  # (G1) update gate
    n = np.tanh(x_n + r * h_n)  # (G2)
    h_next = (1.0 - z) * n + z * h  # (G3)
    cache = dict(x=x, h=h, r=r, z=z, n=n, h_n=h_n, weight_ih=weight_ih, weight_hh=weight_hh, bias=bias_ih is not None)
    return h_next, cache


def gru_step_backward(dh_next, cache):
    """dh_next (B, H) reaching h_next -> dx (B, I), dh (B, H), grads."""
    x, h, r, z, n, h_n = (cache[k] for k in ("x", "h", "r", "z", "n", "h_n"))
    da_n = dh_next * (1.0 - z) * (1.0 - n**2)  # (G4)
    da_r = da_n * h_n * r * (1.0 - r)  # (G5)
    da_z = dh_next * (h - n) * z * (1.0 - z)  # (G5)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)  # gradient of [x_r, x_z, x_n]
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)  # gradient of [h_r, h_z, h_n]
    dh = dh_next * z + dah @ cache["weight_hh"]  # (G6)
    dx = dax @ cache["weight_ih"]  # dx_t = dax_t W_ih
    grads = {
        "weight_ih": dax.T @ x,  # (G8)
        "weight_hh": dah.T @ h,
    }  # (G7)
    if cache["bias"]:
        grads["bias_ih"] = dax.sum(axis=0)  # (G8)
        grads["bias_hh"] = dah.sum(axis=0)  # (G7)
    return dx, dh, grads


# ------------------------------------------------------------------ sequence loops
def layer_weights(layer):
    """{"weight_ih": ..., "weight_hh": ..., "bias_ih": ..., "bias_hh": ...} (copies) of a
    one-layer, one-direction tinyrnn RNN / LSTM / GRU (or a cell), ready for the loops below
    (with "weight_hr" for an LSTM with a projection)."""
    state = layer.state_dict()
    names = {k[:-3] if k.endswith("_l0") else k: v for k, v in state.items()}
    if set(names) - {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"}:
        raise InputError(
            f"layer_weights: the reference loops take a one-layer, one-direction layer; got parameters {sorted(state)}"
        )
    return names


def _step_masks(T, B, lengths):
    """m_t (B, 1) booleans, True while step t is within each sequence's length."""
    if lengths is None:
        return [np.ones((B, 1), bool) for _ in range(T)]
    lengths = np.asarray(lengths)
    return [(t < lengths)[:, None] for t in range(T)]


def rnn_sequence(x, h0, weights, nonlinearity="tanh", lengths=None):
    """Forward over t. x (T, B, I), h0 (B, H), weights from ``layer_weights``.
    lengths (B,) or None: past its length a sequence keeps its state and outputs zeros.
    Returns y (T, B, H), h_n (B, H) and a cache (every step's cache, the masks, the weights)."""
    h, ys, steps = h0, [], []
    masks = _step_masks(len(x), len(h0), lengths)
    for t in range(len(x)):
        h_new, cache = rnn_step(x[t], h, **weights, nonlinearity=nonlinearity)
        h = np.where(masks[t], h_new, h)  # a finished sequence keeps h
        ys.append(np.where(masks[t], h, 0.0))  # ... and outputs zeros
        steps.append(cache)
    return np.stack(ys), h, dict(steps=steps, masks=masks, weights=weights)


def rnn_sequence_backward(dy, dh_n, cache):
    """Backward over reversed t. dy (T, B, H), dh_n (B, H) -> dx (T, B, I), dh0 (B, H), grads."""
    steps, masks = cache["steps"], cache["masks"]
    grads = {name: np.zeros_like(w) for name, w in cache["weights"].items()}
    dx = [None] * len(steps)
    dh_next = dh_n  # gradient carried back from t+1
    for t in reversed(range(len(steps))):
        m = masks[t]
        dh_next = dh_next + np.where(m, dy[t], 0.0)  # (4): dh_t = dy_t + carried
        dx[t], dh, step_grads = rnn_step_backward(np.where(m, dh_next, 0.0), steps[t])
        dh_next = np.where(m, dh, dh_next)  # a finished step passes dh_t on
        for name in grads:
            grads[name] += step_grads[name]  # shared weights: sum over steps
    return np.stack(dx), dh_next, grads


def lstm_sequence(x, h0, c0, weights, lengths=None):
    """Forward over t. x (T, B, I), h0 (B, P), c0 (B, H) -> y (T, B, P), h_n (B, P), c_n (B, H),
    cache (P = H without a projection)."""
    h, c, ys, steps = h0, c0, [], []
    masks = _step_masks(len(x), len(h0), lengths)
    for t in range(len(x)):
        h_new, c_new, cache = lstm_step(x[t], h, c, **weights)
        h = np.where(masks[t], h_new, h)
        c = np.where(masks[t], c_new, c)
        ys.append(np.where(masks[t], h, 0.0))
        steps.append(cache)
    return np.stack(ys), h, c, dict(steps=steps, masks=masks, weights=weights)


def lstm_sequence_backward(dy, dh_n, dc_n, cache):
    """Backward over reversed t -> dx (T, B, I), dh0, dc0 (B, H), grads."""
    steps, masks = cache["steps"], cache["masks"]
    grads = {name: np.zeros_like(w) for name, w in cache["weights"].items()}
    dx = [None] * len(steps)
    dh_next, dc_next = dh_n, dc_n
    for t in reversed(range(len(steps))):
        m = masks[t]
        dh_next = dh_next + np.where(m, dy[t], 0.0)
        dx[t], dh, dc, step_grads = lstm_step_backward(np.where(m, dh_next, 0.0), np.where(m, dc_next, 0.0), steps[t])
        dh_next = np.where(m, dh, dh_next)
        dc_next = np.where(m, dc, dc_next)
        for name in grads:
            grads[name] += step_grads[name]
    return np.stack(dx), dh_next, dc_next, grads


def gru_sequence(x, h0, weights, lengths=None):
    """Forward over t. x (T, B, I), h0 (B, H) -> y (T, B, H), h_n (B, H), cache."""
    h, ys, steps = h0, [], []
    masks = _step_masks(len(x), len(h0), lengths)
    for t in range(len(x)):
        h_new, cache = gru_step(x[t], h, **weights)
        h = np.where(masks[t], h_new, h)
        ys.append(np.where(masks[t], h, 0.0))
        steps.append(cache)
    return np.stack(ys), h, dict(steps=steps, masks=masks, weights=weights)


def gru_sequence_backward(dy, dh_n, cache):
    """Backward over reversed t -> dx (T, B, I), dh0 (B, H), grads."""
    steps, masks = cache["steps"], cache["masks"]
    grads = {name: np.zeros_like(w) for name, w in cache["weights"].items()}
    dx = [None] * len(steps)
    dh_next = dh_n
    for t in reversed(range(len(steps))):
        m = masks[t]
        dh_next = dh_next + np.where(m, dy[t], 0.0)
        dx[t], dh, step_grads = gru_step_backward(np.where(m, dh_next, 0.0), steps[t])
        dh_next = np.where(m, dh, dh_next)
        for name in grads:
            grads[name] += step_grads[name]
    return np.stack(dx), dh_next, grads


# ------------------------------------------------------------------ regularised steps
# In reference_regularised.py (imported here, after the steps above that it builds on).
from .reference_regularised import (  # noqa: E402, F401  (the public path of these names)
    LN_EPS,
    gru_step_regularised,
    gru_step_regularised_backward,
    layer_norm,
    layer_norm_backward,
    lstm_step_regularised,
    lstm_step_regularised_backward,
    regularised_sequence,
    regularised_sequence_backward,
    rnn_step_regularised,
    rnn_step_regularised_backward,
)
