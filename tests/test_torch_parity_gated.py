"""LSTM / GRU (and RNN with lengths) against PyTorch 2.13 on the same weights, non-zero biases and
initial states: outputs, final states, dx, initial-state and every parameter gradient; lengths
through pack_padded_sequence(enforce_sorted=False) -> module -> pad_packed_sequence(total_length=T)."""

import itertools

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close, load_into_torch, tdtype, to_t

pytestmark = pytest.mark.torch

GRID = list(itertools.product([1, 2], [False, True], [False, True], [False, True], [False, True]))


def run_parity(torch, kind, dtype, num_layers, bidirectional, batch_first, bias, with_lengths, proj_size=0):
    rng = np.random.default_rng(21)
    I, H, T, B = 4, 5, 6, 3
    kw = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    if proj_size:
        kw["proj_size"] = proj_size
    ours = getattr(tr, kind)(I, H, dtype=dtype, rng=rng, **kw)
    theirs = getattr(torch.nn, kind)(I, H, dtype=tdtype(torch, dtype), **kw)
    load_into_torch(torch, theirs, ours)
    D = 2 if bidirectional else 1
    P = proj_size or H
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((D * num_layers, B, P))).astype(dtype)
    c0 = (0.5 * rng.standard_normal((D * num_layers, B, H))).astype(dtype)
    pair = kind == "LSTM"
    lengths = np.array([4, 6, 2]) if with_lengths else None

    out, hn, cache = ours.forward(x, (h0, c0) if pair else h0, lengths=lengths)
    xt, h0t, c0t = to_t(torch, x, True), to_t(torch, h0, True), to_t(torch, c0, True)
    inp = xt
    if with_lengths:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.from_numpy(lengths), batch_first=batch_first, enforce_sorted=False
        )
    out_t, hn_t = theirs(inp, (h0t, c0t) if pair else h0t)
    if with_lengths:
        out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=batch_first, total_length=T)
    close(out, out_t, dtype, "out")
    finals = hn if pair else (hn,)
    finals_t = hn_t if pair else (hn_t,)
    for a, b, n in zip(finals, finals_t, ("h_n", "c_n")):
        close(a, b, dtype, n)

    G = rng.standard_normal(out.shape).astype(dtype)
    Gs = tuple(rng.standard_normal(f.shape).astype(dtype) for f in finals)
    dx, dstate = ours.backward(G, cache, Gs if pair else Gs[0])
    loss = (out_t * to_t(torch, G)).sum() + sum((f * to_t(torch, g)).sum() for f, g in zip(finals_t, Gs))
    loss.backward()
    close(dx, xt.grad, dtype, "dx")
    if pair:
        close(dstate[0], h0t.grad, dtype, "dh0")
        close(dstate[1], c0t.grad, dtype, "dc0")
    else:
        close(dstate, h0t.grad, dtype, "dh0")
    tg = dict(theirs.named_parameters())
    assert set(tg) == {n for n, _ in ours.named_parameters()}
    for name, p in ours.named_parameters():
        close(p.grad, tg[name].grad, dtype, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_lengths", GRID)
def test_lstm_parity(torch, dtype, num_layers, bidirectional, batch_first, bias, with_lengths):
    run_parity(torch, "LSTM", dtype, num_layers, bidirectional, batch_first, bias, with_lengths)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_lengths", GRID)
def test_lstm_proj_parity(torch, dtype, num_layers, bidirectional, batch_first, bias, with_lengths):
    run_parity(torch, "LSTM", dtype, num_layers, bidirectional, batch_first, bias, with_lengths, proj_size=3)


@pytest.mark.parametrize("block_steps", [1, 4])
@pytest.mark.parametrize(
    "bidirectional,with_lengths,proj_size", list(itertools.product([False, True], [False, True], [0, 3]))
)
def test_lstm_backward_in_blocks_parity(torch, monkeypatch, block_steps, bidirectional, with_lengths, proj_size):
    """The same with lstm_backward's blocks made 1 and 4 steps long (T = 6: 4 + 2), float64."""
    import tinyrnn.nn.lstm as lstm_module

    monkeypatch.setattr(lstm_module, "BLOCK_BYTES", block_steps * 20 * 3 * 8)  # 4H * B * float64 per step
    run_parity(torch, "LSTM", np.float64, 2, bidirectional, False, True, with_lengths, proj_size=proj_size)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_lengths", GRID)
def test_gru_parity(torch, dtype, num_layers, bidirectional, batch_first, bias, with_lengths):
    run_parity(torch, "GRU", dtype, num_layers, bidirectional, batch_first, bias, with_lengths)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "num_layers,bidirectional,batch_first,bias",
    list(itertools.product([1, 2], [False, True], [False, True], [False, True])),
)
def test_rnn_lengths_parity(torch, dtype, num_layers, bidirectional, batch_first, bias):
    run_parity(torch, "RNN", dtype, num_layers, bidirectional, batch_first, bias, True)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_gated_cell_parity(torch, kind, dtype, bias):
    rng = np.random.default_rng(3)
    ours = getattr(tr, kind)(4, 5, bias=bias, dtype=dtype, rng=rng)
    theirs = getattr(torch.nn, kind)(4, 5, bias=bias, dtype=tdtype(torch, dtype))
    assert {n for n, _ in ours.named_parameters()} == set(dict(theirs.named_parameters()))
    load_into_torch(torch, theirs, ours)
    pair = kind == "LSTMCell"
    x, h, c = (rng.standard_normal(s).astype(dtype) for s in ((3, 4), (3, 5), (3, 5)))
    out, cache = ours.forward(x, (h, c) if pair else h)
    xt, ht, ct = to_t(torch, x, True), to_t(torch, h, True), to_t(torch, c, True)
    out_t = theirs(xt, (ht, ct) if pair else ht)
    outs, outs_t = (out, out_t) if pair else ((out,), (out_t,))
    Gs = [rng.standard_normal(o.shape).astype(dtype) for o in outs]
    for a, b in zip(outs, outs_t):
        close(a, b, dtype, "state")
    dx, dstate = ours.backward(tuple(Gs) if pair else Gs[0], cache)
    sum((o * to_t(torch, g)).sum() for o, g in zip(outs_t, Gs)).backward()
    close(dx, xt.grad, dtype, "dx")
    close(dstate[0] if pair else dstate, ht.grad, dtype, "dh")
    if pair:
        close(dstate[1], ct.grad, dtype, "dc")
    tg = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, tg[name].grad, dtype, name)


