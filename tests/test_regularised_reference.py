"""The regularised steps of tinyrnn.reference (docs/bptt.md, "Regularised recurrences"):
recurrent dropout (R*), weight drop (W*), zoneout (Z*), layer normalisation (N*), alone and
together, for the RNN, LSTM and GRU. Each is held to central finite differences in float64, to
a loop of torch ops with the same masks (1e-10), and, with its option off or in evaluation
form, to the plain reference step."""

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close, to_t
from tinyrnn import reference as ref

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
T, B, I, H = 3, 2, 3, 4
OPTIONS = [
    (),
    ("drop",),
    ("weight_mask",),
    ("keep",),
    ("keep_eval",),
    ("ln",),
    ("drop", "weight_mask", "keep", "ln"),
    ("drop", "keep_eval", "ln"),
]
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]


def mask(rng, shape, p):
    """0 or 1/(1-p), as ``tinyrnn.nn.dropout.dropout_mask`` draws them."""
    return (rng.random(shape) >= p) / (1.0 - p)


def make_case(rng, cell, options, bias=True):
    """Weights, layer-norm parameters, states, the options dict and the loss projections."""
    G = GATES[cell] * H
    weights = {"weight_ih": 0.5 * rng.standard_normal((G, I)), "weight_hh": 0.5 * rng.standard_normal((G, H))}
    if bias:
        weights["bias_ih"], weights["bias_hh"] = 0.5 * rng.standard_normal(G), 0.5 * rng.standard_normal(G)
    opts = {}
    if "drop" in options:
        opts["drop"] = mask(rng, (B, H), 0.3)
    if "weight_mask" in options:
        opts["weight_mask"] = mask(rng, (G, H), 0.4)
    if "keep" in options:
        opts["keep"] = (rng.random((T, B, H)) < 0.3).astype(float)
        opts["keep_c"] = (rng.random((T, B, H)) < 0.4).astype(float) if cell == "lstm" else None
    if "keep_eval" in options:
        opts["keep"], opts["keep_c"] = 0.3, (0.2 if cell == "lstm" else None)
    ln = {}
    if "ln" in options:
        ln = {
            "ln_ih_weight": 1 + 0.3 * rng.standard_normal(G),
            "ln_ih_bias": 0.3 * rng.standard_normal(G),
            "ln_hh_weight": 1 + 0.3 * rng.standard_normal(G),
            "ln_hh_bias": 0.3 * rng.standard_normal(G),
        }
        if cell == "lstm":
            ln["ln_c_weight"], ln["ln_c_bias"] = 1 + 0.3 * rng.standard_normal(H), 0.3 * rng.standard_normal(H)
    states = {"h0": rng.standard_normal((B, H))}
    if cell == "lstm":
        states["c0"] = rng.standard_normal((B, H))
    x = rng.standard_normal((T, B, I))
    proj = [rng.standard_normal((T, B, H))] + [rng.standard_normal((B, H)) for _ in states]
    return x, states, weights, ln, opts, proj


def run_reference(cell, nonlinearity, opts, proj, lengths=None):
    """loss_and_grads(x, h0[, c0], **weights, **ln) for tinyrnn.gradcheck."""

    def run(x, h0, c0=None, **arrays):
        ln = {k: v for k, v in arrays.items() if k.startswith("ln_")} or None
        weights = {k: v for k, v in arrays.items() if not k.startswith("ln_")}
        state0 = (h0,) if c0 is None else (h0, c0)
        y, states_n, cache = ref.regularised_sequence(
            cell, x, state0, weights, {**opts, "ln": ln}, nonlinearity, lengths
        )
        loss = (y * proj[0]).sum() + sum((s * g).sum() for s, g in zip(states_n, proj[1:]))
        dx, dstates0, grads = ref.regularised_sequence_backward(proj[0], tuple(proj[1:]), cache)
        return loss, {"x": dx, "h0": dstates0[0], **({"c0": dstates0[1]} if c0 is not None else {}), **grads}

    return run


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "+".join(o) or "plain")
def test_regularised_loop_finite_differences(cell, nonlinearity, options):
    rng = np.random.default_rng(11)
    x, states, weights, ln, opts, proj = make_case(rng, cell, options)
    inputs = {"x": x, **states, **weights, **ln}
    report = tr.gradcheck(run_reference(cell, nonlinearity, opts, proj), None, inputs)
    assert {row.name for row in report.rows} == set(inputs)
    assert report.ok, str(report)


