"""tinyrnn.reference, the textbook steps a learner reads first, is (a) right: every step's
backward against central finite differences and against torch.nn.RNNCell / LSTMCell / GRUCell
autograd, and (b) what the fast layers compute: the fused RNN (every nonlinearity), LSTM and
GRU, one layer and one direction, with and without ``lengths``, equal the reference loops to
1e-12 relative in float64 (outputs, final states, dx, initial-state and parameter gradients)."""

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close, to_t
from tinyrnn import reference as ref

EQUAL = 1e-12  # fused layer vs reference loop, relative to each tensor's scale
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def random_sizes(rng):
    T, B, I, H = (int(v) for v in rng.integers([1, 1, 1, 1], [9, 5, 7, 8]))
    return T, B, I, H


def random_lengths(rng, T, B):
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T  # the layer's T is the longest sequence
    return lengths


# ---------------------------------------------------------------- fused layer == reference loop
CASES = [("RNN", "tanh"), ("RNN", "relu"), ("RNN", "sigmoid"), ("RNN", "identity"), ("LSTM", None), ("GRU", None)]


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fused_layer_equals_reference_loop(kind, nonlinearity, with_lengths, bias, seed):
    rng = np.random.default_rng(100 + seed)
    T, B, I, H = random_sizes(rng)
    kw = {"nonlinearity": nonlinearity} if nonlinearity else {}
    layer = getattr(tr, kind)(I, H, bias=bias, dtype=np.float64, rng=rng, **kw)
    x = rng.standard_normal((T, B, I))
    h0, c0 = 0.5 * rng.standard_normal((1, B, H)), 0.5 * rng.standard_normal((1, B, H))
    lengths = random_lengths(rng, T, B) if with_lengths else None
    G, Gh, Gc = rng.standard_normal((T, B, H)), rng.standard_normal((1, B, H)), rng.standard_normal((1, B, H))
    weights = ref.layer_weights(layer)
    assert set(weights) == set(NAMES[: 4 if bias else 2])

    lstm = kind == "LSTM"
    out, state_n, cache = layer.forward(x, (h0, c0) if lstm else h0, lengths=lengths)
    dx, dstate0 = layer.backward(G, cache, (Gh, Gc) if lstm else Gh)
    if kind == "RNN":
        y, h_n, rc = ref.rnn_sequence(x, h0[0], weights, nonlinearity, lengths)
        rdx, rdh0, grads = ref.rnn_sequence_backward(G, Gh[0], rc)
        pairs = [(state_n[0], h_n, "h_n"), (dstate0[0], rdh0, "dh0")]
    elif kind == "GRU":
        y, h_n, rc = ref.gru_sequence(x, h0[0], weights, lengths)
        rdx, rdh0, grads = ref.gru_sequence_backward(G, Gh[0], rc)
        pairs = [(state_n[0], h_n, "h_n"), (dstate0[0], rdh0, "dh0")]
    else:
        y, h_n, c_n, rc = ref.lstm_sequence(x, h0[0], c0[0], weights, lengths)
        rdx, rdh0, rdc0, grads = ref.lstm_sequence_backward(G, Gh[0], Gc[0], rc)
        pairs = [
            (state_n[0][0], h_n, "h_n"),
            (state_n[1][0], c_n, "c_n"),
            (dstate0[0][0], rdh0, "dh0"),
            (dstate0[1][0], rdc0, "dc0"),
        ]
    pairs += [(out, y, "out"), (dx, rdx, "dx")]
    pairs += [(getattr(layer, name + "_l0").grad, grads[name], name) for name in grads]
    assert len(grads) == len(list(layer.parameters()))
    for ours, theirs, what in pairs:
        close(ours, theirs, np.float64, f"{kind} {what}", rtol=EQUAL)


def test_reference_loop_masks_like_packed_sequences():
    """Past its length a sequence keeps its state and outputs zeros; its gradient passes
    through unchanged (a reference loop on the shorter sequence alone gives the same numbers)."""
    rng = np.random.default_rng(5)
    w = ref.layer_weights(tr.GRU(3, 4, dtype=np.float64, rng=rng))
    x, h0 = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 4))
    y, h_n, cache = ref.gru_sequence(x, h0, w, lengths=[6, 2])
    y1, h1, cache1 = ref.gru_sequence(x[:2, 1:], h0[1:], w)
    np.testing.assert_array_equal(y[2:, 1], 0)
    np.testing.assert_allclose(y[:2, 1:], y1, rtol=1e-13)  # a product over B=1 rounds differently
    np.testing.assert_allclose(h_n[1:], h1, rtol=1e-13)
    dy, dh_n = rng.standard_normal((6, 2, 4)), rng.standard_normal((2, 4))
    dx, dh0, _ = ref.gru_sequence_backward(dy, dh_n, cache)
    dx1, dh01, _ = ref.gru_sequence_backward(dy[:2, 1:], dh_n[1:], cache1)
    np.testing.assert_array_equal(dx[2:, 1], 0)
    np.testing.assert_allclose(dx[:2, 1:], dx1, rtol=1e-13)
    np.testing.assert_allclose(dh0[1:], dh01, rtol=1e-13)


