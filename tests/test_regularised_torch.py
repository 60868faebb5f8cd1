"""The regularised layers against PyTorch autograd: ``RNN``, ``LSTM`` and ``GRU`` with
``recurrent_dropout`` (docs/bptt.md (R1)-(R3)), ``weight_drop`` ((W1)-(W2)) and ``zoneout``
((Z1)-(Z4)), each as a loop of ``torch`` ops written here (torch has none of them) that uses
the very masks the layer drew, read from the layer's cache. Outputs, final states and every
gradient (parameters, x, the initial states) to 1e-10 in float64; one layer, and two
bidirectional layers with dropout between them and unequal ``lengths``."""

import numpy as np
import pytest

from helpers import close, to_t
from test_regularised_layers import make, projections

KINDS = ["RNN", "LSTM", "GRU"]
OPTIONS = [
    {"recurrent_dropout": 0.4},
    {"zoneout": 0.3},
    {"weight_drop": 0.35},
    {"recurrent_dropout": 0.4, "zoneout": 0.3, "weight_drop": 0.25},
]
OPTION_IDS = ["recurrent_dropout", "zoneout", "weight_drop", "all-three"]
CONFIGS = [
    ({}, None),
    ({"num_layers": 2, "bidirectional": True, "dropout": 0.3}, [5, 2, 4]),
]
CONFIG_IDS = ["one-layer", "two-layers-bidirectional-lengths"]


def torch_step(torch, kind, layer, x_t, h, c, w, drop):
    """One step before zoneout, (1)-(2), (L1)-(L5), (G1)-(G3), with h~ = h * drop (R1) in the
    recurrent product and W~_hh (W1) in ``w``: the new h^ (and c^)."""
    h_in = h if drop is None else h * drop  # (R1)
    u = x_t @ w["weight_ih"].T + w["bias_ih"]
    v = h_in @ w["weight_hh"].T + w["bias_hh"]
    if kind == "RNN":
        return (torch.tanh if layer.nonlinearity == "tanh" else torch.relu)(u + v), None
    H = layer.hidden_size
    if kind == "GRU":
        r = torch.sigmoid(u[:, :H] + v[:, :H])
        z = torch.sigmoid(u[:, H : 2 * H] + v[:, H : 2 * H])
        n = torch.tanh(u[:, 2 * H :] + r * v[:, 2 * H :])
        return (1 - z) * n + z * h, None  # (G3) mixes the undropped h
    a = u + v
    i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H : 2 * H])
    g, o = torch.tanh(a[:, 2 * H : 3 * H]), torch.sigmoid(a[:, 3 * H :])
    c_new = f * c + i * g
    m = o * torch.tanh(c_new)
    return (m if "weight_hr" not in w else m @ w["weight_hr"].T), c_new


def torch_layer(torch, layer, params, cache, x, states0, lengths):
    """The layer as a loop of torch ops with the masks of ``cache`` and the parameters
    ``params`` (tensors by name); x (T, B, I) and states0 (L*D, B, size) tensors; returns out (T, B, D*P) and the final states, each (L*D, B, size)."""
    kind, D, T, B = type(layer).__name__, layer.num_directions, x.shape[0], x.shape[1]
    lengths = [T] * B if lengths is None else lengths
    live = torch.tensor(np.arange(T)[:, None, None] < np.asarray(lengths)[None, :, None])  # (T, B, 1)
    finals = [[None] * (layer.num_layers * D) for _ in states0]
    inp = x
    for l, lc in enumerate(cache.layers):
        if lc.drop is not None:
            inp = inp * to_t(torch, lc.drop)  # dropout between layers
        outs = []
        for d, kc in enumerate(lc.kcaches):
            idx, sfx = l * D + d, layer._suffix(l, d)
            w = {
                name: params[name + sfx]
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
                if name + sfx in params
            }
            if cache.weight_masks is not None:
                w["weight_hh"] = w["weight_hh"] * to_t(torch, cache.weight_masks[idx])  # (W1)
            drop = None if kc.drop is None else to_t(torch, kc.drop)
            keeps = (None, None) if kc.keep is None else tuple(kc.keep) + (None,) * (2 - len(kc.keep))
            h = states0[0][idx]
            c = states0[1][idx] if kind == "LSTM" else None
            ys = [None] * T
            for t in range(T - 1, -1, -1) if d == 1 else range(T):
                h_new, c_new = torch_step(torch, kind, layer, inp[t], h, c, w, drop)
                k, k_c = (None if k is None else (k if np.isscalar(k) else to_t(torch, k[t] * 1.0)) for k in keeps)
                if k is not None:
                    h_new = k * h + (1 - k) * h_new  # (Z1)
                if k_c is not None:
                    c_new = k_c * c + (1 - k_c) * c_new  # (Z2)
                h = torch.where(live[t], h_new, h)  # a finished sequence keeps its state
                if c is not None:
                    c = torch.where(live[t], c_new, c)
                ys[t] = h * live[t]
            outs.append(torch.stack(ys))
            finals[0][idx] = h
            if c is not None:
                finals[1][idx] = c
        inp = torch.cat(outs, dim=2)
    return inp, tuple(torch.stack(f) for f in finals)


