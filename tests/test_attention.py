"""Attention: float64 finite differences for every kind with masking and unequal lengths,
parity with a torch autograd twin written here, masked positions exactly zero, bad inputs."""

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.nn.attention import KINDS

B, S, T, HQ, HK = 3, 5, 4, 4, 3
LENGTHS = np.array([5, 2, 3])


def make(kind, batch_first=False, rng=0):
    hk = HQ if kind == "dot" else HK
    attn = tr.Attention(
        HQ, hk, kind, attn_size=6 if kind == "additive" else None, batch_first=batch_first, dtype=np.float64, rng=rng
    )
    return attn, hk


def data(hk, batch_first=False, seed=1):
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((B, S, hk) if batch_first else (S, B, hk))
    return rng, rng.standard_normal((B, HQ)), keys


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_gradcheck_one_step(kind, batch_first):
    attn, hk = make(kind, batch_first)
    rng, query, keys = data(hk, batch_first)
    Gc, Gw = rng.standard_normal((B, hk)), rng.standard_normal((B, S))

    def run(query, keys):
        c, w, cache = attn.forward(query, keys, LENGTHS)
        dq, dk = attn.backward(Gc, cache, dweights=Gw)
        return (c * Gc).sum() + (w * Gw).sum(), {"query": dq, "keys": dk}

    rep = tr.gradcheck(run, attn, {"query": query, "keys": keys})
    assert rep.ok, str(rep)
    assert {r.name for r in rep.rows} == {n for n, _ in attn.named_parameters()} | {"query", "keys"}


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_all_steps(kind):
    attn, hk = make(kind)
    rng, _, keys = data(hk)
    queries = rng.standard_normal((T, B, HQ))
    Gc, Gw = rng.standard_normal((T, B, hk)), rng.standard_normal((T, B, S))

    def run(queries, keys):
        c, w, cache = attn.forward_steps(queries, keys, LENGTHS)
        dq, dk = attn.backward_steps(Gc, cache, Gw)
        return (c * Gc).sum() + (w * Gw).sum(), {"queries": dq, "keys": dk}

    rep = tr.gradcheck(run, attn, {"queries": queries, "keys": keys})
    assert rep.ok, str(rep)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_steps_equal_one_step_at_a_time(kind, batch_first):
    attn, hk = make(kind, batch_first)
    rng, _, keys = data(hk, batch_first)
    queries = rng.standard_normal((B, T, HQ) if batch_first else (T, B, HQ))
    Gc = rng.standard_normal(queries.shape[:2] + (hk,))
    c_all, w_all, cache = attn.forward_steps(queries, keys, LENGTHS)
    attn.zero_grad()
    dq_all, dk_all = attn.backward_steps(Gc, cache)
    grads_all = [p.grad.copy() for p in attn.parameters()]
    attn.zero_grad()
    dk_sum = np.zeros_like(keys)
    for t in range(T):
        pick = (lambda a, t=t: a[:, t]) if batch_first else (lambda a, t=t: a[t])
        c, w, cache = attn.forward(pick(queries), keys, LENGTHS)
        np.testing.assert_allclose(c, pick(c_all), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(w, pick(w_all), rtol=1e-13, atol=1e-14)
        dq, dk = attn.backward(pick(Gc), cache)
        np.testing.assert_allclose(dq, pick(dq_all), rtol=1e-12, atol=1e-13)
        dk_sum += dk
    np.testing.assert_allclose(dk_sum, dk_all, rtol=1e-12, atol=1e-13)
    for g, p in zip(grads_all, attn.parameters()):
        np.testing.assert_allclose(p.grad, g, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_masked_positions_have_exactly_zero_weight_and_gradient(kind):
    attn, hk = make(kind)
    rng, query, keys = data(hk)
    keys[3:, 1] = 1e3  # huge padding must change nothing
    c, w, cache = attn.forward(query, keys, LENGTHS)
    dq, dk = attn.backward(rng.standard_normal((B, hk)), cache, rng.standard_normal((B, S)))
    for b, n in enumerate(LENGTHS):
        assert np.all(w[b, n:] == 0.0) and np.all(dk[n:, b] == 0.0)
        assert np.all(w[b, :n] > 0) and w[b].sum() == pytest.approx(1.0, abs=1e-15)
    c_short, w_short = attn(query[1:2], keys[:2, 1:2])  # the same row with only its 2 keys
    np.testing.assert_allclose(c[1:2], c_short, rtol=1e-14)
    np.testing.assert_allclose(w[1:2, :2], w_short, rtol=1e-14)


def torch_attention(torch, attn, q, k, lengths):
    """The twin: (A1)-(A3) in torch ops on attn's weights; q (T, B, Hq), k (S, B, Hk)."""
    p = {n: torch.from_numpy(v).requires_grad_(True) for n, v in attn.state_dict().items()}
    qb, kb = q.transpose(0, 1), k.transpose(0, 1)  # (B, T, Hq), (B, S, Hk)
    if attn.kind == "dot":
        e = qb @ kb.transpose(1, 2)
    elif attn.kind == "general":
        e = (qb @ p["weight"]) @ kb.transpose(1, 2)
    else:
        pre = (qb @ p["weight_query"].T)[:, :, None] + (kb @ p["weight_key"].T)[:, None]
        e = torch.tanh(pre) @ p["v"]
    S = k.shape[0]
    valid = torch.arange(S)[None, None, :] < torch.from_numpy(lengths)[:, None, None]
    a = torch.softmax(e.masked_fill(~valid, float("-inf")), dim=-1)
    return (a @ kb).transpose(0, 1), a.transpose(0, 1), p


@pytest.mark.torch
@pytest.mark.parametrize("kind", KINDS)
def test_parity_with_torch_autograd(torch, kind):
    attn, hk = make(kind, rng=5)
    rng, _, keys = data(hk, seed=6)
    queries = rng.standard_normal((T, B, HQ))
    Gc, Gw = rng.standard_normal((T, B, hk)), rng.standard_normal((T, B, S))
    c, w, cache = attn.forward_steps(queries, keys, LENGTHS)
    attn.zero_grad()
    dq, dk = attn.backward_steps(Gc, cache, Gw)
    tq, tk = torch.from_numpy(queries).requires_grad_(True), torch.from_numpy(keys).requires_grad_(True)
    tc, tw, tp = torch_attention(torch, attn, tq, tk, LENGTHS)
    ((tc * torch.from_numpy(Gc)).sum() + (tw * torch.from_numpy(Gw)).sum()).backward()
    pairs = [(c, tc), (w, tw), (dq, tq.grad), (dk, tk.grad)] + [
        (p.grad, tp[n].grad) for n, p in attn.named_parameters()
    ]
    for ours, theirs in pairs:
        theirs = theirs.detach().numpy()
        scale = np.abs(theirs).max()
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * scale)


def test_float32_default_and_inference_call():
    attn = tr.Attention(4, 6, rng=0)
    assert attn.dtype == np.float32 and attn.weight_query.shape == (4, 4) and attn.v.shape == (4,)
    c, w = attn(np.ones((2, 4), np.float32), np.ones((3, 2, 6), np.float32), lengths=[3, 1])
    assert c.dtype == np.float32 and c.shape == (2, 6) and w.shape == (2, 3)
    assert tr.Attention(4, 6, "general").weight.shape == (4, 6) and not tr.Attention(4, 4, "dot").parameters()


@pytest.mark.parametrize(
    "make_it,match",
    [
        (
            lambda: tr.Attention(4, 3, "dot"),
            r"kind='dot' needs query_size == key_size, got query_size=4 and key_size=3",
        ),
        (lambda: tr.Attention(4, 3, "bahdanau"), r"kind must be one of 'dot', 'general', 'additive', got 'bahdanau'"),
        (lambda: tr.Attention(4, 4, "dot", attn_size=8), r"attn_size is used only by kind='additive'"),
        (lambda: tr.Attention(0, 4), r"query_size must be > 0"),
    ],
)
def test_bad_constructor_arguments(make_it, match):
    with pytest.raises(ValueError, match=match):
        make_it()


@pytest.mark.parametrize(
    "query,keys,lengths,err,match",
    [
        (
            np.ones((2, 5)),
            np.ones((3, 2, 6)),
            None,
            ValueError,
            r"query must have shape \(\*, 4\) \(B, query_size=4\), got \(2, 5\)",
        ),
        (
            np.ones((2, 4)),
            np.ones((3, 2, 5)),
            None,
            ValueError,
            r"keys must have shape \(S, B, key_size\) with key_size=6, got \(3, 2, 5\)",
        ),
        (np.ones((2, 4)), np.ones((3, 4, 6)), None, ValueError, r"keys must have batch size 2 \(the query's\)"),
        (
            np.ones((2, 4)),
            np.ones((3, 2, 6)),
            [3, 4],
            ValueError,
            r"lengths must be in \[1, S=3\], got min 3 and max 4",
        ),
        (
            np.ones((2, 4)),
            np.ones((3, 2, 6)),
            [0, 2],
            ValueError,
            r"lengths must be in \[1, S=3\], got min 0 and max 2",
        ),
        (np.ones((2, 4)), np.ones((3, 2, 6)), [1, 2, 3], ValueError, r"lengths must have shape \(2,\)"),
        (np.ones((2, 4)), np.ones((3, 2, 6)), [1.0, 2.0], TypeError, r"lengths must be an integer array"),
        (np.ones((2, 4), int), np.ones((3, 2, 6)), None, TypeError, r"query must be a floating-point array"),
    ],
)
def test_bad_inputs_name_the_argument(query, keys, lengths, err, match):
    attn = tr.Attention(4, 6, dtype=np.float64, rng=0)
    with pytest.raises(err, match=match):
        attn.forward(query, keys, lengths)


def test_backward_refuses_a_wrong_cache_or_gradient():
    attn = tr.Attention(4, 6, dtype=np.float64, rng=0)
    _, _, cache = attn.forward(np.ones((2, 4)), np.ones((3, 2, 6)))
    with pytest.raises(ValueError, match=r"dcontext must have shape \(2, 6\), got \(2, 4\)"):
        attn.backward(np.ones((2, 4)), cache)
    with pytest.raises(TypeError, match=r"forward\(\) goes to backward\(\)"):
        attn.backward_steps(np.ones((1, 2, 6)), cache)
    with pytest.raises(TypeError, match="cache must be the third value"):
        attn.backward(np.ones((2, 6)), None)


def test_projected_keys_give_the_same_step_and_are_checked():
    attn, hk = make("additive")
    _, query, keys = data(hk)
    pk = attn.project_keys(keys)
    for a, b in zip(attn(query, keys, LENGTHS), attn(query, keys, LENGTHS, projected_keys=pk)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    with pytest.raises(ValueError, match=r"projected_keys must have shape \(3, 5, 6\) \(from project_keys\(keys\)\)"):
        attn(query, keys, LENGTHS, projected_keys=pk[:, :4])
    with pytest.raises(ValueError, match="project_keys is for kind='additive'"):
        make("general")[0].project_keys(keys)