def test_regularised_loop_without_bias_finite_differences():
    rng = np.random.default_rng(12)
    for cell in GATES:
        x, states, weights, ln, opts, proj = make_case(rng, cell, OPTIONS[6], bias=False)
        inputs = {"x": x, **states, **weights, **ln}
        report = tr.gradcheck(run_reference(cell, "tanh", opts, proj), None, inputs)
        assert report.ok, str(report)


@pytest.mark.parametrize("cell", list(GATES))
def test_regularised_loop_with_lengths_finite_differences(cell):
    """Every option at once with unequal lengths: past its length a sequence keeps its state
    (after zoneout) and outputs zeros; its gradient passes through unchanged."""
    rng = np.random.default_rng(17)
    x, states, weights, ln, opts, proj = make_case(rng, cell, OPTIONS[6])
    lengths = np.array([T, 1])
    inputs = {"x": x, **states, **weights, **ln}
    run = run_reference(cell, "tanh", opts, proj, lengths)
    report = tr.gradcheck(run, None, inputs)
    assert report.ok, str(report)
    y, _, _ = ref.regularised_sequence(cell, x, tuple(states.values()), weights, {**opts, "ln": ln}, lengths=lengths)
    np.testing.assert_array_equal(y[1:, 1], 0)
    _, grads = run(**inputs)
    np.testing.assert_array_equal(grads["x"][1:, 1], 0)


# ---------------------------------------------------------------- torch twins
def torch_loop(torch, cell, nonlinearity, x, states, weights, ln, opts):
    """The same recurrence as a loop of torch ops, with the same masks."""
    F = torch.nn.functional
    W_ih, W_hh = weights["weight_ih"], weights["weight_hh"]
    if opts.get("weight_mask") is not None:
        W_hh = W_hh * to_t(torch, opts["weight_mask"])  # (W1)
    drop = None if opts.get("drop") is None else to_t(torch, opts["drop"])

    def keep_at(name, t):
        k = opts.get(name)
        return None if k is None else (k if np.isscalar(k) else to_t(torch, k[t]))

    def ln_(a, which):
        if not ln:
            return a
        return F.layer_norm(a, a.shape[-1:], ln[f"ln_{which}_weight"], ln[f"ln_{which}_bias"], eps=ref.LN_EPS)

    h, c = states["h0"], states.get("c0")
    ys = []
    for t in range(len(x)):
        h_in = h if drop is None else h * drop  # (R1)
        u, v = ln_(x[t] @ W_ih.T, "ih"), ln_(h_in @ W_hh.T, "hh")  # (N1)
        if "bias_ih" in weights:
            u, v = u + weights["bias_ih"], v + weights["bias_hh"]
        if cell == "rnn":
            h_new = torch.tanh(u + v) if nonlinearity == "tanh" else torch.relu(u + v)
        elif cell == "gru":
            r = torch.sigmoid(u[:, :H] + v[:, :H])
            z = torch.sigmoid(u[:, H : 2 * H] + v[:, H : 2 * H])
            n = torch.tanh(u[:, 2 * H :] + r * v[:, 2 * H :])
            h_new = (1 - z) * n + z * h
        else:
            a = u + v
            i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H : 2 * H])
            g, o = torch.tanh(a[:, 2 * H : 3 * H]), torch.sigmoid(a[:, 3 * H :])
            c_new = f * c + i * g
            h_new = o * torch.tanh(ln_(c_new, "c"))  # (N2)
            if "weight_hr" in weights:  # a projection (L5), for the layers' twins
                h_new = h_new @ weights["weight_hr"].T
            kc = keep_at("keep_c", t)
            c = c_new if kc is None else kc * c + (1 - kc) * c_new  # (Z2)
        k = keep_at("keep", t)
        h = h_new if k is None else k * h + (1 - k) * h_new  # (Z1)
        ys.append(h)
    return torch.stack(ys), (h,) if c is None else (h, c)


@pytest.mark.torch
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "+".join(o) or "plain")
def test_regularised_loop_against_torch_twin(torch, cell, nonlinearity, options):
    rng = np.random.default_rng(13)
    x, states, weights, ln, opts, proj = make_case(rng, cell, options)
    inputs = {"x": x, **states, **weights, **ln}
    loss, grads = run_reference(cell, nonlinearity, opts, proj)(**inputs)
    t_in = {k: to_t(torch, v, True) for k, v in inputs.items()}
    t_states = {k: t_in[k] for k in states}
    y, states_n = torch_loop(
        torch, cell, nonlinearity, t_in["x"], t_states, {k: t_in[k] for k in weights}, {k: t_in[k] for k in ln}, opts
    )
    tloss = (y * to_t(torch, proj[0])).sum() + sum((s * to_t(torch, g)).sum() for s, g in zip(states_n, proj[1:]))
    tloss.backward()
    close(loss, tloss, np.float64, "loss")
    assert set(grads) == set(inputs)
    for name in inputs:
        close(grads[name], t_in[name].grad, np.float64, name)


