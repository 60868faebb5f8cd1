"""Property-based tests over the public API (hypothesis, a test dependency).

Random shapes (empty and large dimensions), dtypes (int, bool, complex, float16, object),
NaN/inf, non-contiguous, broadcast and read-only arrays, for every layer, loss, optimizer
and clip_grad_norm_. Each call either returns finite results of the right shape or raises
ValueError/TypeError whose message names one of the call's arguments; any other exception
(IndexError, MemoryError, a NumPy error from deep inside, ...) fails the test.
Deterministic (derandomize=True) and small (max_examples), so CI is stable and quick.
"""

import math
import re

import numpy as np

try:
    import hypothesis
except ImportError:  # a test dependency: fail clearly rather than skip
    raise ImportError("tests/test_properties.py needs hypothesis: pip install -e '.[test]'") from None
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tinyrnn as tr  # noqa: E402

FAST = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_, np.complex64, object]


@st.composite
def arrays(draw, shape, dtypes=DTYPES, allow_special=True):
    """An array of `shape` (sometimes another shape), any dtype, values N(0, 3) with optional
    NaN/inf, in any layout: contiguous, strided, transposed, broadcast, read-only."""
    if draw(st.integers(0, 9)) == 0:  # a wrong shape now and then
        shape = tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 5, 700]), max_size=4)))
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    values = np.asarray(rng.standard_normal(shape) * 3)
    if allow_special and values.size and draw(st.integers(0, 3)) == 0:
        values.flat[draw(st.integers(0, values.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    with np.errstate(invalid="ignore", over="ignore"):
        if dtype is object:
            arr = values.astype(object)
        elif np.dtype(dtype).kind in "iub":
            arr = np.nan_to_num(values, posinf=7, neginf=-7).astype(dtype)
        else:
            arr = values.astype(dtype)
    layout = draw(st.sampled_from(["plain", "strided", "fortran", "broadcast", "readonly"]))
    if layout == "strided" and arr.ndim:
        big = np.repeat(arr, 2, axis=-1)
        arr = big[..., ::2]
    elif layout == "fortran":
        arr = np.asfortranarray(arr)
    elif layout == "broadcast" and arr.size:
        arr = np.broadcast_to(arr.reshape(-1)[:1].reshape((1,) * arr.ndim), arr.shape)
    elif layout == "readonly":
        arr.setflags(write=False)
    return arr


def lead_dims():
    return st.lists(st.sampled_from([0, 1, 2, 3, 600]), max_size=2).map(tuple)


def outcome(names, fn, *args, **kw):
    """Run fn: a result, or None if it raised a ValueError/TypeError naming one of `names`."""
    try:
        return fn(*args, **kw)
    except (ValueError, TypeError) as e:
        msg = str(e)
        assert any(re.search(rf"\b{n}\b", msg) for n in names), (
            f"{type(e).__name__} names no argument of {names}: {msg}"
        )
        return None


def finite(*arrays_):
    for a in arrays_:
        assert np.all(np.isfinite(a)), "a returned array holds NaN or inf"


# ------------------------------------------------------------------ layers
@FAST
@given(st.data(), lead_dims())
def test_linear(data, lead):
    lin = tr.Linear(3, 2, rng=0)
    x = data.draw(arrays(lead + (3,)))
    r = outcome(("x",), lin.forward, x)
    if r is None:
        return
    y, cache = r
    assert y.shape == np.shape(x)[:-1] + (2,) and y.dtype == np.float32
    finite(y)
    dy = data.draw(arrays(y.shape))
    dx = outcome(("dy", "cache"), lin.backward, dy, cache)
    if dx is not None:
        assert dx.shape == np.shape(x)
        finite(dx, lin.weight.grad, lin.bias.grad)


@FAST
@given(st.data(), lead_dims())
def test_embedding(data, lead):
    emb = tr.Embedding(5, 2, padding_idx=data.draw(st.sampled_from([None, 0, -1])), rng=0)
    idx = data.draw(arrays(lead, dtypes=[np.int64, np.int8, np.uint8, np.float32, np.bool_, object]))
    if idx.dtype.kind in "iu":
        idx = idx % 7 if idx.flags.writeable else idx  # some out of range (5, 6)
    r = outcome(("idx",), emb.forward, idx)
    if r is None:
        return
    e, cache = r
    assert e.shape == np.shape(idx) + (2,)
    finite(e)
    dy = data.draw(arrays(e.shape))
    if outcome(("dy", "cache"), emb.backward, dy, cache) is None:
        return
    finite(emb.weight.grad)


@FAST
@given(st.data(), st.lists(st.sampled_from([0, 1, 3, 700]), max_size=3).map(tuple), st.booleans())
def test_dropout(data, shape, training):
    d = tr.Dropout(0.5, rng=0).train(training)
    x = data.draw(arrays(shape))
    r = outcome(("x",), d.forward, x)
    if r is None:
        return
    y, cache = r
    assert y.shape == np.shape(x)
    finite(y)
    dx = outcome(("dy", "cache"), d.backward, data.draw(arrays(y.shape)), cache)
    if dx is not None:
        assert dx.shape == y.shape
        finite(dx)


RECURRENT = [tr.RNN, tr.LSTM, tr.GRU]


@settings(FAST, max_examples=30)
@given(
    st.data(),
    st.sampled_from(RECURRENT),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0, 1, 2, 5]),
    st.sampled_from([0, 1, 3]),
)
def test_recurrent(data, cls, batch_first, bidirectional, T, B):
    layer = cls(3, 4, num_layers=2, batch_first=batch_first, bidirectional=bidirectional, rng=0)
    D = 2 if bidirectional else 1
    x = data.draw(arrays((B, T, 3) if batch_first else (T, B, 3)))
    pair = cls is tr.LSTM
    h0 = data.draw(st.one_of(st.none(), arrays((2 * D, B, 4))))
    hx = (h0, data.draw(st.one_of(st.none(), arrays((2 * D, B, 4))))) if pair else h0
    r = outcome(("x", "h0", "c0", "hx"), layer.forward, x, hx)
    if r is None:
        return
    out, state, cache = r
    assert out.shape == np.shape(x)[:-1] + (D * 4,)
    finite(out, *(state if pair else (state,)))
    dout = data.draw(st.one_of(st.none(), arrays(out.shape)))
    g = outcome(("dout", "dh_n", "dc_n", "cache"), layer.backward, dout, cache)
    if g is not None:
        dx, _ = g
        assert dx.shape == np.shape(x)
        finite(dx, *(p.grad for p in layer.parameters()))


@settings(FAST, max_examples=30)
@given(st.data(), st.sampled_from([tr.RNNCell, tr.LSTMCell, tr.GRUCell]), st.sampled_from([(), (0,), (2,)]))
def test_cells(data, cls, batch):
    cell = cls(3, 4, rng=0)
    x = data.draw(arrays(batch + (3,)))
    pair = cls is tr.LSTMCell
    h = data.draw(st.one_of(st.none(), arrays(batch + (4,))))
    hx = (h, data.draw(st.one_of(st.none(), arrays(batch + (4,))))) if pair else h
    r = outcome(("x", "h", "c", "hx"), cell.forward, x, hx)
    if r is None:
        return
    new, cache = r
    for s in new if pair else (new,):
        assert s.shape == np.shape(x)[:-1] + (4,)
        finite(s)
    dnew = tuple(data.draw(arrays(s.shape)) for s in new) if pair else data.draw(arrays(new.shape))
    g = outcome(("dh", "dc", "dhx", "cache"), cell.backward, dnew, cache)
    if g is not None:
        assert g[0].shape == np.shape(x)
        finite(g[0])


@settings(FAST, max_examples=30)
@given(
    st.sampled_from([tr.Linear, tr.Embedding, tr.RNN, tr.LSTM, tr.GRU, tr.RNNCell, tr.LSTMCell, tr.GRUCell]),
    st.sampled_from([0, -1, 2.5, "3", None, True, 3]),
    st.sampled_from([0, -2, 1.5, "4", None, 4]),
)
def test_constructor_sizes(cls, first, second):
    m = outcome(
        ("in_features", "out_features", "num_embeddings", "embedding_dim", "input_size", "hidden_size"),
        cls,
        first,
        second,
        rng=0,
    )
    if m is not None:
        assert all(np.isfinite(p.data).all() for p in m.parameters())


# ------------------------------------------------------------------ losses
@FAST
@given(
    st.data(),
    st.sampled_from(["mse_loss", "bce_loss", "bce_with_logits"]),
    st.sampled_from(["mean", "sum", "none", "avg"]),
    lead_dims(),
)
def test_pointwise_losses(data, name, reduction, shape):
    a, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    if name == "bce_loss":
        with np.errstate(all="ignore"):
            a = np.abs(np.tanh(a)) if a.dtype.kind == "f" else a
            b = (b > 0).astype(b.dtype) if b.dtype.kind == "f" else b
    r = outcome(("pred", "target", "prob", "logits", "reduction"), getattr(tr, name), a, b, reduction=reduction)
    if r is None:
        return
    loss, grad = r
    assert grad.shape == np.shape(a)
    finite(loss, grad)
    if reduction == "none":
        assert np.shape(loss) == np.shape(a)


@FAST
@given(st.data(), lead_dims(), st.sampled_from([0, 1, 4]), st.sampled_from([-100, 0, 2.5, "x"]))
@hypothesis.example(data=None, lead=(0,), C=0, ignore_index=-100)
@hypothesis.example(data=None, lead=(2,), C=0, ignore_index=-100)
def test_cross_entropy(data, lead, C, ignore_index):
    if data is None:  # the explicit examples: no classes at all
        logits, targets = np.zeros(lead + (C,)), np.full(lead, ignore_index)
    else:
        logits = data.draw(arrays(lead + (C,)))
        targets = data.draw(arrays(lead, dtypes=[np.int64, np.int32, np.float32, np.bool_]))
    if targets.dtype.kind == "i" and targets.flags.writeable:
        targets = targets % 6 - 1  # some -1 and some >= C
    r = outcome(("logits", "targets", "ignore_index"), tr.cross_entropy, logits, targets, ignore_index=ignore_index)
    if r is not None:
        loss, grad = r
        assert grad.shape == np.shape(logits)
        finite(loss, grad)


# ------------------------------------------------------------------ optimizers and clipping
HYPER = st.one_of(
    st.floats(0, 1), st.sampled_from([-1.0, math.nan, math.inf, -math.inf, "0.1", None, True, 10**400, (0.9, 0.99), 5])
)


@FAST
@given(st.data(), st.sampled_from(["SGD", "Adam", "Adagrad"]))
def test_optimizers(data, name):
    model = tr.Linear(3, 2, rng=0)
    names = {
        "SGD": ("lr", "momentum", "dampening", "weight_decay"),
        "Adam": ("lr", "eps", "weight_decay"),
        "Adagrad": ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
    }[name]
    kw = {k: data.draw(HYPER) for k in names if data.draw(st.booleans())}
    if name == "Adam" and data.draw(st.booleans()):
        kw["betas"] = data.draw(st.one_of(st.tuples(st.floats(-1, 2), st.floats(-1, 2)), HYPER))
    if "eps" in kw and isinstance(kw["eps"], float) and kw["eps"] < 1e-8:
        kw["eps"] = 1e-8  # eps 0 with a zero gradient is 0/0, as in torch
    params = data.draw(st.sampled_from(["ok", "dup", "empty", "junk"]))
    plist = {
        "ok": model.parameters(),
        "dup": model.parameters() + [model.weight],
        "empty": [],
        "junk": [model.weight, np.zeros(2)],
    }[params]
    opt = outcome(names + ("betas", "params"), getattr(tr, name), plist, **kw)
    if opt is None:
        return
    rng = np.random.default_rng(0)
    for _ in range(3):
        for p in model.parameters():
            p.grad[...] = rng.standard_normal(p.grad.shape)
        opt.step()
    finite(*(p.data for p in model.parameters()))


@FAST
@given(
    st.data(),
    st.lists(st.sampled_from([(0,), (3,), (2, 700), ()]), min_size=0, max_size=3),
    st.one_of(st.floats(0, 10), st.sampled_from([-1.0, math.nan, math.inf, "1", None])),
    st.one_of(
        st.sampled_from([1, 2, 2.0, 3.5, 0.5, math.inf]), st.sampled_from([0, -1, -math.inf, math.nan, "2", None])
    ),
)
def test_clip_grad_norm(data, shapes, max_norm, norm_type):
    params = []
    for s in shapes:
        p = tr.Parameter(np.zeros(s, np.float32))
        g = data.draw(arrays(s, dtypes=[np.float32]))
        p.grad[...] = g if g.shape == s else 0
        params.append(p)
    nonfinite = any(not np.isfinite(p.grad).all() for p in params)
    single = len(params) == 1 and data.draw(st.booleans())
    total = outcome(
        ("params", "max_norm", "norm_type"),
        tr.clip_grad_norm_,
        params[0] if single else params,
        max_norm,
        norm_type=norm_type,
    )
    if total is None:
        return
    if nonfinite:  # as torch: the NaN/inf reaches every gradient
        assert not math.isfinite(total)
        grads = np.concatenate([p.grad.ravel() for p in params])
        if math.isnan(total) or max_norm == math.inf:
            assert np.isnan(grads).all()  # coef = NaN
        else:
            assert np.all((grads == 0) | np.isnan(grads))  # coef = max_norm / inf = 0 (inf * 0 = NaN)
        return
    assert math.isfinite(total) and total >= 0
    finite(*(p.grad for p in params))
    after = tr.clip_grad_norm_(params, math.inf, norm_type=norm_type)
    assert after <= max(max_norm, 0) * (1 + 1e-4) + 1e-6 or total <= max_norm
