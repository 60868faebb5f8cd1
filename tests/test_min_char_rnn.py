"""examples/min_char_rnn.py against min-char-rnn's own form, update for update.

The twin below is written in the test from min-char-rnn's equations: column vectors, the
arrays Wxh, Whh, Why, bh, by, the loss summed over the chunk, gradients clipped to [-5, 5]
element by element and min-char-rnn's Adagrad update verbatim. From the same weights and the
same chunks and the same state before each update (weights, Adagrad memory, carried h),
tinyrnn's layers (the example's fused RNN + Linear on one-hot inputs, an Embedding holding Wxh,
and an RNNCell loop) must agree with it to 1e-10 in float64 in the loss, the clipped
gradients, the next state and every weight, for each of 200 updates along min-char-rnn's own
trajectory.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinyrnn as tr

ROOT = Path(__file__).resolve().parents[1]
V, H, SEQ, UPDATES, LR = 23, 100, 25, 200, 0.1
TOL = 1e-10


def example():
    spec = importlib.util.spec_from_file_location("min_char_rnn", ROOT / "examples" / "min_char_rnn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- the twin, min-char-rnn's form
def twin_loss_and_grads(w, inputs, targets, hprev):
    """Forward over t, backward over reversed t with the carried dhnext; column vectors."""
    Wxh, Whh, Why, bh, by = w["Wxh"], w["Whh"], w["Why"], w["bh"], w["by"]
    xs, hs, ps = {}, {-1: hprev.copy()}, {}
    loss = 0.0
    for t, (i, k) in enumerate(zip(inputs, targets)):
        xs[t] = np.zeros((V, 1))
        xs[t][i] = 1  # one-hot input
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)  # h_t
        y = Why @ hs[t] + by  # scores
        ps[t] = np.exp(y) / np.sum(np.exp(y))  # softmax
        loss += -np.log(ps[t][k, 0])  # cross-entropy, summed
    d = {name: np.zeros_like(a) for name, a in w.items()}
    dhnext = np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1  # dL/dy
        d["Why"] += dy @ hs[t].T
        d["by"] += dy
        dh = Why.T @ dy + dhnext  # from the output and from t+1
        dhraw = (1 - hs[t] * hs[t]) * dh  # through tanh
        d["bh"] += dhraw
        d["Wxh"] += dhraw @ xs[t].T
        d["Whh"] += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    for dparam in d.values():
        np.clip(dparam, -5, 5, out=dparam)
    return loss, d, hs[len(inputs) - 1]


def twin_update(w, d, mem):
    for name in w:
        param, dparam = w[name], d[name]
        mem[name] += dparam * dparam
        param += -LR * dparam / np.sqrt(mem[name] + 1e-8)


def chunks(n, rng):
    """min-char-rnn's data loop: (reset the state?, inputs, targets) per update."""
    data = rng.integers(0, V, 160)  # wraps several times
    p = 0
    for i in range(n):
        reset = p + SEQ + 1 >= len(data) or i == 0
        if reset:
            p = 0
        yield reset, data[p : p + SEQ], data[p + 1 : p + SEQ + 1]
        p += SEQ


# ---------------------------------------------------------------- tinyrnn's three ways
# Each returns (arrays, opt, step): arrays maps min-char-rnn's names to (Parameter, transposed),
# opt is the tinyrnn Adagrad over those Parameters, step(inputs, targets, hprev) -> (loss, h).
def fused_onehot(mod, rng):
    rnn, head, params, opt = mod.build(V, rng, hidden=H)
    arrays = dict(
        Wxh=(rnn.weight_ih_l0, False),
        Whh=(rnn.weight_hh_l0, False),
        Why=(head.weight, False),
        bh=(rnn.bias_ih_l0, False),
        by=(head.bias, False),
    )

    def step(inputs, targets, hprev):
        return mod.train_step(rnn, head, params, opt, inputs, targets, hprev)

    return arrays, opt, step


def fused_embedding(mod, rng):
    """Wxh as an Embedding table (row i = column i of Wxh) feeding an RNN whose input weight is
    a frozen identity: the lookup replaces the one-hot product."""
    rnn0, head, _, _ = mod.build(V, rng, hidden=H)
    emb = tr.Embedding(V, H, dtype=np.float64, rng=0)
    emb.weight.data[...] = rnn0.weight_ih_l0.data.T
    rnn = tr.RNN(H, H, dtype=np.float64, rng=0)
    rnn.weight_ih_l0.data[...] = np.eye(H)
    rnn.weight_hh_l0.data[...] = rnn0.weight_hh_l0.data
    rnn.bias_ih_l0.data[...] = 0
    rnn.bias_hh_l0.data[...] = 0
    params = [emb.weight, rnn.weight_hh_l0, head.weight, rnn.bias_ih_l0, head.bias]
    opt = tr.Adagrad(params, lr=LR, initial_accumulator_value=1e-8, eps=0.0)
    arrays = dict(
        Wxh=(emb.weight, True),
        Whh=(rnn.weight_hh_l0, False),
        Why=(head.weight, False),
        bh=(rnn.bias_ih_l0, False),
        by=(head.bias, False),
    )

    def step(inputs, targets, hprev):
        e, emb_cache = emb.forward(np.asarray(inputs)[:, None])  # (T, 1, H)
        h, h_n, rnn_cache = rnn.forward(e, hprev[None, None, :])
        logits, head_cache = head.forward(h)
        loss, dlogits = tr.cross_entropy(logits, np.asarray(targets)[:, None], reduction="sum")
        for m in (emb, rnn, head):
            m.zero_grad()
        de, _ = rnn.backward(head.backward(dlogits, head_cache), rnn_cache)
        emb.backward(de, emb_cache)
        tr.clip_grad_value_(params, 5.0)
        opt.step()
        return loss, h_n[0, 0]

    return arrays, opt, step