# ---------------------------------------------------------------- options off, evaluation form
def plain_step(cell, x, states, weights):
    if cell == "rnn":
        h1, cache = ref.rnn_step(x, states[0], **weights)
        return (h1,), cache
    if cell == "gru":
        h1, cache = ref.gru_step(x, states[0], **weights)
        return (h1,), cache
    h1, c1, cache = ref.lstm_step(x, *states, **weights)
    return (h1, c1), cache


def plain_back(cell, dstates, cache):
    back = {"rnn": ref.rnn_step_backward, "gru": ref.gru_step_backward, "lstm": ref.lstm_step_backward}[cell]
    dx, *ds, grads = back(*dstates, cache)
    return dx, ds, grads


REGULARISED = {
    "rnn": (ref.rnn_step_regularised, ref.rnn_step_regularised_backward),
    "lstm": (ref.lstm_step_regularised, ref.lstm_step_regularised_backward),
    "gru": (ref.gru_step_regularised, ref.gru_step_regularised_backward),
}


@pytest.mark.parametrize("cell", list(GATES))
def test_options_at_p_zero_equal_the_plain_step_exactly(cell):
    """Masks of ones (p = 0) and zoneout 0 give exactly the plain step, forward and backward."""
    rng = np.random.default_rng(14)
    x, states, weights, _, _, _ = make_case(rng, cell, ())
    s0 = tuple(states[k][:B] for k in states)
    G = GATES[cell] * H
    kw = dict(drop=np.ones((B, H)), weight_mask=np.ones((G, H)), keep=0.0)
    if cell == "lstm":
        kw["keep_c"] = 0.0
    fwd, back = REGULARISED[cell]
    *s1, cache = fwd(x[0], *s0, **weights, **kw)
    p1, pcache = plain_step(cell, x[0], s0, weights)
    for a, b in zip(s1, p1):
        np.testing.assert_array_equal(a, b)
    dstates = tuple(rng.standard_normal((B, H)) for _ in s0)
    dx, *ds, grads = back(*dstates, cache)
    pdx, pds, pgrads = plain_back(cell, dstates, pcache)
    np.testing.assert_array_equal(dx, pdx)
    for a, b in zip(ds, pds):
        np.testing.assert_array_equal(a, b)
    assert set(grads) == set(pgrads)
    for name in grads:
        np.testing.assert_array_equal(grads[name], pgrads[name])


@pytest.mark.parametrize("cell", list(GATES))
def test_zoneout_in_evaluation_is_the_expectation(cell):
    """keep = p: h_t = p h_{t-1} + (1 - p) h_new (and c likewise), h_new from the plain step;
    and the average over many drawn masks approaches it."""
    rng = np.random.default_rng(15)
    x, states, weights, _, _, _ = make_case(rng, cell, ())
    s0 = tuple(states.values())
    p, pc = 0.3, 0.6
    fwd = REGULARISED[cell][0]
    kw = {"keep_c": pc} if cell == "lstm" else {}
    *s1, _ = fwd(x[0], *s0, **weights, keep=p, **kw)
    p1, _ = plain_step(cell, x[0], s0, weights)
    np.testing.assert_allclose(s1[0], p * s0[0] + (1 - p) * p1[0], rtol=1e-15, atol=1e-15)
    if cell == "lstm":
        np.testing.assert_allclose(s1[1], pc * s0[1] + (1 - pc) * p1[1], rtol=1e-15, atol=1e-15)
    draws = [
        fwd(
            x[0],
            *s0,
            **weights,
            keep=(rng.random((B, H)) < p).astype(float),
            **({"keep_c": (rng.random((B, H)) < pc).astype(float)} if cell == "lstm" else {}),
        )[0]
        for _ in range(4000)
    ]
    assert np.abs(np.mean(draws, axis=0) - s1[0]).max() < 0.05


def test_layer_norm_normalises_over_the_features():
    rng = np.random.default_rng(16)
    a = 3 + 2 * rng.standard_normal((5, 8))
    y, _ = ref.layer_norm(a, np.ones(8), np.zeros(8))
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-4)  # eps = 1e-5 under the root