@pytest.mark.parametrize(
    "kind,kw",
    [("LSTM", dict(num_layers=2, bidirectional=True, proj_size=3)), ("GRU", dict(num_layers=2, bidirectional=True))],
)
def test_gated_state_dict_round_trip(torch, kind, kw):
    rng = np.random.default_rng(4)
    a = getattr(tr, kind)(4, 5, dtype=np.float64, rng=rng, **kw)
    t = getattr(torch.nn, kind)(4, 5, dtype=torch.float64, **kw)
    load_into_torch(torch, t, a)
    b = getattr(tr, kind)(4, 5, dtype=np.float64, rng=np.random.default_rng(99), **kw)
    b.load_state_dict(t.state_dict())
    x = rng.standard_normal((6, 2, 4))
    oa, sa = a(x)
    ob, sb = b(x)
    np.testing.assert_array_equal(oa, ob)
    for u, v in zip(sa if kind == "LSTM" else (sa,), sb if kind == "LSTM" else (sb,)):
        np.testing.assert_array_equal(u, v)
    close(oa, t(torch.from_numpy(x))[0], np.float64, "out")


def test_unbatched_gated_parity(torch):
    rng = np.random.default_rng(6)
    for kind in ("LSTM", "GRU"):
        ours = getattr(tr, kind)(3, 4, num_layers=2, dtype=np.float64, rng=rng)
        theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, dtype=torch.float64)
        load_into_torch(torch, theirs, ours)
        x = rng.standard_normal((5, 3))
        close(ours(x)[0], theirs(torch.from_numpy(x))[0], np.float64, kind)
