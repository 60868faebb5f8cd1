"""Library side of sequence classification and forecasting: padding, batching by length,
standardisation fitted on train only, stratified split, schedules and early stopping, and the
composed SequenceModel: no padding leak, every pool's gradient (finite differences, float64)
and parity with a PyTorch twin."""

import numpy as np
import pytest

from helpers import close, load_into_torch
from tinyrnn.data.sequences import (
    Standardizer,
    encode_labels,
    length_batches,
    load_csv,
    load_npz,
    pad_sequences,
    stratified_split,
)
from tinyrnn.errors import InputError, NonFiniteError
from tinyrnn.gradcheck import gradcheck
from tinyrnn.losses import cross_entropy
from tinyrnn.models.classifier import (
    SequenceClassifier,
    SequenceModel,
    load_classifier,
    save_classifier,
)
from tinyrnn.models.forecaster import SeriesTransform, windows
from tinyrnn.schedule import ConstantLR, CosineLR, EarlyStopping


def ragged(rng, lengths, F=3):
    return [rng.standard_normal((t, F)) for t in lengths]


# ------------------------------------------------------------------ padding and batching
def test_pad_sequences_pads_with_zeros_and_returns_lengths(rng):
    seqs = ragged(rng, [3, 5, 1])
    x, lengths = pad_sequences(seqs)
    assert x.shape == (3, 5, 3) and x.dtype == np.float32
    assert lengths.tolist() == [3, 5, 1]
    for s, row, t in zip(seqs, x, lengths):
        np.testing.assert_allclose(row[:t], s, rtol=1e-6)
        assert (row[t:] == 0).all()
    xt, _ = pad_sequences(seqs, batch_first=False)
    assert xt.shape == (5, 3, 3) and np.array_equal(xt.transpose(1, 0, 2), x)
    x1, l1 = pad_sequences([np.arange(4.0), np.arange(2.0)])  # 1-D sequences: one feature
    assert x1.shape == (2, 4, 1) and l1.tolist() == [4, 2]


@pytest.mark.parametrize(
    "seqs, message",
    [
        ([np.zeros((2, 3)), np.zeros((0, 3))], "sequence 1 has length 0"),
        ([np.zeros((2, 3)), np.zeros((2, 4))], "sequence 1 has 4 features"),
        ([np.zeros((2, 3)), np.array([[0, 0, 0], [0, np.nan, 0]])], "sequence 1, step 1, feature 1"),
        ([], "no sequences"),
    ],
)
def test_pad_sequences_refuses_bad_input(seqs, message):
    with pytest.raises(InputError, match=message):
        pad_sequences(seqs)


def test_length_batches_cover_every_index_once_and_group_similar_lengths(rng):
    lengths = rng.integers(1, 50, 101)
    batches = length_batches(lengths, 8, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(101))
    assert max(len(b) for b in batches) == 8
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.25 * np.ptp(lengths)  # sorted by length: a batch spans a narrow range
    again = length_batches(lengths, 8, np.random.default_rng(1))
    assert [b.tolist() for b in again] != [b.tolist() for b in batches]


# ------------------------------------------------------------------ standardisation, split
def test_standardizer_uses_valid_training_steps_only(rng):
    x, lengths = pad_sequences([rng.normal(5, 2, (t, 2)) for t in (4, 7, 2)], np.float64)
    s = Standardizer().fit(x, lengths)
    steps = np.concatenate([x[i, :t] for i, t in enumerate(lengths)])  # the padding zeros are not data
    np.testing.assert_allclose(s.mean, steps.mean(0))
    np.testing.assert_allclose(s.std, steps.std(0))
    z = s.transform(x, lengths, np.float64)
    assert (z[2, 2:] == 0).all()  # padding stays zero
    test = x + 100.0  # a shifted test set
    s2 = Standardizer().fit(x, lengths)
    s2.transform(test, lengths)
    np.testing.assert_array_equal(s2.mean, s.mean)  # transform never refits


def test_stratified_split_keeps_class_proportions_and_is_seeded():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20 + [3])
    keep, held = stratified_split(y, 0.2, 7)
    assert np.bincount(y[held], minlength=4).tolist() == [10, 6, 4, 0]  # a class of one stays in keep
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(len(y)))
    assert np.array_equal(held, stratified_split(y, 0.2, 7)[1])
    assert not np.array_equal(held, stratified_split(y, 0.2, 8)[1])


