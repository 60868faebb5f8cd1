"""A learner's correct solution, deliberately unlike tinyrnn.reference: other names, tuple caches,
np.dot, the sigmoid through tanh, the gates sliced with np.split. tests/test_exercises.py checks
it passes, and breaks it one line at a time (tests/data/exercises/bugs.json)."""
import numpy as np


def sig(v):
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def rnn_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    pre = np.dot(x, weight_ih.T) + np.dot(h, weight_hh.T)
    if bias_ih is not None:
        pre = pre + (bias_ih + bias_hh)
    if nonlinearity == "tanh":
        out = np.tanh(pre)
    elif nonlinearity == "relu":
        out = pre * (pre > 0)
    elif nonlinearity == "sigmoid":
        out = sig(pre)
    else:
        out = pre.copy()
    return out, (x, h, out, weight_ih, weight_hh, bias_ih is not None, nonlinearity)


def rnn_step_backward(dh_next, cache):
    x, hprev, out, Wx, Wh, has_bias, kind = cache
    if kind == "tanh":
        slope = 1 - out * out
    elif kind == "relu":
        slope = (out > 0) * 1.0
    elif kind == "sigmoid":
        slope = out * (1 - out)
    else:
        slope = np.ones_like(out)
    dpre = dh_next * slope
    dhprev = np.dot(dpre, Wh)
    dinput = np.dot(dpre, Wx)
    grads = {"weight_ih": np.dot(dpre.T, x), "weight_hh": np.dot(dpre.T, hprev)}
    if has_bias:
        grads["bias_ih"] = np.sum(dpre, axis=0)
        grads["bias_hh"] = np.sum(dpre, axis=0)
    return dinput, dhprev, grads


def lstm_step(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    z = np.dot(x, weight_ih.T) + np.dot(h, weight_hh.T)
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    zi, zf, zg, zo = np.split(z, 4, axis=1)
    ig = sig(zi)
    fg = sig(zf)
    cand = np.tanh(zg)
    og = sig(zo)
    cnew = fg * c + ig * cand
    squashed = np.tanh(cnew)
    hnew = og * squashed
    return hnew, cnew, (x, h, c, ig, fg, cand, og, squashed, weight_ih, weight_hh, bias_ih is not None)


def lstm_step_backward(dh_next, dc_next, cache):
    x, hprev, cprev, ig, fg, cand, og, squashed, Wx, Wh, has_bias = cache
    dm = dh_next
    dcell = dc_next + dm * og * (1 - squashed ** 2)
    dzi = dcell * cand * ig * (1 - ig)
    dzf = dcell * cprev * fg * (1 - fg)
    dzg = dcell * ig * (1 - cand ** 2)
    dzo = dm * squashed * og * (1 - og)
    dz = np.hstack((dzi, dzf, dzg, dzo))
    dcprev = dcell * fg
    dhprev = np.dot(dz, Wh)
    dinput = np.dot(dz, Wx)
    grads = {"weight_ih": np.dot(dz.T, x), "weight_hh": np.dot(dz.T, hprev)}
    if has_bias:
        grads["bias_ih"] = dz.sum(0)
        grads["bias_hh"] = dz.sum(0)
    return dinput, dhprev, dcprev, grads


def gru_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gx = np.dot(x, weight_ih.T)
    gh = np.dot(h, weight_hh.T)
    if bias_ih is not None:
        gx = gx + bias_ih
        gh = gh + bias_hh
    xr, xz, xn = np.split(gx, 3, axis=1)
    hr, hz, hn = np.split(gh, 3, axis=1)
    reset = sig(xr + hr)
    update = sig(xz + hz)
    cand = np.tanh(xn + reset * hn)
    hnew = (1 - update) * cand + update * h
    return hnew, (x, h, reset, update, cand, hn, weight_ih, weight_hh, bias_ih is not None)


def gru_step_backward(dh_next, cache):
    x, hprev, reset, update, cand, hn, Wx, Wh, has_bias = cache
    dxn = dh_next * (1 - update) * (1 - cand ** 2)
    dr = dxn * hn * reset * (1 - reset)
    dz = dh_next * (hprev - cand) * update * (1 - update)
    d_in = np.hstack((dr, dz, dxn))
    d_rec = np.hstack((dr, dz, dxn * reset))
    dhprev = dh_next * update + np.dot(d_rec, Wh)
    dinput = np.dot(d_in, Wx)
    grads = {"weight_ih": np.dot(d_in.T, x), "weight_hh": np.dot(d_rec.T, hprev)}
    if has_bias:
        grads["bias_ih"] = d_in.sum(0)
        grads["bias_hh"] = d_rec.sum(0)
    return dinput, dhprev, grads
