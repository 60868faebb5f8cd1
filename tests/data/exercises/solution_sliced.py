"""Another correct solution, unlike both the reference and solution.py: per-gate weight slices,
dict caches with its own keys, sigmoid through exp, the relu derivative from the
pre-activation, zero bias gradients returned even without biases, gates stacked with
np.concatenate of a list."""
import numpy as np


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _bias(b, k, H):
    return 0.0 if b is None else b[k * H:(k + 1) * H]


def rnn_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    a = x.dot(weight_ih.T) + h.dot(weight_hh.T) + _bias(bias_ih, 0, len(weight_hh)) + _bias(bias_hh, 0, len(weight_hh))
    act = {"tanh": np.tanh, "relu": lambda v: np.where(v > 0, v, 0.0), "sigmoid": _sigmoid,
           "identity": lambda v: v + 0.0}[nonlinearity]
    y = act(a)
    return y, {"inp": x, "prev": h, "pre": a, "out": y, "Wi": weight_ih, "Wh": weight_hh, "nl": nonlinearity}


def rnn_step_backward(dh_next, cache):
    a, y = cache["pre"], cache["out"]
    deriv = {"tanh": 1 - y ** 2, "relu": (a > 0).astype(float), "sigmoid": y * (1 - y),
             "identity": np.ones_like(y)}[cache["nl"]]
    da = dh_next * deriv
    g = {"weight_ih": da.T.dot(cache["inp"]), "weight_hh": da.T.dot(cache["prev"]),
         "bias_ih": da.sum(axis=0), "bias_hh": da.sum(axis=0)}
    return da.dot(cache["Wi"]), da.dot(cache["Wh"]), g


def lstm_step(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    pre = []
    for k in range(4):
        rows = slice(k * H, (k + 1) * H)
        pre.append(x @ weight_ih[rows].T + h @ weight_hh[rows].T + _bias(bias_ih, k, H) + _bias(bias_hh, k, H))
    i, f, o = _sigmoid(pre[0]), _sigmoid(pre[1]), _sigmoid(pre[3])
    g = np.tanh(pre[2])
    c2 = f * c + i * g
    h2 = o * np.tanh(c2)
    return h2, c2, {"x": x, "h": h, "c": c, "gates": (i, f, g, o), "c2": c2, "W": (weight_ih, weight_hh)}


def lstm_step_backward(dh_next, dc_next, cache):
    i, f, g, o = cache["gates"]
    t = np.tanh(cache["c2"])
    dc2 = dc_next + dh_next * o * (1 - t * t)
    parts = [dc2 * g * i * (1 - i), dc2 * cache["c"] * f * (1 - f), dc2 * i * (1 - g * g), dh_next * t * o * (1 - o)]
    d = np.concatenate(parts, axis=1)
    Wi, Wh = cache["W"]
    g_ = {"weight_ih": d.T @ cache["x"], "weight_hh": d.T @ cache["h"], "bias_ih": d.sum(0), "bias_hh": d.sum(0)}
    return d @ Wi, d @ Wh, dc2 * f, g_


def gru_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    xs = [x @ weight_ih[k * H:(k + 1) * H].T + _bias(bias_ih, k, H) for k in range(3)]
    hs = [h @ weight_hh[k * H:(k + 1) * H].T + _bias(bias_hh, k, H) for k in range(3)]
    r = _sigmoid(xs[0] + hs[0])
    z = _sigmoid(xs[1] + hs[1])
    n = np.tanh(xs[2] + r * hs[2])
    out = n + z * (h - n)
    return out, {"x": x, "h": h, "r": r, "z": z, "n": n, "hn": hs[2], "Wi": weight_ih, "Wh": weight_hh}


def gru_step_backward(dh_next, cache):
    r, z, n, hn, h = cache["r"], cache["z"], cache["n"], cache["hn"], cache["h"]
    dn = dh_next * (1 - z)
    dan = dn * (1 - n * n)
    dar = dan * hn * r * (1 - r)
    daz = dh_next * (h - n) * z * (1 - z)
    gi = np.concatenate([dar, daz, dan], axis=1)
    gh = np.concatenate([dar, daz, dan * r], axis=1)
    grads = {"weight_ih": gi.T @ cache["x"], "weight_hh": gh.T @ h, "bias_ih": gi.sum(0), "bias_hh": gh.sum(0)}
    return gi @ cache["Wi"], dh_next * z + gh @ cache["Wh"], grads
