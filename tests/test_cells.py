"""The cells are tinyrnn.reference's steps behind the library contract: same numbers as the
step, their own Parameters under PyTorch's names (a replaced one is used), unbatched input,
dtype, seeded initialisation as the sequence layers', one clear line for a wrong gradient shape.
(Parity with torch's cells and finite differences: test_torch_parity*.py, test_gradcheck_*.py.)"""

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import reference as ref

KINDS = [("RNNCell", "RNN"), ("LSTMCell", "LSTM"), ("GRUCell", "GRU")]


def make(kind, dtype=np.float64, seed=0, **kw):
    return getattr(tr, kind)(3, 4, dtype=dtype, rng=np.random.default_rng(seed), **kw)


def step_args(rng, kind, B=2):
    x, h, c = rng.standard_normal((B, 3)), rng.standard_normal((B, 4)), rng.standard_normal((B, 4))
    return x, ((h, c) if kind == "LSTMCell" else h)


def run_reference(kind, cell, x, hx):
    w = ref.layer_weights(cell)
    if kind == "LSTMCell":
        h1, c1, _ = ref.lstm_step(x, hx[0], hx[1], **w)
        return h1, c1
    if kind == "GRUCell":
        return (ref.gru_step(x, hx, **w)[0],)
    return (ref.rnn_step(x, hx, **w, nonlinearity=cell.nonlinearity)[0],)


@pytest.mark.parametrize("kind,layer", KINDS)
def test_cell_computes_the_reference_step(kind, layer):
    rng = np.random.default_rng(1)
    cell = make(kind)
    x, hx = step_args(rng, kind)
    out = cell(x, hx)
    for a, b in zip(out if kind == "LSTMCell" else (out,), run_reference(kind, cell, x, hx)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind,layer", KINDS)
def test_cell_parameters_are_pytorch_names_and_seeded_like_the_layer(kind, layer):
    cell, seq = make(kind, seed=3), getattr(tr, layer)(3, 4, dtype=np.float64, rng=np.random.default_rng(3))
    sd = cell.state_dict()
    assert list(sd) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    for name, value in sd.items():
        np.testing.assert_array_equal(value, seq.state_dict()[name + "_l0"])
    assert list(make(kind, bias=False).state_dict()) == ["weight_ih", "weight_hh"]


@pytest.mark.parametrize("kind,layer", KINDS)
def test_replaced_parameter_is_used(kind, layer):
    rng = np.random.default_rng(2)
    cell = make(kind)
    x, hx = step_args(rng, kind)
    new = tr.Parameter(np.zeros_like(cell.weight_ih.data))
    cell.weight_ih = new
    assert dict(cell.named_parameters())["weight_ih"] is new
    out, cache = cell.forward(x, hx)
    out0, _ = cell.forward(np.zeros_like(x), hx)
    for a, b in zip(out if kind == "LSTMCell" else (out,), out0 if kind == "LSTMCell" else (out0,)):
        np.testing.assert_array_equal(a, b)  # W_ih = 0: x does not matter any more
    G = np.ones((2, 4))
    cell.backward((G, G) if kind == "LSTMCell" else G, cache)
    assert np.abs(new.grad).sum() > 0


@pytest.mark.parametrize("kind,layer", KINDS)
def test_unbatched_and_dtype(kind, layer):
    rng = np.random.default_rng(4)
    cell = make(kind, dtype=np.float32)
    x, hx = step_args(rng, kind, B=1)
    out_b, cache_b = cell.forward(x, hx)
    hx1 = tuple(s[0] for s in hx) if kind == "LSTMCell" else hx[0]
    out_u, cache_u = cell.forward(x[0], hx1)
    pair = kind == "LSTMCell"
    for a, b in zip(out_u if pair else (out_u,), out_b if pair else (out_b,)):
        assert a.dtype == np.float32 and a.shape == (4,)
        np.testing.assert_array_equal(a, b[0])
    G = rng.standard_normal(4)
    dx_u, dh_u = cell.backward((G, G) if pair else G, cache_u)
    dx_b, dh_b = cell.backward((G[None], G[None]) if pair else G[None], cache_b)
    assert dx_u.shape == (3,) and dx_u.dtype == np.float32
    np.testing.assert_array_equal(dx_u, dx_b[0])
    cell.to(np.float64)
    assert cell(x, hx)[0].dtype == np.float64 and cell.config["dtype"] == "float64"


def test_cell_backward_names_a_wrong_gradient():
    cell = tr.LSTMCell(3, 4)
    (h1, c1), cache = cell.forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"dc1 must have shape \(2, 4\)"):
        cell.backward((h1, np.zeros((3, 4), np.float32)), cache)
    with pytest.raises(TypeError, match=r"dhx must be a pair \(dh1, dc1\)"):
        cell.backward(h1, cache)
    with pytest.raises(TypeError, match="cache must be the second value returned by forward"):
        tr.GRUCell(3, 4).backward(h1, object())
    dx, (dh, dc) = cell.backward((None, c1), cache)  # None: no gradient reaches h1
    assert dx.shape == (2, 3) and dh.shape == dc.shape == (2, 4)


def test_cell_checks_finiteness_cheaply_and_exactly():
    """The quick check (the sum is finite) never lets NaN/inf through, and a finite input whose
    sum overflows is still accepted (checked element by element)."""
    cell = tr.GRUCell(2, 3)
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        cell(np.array([[0.0, np.nan]], np.float32))
    with pytest.raises(ValueError, match="h contains NaN or inf"):
        cell(np.zeros((1, 2), np.float32), np.array([[0.0, np.inf, 1.0]], np.float32))
    big = np.full((1, 2), 3e38, np.float32)  # finite, but the sum is inf
    with np.errstate(over="ignore", invalid="ignore"):
        assert cell(big).shape == (1, 3)
    lstm = tr.LSTMCell(2, 3)
    with pytest.raises(ValueError, match="c contains NaN or inf"):
        lstm(np.zeros((1, 2), np.float32), (None, np.full((1, 3), np.nan, np.float32)))
