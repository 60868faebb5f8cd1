"""tinyrnn.states: every step's h (and c) and gates, read from the fused forward, equal the
reference steps (tinyrnn.reference) run layer by layer and direction by direction, to 1e-12
in float64, for RNN, LSTM (with and without projection) and GRU, one and two layers, one and
two directions, batch_first, lengths, unbatched input."""

import itertools

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close
from tinyrnn import reference as ref

EQUAL = 1e-12
KEYS = {"RNN": {"h"}, "LSTM": {"h", "c", "i", "f", "g", "o"}, "GRU": {"h", "r", "z", "n"}}


def reference_states(layer, kind, x, h0, c0, lengths):
    """The list ``tinyrnn.states`` returns, from the reference steps: x (T, B, I) time-major,
    h0, c0 (L*D, B, size). Past a sequence's length the state is carried and the gates are 0."""
    T, B = x.shape[:2]
    D = layer.num_directions
    masks = [(t < lengths)[:, None] if lengths is not None else np.ones((B, 1), bool) for t in range(T)]
    result, inp = [], x
    for lay in range(layer.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{lay}" + ("_reverse" if d else "")
            w = {
                n: getattr(layer, n + sfx).data
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
                if getattr(layer, n + sfx, None) is not None
            }
            h, c = h0[lay * D + d], c0[lay * D + d] if c0 is not None else None
            rec = {k: [None] * T for k in KEYS[kind]}
            y = np.zeros((T, B, h.shape[1]))
            for t in reversed(range(T)) if d else range(T):
                m = masks[t]
                if kind == "RNN":
                    h_new, cache = ref.rnn_step(inp[t], h, **w, nonlinearity=layer.nonlinearity)
                elif kind == "GRU":
                    h_new, cache = ref.gru_step(inp[t], h, **w)
                else:
                    h_new, c_new, cache = ref.lstm_step(inp[t], h, c, **w)
                    c = np.where(m, c_new, c)
                    rec["c"][t] = c
                h = np.where(m, h_new, h)
                rec["h"][t] = h
                for gate in KEYS[kind] - {"h", "c"}:
                    rec[gate][t] = np.where(m, cache[gate], 0.0)
                y[t] = np.where(m, h, 0.0)
            result.append({k: np.stack(v) for k, v in rec.items()})
            outs.append(y)
        inp = np.concatenate(outs, axis=2)
    return result


def make(kind, num_layers, bidirectional, batch_first, proj_size, rng, I=3, H=4):
    kw = {"proj_size": proj_size} if proj_size else {}
    layer = getattr(tr, kind)(
        I,
        H,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        dtype=np.float64,
        rng=rng,
        **kw,
    )
    for p in layer.parameters():  # larger weights: gates away from 0.5
        p.data *= 3
    return layer


COMBOS = [
    (kind, L, bi, bf, lens, proj)
    for kind, L, bi, bf, lens in itertools.product(
        ("RNN", "LSTM", "GRU"), (1, 2), (False, True), (False, True), (False, True)
    )
    for proj in ((0, 2) if kind == "LSTM" else (0,))
]


@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first,with_lengths,proj_size", COMBOS)
def test_states_equal_reference_steps(kind, num_layers, bidirectional, batch_first, with_lengths, proj_size):
    rng = np.random.default_rng(
        len(COMBOS) + COMBOS.index((kind, num_layers, bidirectional, batch_first, with_lengths, proj_size))
    )
    T, B = 6, 3
    layer = make(kind, num_layers, bidirectional, batch_first, proj_size, rng)
    n, P = num_layers * layer.num_directions, proj_size or 4
    x = rng.standard_normal((T, B, 3))
    h0, c0 = 0.5 * rng.standard_normal((n, B, P)), 0.5 * rng.standard_normal((n, B, 4))
    lengths = np.array([T, 2, 4]) if with_lengths else None
    hx = (h0, c0) if kind == "LSTM" else h0
    got = tr.states(layer, x.transpose(1, 0, 2) if batch_first else x, hx, lengths=lengths)
    want = reference_states(layer, kind, x, h0, c0 if kind == "LSTM" else None, lengths)
    assert len(got) == n
    for k, (g, w) in enumerate(zip(got, want)):
        assert set(g) == KEYS[kind]
        for name in KEYS[kind]:
            ours = g[name].transpose(1, 0, 2) if batch_first else g[name]
            size = P if name == "h" else 4
            assert ours.shape == (T, B, size), (name, ours.shape)
            close(ours, w[name], np.float64, f"{kind} layer/direction {k} {name}", rtol=EQUAL)
            if with_lengths and name not in ("h", "c"):
                assert not ours[2:, 1].any() and not ours[4:, 2].any()  # padded steps: gates 0


def test_states_last_step_is_the_final_state_and_h_is_the_output():
    """The forward direction's last h and c are h_n and c_n; h of the top layer is the output
    (no lengths), in the user's layout."""
    rng = np.random.default_rng(3)
    lstm = tr.LSTM(3, 4, num_layers=2, batch_first=True, dtype=np.float64, rng=rng)
    x = rng.standard_normal((2, 5, 3))
    out, (h_n, c_n) = lstm(x)
    values = tr.states(lstm, x)
    np.testing.assert_array_equal(values[1]["h"], out)
    np.testing.assert_array_equal(values[0]["h"][:, -1], h_n[0])
    np.testing.assert_array_equal(values[1]["c"][:, -1], c_n[1])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_states_unbatched_and_float32(kind):
    rng = np.random.default_rng(4)
    layer = getattr(tr, kind)(3, 4, bidirectional=True, rng=rng)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    values = tr.states(layer, x)
    assert len(values) == 2
    for v in values:
        assert set(v) == KEYS[kind]
        for a in v.values():
            assert a.shape == (5, 4) and a.dtype == np.float32
    out, _ = layer(x)
    np.testing.assert_array_equal(np.concatenate([values[0]["h"], values[1]["h"]], axis=1), out)


def test_states_values_survive_later_calls():
    """The arrays are views of the forward's pooled arrays: a later call must not write to them."""
    rng = np.random.default_rng(5)
    gru = tr.GRU(3, 64, rng=rng)
    x = rng.standard_normal((40, 8, 3)).astype(np.float32)
    first = tr.states(gru, x)
    kept = {k: v.copy() for k, v in first[0].items()}
    for _ in range(3):
        tr.states(gru, 2 * x)
        out, _, cache = gru.forward(3 * x)
        gru.backward(np.ones_like(out), cache)
    for k, v in kept.items():
        np.testing.assert_array_equal(first[0][k], v)


def test_states_refuses_what_is_not_a_sequence_layer():
    with pytest.raises(TypeError, match="layer must be a tinyrnn RNN, LSTM or GRU, got LSTMCell"):
        tr.states(tr.LSTMCell(3, 4), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="lengths must"):
        tr.states(tr.GRU(3, 4), np.zeros((5, 2, 3), np.float32), lengths=[6, 1])
