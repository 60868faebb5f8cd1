"""The library's own edges: each case a user can hit, refused clearly or
computed as PyTorch does."""

import math

import numpy as np
import pytest

import tinyrnn as tr


def _params(*grads):
    ps = []
    for g in grads:
        p = tr.Parameter(np.zeros(np.shape(g), np.float32))
        p.grad[...] = g
        ps.append(p)
    return ps


# ------------------------------------------------------------------ layers
def test_dropout_refuses_integer_and_nonfinite_input():
    d = tr.Dropout(0.5, rng=0)
    with pytest.raises(TypeError, match="x must be a floating-point array, got dtype int64"):
        d.forward(np.arange(6))
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        d.forward(np.array([1.0, np.nan]))
    y, cache = d.forward(np.arange(6, dtype=np.float32))
    assert np.isfinite(y).all() and set(np.unique(y / np.maximum(np.arange(6), 1))) <= {0.0, 2.0}


@pytest.mark.parametrize(
    "make,inp,dy",
    [
        (lambda: tr.Linear(3, 2, rng=0), np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)),
        (lambda: tr.Embedding(5, 2, rng=0), np.array([1, 2]), np.ones((2, 2), np.float32)),
        (lambda: tr.Dropout(0.5, rng=0), np.ones((4, 3), np.float32), np.ones((4, 3), np.float32)),
    ],
)
def test_backward_refuses_a_cache_from_another_layer(make, inp, dy):
    a, b = make(), make()
    _, cache = a.forward(inp)
    with pytest.raises(ValueError, match="cache comes from the forward of another layer"):
        b.backward(dy, cache)
    with pytest.raises(TypeError, match="cache must be the second value returned"):
        b.backward(dy, {"x": inp})
    a.backward(dy, cache)  # its own cache works


def test_backward_refuses_bad_dy():
    emb = tr.Embedding(5, 2, rng=0)
    _, cache = emb.forward(np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 3, 2\), got \(3, 2\)"):
        emb.backward(np.ones((3, 2), np.float32), cache)
    with pytest.raises(TypeError, match="dy must be a floating-point array"):
        emb.backward(np.ones((1, 3, 2), np.int64), cache)
    d = tr.Dropout(0.5, rng=0)
    _, cache = d.forward(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 3\)"):
        d.backward(np.ones((3, 2), np.float32), cache)


@pytest.mark.parametrize("bad", [1.5, 2.0, "1", True])
def test_padding_idx_must_be_an_int(bad):
    with pytest.raises(TypeError, match="padding_idx must be an int"):
        tr.Embedding(5, 2, padding_idx=bad)
    assert tr.Embedding(5, 2, padding_idx=np.int64(-1)).padding_idx == 4


@pytest.mark.parametrize("bad", [1.5, "x", None])
def test_ignore_index_must_be_an_int(bad):
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        tr.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=bad)


# ------------------------------------------------------------------ clipping, as torch
def test_clip_grad_norm_nan_reaches_every_gradient(torch):
    grads = [np.array([1.0, np.nan], np.float32), np.array([3.0, 4.0], np.float32)]
    ps = _params(*grads)
    total = tr.clip_grad_norm_(ps, 1.0)
    ts = [torch.zeros(2, requires_grad=True) for _ in grads]
    for t, g in zip(ts, grads):
        t.grad = torch.tensor(g)
    ttotal = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    assert math.isnan(total) and math.isnan(float(ttotal))
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(np.isnan(p.grad), np.isnan(t.grad.numpy()))
    assert all(np.isnan(p.grad).all() for p in ps)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