@pytest.mark.torch
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("extra,lengths", CONFIGS, ids=CONFIG_IDS)
def test_layer_equals_a_torch_loop_with_the_same_masks(torch, kind, options, extra, lengths):
    layer = make(kind, seed=3, **extra, **options)
    check_against_torch(torch, layer, lengths)


@pytest.mark.torch
@pytest.mark.parametrize(
    "kind,extra",
    [("RNN", {"nonlinearity": "relu"}), ("LSTM", {"proj_size": 2}), ("LSTM", {"batch_first": True})],
    ids=["rnn-relu", "lstm-projection", "lstm-batch-first"],
)
def test_all_three_options_against_torch_in_other_configurations(torch, kind, extra):
    layer = make(kind, seed=4, num_layers=2, bidirectional=True, **extra, **OPTIONS[-1])
    check_against_torch(torch, layer, [5, 3, 1])


@pytest.mark.torch
@pytest.mark.parametrize("kind", KINDS)
def test_zoneout_in_evaluation_against_torch(torch, kind):
    """eval(): the expectation p h_{t-1} + (1 - p) h^, no mask, differentiated by torch too."""
    layer = make(kind, seed=5, num_layers=2, bidirectional=True, zoneout=0.3).eval()
    check_against_torch(torch, layer, [5, 2, 4])


def check_against_torch(torch, layer, lengths):
    kind, T, B = type(layer).__name__, 5, 3
    rng = np.random.default_rng(7)
    n = layer.num_layers * layer.num_directions
    x = rng.standard_normal((T, B, layer.input_size))
    s0 = tuple(rng.standard_normal((n, B, s)) for s in layer._state_sizes())
    xu = x.transpose(1, 0, 2) if layer.batch_first else x
    out, state_n, cache = layer.forward(xu, s0 if kind == "LSTM" else s0[0], lengths=lengths)
    G, Gs = projections(layer, out, state_n, rng)
    layer.zero_grad()
    dx, dstate0 = layer.backward(G, cache, Gs)
    masks = [kc for lc in cache.layers for kc in lc.kcaches]
    if layer.training:  # the masks are there, and not all ones or all zeros
        for name in ("recurrent_dropout", "zoneout"):
            if getattr(layer, name):
                drawn = [kc.drop if name == "recurrent_dropout" else kc.keep[0] for kc in masks]
                assert all(0 < (m == 0).sum() < m.size for m in drawn), name
    params = {name: to_t(torch, p.data, True) for name, p in layer.named_parameters()}
    tx, ts0 = to_t(torch, x, True), tuple(to_t(torch, s, True) for s in s0)
    tout, tfinals = torch_layer(torch, layer, params, cache, tx, ts0, lengths)
    tm = (lambda a: a.transpose(1, 0, 2)) if layer.batch_first else (lambda a: a)
    gs = Gs if isinstance(Gs, tuple) else (Gs,)
    loss = (tout * to_t(torch, tm(G))).sum() + sum((f * to_t(torch, g)).sum() for f, g in zip(tfinals, gs))
    loss.backward()
    close(tm(out), tout, np.float64, "out")
    for a, b in zip(state_n if isinstance(state_n, tuple) else (state_n,), tfinals):
        close(a, b, np.float64, "state_n")
    close(tm(dx), tx.grad, np.float64, "dx")
    for a, b in zip(dstate0 if isinstance(dstate0, tuple) else (dstate0,), ts0):
        close(a, b.grad, np.float64, "dstate0")
    for name, p in layer.named_parameters():
        close(p.grad, params[name].grad, np.float64, name)
