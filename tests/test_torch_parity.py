"""Parity with PyTorch on the same weights, non-zero biases and non-zero initial states:
outputs, final states and every gradient, 1e-10 relative in float64 and 1e-5 in float32."""

import itertools

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close, load_into_torch, tdtype, to_t

pytestmark = pytest.mark.torch

RNN_GRID = list(itertools.product([1, 2], [False, True], [False, True], [False, True], ["tanh", "relu"]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,nonlinearity", RNN_GRID)
def test_rnn_parity(torch, dtype, num_layers, bidirectional, batch_first, bias, nonlinearity):
    rng = np.random.default_rng(42)
    I, H, T, B = 5, 6, 7, 3
    ours = tr.RNN(I, H, num_layers, nonlinearity, bias, batch_first, 0.0, bidirectional, dtype=dtype, rng=rng)
    theirs = torch.nn.RNN(
        I, H, num_layers, nonlinearity, bias, batch_first, 0.0, bidirectional, dtype=tdtype(torch, dtype)
    )
    load_into_torch(torch, theirs, ours)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((D * num_layers, B, H))).astype(dtype)
    out, hn, cache = ours.forward(x, h0)
    xt, h0t = to_t(torch, x, True), to_t(torch, h0, True)
    out_t, hn_t = theirs(xt, h0t)
    close(out, out_t, dtype, "out")
    close(hn, hn_t, dtype, "h_n")
    G = rng.standard_normal(out.shape).astype(dtype)
    Gh = rng.standard_normal(hn.shape).astype(dtype)
    dx, dh0 = ours.backward(G, cache, Gh)
    ((out_t * to_t(torch, G)).sum() + (hn_t * to_t(torch, Gh)).sum()).backward()
    close(dx, xt.grad, dtype, "dx")
    close(dh0, h0t.grad, dtype, "dh0")
    tgrads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, tgrads[name].grad, dtype, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rnn_unbatched_parity(torch, dtype):
    rng = np.random.default_rng(0)
    ours = tr.RNN(3, 4, 2, bidirectional=True, dtype=dtype, rng=rng)
    theirs = torch.nn.RNN(3, 4, 2, bidirectional=True, dtype=tdtype(torch, dtype))
    load_into_torch(torch, theirs, ours)
    x = rng.standard_normal((5, 3)).astype(dtype)
    h0 = rng.standard_normal((4, 4)).astype(dtype)
    out, hn = ours(x, h0)
    out_t, hn_t = theirs(to_t(torch, x), to_t(torch, h0))
    close(out, out_t, dtype, "out")
    close(hn, hn_t, dtype, "h_n")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nonlinearity,bias", [("tanh", True), ("relu", True), ("tanh", False)])
def test_rnn_cell_parity(torch, dtype, nonlinearity, bias):
    rng = np.random.default_rng(1)
    ours = tr.RNNCell(4, 5, bias=bias, nonlinearity=nonlinearity, dtype=dtype, rng=rng)
    theirs = torch.nn.RNNCell(4, 5, bias=bias, nonlinearity=nonlinearity, dtype=tdtype(torch, dtype))
    load_into_torch(torch, theirs, ours)
    x, h = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 5)).astype(dtype)
    h1, cache = ours.forward(x, h)
    xt, ht = to_t(torch, x, True), to_t(torch, h, True)
    h1t = theirs(xt, ht)
    close(h1, h1t, dtype, "h1")
    G = rng.standard_normal(h1.shape).astype(dtype)
    dx, dh = ours.backward(G, cache)
    (h1t * to_t(torch, G)).sum().backward()
    close(dx, xt.grad, dtype, "dx")
    close(dh, ht.grad, dtype, "dh")
    tg = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, tg[name].grad, dtype, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_embedding_parity(torch, dtype):
    rng = np.random.default_rng(2)
    lin = tr.Linear(4, 3, dtype=dtype, rng=rng)
    tlin = torch.nn.Linear(4, 3, dtype=tdtype(torch, dtype))
    load_into_torch(torch, tlin, lin)
    x = rng.standard_normal((2, 5, 4)).astype(dtype)
    y, c = lin.forward(x)
    xt = to_t(torch, x, True)
    yt = tlin(xt)
    close(y, yt, dtype, "linear y")
    G = rng.standard_normal(y.shape).astype(dtype)
    dx = lin.backward(G, c)
    (yt * to_t(torch, G)).sum().backward()
    close(dx, xt.grad, dtype, "linear dx")
    close(lin.weight.grad, tlin.weight.grad, dtype, "linear dW")
    close(lin.bias.grad, tlin.bias.grad, dtype, "linear db")

    emb = tr.Embedding(7, 3, padding_idx=1, dtype=dtype, rng=rng)
    temb = torch.nn.Embedding(7, 3, padding_idx=1, dtype=tdtype(torch, dtype))
    load_into_torch(torch, temb, emb)
    idx = np.array([[0, 1, 6], [6, 6, 2]])
    e, c = emb.forward(idx)
    et = temb(torch.from_numpy(idx))
    close(e, et, dtype, "embedding")
    G = rng.standard_normal(e.shape).astype(dtype)
    emb.backward(G, c)
    (et * to_t(torch, G)).sum().backward()
    close(emb.weight.grad, temb.weight.grad, dtype, "embedding dW")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_parity(torch, reduction):
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    a, t = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    p, y = rng.uniform(0.01, 0.99, (4, 5)), rng.random((4, 5))
    cls = np.array([0, 4, -100, 2])
    cases = [
        (tr.mse_loss, F.mse_loss, a, t, {}),
        (tr.bce_loss, F.binary_cross_entropy, p, y, {}),
        (tr.bce_with_logits, F.binary_cross_entropy_with_logits, a * 10, y, {}),
        (tr.cross_entropy, F.cross_entropy, a * 30, cls, {"ignore_index": -100}),
    ]
    for ours, theirs, inp, target, kw in cases:
        loss, d = ours(inp, target, reduction=reduction, **kw)
        it = to_t(torch, inp, True)
        lt = theirs(it, torch.from_numpy(target), reduction=reduction, **kw)
        close(loss, lt, np.float64, ours.__name__)
        lt.sum().backward()
        close(d, it.grad, np.float64, ours.__name__ + " grad")


