"""Float64 finite-difference checks of LSTM and GRU over num_layers x bidirectional x
batch_first x bias, with and without lengths, LSTM also with proj_size; and the cells."""

import itertools

import numpy as np
import pytest

import tinyrnn as tr
from helpers import seq_gradcheck

GRID = list(itertools.product([1, 2], [False, True], [False, True], [False, True], [False, True]))


def _run(cls, num_layers, bidirectional, batch_first, bias, with_lengths, **kw):
    rng = np.random.default_rng(17)
    layer = cls(
        2,
        3,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=np.float64,
        rng=np.random.default_rng(0),
        **kw,
    )
    T, B = 4, 3
    D = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, 2) if batch_first else (T, B, 2))
    hsize = kw.get("proj_size") or 3
    h0 = rng.standard_normal((num_layers * D, B, hsize)) * 0.5
    hx = (h0, rng.standard_normal((num_layers * D, B, 3)) * 0.5) if cls is tr.LSTM else h0
    lengths = np.array([2, 4, 1]) if with_lengths else None
    report = seq_gradcheck(layer, x, hx, lengths=lengths, rng=rng)
    assert report.ok, str(report)
    assert len(report.rows) == len(layer.parameters()) + (3 if cls is tr.LSTM else 2)


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_lengths", GRID)
def test_lstm_gradcheck(num_layers, bidirectional, batch_first, bias, with_lengths):
    _run(tr.LSTM, num_layers, bidirectional, batch_first, bias, with_lengths)


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_lengths", GRID)
def test_lstm_proj_gradcheck(num_layers, bidirectional, batch_first, bias, with_lengths):
    _run(tr.LSTM, num_layers, bidirectional, batch_first, bias, with_lengths, proj_size=2)


@pytest.mark.parametrize("block_steps", [1, 3])
@pytest.mark.parametrize(
    "bidirectional,with_lengths,proj_size", list(itertools.product([False, True], [False, True], [0, 2]))
)
def test_lstm_backward_in_blocks_gradcheck(monkeypatch, block_steps, bidirectional, with_lengths, proj_size):
    """lstm_backward works through the steps in blocks of BLOCK_BYTES; at these sizes one block
    holds every step, so here the blocks are made 1 and 3 steps long (T = 4: 3 + 1)."""
    import tinyrnn.nn.lstm as lstm_module

    monkeypatch.setattr(lstm_module, "BLOCK_BYTES", block_steps * 12 * 3 * 8)  # 4H * B * float64 per step
    _run(tr.LSTM, 2, bidirectional, False, True, with_lengths, proj_size=proj_size)


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_lengths", GRID)
def test_gru_gradcheck(num_layers, bidirectional, batch_first, bias, with_lengths):
    _run(tr.GRU, num_layers, bidirectional, batch_first, bias, with_lengths)


@pytest.mark.parametrize("cls", [tr.LSTM, tr.GRU])
def test_gated_gradcheck_dropout_and_unbatched(cls):
    rng = np.random.default_rng(5)
    layer = cls(2, 3, num_layers=2, dropout=0.4, dtype=np.float64, rng=np.random.default_rng(1))
    x = rng.standard_normal((4, 2))
    h0 = rng.standard_normal((2, 3))
    hx = (h0, rng.standard_normal((2, 3))) if cls is tr.LSTM else h0
    report = seq_gradcheck(layer, x, hx, rng=rng, reseed_dropout=3)
    assert report.ok, str(report)


@pytest.mark.parametrize("cls", [tr.LSTMCell, tr.GRUCell])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_gated_cells_gradcheck(cls, bias, batched):
    rng = np.random.default_rng(9)
    cell = cls(3, 4, bias=bias, dtype=np.float64, rng=rng)
    shape = (2,) if batched else ()
    x, h = rng.standard_normal(shape + (3,)), rng.standard_normal(shape + (4,))
    pair = cls is tr.LSTMCell
    c = rng.standard_normal(shape + (4,))
    G, Gc = rng.standard_normal(shape + (4,)), rng.standard_normal(shape + (4,))

    def run(x, h, c=None):
        out, cache = cell.forward(x, (h, c) if pair else h)
        if pair:
            loss = (out[0] * G).sum() + (out[1] * Gc).sum()
            dx, (dh, dc) = cell.backward((G, Gc), cache)
            return loss, {"x": dx, "h": dh, "c": dc}
        dx, dh = cell.backward(G, cache)
        return (out * G).sum(), {"x": dx, "h": dh}

    rep = tr.gradcheck(run, cell, {"x": x, "h": h, "c": c} if pair else {"x": x, "h": h})
    assert rep.ok, str(rep)
