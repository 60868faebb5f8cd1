"""Float64 finite-difference checks of every non-recurrent layer, RNNCell and every loss."""

import numpy as np
import pytest

import tinyrnn as tr


def test_linear(rng):
    lin = tr.Linear(4, 3, dtype=np.float64, rng=rng)
    x = rng.standard_normal((2, 5, 4))
    G = rng.standard_normal((2, 5, 3))

    def run(x):
        y, c = lin.forward(x)
        return (y * G).sum(), {"x": lin.backward(G, c)}

    rep = tr.gradcheck(run, lin, {"x": x})
    assert rep.ok, str(rep)
    assert len(rep.rows) == 3


def test_linear_no_bias(rng):
    lin = tr.Linear(4, 3, bias=False, dtype=np.float64, rng=rng)
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    x, G = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))

    def run(x):
        y, c = lin.forward(x)
        return (y * G).sum(), {"x": lin.backward(G, c)}

    assert tr.gradcheck(run, lin, {"x": x}).ok


def test_embedding_with_padding(rng):
    emb = tr.Embedding(6, 3, padding_idx=2, dtype=np.float64, rng=rng)
    idx = np.array([[0, 2, 5], [2, 5, 5]])
    G = rng.standard_normal((2, 3, 3))

    def run():
        y, c = emb.forward(idx)
        emb.backward(G, c)
        return (y * G).sum(), {}

    rep = tr.gradcheck(run, emb)
    # finite differences see the padding row too; the analytic gradient must be zero there
    emb.zero_grad()
    run()
    assert np.all(emb.weight.grad[2] == 0)
    np.testing.assert_allclose(emb.weight.grad[5], G[0, 2] + G[1, 1] + G[1, 2])
    # finite differences see the padding row too (its value is an output); the analytic gradient
    # is zero there by design, so the report fails by exactly that row's numeric gradient
    assert not rep.ok
    assert rep["weight"].max_abs_err == pytest.approx(np.abs(G[0, 1] + G[1, 0]).max(), rel=1e-6)
    keep = [r for r in (0, 1, 3, 4, 5)]
    emb.zero_grad()
    run()
    # compare the non-padding rows with finite differences explicitly
    num = np.zeros_like(emb.weight.data)
    eps = 1e-6
    for i in keep:
        for j in range(3):
            old = emb.weight.data[i, j]
            emb.weight.data[i, j] = old + eps
            up = (emb(idx) * G).sum()
            emb.weight.data[i, j] = old - eps
            down = (emb(idx) * G).sum()
            emb.weight.data[i, j] = old
            num[i, j] = (up - down) / (2 * eps)
    np.testing.assert_allclose(emb.weight.grad[keep], num[keep], atol=1e-8)


def test_dropout_backward_uses_same_mask(rng):
    d = tr.Dropout(0.5, rng=rng, dtype=np.float64)
    x = rng.standard_normal((50, 4))
    y, c = d.forward(x)
    dx = d.backward(np.ones_like(x), c)
    kept = y != 0
    np.testing.assert_allclose(dx[kept], 2.0)
    assert np.all(dx[~kept] == 0)
    assert 0.3 < kept.mean() < 0.7
    d.eval()
    np.testing.assert_array_equal(d(x), x)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid", "identity"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell(rng, nonlinearity, bias):
    cell = tr.RNNCell(3, 4, bias=bias, nonlinearity=nonlinearity, dtype=np.float64, rng=rng)
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    G = rng.standard_normal((2, 4))

    def run(x, h):
        h1, c = cell.forward(x, h)
        dx, dh = cell.backward(G, c)
        return (h1 * G).sum(), {"x": dx, "h": dh}

    rep = tr.gradcheck(run, cell, {"x": x, "h": h})
    assert rep.ok, str(rep)


def _loss_check(fn, a, *args, **kw):
    def run(a):
        loss, d = fn(a, *args, **kw)
        return loss, {"a": d}

    rep = tr.gradcheck(run, None, {"a": a})
    assert rep.ok, str(rep)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_gradcheck(rng, reduction):
    a = rng.standard_normal((3, 4))
    _loss_check(tr.mse_loss, a, rng.standard_normal((3, 4)), reduction=reduction)
    _loss_check(tr.bce_with_logits, a * 5, rng.random((3, 4)), reduction=reduction)
    _loss_check(tr.bce_loss, rng.uniform(0.05, 0.95, (3, 4)), rng.random((3, 4)), reduction=reduction)
    _loss_check(tr.cross_entropy, a, np.array([0, 3, 1]), reduction=reduction)
    _loss_check(
        tr.cross_entropy, rng.standard_normal((2, 3, 5)), np.array([[0, -100, 4], [2, 2, -100]]), reduction=reduction
    )


def test_cross_entropy_stable_for_large_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1e4, 0.0]])
    loss, d = tr.cross_entropy(logits, np.array([0, 1]))
    assert np.isfinite(loss) and loss == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.isfinite(d))
    loss, _ = tr.cross_entropy(logits, np.array([2, 0]))
    assert loss == pytest.approx((2000.0 + 1e4) / 2)


def test_cross_entropy_all_ignored_is_zero():
    loss, d = tr.cross_entropy(np.ones((2, 3)), np.array([-100, -100]))
    assert loss == 0.0 and np.all(d == 0)


def test_gradcheck_reports_a_wrong_gradient(rng):
    lin = tr.Linear(2, 2, dtype=np.float64, rng=rng)
    x = rng.standard_normal((3, 2))

    def run(x):
        y, c = lin.forward(x)
        dx = lin.backward(np.ones_like(y), c)
        lin.weight.grad *= 2  # a deliberately wrong gradient
        return y.sum(), {"x": dx}

    rep = tr.gradcheck(run, lin, {"x": x})
    assert not rep.ok
    assert not rep["weight"].ok and rep["bias"].ok and rep["x"].ok
    assert "NO" in str(rep)


def test_gradcheck_refuses_float32(rng):
    lin = tr.Linear(2, 2, rng=rng)
    with pytest.raises(TypeError, match="float64"):
        tr.gradcheck(lambda: (0.0, {}), lin)