def _params_pair(torch, rng, dtype=np.float64):
    shapes = [(3, 4), (5,), (2, 2, 2)]
    datas = [rng.standard_normal(s) for s in shapes]
    ours = [tr.Parameter(d.copy()) for d in datas]
    theirs = [torch.nn.Parameter(torch.from_numpy(d.copy())) for d in datas]
    return ours, theirs


@pytest.mark.parametrize(
    "name,kw",
    [
        ("SGD", dict(lr=0.1)),
        ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.3)),
        ("Adam", dict(lr=0.01)),
        ("Adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
        ("Adagrad", dict(lr=0.1)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-8)),
    ],
)
def test_optimizer_parity(torch, name, kw):
    rng = np.random.default_rng(4)
    ours, theirs = _params_pair(torch, rng)
    o = getattr(tr, name)(ours, **kw)
    t = getattr(torch.optim, name)(theirs, **kw)
    for _ in range(5):
        grads = [rng.standard_normal(p.data.shape) for p in ours]
        for p, tp, g in zip(ours, theirs, grads):
            p.grad[...] = g
            tp.grad = torch.from_numpy(g.copy())
        o.step()
        t.step()
    for p, tp in zip(ours, theirs):
        close(p.data, tp, np.float64, name)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_parity(torch, norm_type, max_norm):
    rng = np.random.default_rng(5)
    ours, theirs = _params_pair(torch, rng)
    for p, tp in zip(ours, theirs):
        g = rng.standard_normal(p.data.shape)
        p.grad[...] = g
        tp.grad = torch.from_numpy(g.copy())
    total = tr.clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, tp in zip(ours, theirs):
        close(p.grad, tp.grad, np.float64, "clipped grad")


def test_clip_grad_value_parity(torch):
    rng = np.random.default_rng(6)
    ours, theirs = _params_pair(torch, rng)
    for p, tp in zip(ours, theirs):
        g = rng.standard_normal(p.data.shape) * 3
        p.grad[...] = g
        tp.grad = torch.from_numpy(g.copy())
    tr.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, tp in zip(ours, theirs):
        close(p.grad, tp.grad, np.float64, "clipped grad")


def test_state_dict_round_trip_through_torch(torch):
    """ours -> torch.nn.RNN -> torch state_dict -> a fresh tinyrnn RNN: identical outputs."""
    rng = np.random.default_rng(8)
    a = tr.RNN(4, 5, 2, bidirectional=True, dtype=np.float64, rng=rng)
    t = torch.nn.RNN(4, 5, 2, bidirectional=True, dtype=torch.float64)
    load_into_torch(torch, t, a)
    b = tr.RNN(4, 5, 2, bidirectional=True, dtype=np.float64, rng=np.random.default_rng(9))
    b.load_state_dict(t.state_dict())  # torch tensors accepted as they are
    x = rng.standard_normal((6, 2, 4))
    np.testing.assert_array_equal(a(x)[0], b(x)[0])
    np.testing.assert_array_equal(a(x)[1], b(x)[1])
    np.testing.assert_allclose(a(x)[0], t(torch.from_numpy(x))[0].detach().numpy(), rtol=1e-12)


def test_torch_initialised_rnn_loads(torch):
    """A torch-initialised module's state_dict loads into ours and gives torch's numbers."""
    torch.manual_seed(0)
    t = torch.nn.RNN(3, 4, num_layers=2, batch_first=True)
    ours = tr.RNN(3, 4, num_layers=2, batch_first=True)
    ours.load_state_dict(t.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    close(ours(x)[0], t(torch.from_numpy(x))[0], np.float32, "out")