def test_clip_grad_norm_matches_torch(torch, norm_type):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) * 10, rng.standard_normal(5).astype(np.float32)]
    ps = _params(*grads)
    total = tr.clip_grad_norm_(ps, 1.5, norm_type=norm_type)
    ts = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for t, g in zip(ts, grads):
        t.grad = torch.tensor(g)
    ttotal = torch.nn.utils.clip_grad_norm_(ts, 1.5, norm_type=norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-5)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_single_parameter_empty_and_huge():
    (p,) = _params(np.array([3.0, 4.0], np.float32))
    assert tr.clip_grad_norm_(p, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-5)
    assert tr.clip_grad_norm_([], 1.0) == 0.0
    (big,) = _params(np.full(4, 1e30, np.float32))  # squares overflow float32: the norm does not
    assert tr.clip_grad_norm_(big, 1.0) == pytest.approx(2e30, rel=1e-6)
    assert np.isfinite(big.grad).all()


@pytest.mark.parametrize(
    "norm_type,err",
    [
        (0, ValueError),
        (-1, ValueError),
        (-math.inf, ValueError),
        (math.nan, ValueError),
        ("2", TypeError),
        (None, TypeError),
    ],
)
def test_clip_grad_norm_validates_norm_type(norm_type, err):
    with pytest.raises(err, match="norm_type"):
        tr.clip_grad_norm_(_params(np.ones(2)), 1.0, norm_type=norm_type)


def test_clip_grad_value_validated():
    (p,) = _params(np.array([-3.0, 0.5, 7.0], np.float32))
    tr.clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad, [-1.0, 0.5, 1.0])
    for bad, err in ((-1.0, ValueError), (math.nan, ValueError), ("1", TypeError)):
        with pytest.raises(err, match="clip_value"):
            tr.clip_grad_value_(p, bad)
    with pytest.raises(TypeError, match="params must be"):
        tr.clip_grad_value_([p, "x"], 1.0)