def test_encode_labels_orders_numbers_numerically_and_refuses_unseen():
    codes, classes = encode_labels(np.array([10, 2, 2, 1]))
    assert classes == ["1", "2", "10"] and codes.tolist() == [2, 1, 1, 0]
    with pytest.raises(InputError, match=r"\['3'\] are not among the training labels"):
        encode_labels(np.array([3, 1]), classes)


# ------------------------------------------------------------------ files
def test_npz_and_csv_give_the_same_sequences(tmp_path, rng):
    seqs = ragged(rng, [3, 5, 2], F=2)
    x, lengths = pad_sequences(seqs, np.float64)
    np.savez(tmp_path / "d.npz", x=x, lengths=lengths, y=np.array(["a", "b", "a"]))
    rows = ["id,f0,f1,label"] + [f"s{i},{float(a)!r},{float(b)!r},{'aba'[i]}" for i, s in enumerate(seqs) for a, b in s]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    a, b = load_npz(tmp_path / "d.npz"), load_csv(tmp_path / "d.csv", "id", "label")
    assert np.array_equal(a.lengths, b.lengths) and a.y.tolist() == b.y.tolist() == ["a", "b", "a"]
    np.testing.assert_allclose(a.x, b.x)


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("id,f0,label\ns,1,a\n", {"label_column": "class"}, "no column 'class'"),
        ("id,f0,label\ns,1,a\ns,nan,a\n", {}, "line 3: column 'f0' is nan"),
        ("id,f0,label\ns,1,a\ns,x,a\n", {}, "line 3: column 'f0' holds 'x'"),
        ("id,f0,label\ns,1,a\ns,2,b\n", {}, "sequence 's' has label 'b' here and 'a' before"),
    ],
)
def test_csv_errors_name_the_line_and_column(tmp_path, text, kwargs, message):
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(InputError, match=message):
        load_csv(tmp_path / "d.csv", "id", kwargs.get("label_column", "label"))


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 3, 1)))
    with pytest.raises(InputError, match="missing array.*y"):
        load_npz(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", x=np.zeros((2, 3, 1)), y=[0, 1], lengths=[3, 0])
    with pytest.raises(InputError, match="sequence 1 has length 0"):
        load_npz(tmp_path / "b.npz")
    x = np.zeros((2, 3, 1))
    x[1, 2, 0] = np.inf
    np.savez(tmp_path / "c.npz", x=x, y=[0, 1], lengths=[3, 3])
    with pytest.raises(NonFiniteError, match="sequence 1, step 2, feature 0"):
        load_npz(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", x=x, y=[0, 1], lengths=[3, 2])  # the inf is padding: fine
    assert load_npz(tmp_path / "d.npz").lengths.tolist() == [3, 2]


# ------------------------------------------------------------------ schedules, early stopping
def test_schedules():
    assert ConstantLR(0.1).lr_at(1000) == 0.1
    c = CosineLR(1.0, 100, floor=0.1, warmup=10)
    assert c.lr_at(0) == pytest.approx(0.1) and c.lr_at(9) == pytest.approx(1.0)
    assert c.lr_at(55) == pytest.approx(0.55) and c.lr_at(100) == pytest.approx(0.1) == c.lr_at(500)
    with pytest.raises(ValueError, match="warmup"):
        CosineLR(1.0, 10, warmup=10)


def test_one_schedule_module():
    """train re-exports the schedules of tinyrnn.schedule: one CosineLR for a step plan, a time
    budget, a floor and a warm-up."""
    from tinyrnn import train
    from tinyrnn.errors import InputError

    assert train.CosineLR is CosineLR and train.ConstantLR is ConstantLR
    assert ConstantLR(0.1).lr_at(5, 99.0) == 0.1
    steps = CosineLR(0.01, 100)  # a floor of 5% by default
    assert steps.lr_at(0) == 0.01 and steps.lr_at(100) == pytest.approx(0.0005)
    timed = CosineLR(1.0, time_budget=60.0, floor=0.0, warmup=4)  # warm-up in steps, the decay in seconds
    assert timed.lr_at(1, 0.0) == 0.5 and timed.lr_at(4, 30.0) == pytest.approx(0.5)
    assert timed.lr_at(10**6, 60.0) == pytest.approx(0.0, abs=1e-15)
    for kwargs, name in [
        ({"floor": 1.0}, "floor"),
        ({"floor": -0.1}, "floor"),
        ({"warmup": -1}, "warmup"),
        ({"time_budget": -1.0}, "time_budget"),
    ]:
        with pytest.raises(InputError, match=name):
            CosineLR(1.0, 10, **kwargs)
    with pytest.raises(InputError, match="lr"):
        CosineLR(-1.0, 10)


def test_early_stopping_counts_evaluations_without_improvement():
    s = EarlyStopping(2)
    flags = [s.update(v) for v in (3.0, 2.0, 2.5, 1.0, 1.5, 1.2)]
    assert flags == [True, True, False, True, False, False] and s.should_stop
    assert s.best == 1.0 and s.best_index == 3
    m = EarlyStopping(0, mode="max")
    for v in (0.1, 0.2, 0.1, 0.1, 0.1):
        m.update(v)
    assert not m.should_stop and m.best == 0.2


# ------------------------------------------------------------------ the composed model
CONFIGS = [
    (cell, pool, bi) for cell in ("gru", "lstm", "rnn") for pool in ("last", "mean", "max") for bi in (False, True)
]


@pytest.mark.parametrize("cell, pool, bi", CONFIGS)
def test_no_padding_leak(rng, cell, pool, bi):
    """The same sequences padded with garbage to a longer T give the same outputs and gradients."""
    model = SequenceClassifier(cell, 3, 5, 4, num_layers=2, bidirectional=bi, pool=pool, dtype=np.float64, rng=1)
    x, lengths = pad_sequences(ragged(rng, [4, 2, 6]), np.float64)
    longer = np.concatenate([x, 1e3 * rng.standard_normal((3, 5, 3))], axis=1)  # T 6 -> 11
    longer[0, 4:6] = 77.0  # and past length 4
    y = np.array([0, 3, 1])
    grads = []
    for inp in (x, longer):
        model.zero_grad()
        logits, cache = model.forward(inp, lengths)
        _, d = cross_entropy(logits, y)
        dx = model.backward(d, cache)
        assert (dx[0, 4:] == 0).all() and (dx[1, 2:] == 0).all()
        grads.append((logits, [p.grad.copy() for p in model.parameters()], dx[:, :6]))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    for a, b in zip(grads[0][1], grads[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(grads[0][2], grads[1][2], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "cell, pool, bi",
    [
        ("gru", "last", True),
        ("lstm", "mean", True),
        ("rnn", "max", False),
        ("gru", "max", True),
        ("lstm", "last", False),
    ],
)
def test_sequence_model_gradcheck(rng, cell, pool, bi):
    model = SequenceModel(cell, 3, 4, 2, num_layers=2, bidirectional=bi, pool=pool, dtype=np.float64, rng=2)
    x, lengths = pad_sequences(ragged(rng, [4, 2, 5]), np.float64)
    G = rng.standard_normal((3, 2))

    def run(x):
        y, cache = model.forward(x, lengths)
        return float((y * G).sum()), {"x": model.backward(G, cache)}

    report = gradcheck(run, model, {"x": x})
    assert report.ok, str(report)


@pytest.mark.torch
@pytest.mark.parametrize(
    "cell, pool, bi", [("gru", "last", True), ("lstm", "mean", True), ("rnn", "max", True), ("gru", "max", False)]
)
def test_sequence_model_matches_torch(torch, rng, cell, pool, bi):
    model = SequenceModel(cell, 3, 4, 2, num_layers=2, bidirectional=bi, pool=pool, dtype=np.float64, rng=3)
    x, lengths = pad_sequences(ragged(rng, [4, 2, 5]), np.float64)
    rnn_class = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[cell]
    t_rnn = rnn_class(3, 4, 2, batch_first=True, bidirectional=bi, dtype=torch.float64)
    t_head = torch.nn.Linear(len(model.head.weight.data[0]), 2, dtype=torch.float64)
    load_into_torch(torch, t_rnn, model.rnn)
    load_into_torch(torch, t_head, model.head)
    xt = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(t_rnn(packed)[0], batch_first=True)  # (B, T, D*H)
    L = torch.tensor(lengths)
    valid = (torch.arange(out.shape[1])[None, :] < L[:, None])[:, :, None]
    if pool == "mean":
        feats = out.sum(1) / L[:, None]
    elif pool == "max":
        feats = out.masked_fill(~valid, -torch.inf).max(1).values
    else:
        fwd = out[torch.arange(3), L - 1, :4]
        feats = torch.cat([fwd, out[:, 0, 4:]], 1) if bi else fwd
    G = rng.standard_normal((3, 2))
    (t_head(feats) * torch.tensor(G)).sum().backward()
    y, cache = model.forward(x, lengths)
    close(y, t_head(feats), np.float64, "y")
    dx = model.backward(G, cache)
    close(dx, xt.grad, np.float64, "dx")
    tp = dict(t_rnn.named_parameters()) | {f"head.{k}": v for k, v in t_head.named_parameters()}
    for name, p in model.named_parameters():
        close(p.grad, tp[name.removeprefix("rnn.")].grad, np.float64, name)


def test_classifier_checkpoint_covers_every_layer(tmp_path, rng):
    model = SequenceClassifier("lstm", 3, 6, 3, num_layers=2, bidirectional=True, pool="mean", dropout=0.2, rng=4)
    names = [n for n, _ in model.named_parameters()]
    assert any(n.startswith("rnn.weight_hh_l1_reverse") for n in names) and "head.weight" in names
    assert model.num_parameters() == sum(p.data.size for p in model.parameters())
    x, lengths = pad_sequences(ragged(rng, [4, 2, 5]))
    scaler = Standardizer().fit(x, lengths)
    save_classifier(tmp_path / "c.npz", model, scaler, ["x", "y", "z"])
    again, scaler2, classes, _ = load_classifier(tmp_path / "c.npz")
    assert classes == ["x", "y", "z"] and set(again.state_dict()) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, again.state_dict()[k])
    np.testing.assert_array_equal(scaler2.mean, scaler.mean)
    model.eval()
    np.testing.assert_array_equal(model(x, lengths), again(x, lengths))


# ------------------------------------------------------------------ forecaster pieces
@pytest.mark.parametrize("log, lag", [(True, 12), (False, 1), (False, 0)])
def test_series_transform_inverts(rng, log, lag):
    v = np.exp(rng.normal(5, 0.1, 60)) if log else rng.normal(0, 1, 60)
    tf = SeriesTransform(v[:48], log, lag)
    z = tf.forward(v)  # the true future, transformed
    np.testing.assert_allclose(tf.invert(z[-12:]), v[48:], rtol=1e-10)


def test_windows_pair_inputs_with_the_following_values():
    X, Y = windows(np.arange(10.0), 3, 2)
    assert X.shape == (6, 3, 1) and Y.shape == (6, 2)
    assert X[2, :, 0].tolist() == [2, 3, 4] and Y[2].tolist() == [5, 6]
    with pytest.raises(InputError, match="shorter than window"):
        windows(np.arange(4.0), 3, 2)


def test_fit_classifier_stops_early_and_keeps_the_best_epoch(rng):
    from tinyrnn.models.classifier import FitConfig, evaluate, fit_classifier

    x, lengths = pad_sequences(ragged(rng, rng.integers(2, 8, 40), F=2))
    y = np.arange(40) % 2  # labels unrelated to x: validation loss rises
    model = SequenceClassifier("gru", 2, 16, 2, rng=5)
    val = (x[30:], lengths[30:], y[30:])
    seen = []
    fit = fit_classifier(
        model,
        (x[:30], lengths[:30], y[:30]),
        val,
        FitConfig(epochs=200, lr=3e-2, patience=3),
        rng=0,
        on_epoch=seen.append,
    )
    assert fit["epochs"] < 200 and fit["epochs"] == len(seen)  # stopped early
    losses = [r["val_loss"] for r in seen]
    assert fit["best_epoch"] == int(np.argmin(losses)) + 1
    assert fit["epochs"] - fit["best_epoch"] == 3  # patience 3
    np.testing.assert_allclose(evaluate(model, *val)["loss"], min(losses), rtol=1e-5)  # the best weights