def test_layer_weights_refuses_what_the_loops_do_not_compute():
    for layer in (tr.RNN(2, 3, num_layers=2), tr.GRU(2, 3, bidirectional=True), tr.LSTM(2, 3, num_layers=2)):
        with pytest.raises(ValueError, match="one-layer, one-direction layer"):
            ref.layer_weights(layer)


@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_fused_lstm_with_projection_equals_reference_loop(with_lengths, seed):
    """(L5), (L6) and dW_hr of (L10): the fused LSTM with proj_size against the reference loop."""
    rng = np.random.default_rng(300 + seed)
    T, B, I, H = 6, 3, 4, 5
    layer = tr.LSTM(I, H, proj_size=3, dtype=np.float64, rng=rng)
    x = rng.standard_normal((T, B, I))
    h0, c0 = 0.5 * rng.standard_normal((1, B, 3)), 0.5 * rng.standard_normal((1, B, H))
    lengths = random_lengths(rng, T, B) if with_lengths else None
    G, Gh, Gc = rng.standard_normal((T, B, 3)), rng.standard_normal((1, B, 3)), rng.standard_normal((1, B, H))
    weights = ref.layer_weights(layer)
    assert set(weights) == {*NAMES, "weight_hr"}
    out, (h_n, c_n), cache = layer.forward(x, (h0, c0), lengths=lengths)
    dx, (dh0, dc0) = layer.backward(G, cache, (Gh, Gc))
    y, rh_n, rc_n, rc = ref.lstm_sequence(x, h0[0], c0[0], weights, lengths)
    rdx, rdh0, rdc0, grads = ref.lstm_sequence_backward(G, Gh[0], Gc[0], rc)
    pairs = [
        (out, y, "out"),
        (h_n[0], rh_n, "h_n"),
        (c_n[0], rc_n, "c_n"),
        (dx, rdx, "dx"),
        (dh0[0], rdh0, "dh0"),
        (dc0[0], rdc0, "dc0"),
    ]
    pairs += [(getattr(layer, name + "_l0").grad, grads[name], name) for name in grads]
    assert len(grads) == len(list(layer.parameters()))
    for ours, theirs, what in pairs:
        close(ours, theirs, np.float64, f"LSTM proj {what}", rtol=EQUAL)


# ---------------------------------------------------------------- the steps: finite differences
def step_inputs(rng, gates, bias, B=2, I=3, H=4, proj=0):
    P = proj or H  # size of h: proj_size with a projection
    arrays = {
        "x": rng.standard_normal((B, I)),
        "h": rng.standard_normal((B, P)),
        "c": rng.standard_normal((B, H)),
        "weight_ih": 0.5 * rng.standard_normal((gates * H, I)),
        "weight_hh": 0.5 * rng.standard_normal((gates * H, P)),
    }
    if bias:
        arrays["bias_ih"] = 0.5 * rng.standard_normal(gates * H)
        arrays["bias_hh"] = 0.5 * rng.standard_normal(gates * H)
    if proj:
        arrays["weight_hr"] = 0.5 * rng.standard_normal((P, H))
    return arrays


def run_step(kind, nonlinearity, G, Gc):
    """loss = sum(h_next * G) (+ sum(c_next * Gc)) and its gradients from the reference backward."""

    def run(x, h, c=None, **w):
        if kind == "lstm":
            h1, c1, cache = ref.lstm_step(x, h, c, **w)
            dx, dh, dc, grads = ref.lstm_step_backward(G, Gc, cache)
            return (h1 * G).sum() + (c1 * Gc).sum(), {"x": dx, "h": dh, "c": dc, **grads}
        if kind == "gru":
            h1, cache = ref.gru_step(x, h, **w)
            dx, dh, grads = ref.gru_step_backward(G, cache)
        else:
            h1, cache = ref.rnn_step(x, h, **w, nonlinearity=nonlinearity)
            dx, dh, grads = ref.rnn_step_backward(G, cache)
        return (h1 * G).sum(), {"x": dx, "h": dh, **grads}

    return run


STEPS = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("rnn", "identity"), ("lstm", None), ("gru", None)]
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


@pytest.mark.parametrize("kind,nonlinearity", STEPS)
@pytest.mark.parametrize("bias", [True, False])
def test_reference_step_finite_differences(kind, nonlinearity, bias):
    rng = np.random.default_rng(7)
    inputs = step_inputs(rng, GATES[kind], bias)
    G, Gc = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    if kind != "lstm":
        inputs.pop("c")  # only the LSTM has a cell state to check
    report = tr.gradcheck(run_step(kind, nonlinearity, G, Gc), None, inputs)
    checked = {row.name for row in report.rows}
    assert checked == set(inputs), checked
    assert report.ok, str(report)


