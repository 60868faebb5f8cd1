"""Float64 finite-difference checks of RNN over the full option grid: every parameter element,
dx and dh0, with a loss that projects both out and h_n on random arrays."""

import itertools

import numpy as np
import pytest

import tinyrnn as tr
from helpers import seq_gradcheck

GRID = list(
    itertools.product([1, 2], [False, True], [False, True], [False, True], ["tanh", "relu", "sigmoid", "identity"])
)


def _make(num_layers, bidirectional, batch_first, bias, nonlinearity, seed=0, **kw):
    return tr.RNN(
        3,
        4,
        num_layers=num_layers,
        nonlinearity=nonlinearity,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=np.float64,
        rng=np.random.default_rng(seed),
        **kw,
    )


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,nonlinearity", GRID)
def test_rnn_gradcheck_grid(num_layers, bidirectional, batch_first, bias, nonlinearity):
    rng = np.random.default_rng(7)
    rnn = _make(num_layers, bidirectional, batch_first, bias, nonlinearity)
    T, B = 4, 2
    x = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3))
    h0 = rng.standard_normal((num_layers * (2 if bidirectional else 1), B, 4)) * 0.5
    report = seq_gradcheck(rnn, x, h0, rng=rng)
    assert report.ok, str(report)
    names = {r.name for r in report.rows}
    assert {"x", "h0", "weight_hh_l0"} <= names
    assert len(report.rows) == len(list(rnn.parameters())) + 2


@pytest.mark.parametrize(
    "num_layers,bidirectional,batch_first", list(itertools.product([1, 2], [False, True], [False, True]))
)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_gradcheck_lengths(num_layers, bidirectional, batch_first, nonlinearity):
    rng = np.random.default_rng(3)
    rnn = _make(num_layers, bidirectional, batch_first, True, nonlinearity)
    T, B = 5, 3
    x = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3))
    h0 = rng.standard_normal((num_layers * (2 if bidirectional else 1), B, 4)) * 0.5
    report = seq_gradcheck(rnn, x, h0, lengths=[2, 5, 1], rng=rng)
    assert report.ok, str(report)


def test_rnn_gradcheck_unbatched():
    rng = np.random.default_rng(5)
    rnn = _make(2, True, False, True, "tanh")
    report = seq_gradcheck(rnn, rng.standard_normal((4, 3)), rng.standard_normal((4, 4)), rng=rng)
    assert report.ok, str(report)


def test_rnn_gradcheck_with_dropout():
    """The dropout mask is drawn from rnn.rng; reseeding it makes every evaluation use the same mask."""
    rng = np.random.default_rng(11)
    rnn = _make(2, False, False, True, "tanh", dropout=0.5)
    rnn.train()
    x, h0 = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 2, 4))
    report = seq_gradcheck(rnn, x, h0, rng=rng, reseed_dropout=99)
    assert report.ok, str(report)


def test_many_to_one_dout_none():
    """Only h_n carries a loss (many-to-one): dout=None must mean zeros."""
    rng = np.random.default_rng(2)
    rnn = _make(1, False, False, True, "tanh")
    x, h0 = rng.standard_normal((6, 2, 3)), rng.standard_normal((1, 2, 4))
    Gh = rng.standard_normal((1, 2, 4))

    def run(x, h0):
        _, hn, cache = rnn.forward(x, h0)
        dx, dh0 = rnn.backward(None, cache, Gh)
        return (hn * Gh).sum(), {"x": dx, "h0": dh0}

    report = tr.gradcheck(run, rnn, {"x": x, "h0": h0})
    assert report.ok, str(report)


def test_bptt_reaches_every_step():
    """The gradient of a loss on the LAST output reaches the FIRST input (full BPTT, not last-step only)."""
    rng = np.random.default_rng(0)
    rnn = _make(1, False, False, True, "tanh")
    x = rng.standard_normal((6, 1, 3))
    out, _, cache = rnn.forward(x)
    dout = np.zeros_like(out)
    dout[-1] = 1.0
    dx, _ = rnn.backward(dout, cache)
    assert np.abs(dx[0]).sum() > 0
