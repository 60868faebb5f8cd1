"""Memory tasks: generators against their definitions, lengths=, short runs that learn, the
IRNN and forget-bias initialisers (torch parity), gradflow against finite differences, and the
command's bad inputs. The Dask sweep is in test_memory_sweep.py."""

import json
import math

import numpy as np
import pytest

from tinyrnn import cli, init
from tinyrnn.commands import _memory_train as memory
from tinyrnn.commands import gradflow
from tinyrnn.data import memory as tasks
from tinyrnn.losses import cross_entropy
from tinyrnn.models.memory import MemoryModel, recurrent_layer

N = 20_000  # sample size for the baselines (standard error well below the tolerances)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- generators
def test_adding_le_definition():
    T, B = 30, 500
    b = tasks.adding_le(np.random.default_rng(0), T, B)
    assert b.x.shape == (T, B, 2) and b.y.shape == (B, 1) and b.lengths is None
    v, m = b.x[:, :, 0], b.x[:, :, 1]
    assert v.min() >= 0 and v.max() < 1
    assert set(np.unique(m)) == {0.0, 1.0}
    assert (m[: T // 2].sum(0) == 1).all() and (m[T // 2 :].sum(0) == 1).all()  # one marker per half
    np.testing.assert_allclose(b.y[:, 0], (v * m).sum(0), rtol=1e-6)
    big = tasks.adding_le(np.random.default_rng(1), 10, N)
    assert tasks.baseline("adding", 10) == 1 / 6
    assert abs(np.mean((1 - big.y) ** 2) - 1 / 6) < 0.005  # answering 1 scores the baseline


def test_adding_hochreiter_definition():
    """1997, experiment 4: X1 among the first 10 steps, X2 among the first T/2 - 1 steps not X1's
    (steps 0 .. T/2 - 1), -1 on the first and last step unless marked, and only X1 zeroed at step 0."""
    T, B = 40, 4000
    b = tasks.adding_hochreiter(np.random.default_rng(0), T, B)
    assert b.lengths.min() == T and b.lengths.max() == T + T // 10 and b.x.shape[0] == T + T // 10
    v, m = b.x[:, :, 0], b.x[:, :, 1]
    zeroed = kept = 0
    for j in range(B):
        L = b.lengths[j]
        assert np.all(b.x[L:, j] == 0)  # nothing past the end
        marked = np.flatnonzero(m[:L, j] == 1)
        assert len(marked) == 2 and marked[0] < 10 and marked[1] <= T // 2 - 1
        assert np.abs(v[:L, j]).max() <= 1
        for end in (0, L - 1):
            assert m[end, j] == (1 if end in marked else -1)
        assert np.all(m[1 : L - 1, j][~np.isin(np.arange(1, L - 1), marked)] == 0)
        assert math.isclose(b.y[j, 0], 0.5 + v[marked, j].sum() / 4, rel_tol=1e-6)
        if marked[0] == 0 and marked[1] >= 10:  # step 0 can only be X1's
            assert v[0, j] == 0
        if marked[0] == 0:
            zeroed += v[0, j] == 0
            kept += v[0, j] != 0  # an X2 at step 0 keeps its value
    first = np.argmax(m == 1, axis=0)
    assert set(first) == set(range(10))
    second = m.shape[0] - 1 - np.argmax(m[::-1] == 1, axis=0)  # the later marker
    assert set(second[second >= 10]) == set(range(10, T // 2))  # X2 reaches step T/2 - 1
    # P(X1 at step 0) = 1/10, P(X2 at step 0) = 9/10 / (T/2 - 1): 3/4 of the step-0 marks are X1's
    assert kept > 0 and abs(zeroed / (zeroed + kept) - 0.1 / (0.1 + 0.9 / (T // 2 - 1))) < 0.1


def test_adding_hochreiter_baseline_is_the_monte_carlo_mse():
    """Answering 0.5 scores (0.9 / 3 + 1 / 3) / 16: X1 is 0 one time in ten, X2 never."""
    assert math.isclose(tasks.baseline("adding", 100, "hochreiter"), 1.9 / 48)
    big = tasks.adding_hochreiter(np.random.default_rng(1), 24, 200_000, np.float64)
    sq = (big.y[:, 0] - 0.5) ** 2
    se = sq.std() / math.sqrt(sq.size)  # about 1.1e-4
    assert abs(sq.mean() - tasks.baseline("adding", 24, "hochreiter")) < 4 * se


def test_copy_definition_and_baseline():
    T, B = 7, 300
    b = tasks.copy_memory(np.random.default_rng(0), T, B)
    L = T + 20
    assert b.x.shape == (L, B, 10) and b.y.shape == (L, B)
    inp = b.x.argmax(-1)
    assert np.all(b.x.sum(-1) == 1)
    assert np.all((inp[:10] >= 1) & (inp[:10] <= 8))
    assert np.all(inp[10 : T + 9] == 0) and np.all(inp[T + 9] == 9) and np.all(inp[T + 10 :] == 0)
    assert np.all(b.y[: T + 10] == 0) and np.array_equal(b.y[T + 10 :], inp[:10])
    # blanks for T + 10 steps, then a uniform guess among the 8 symbols
    logits = np.full((L, B, 10), -1e9)
    logits[: T + 10, :, 0] = 0
    logits[T + 10 :, :, 1:9] = 0
    ce, _ = cross_entropy(logits, b.y)
    assert math.isclose(ce, tasks.baseline("copy", T), rel_tol=1e-9)
    assert math.isclose(tasks.baseline("copy", T), 10 * math.log(8) / (T + 20))


def test_order_definition():
    T, B = 100, 1000
    b = tasks.temporal_order(np.random.default_rng(0), T, B)
    assert b.lengths.min() == 100 and b.lengths.max() == 110
    sym = b.x.argmax(-1)
    for j in range(B):
        L = b.lengths[j]
        s = sym[:L, j]
        assert s[0] == 7 and s[-1] == 6 and np.all(b.x[L:, j] == 0)  # E first, B last
        xy = np.flatnonzero((s == 4) | (s == 5))
        assert len(xy) == 2 and 10 <= xy[0] <= 20 and 50 <= xy[1] <= 60
        assert b.y[j] == 2 * (s[xy[0]] == 5) + (s[xy[1]] == 5)
        assert np.all(s[1:-1][~np.isin(np.arange(1, L - 1), xy)] < 4)
    assert np.bincount(b.y, minlength=4).min() > 200  # four balanced classes
    assert tasks.baseline("order", T) == math.log(4)


def test_order_criterion_every_output_within_0_3():
    """1997: a sequence is classified correctly when the final error of every output unit is
    below 0.3; argmax accuracy can count a sequence that this criterion does not."""
    probs = np.array(
        [
            [0.75, 0.25 / 3, 0.25 / 3, 0.25 / 3],  # errors 0.25, 0.08: correct
            [0.65, 0.35 / 3, 0.35 / 3, 0.35 / 3],  # error 0.35 on the target
            [0.5, 0.45, 0.025, 0.025],  # right argmax, errors 0.5 and 0.45
            [0.1, 0.8, 0.05, 0.05],
        ]
    )  # target 1: errors 0.1, 0.2
    y = np.array([0, 0, 0, 1])
    logits = np.log(probs) + 3.0  # softmax(logits) = probs
    assert tasks.order_correct(logits, y).tolist() == [True, False, False, True]
    assert (logits.argmax(-1) == y).tolist() == [True, True, True, True]


def test_variable_lengths_go_through_lengths():
    """A padded hochreiter batch gives each sequence the output it gets alone, unpadded."""
    rng = np.random.default_rng(3)
    b = tasks.adding_hochreiter(rng, 24, 6, np.float64)
    assert len(set(b.lengths)) > 1
    for cell in ("rnn", "lstm", "gru"):
        model = MemoryModel(cell, 2, 5, 1, dtype=np.float64, rng=np.random.default_rng(4))
        y = model(b.x, b.lengths)
        alone = [model(b.x[:L, j : j + 1])[0, 0] for j, L in enumerate(b.lengths)]
        np.testing.assert_allclose(y[:, 0], alone, rtol=1e-12)


# ---------------------------------------------------------------- initialisers
def test_irnn_identity_and_zero_biases():
    layer = recurrent_layer("irnn", 3, 6, num_layers=2, rng=np.random.default_rng(0))
    assert layer.nonlinearity == "relu"
    for name, p in layer.named_parameters():
        if name.startswith("weight_hh"):
            assert np.array_equal(p.data, np.eye(6))
        elif name.startswith("bias"):
            assert not p.data.any()
        else:
            assert np.abs(p.data).max() > 0  # input weights as PyTorch


def test_forget_bias_sets_exactly_the_forget_rows(torch):
    from test_torch_parity import close, load_into_torch, to_t

    H = 5
    plain = recurrent_layer("lstm", 3, H, num_layers=2, dtype=np.float64, rng=np.random.default_rng(0))
    ours = recurrent_layer("lstm", 3, H, num_layers=2, forget_bias=1.5, dtype=np.float64, rng=np.random.default_rng(0))
    a, b = plain.state_dict(), ours.state_dict()
    for name in a:
        if name.startswith("bias"):
            rows = np.r_[0:H, 2 * H : 4 * H]
            assert np.array_equal(a[name][rows], b[name][rows]), name
            assert np.all(b[name][H : 2 * H] == (1.5 if name.startswith("bias_ih") else 0.0)), name
        else:
            assert np.array_equal(a[name], b[name]), name
    theirs = torch.nn.LSTM(3, H, num_layers=2, dtype=torch.float64)
    load_into_torch(torch, theirs, ours)
    rng = np.random.default_rng(1)
    x, h0, c0 = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 2, H)), rng.standard_normal((2, 2, H))
    out, (hn, cn), cache = ours.forward(x, (h0, c0))
    xt, h0t, c0t = to_t(torch, x, True), to_t(torch, h0, True), to_t(torch, c0, True)
    out_t, (hn_t, cn_t) = theirs(xt, (h0t, c0t))
    close(out, out_t, np.float64, "out")
    close(cn, cn_t, np.float64, "c_n")
    G = rng.standard_normal(out.shape)
    dx, (dh0, dc0) = ours.backward(G, cache)
    (out_t * to_t(torch, G)).sum().backward()
    close(dx, xt.grad, np.float64, "dx")
    close(dh0, h0t.grad, np.float64, "dh0")
    close(dc0, c0t.grad, np.float64, "dc0")
    for name, p in ours.named_parameters():
        close(p.grad, dict(theirs.named_parameters())[name].grad, np.float64, name)


def test_forget_bias_default_per_task_and_lstm_only(capsys):
    """order starts its forget gates at 5 (at 1 it stays at chance), adding and copy at 1; the
    other cells have none, and naming one for them is refused (nothing silently ignored)."""
    resolved = lambda **k: memory.MemoryConfig(**k).resolved()
    assert resolved(task="order").forget_bias == 5.0
    assert resolved(task="adding").forget_bias == 1.0
    assert resolved(task="order", forget_bias=2.0).forget_bias == 2.0
    assert resolved(task="copy", cell="gru").forget_bias is None
    with pytest.raises(ValueError, match="--forget-bias sets the lstm's forget gates; --cell gru"):
        resolved(task="copy", cell="gru", forget_bias=1.0)
    assert cli.main(["memory", "order", "--cell", "rnn", "--forget-bias", "2", "--steps", "1"]) == 2
    assert "--cell rnn has none" in capsys.readouterr().err


def test_forget_bias_only_for_lstm():
    with pytest.raises(ValueError, match="forget_bias applies to the lstm"):
        recurrent_layer("gru", 2, 3, forget_bias=1.0)
    with pytest.raises(ValueError, match="bias=True"):
        from tinyrnn.nn import LSTM

        init.forget_bias_(LSTM(2, 3, bias=False), 1.0)


# ---------------------------------------------------------------- short runs learn
@pytest.mark.parametrize(
    "task, T, cell, hidden, lr, steps, below, score",
    [
        ("adding", 6, "lstm", 16, "0.01", 250, 0.5, "solved_fraction"),
        ("copy", 1, "gru", 32, "0.03", 200, 0.97, "recall_accuracy"),  # 10 symbols to recall: slow start
        ("order", 10, "lstm", 16, "0.01", 120, 0.5, "test_accuracy"),
    ],
)
def test_short_run_beats_the_baseline(capsys, task, T, cell, hidden, lr, steps, below, score):
    code, out, _ = run(
        capsys,
        "memory",
        task,
        "--cell",
        cell,
        "--T",
        str(T),
        "--hidden",
        str(hidden),
        "--batch",
        "32",
        "--lr",
        lr,
        "--steps",
        str(steps),
        "--eval-every",
        "50",
        "--test-size",
        "200",
        "--quiet",
        "--json",
    )
    assert code == 0
    m = json.loads(out.strip().splitlines()[-1])
    pinned = {"task", "cell", "T", "steps", "sequences_seen", "seconds", "baseline"}
    pinned |= {
        "adding": {"variant", "test_mse", "solved_fraction"},
        "copy": {"test_ce", "recall_accuracy"},
        "order": {"test_accuracy", "solved_fraction"},
    }[task]
    assert pinned <= set(m)
    assert m["steps"] == steps and m["sequences_seen"] == steps * 32 and m["T"] == T
    loss = m["test_mse"] if task == "adding" else m["test_ce"]
    assert loss < below * m["baseline"]
    chance = {"adding": 1 - 0.96**2, "copy": 1 / 8, "order": 0.25}[task]  # adding: P(|U1 + U2 - 1| < 0.04)
    assert m[score] > 1.5 * chance


def test_hochreiter_variant_runs(capsys):
    code, out, _ = run(
        capsys,
        "memory",
        "adding",
        "--variant",
        "hochreiter",
        "--T",
        "24",
        "--cell",
        "gru",
        "--hidden",
        "8",
        "--steps",
        "3",
        "--eval-every",
        "3",
        "--test-size",
        "20",
        "--json",
    )
    assert code == 0
    m = json.loads(out.strip().splitlines()[-1])
    assert m["variant"] == "hochreiter" and math.isclose(m["baseline"], tasks.baseline("adding", 24, "hochreiter"))


def test_same_seed_same_run():
    cfg = memory.MemoryConfig(task="copy", cell="rnn", T=3, hidden=6, steps=4, eval_every=2, test_size=10, quiet=True)
    (_, a), (_, b) = memory.train(cfg), memory.train(cfg)
    assert a["test_ce"] == b["test_ce"] and a["curve"]["test"] == b["curve"]["test"]


# ---------------------------------------------------------------- gradflow
def test_gradflow_norms_against_finite_differences():
    rng = np.random.default_rng(5)
    b = tasks.adding_le(rng, 6, 3, np.float64)
    for cell in ("rnn", "lstm", "gru"):
        model = MemoryModel(cell, 2, 4, 1, dtype=np.float64, rng=np.random.default_rng(6))
        norms = gradflow.input_gradient_norms(model, b)
        eps = 1e-6
        numeric = np.zeros(b.x.shape)  # d L_b / d x[t, b, i]
        for idx in np.ndindex(*b.x.shape):
            x = b.x.copy()
            x[idx] += eps
            up = (model(x)[idx[1], 0] - b.y[idx[1], 0]) ** 2
            x[idx] -= 2 * eps
            down = (model(x)[idx[1], 0] - b.y[idx[1], 0]) ** 2
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(norms, np.linalg.norm(numeric, axis=2).mean(axis=1), rtol=1e-6)


def test_gradflow_cli(capsys, tmp_path):
    png = tmp_path / "g.png"
    code, out, _ = run(
        capsys,
        "gradflow",
        "--T",
        "12",
        "--hidden",
        "6",
        "--batch",
        "10",
        "--train-steps",
        "2",
        "--plot",
        str(png),
        "--json",
    )
    assert code == 0 and png.stat().st_size > 0
    m = json.loads(out.strip().splitlines()[-1])
    labels = {"rnn", "irnn", "lstm (forget bias 0)", "lstm (forget bias 1)", "gru"}
    assert set(m["ratio"]) == labels and set(m["ratio_trained"]) == labels
    assert all(0 < v < math.inf for v in m["ratio"].values())
    assert m["ratio"]["lstm (forget bias 1)"] > m["ratio"]["lstm (forget bias 0)"]  # the bias keeps more gradient


def test_gradflow_ctrl_c_stops_everything(capsys, monkeypatch):
    calls = []

    def interrupted_train(cfg, emit=None):
        calls.append(cfg.cell)
        return None, dict(interrupted=True)

    monkeypatch.setattr(memory, "train", interrupted_train)
    code, _, err = run(capsys, "gradflow", "--T", "5", "--hidden", "4", "--batch", "3", "--train-steps", "5")
    assert code == 130 and calls == ["rnn"] and "interrupted" in err


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "argv, needle",
    [
        (["memory", "adding", "--T", "0"], "--T"),
        (["memory", "adding", "--variant", "hochreiter", "--T", "10"], "--T must be an integer >= 24"),
        (["memory", "copy", "--sweep", "colour=red"], "unknown key 'colour'"),
        (["memory", "copy", "--sweep", "T=1,x"], "expected int values"),
        (["memory", "copy", "--sweep", "cell=rnn,tree"], "--cell must be one of"),
        (["memory", "order", "--scheduler", "tcp://127.0.0.1:1"], "give --sweep too"),
        (["gradflow", "--cell", "rnn,tree"], "--cell"),
        (["gradflow", "--T", "1"], "--T"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_divergence_exit_3(capsys):
    code, _, err = run(
        capsys,
        "memory",
        "adding",
        "--T",
        "5",
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--clip",
        "0",
        "--hidden",
        "4",
        "--steps",
        "50",
        "--quiet",
    )
    assert code == 3
    assert "training diverged at step" in err and "lower --lr (now 1e+30) or set --clip" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("cell", ["irnn", "lstm", "gru"])
@pytest.mark.parametrize("every_step", [False, True])
def test_memory_model_gradients_against_finite_differences(cell, every_step):
    """MemoryModel's backward (last-step read at lengths - 1, or every step) under float64
    finite differences: every parameter and the input."""
    from tinyrnn import gradcheck

    rng = np.random.default_rng(5)
    model = MemoryModel(
        cell, 3, 4, 2, every_step=every_step, forget_bias=1.0 if cell == "lstm" else None, dtype=np.float64, rng=rng
    )
    x, lengths = rng.standard_normal((6, 3, 3)), np.array([6, 4, 2])
    G = rng.standard_normal((6, 3, 2) if every_step else (3, 2))

    def run(x):
        y, cache = model.forward(x, lengths)
        return (y * G).sum(), {"x": model.backward(G, cache)}

    rep = gradcheck(run, model, {"x": x})
    assert rep.ok, str(rep)