@pytest.mark.parametrize("bias", [True, False])
def test_reference_lstm_step_with_projection_finite_differences(bias):
    rng = np.random.default_rng(17)
    inputs = step_inputs(rng, 4, bias, proj=3)
    G, Gc = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    report = tr.gradcheck(run_step("lstm", None, G, Gc), None, inputs)
    assert {row.name for row in report.rows} == set(inputs)
    assert report.ok, str(report)


@pytest.mark.torch
def test_reference_lstm_step_with_projection_against_torch(torch):
    """One step of torch.nn.LSTM(proj_size=3) (T = 1) and its autograd, same weights."""
    rng = np.random.default_rng(18)
    a = step_inputs(rng, 4, True, proj=3)
    G, Gc = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    lstm = torch.nn.LSTM(3, 4, proj_size=3, dtype=torch.float64)
    lstm.load_state_dict({k + "_l0": torch.from_numpy(a[k]) for k in (*NAMES, "weight_hr")})
    xt, ht, ct = (to_t(torch, a[k], True) for k in ("x", "h", "c"))
    _, (h1, c1) = lstm(xt[None], (ht[None], ct[None]))
    tloss = (h1[0] * to_t(torch, G)).sum() + (c1[0] * to_t(torch, Gc)).sum()
    tloss.backward()
    weights = {k: a[k] for k in (*NAMES, "weight_hr")}
    loss, grads = run_step("lstm", None, G, Gc)(a["x"], a["h"], a["c"], **weights)
    close(loss, tloss, np.float64, "loss")
    for name, tensor in (("x", xt), ("h", ht), ("c", ct)):
        close(grads[name], tensor.grad, np.float64, "d" + name)
    for name in weights:
        close(grads[name], getattr(lstm, name + "_l0").grad, np.float64, name)


# ---------------------------------------------------------------- the steps: torch autograd
@pytest.mark.torch
@pytest.mark.parametrize("kind,nonlinearity", [s for s in STEPS if s[1] in (None, "tanh", "relu")])
@pytest.mark.parametrize("bias", [True, False])
def test_reference_step_against_torch_cells(torch, kind, nonlinearity, bias):
    rng = np.random.default_rng(8)
    a = step_inputs(rng, GATES[kind], bias)
    G, Gc = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    kw = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    cell = getattr(torch.nn, {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}[kind])(
        3, 4, bias=bias, dtype=torch.float64, **kw
    )
    cell.load_state_dict({k: torch.from_numpy(a[k]) for k in NAMES if k in a})
    xt, ht, ct = (to_t(torch, a[k], True) for k in ("x", "h", "c"))
    weights = {k: a[k] for k in NAMES if k in a}
    loss, grads = run_step(kind, nonlinearity, G, Gc)(a["x"], a["h"], a["c"], **weights)
    if kind == "lstm":
        h1, c1 = cell(xt, (ht, ct))
        tloss = (h1 * to_t(torch, G)).sum() + (c1 * to_t(torch, Gc)).sum()
    else:
        tloss = (cell(xt, ht) * to_t(torch, G)).sum()
    tloss.backward()
    close(loss, tloss, np.float64, "loss")
    close(grads["x"], xt.grad, np.float64, "dx")
    close(grads["h"], ht.grad, np.float64, "dh")
    if kind == "lstm":
        close(grads["c"], ct.grad, np.float64, "dc")
    tgrads = dict(cell.named_parameters())
    assert set(tgrads) == set(weights)
    for name in weights:
        close(grads[name], tgrads[name].grad, np.float64, name)


# ---------------------------------------------------------------- the steps: user mistakes
def test_reference_step_names_a_wrong_shape():
    rng = np.random.default_rng(9)
    a = step_inputs(rng, 4, True)
    with pytest.raises(ValueError, match=r"lstm_step: c must have shape \(2, 4\) .* got \(3, 4\)"):
        ref.lstm_step(a["x"], a["h"], np.zeros((3, 4)), a["weight_ih"], a["weight_hh"], a["bias_ih"], a["bias_hh"])
    with pytest.raises(ValueError, match=r"gru_step: weight_ih must have shape \(12, 3\)"):
        ref.gru_step(a["x"], a["h"], a["weight_ih"], a["weight_hh"][:12])
    with pytest.raises(ValueError, match="rnn_step: nonlinearity must be one of"):
        ref.rnn_step(a["x"], a["h"], a["weight_ih"][:4], a["weight_hh"][:4], nonlinearity="softplus")
    with pytest.raises(ValueError, match="give both bias_ih and bias_hh"):
        ref.rnn_step(a["x"], a["h"], a["weight_ih"][:4], a["weight_hh"][:4], bias_ih=a["bias_ih"][:4])