# ------------------------------------------------------------------ optimizers
@pytest.mark.parametrize(
    "cls,kw,match",
    [
        (tr.SGD, dict(lr=math.inf), "lr must be >= 0 and finite"),
        (tr.SGD, dict(lr=1e300 * 1e300), "lr must be >= 0 and finite"),
        (tr.SGD, dict(lr=10**400), "lr must be a finite number"),
        (tr.SGD, dict(lr=0.1, momentum=math.nan), "momentum must be >= 0"),
        (tr.SGD, dict(lr=0.1, nesterov="yes"), "nesterov must be True or False"),
        (tr.Adam, dict(eps=math.inf), "eps must be >= 0 and finite"),
        (tr.Adam, dict(betas=(0.9, 1.0)), r"betas must each be in \[0, 1\)"),
        (tr.Adam, dict(betas=5), "betas must be a pair"),
        (tr.Adam, dict(betas=(0.9, math.nan)), r"betas must each be in \[0, 1\)"),
        (tr.Adam, dict(weight_decay=-1), "weight_decay must be >= 0"),
        (tr.Adagrad, dict(lr_decay=math.inf), "lr_decay must be >= 0 and finite"),
        (tr.Adagrad, dict(initial_accumulator_value=-1), "initial_accumulator_value must be >= 0"),
    ],
)
def test_optimizers_refuse_nonfinite_hyperparameters(cls, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(tr.Linear(2, 2).parameters(), **kw)


def test_optimizer_lr_setter_and_duplicates():
    m = tr.Linear(2, 2)
    opt = tr.SGD(m.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0 and finite"):
        opt.lr = math.inf
    assert opt.lr == 0.1
    with pytest.raises(ValueError, match="the same Parameter twice"):
        tr.SGD([m.weight, m.bias, m.weight], lr=0.1)
    with pytest.raises(TypeError, match="got a single Parameter"):
        tr.Adam(m.weight)
    with pytest.raises(TypeError, match="params must be an iterable"):
        tr.Adam(3)


def test_optimizer_load_state_dict_is_transactional():
    m = tr.Linear(3, 2, rng=0)
    opt = tr.Adam(m.parameters(), lr=0.01)
    m.weight.grad[...] = 1
    opt.step()
    good = opt.state_dict()
    before = repr(good)
    bad = [
        dict(good, step="abc"),
        dict(good, step=None),
        dict(good, defaults={"betas": 5}),
        dict(good, defaults={"lr": math.inf}),
        dict(good, state=good["state"][:1]),
        dict(good, state=[{"exp_avg": np.zeros((9,))}, {}]),
        dict(good, type="SGD"),
        dict(good, state=[{"exp_avg": np.full((2, 3), np.nan), "exp_avg_sq": np.zeros((2, 3))}, {}]),
        dict(good, state=[{"exp_avg": np.zeros((2, 3))}, {}]),
        "Adam",
        {"type": "Adam"},
    ]
    for sd in bad:
        with pytest.raises((ValueError, TypeError)):
            opt.load_state_dict(sd)
        assert repr(opt.state_dict()) == before and opt.lr == 0.01


# ------------------------------------------------------------------ gradcheck
def _lin_check():
    lin = tr.Linear(2, 2, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).standard_normal((3, 2))

    def run(x, h):
        y, cache = lin.forward(x)
        return (y * y).sum() + (h * h).sum(), {"x": lin.backward(2 * y, cache)}  # h's gradient missing

    return lin, x, run


def test_gradcheck_reports_missing_gradient_as_unchecked():
    lin, x, run = _lin_check()
    rep = tr.gradcheck(run, lin, {"x": x, "h": np.ones(2)})
    assert not rep.ok and rep["h"].checked is False and not rep["h"].ok and rep["x"].ok
    assert "UNCHECKED" in str(rep)


def test_gradcheck_refuses_bad_eps_and_empty_checks():
    lin, x, run = _lin_check()
    for eps in (0, -1e-6, math.inf, math.nan):
        with pytest.raises(ValueError, match="eps must be a finite number > 0"):
            tr.gradcheck(run, lin, {"x": x, "h": np.ones(2)}, eps=eps)
    with pytest.raises(ValueError, match="nothing to check"):
        tr.gradcheck(lambda: (0.0, {}))
    with pytest.raises(ValueError, match="nothing to check"):
        tr.gradcheck(lambda idx: (0.0, {}), inputs={"idx": np.arange(3)})
    with pytest.raises(ValueError, match="not in inputs"):
        tr.gradcheck(lambda x: (float((x * x).sum()), {"y": x}), inputs={"x": np.ones(2)})
    with pytest.raises(ValueError, match="non-finite loss"):
        tr.gradcheck(lambda x: (math.nan, {"x": x}), inputs={"x": np.ones(2)})
    with pytest.raises(TypeError, match="loss_and_grads must be a function"):
        tr.gradcheck("f", inputs={"x": np.ones(2)})


# ------------------------------------------------------------------ found by tests/test_properties.py
def test_recurrent_backward_refuses_nonfinite_gradients():
    rnn = tr.GRU(3, 4, rng=0)
    out, _, cache = rnn.forward(np.ones((2, 1, 3), np.float32))
    dout = np.ones_like(out)
    dout[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="dout contains NaN or inf"):
        rnn.backward(dout, cache)
    with pytest.raises(ValueError, match="dh_n contains NaN or inf"):
        rnn.backward(None, cache, np.full((1, 1, 4), np.inf, np.float32))


def test_cell_backward_names_the_users_argument_and_shape():
    cell = tr.LSTMCell(3, 4, rng=0)
    (h, c), cache = cell.forward(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="dh1 must be a floating-point array, got dtype int64"):
        cell.backward((np.ones((2, 4), np.int64), None), cache)
    with pytest.raises(ValueError, match=r"dc1 must have shape \(2, 4\) to match x \(2, 3\), got \(2,\)"):
        cell.backward((None, np.ones(2, np.float32)), cache)
    unbatched = tr.GRUCell(3, 4, rng=0)
    _, cache = unbatched.forward(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"dh1 must have shape \(4,\) to match x \(3,\), got \(1, 4\)"):
        unbatched.backward(np.ones((1, 4), np.float32), cache)
