"""Float64 finite-difference checks of the model compositions whose backward is written by hand
(BinaryAdder's sigmoid head, CharLM, Seq2Seq with its bidirectional bridge). PyTorch has no
twin of these, so finite differences are the reference."""

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.data.seq2seq import pad_batch
from tinyrnn.models import BinaryAdder, CharLM, Seq2Seq


def test_binary_adder_gradcheck():
    rng = np.random.default_rng(0)
    model = BinaryAdder(5, dtype=np.float64, rng=rng)
    x = rng.integers(0, 2, size=(6, 3, 2)).astype(np.float64)
    y = rng.integers(0, 2, size=(6, 3, 1)).astype(np.float64)

    def run():
        p, _, cache = model.forward(x)
        model.backward(p - y, cache)  # d/dp of 1/2 sum (y - p)^2
        return 0.5 * ((y - p) ** 2).sum(), {}

    rep = tr.gradcheck(run, model)
    assert rep.ok, str(rep)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_charlm_gradcheck(cell):
    rng = np.random.default_rng(1)
    model = CharLM(7, embed_size=3, hidden_size=4, cell=cell, num_layers=2, dtype=np.float64, rng=rng)
    ids = rng.integers(0, 7, size=(5, 2))
    targets = rng.integers(0, 7, size=(5, 2))
    state = None
    _, state, _ = model.forward(ids)  # a carried, non-zero initial state

    def run():
        logits, _, cache = model.forward(ids, state)
        loss, dlogits = tr.cross_entropy(logits, targets)
        model.backward(dlogits, cache)
        return loss, {}

    rep = tr.gradcheck(run, model)
    assert rep.ok, str(rep)


@pytest.mark.parametrize("cell,bidirectional,layers", [("rnn", False, 1), ("lstm", True, 2), ("gru", True, 1)])
def test_seq2seq_gradcheck(cell, bidirectional, layers):
    rng = np.random.default_rng(2)
    model = Seq2Seq(8, 4, cell, layers, bidirectional, dtype=np.float64, rng=rng)
    src, src_len = pad_batch([[3, 4, 5, 6], [7, 3]])
    tgt, _ = pad_batch([[5, 4], [3, 6, 7]])

    rep = tr.gradcheck(lambda: (model.loss_and_backward(src, src_len, tgt), {}), model)
    assert rep.ok, str(rep)
    assert any(r.name.startswith("encoder.") and r.name.endswith("_reverse") for r in rep.rows) == bidirectional