def cell_loop(mod, rng):
    """An RNNCell stepped over t, backward over reversed t with the carried dh_next."""
    rnn0, head, _, _ = mod.build(V, rng, hidden=H)
    cell = tr.RNNCell(V, H, dtype=np.float64, rng=0)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).data[...] = getattr(rnn0, name + "_l0").data
    params = [cell.weight_ih, cell.weight_hh, head.weight, cell.bias_ih, head.bias]
    opt = tr.Adagrad(params, lr=LR, initial_accumulator_value=1e-8, eps=0.0)
    arrays = dict(
        Wxh=(cell.weight_ih, False),
        Whh=(cell.weight_hh, False),
        Why=(head.weight, False),
        bh=(cell.bias_ih, False),
        by=(head.bias, False),
    )
    eye = np.eye(V)

    def step(inputs, targets, hprev):
        h, caches, hs = hprev[None, :], [], []
        for i in inputs:
            h, c = cell.forward(eye[i][None, :], h)  # (1, H)
            caches.append(c)
            hs.append(h)
        logits, head_cache = head.forward(np.stack(hs))  # (T, 1, V)
        loss, dlogits = tr.cross_entropy(logits, np.asarray(targets)[:, None], reduction="sum")
        cell.zero_grad()
        head.zero_grad()
        dh_out = head.backward(dlogits, head_cache)  # (T, 1, H)
        dh_next = np.zeros((1, H))
        for t in reversed(range(len(inputs))):
            _, dh_next = cell.backward(dh_out[t] + dh_next, caches[t])
        tr.clip_grad_value_(params, 5.0)
        opt.step()
        return loss, h[0]

    return arrays, opt, step


def as_twin(p_array, transposed, like):
    """A tinyrnn array in min-char-rnn's orientation (biases as columns)."""
    return (p_array.T if transposed else p_array).reshape(like.shape)


def load_twin_state(arrays, opt, twin, mem):
    """Give tinyrnn min-char-rnn's current weights and Adagrad memory (sum = mem + 1e-8)."""
    index = {id(p): i for i, p in enumerate(opt.params)}
    for name, (p, transposed) in arrays.items():
        src = twin[name].reshape(-1) if p.data.ndim == 1 else twin[name]
        p.data[...] = src.T if transposed else src
        acc = mem[name].reshape(-1) if p.data.ndim == 1 else mem[name]
        opt.state[index[id(p)]]["sum"][...] = (acc.T if transposed else acc) + 1e-8


@pytest.mark.parametrize("way", [fused_onehot, fused_embedding, cell_loop])
def test_update_for_update_with_min_char_rnn(way):
    """Along 200 updates of min-char-rnn's own trajectory, each tinyrnn update from the same
    state (weights, Adagrad memory, carried h) gives the same loss, clipped gradients, weights
    and next state to 1e-10. (Free-running, the two drift apart: min-char-rnn's training is
    chaotic here, and a 1e-15 relative change of its own initial weights grows to O(1) within
    20 updates, because g / sqrt(mem + 1e-8) multiplies small gradients' rounding by lr / 1e-4.)"""
    mod = example()
    arrays, opt, step = way(mod, np.random.default_rng(0))
    twin = {name: (p.data.T if transposed else p.data).copy() for name, (p, transposed) in arrays.items()}
    twin = {name: a.reshape(-1, 1) if a.ndim == 1 else a for name, a in twin.items()}
    mem = {name: np.zeros_like(a) for name, a in twin.items()}
    moved = 0.0
    for n, (reset, inputs, targets) in enumerate(chunks(UPDATES, np.random.default_rng(1))):
        if reset:
            h_twin = np.zeros((H, 1))
        load_twin_state(arrays, opt, twin, mem)
        loss_ours, h_ours = step(inputs, targets, h_twin[:, 0].copy())
        before = twin["Whh"].copy()
        loss_twin, d, h_twin = twin_loss_and_grads(twin, inputs, targets, h_twin)
        twin_update(twin, d, mem)
        moved = max(moved, np.abs(twin["Whh"] - before).max())
        diffs = {"loss": abs(loss_ours - loss_twin), "h": np.abs(h_ours - h_twin[:, 0]).max()}
        for name, (p, transposed) in arrays.items():
            diffs["d" + name] = np.abs(as_twin(p.grad, transposed, d[name]) - d[name]).max()
            diffs[name] = np.abs(as_twin(p.data, transposed, twin[name]) - twin[name]).max()
        assert max(diffs.values()) < TOL, f"update {n}: {diffs}"
    assert moved > 1e-3 and np.abs(twin["Wxh"]).max() > 0.05  # the weights really moved


def test_torch_default_adagrad_is_not_min_char_rnn():
    """The defaults (sum from 0, eps 1e-10 outside the sqrt) differ by up to a whole step for
    small gradients; initial_accumulator_value=1e-8, eps=0 gives min-char-rnn's update."""
    g = np.array([1e-6, 1e-3, 2.0])
    mcr = 0.1 * g / np.sqrt(g * g + 1e-8)
    for kwargs, close in (({}, False), (dict(initial_accumulator_value=1e-8, eps=0.0), True)):
        p = tr.Parameter(np.zeros(3))
        p.grad[...] = g
        tr.Adagrad([p], lr=0.1, **kwargs).step()
        assert np.allclose(-p.data, mcr, rtol=1e-14, atol=0) == close


def test_example_runs_and_learns(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 40)
    loss = example().main([str(text), "--iters", "301"])
    out = capsys.readouterr().out
    assert "iter 300, loss:" in out and out.count("----") >= 6
    assert loss < -np.log(1 / 11) * 25 * 0.9  # below the loss at iteration 0
