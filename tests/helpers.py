"""Shared test helpers: random projections for gradient checks and parity tests."""

import numpy as np

from tinyrnn import gradcheck


def seq_gradcheck(layer, x, hx, lengths=None, rng=None, reseed_dropout=None):
    """Gradcheck a sequence layer with loss = sum(out * G) + sum(state_n * G_state).

    Works for RNN/GRU (single state) and LSTM (pair of states)."""
    rng = rng or np.random.default_rng(0)
    out, hn, _ = layer.forward(x, hx, lengths=lengths)
    G = rng.standard_normal(out.shape)
    is_pair = isinstance(hn, tuple)
    Gs = tuple(rng.standard_normal(s.shape) for s in hn) if is_pair else rng.standard_normal(hn.shape)

    def run(x, **states):
        if reseed_dropout is not None:
            layer.rng = np.random.default_rng(reseed_dropout)
        h = (states["h0"], states["c0"]) if is_pair else states["h0"]
        out, hn, cache = layer.forward(x, h, lengths=lengths)
        if is_pair:
            loss = (out * G).sum() + sum((a * g).sum() for a, g in zip(hn, Gs))
        else:
            loss = (out * G).sum() + (hn * Gs).sum()
        dx, dh = layer.backward(G, cache, Gs)
        grads = {"x": dx}
        if is_pair:
            grads["h0"], grads["c0"] = dh
        else:
            grads["h0"] = dh
        return loss, grads

    inputs = {"x": x}
    if is_pair:
        inputs["h0"], inputs["c0"] = hx
    else:
        inputs["h0"] = hx
    return gradcheck(run, layer, inputs)
