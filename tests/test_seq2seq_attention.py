"""Seq2Seq with attention: finite differences through the whole model, beam K=1 = greedy,
checkpoints (old files without attention keep loading), the attention map."""

import json

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.checkpoint import META_KEY
from tinyrnn.data.seq2seq import pad_batch
from tinyrnn.models import Seq2Seq


@pytest.mark.parametrize(
    "cell,bidirectional,layers,attention",
    [("rnn", False, 1, "dot"), ("gru", True, 1, "general"), ("lstm", True, 1, "additive")],
)
def test_seq2seq_attention_gradcheck(cell, bidirectional, layers, attention):
    rng = np.random.default_rng(4)
    model = Seq2Seq(7, 3, cell, layers, bidirectional, attention, dtype=np.float64, rng=rng)
    src, src_len = pad_batch([[3, 4, 5, 6], [6, 3]])  # unequal lengths: masked keys
    tgt, _ = pad_batch([[5, 4], [3, 6, 4]])
    rep = tr.gradcheck(lambda: (model.loss_and_backward(src, src_len, tgt), {}), model)
    assert rep.ok, str(rep)
    names = {r.name for r in rep.rows}
    assert "combine.weight" in names and any(n.startswith("attention.") for n in names) == (attention != "dot")


@pytest.mark.parametrize("attention", ["dot", "general", "additive"])
def test_beam_of_one_equals_greedy(attention):
    model = Seq2Seq(9, 10, "gru", attention=attention, dtype=np.float64, rng=np.random.default_rng(5))
    rng = np.random.default_rng(6)
    for _ in range(5):
        src = list(rng.integers(3, 9, size=int(rng.integers(2, 7))))
        assert model.beam(src, 1, 10) == model.greedy(np.array([src]), np.array([len(src)]), 10)[0]


def test_attention_map_rows_are_distributions_over_the_source():
    model = Seq2Seq(9, 8, "lstm", bidirectional=True, attention="additive", rng=np.random.default_rng(0))
    w = model.attention_weights([3, 4, 5, 6, 7], [8, 8, 3])
    assert w.shape == (4, 5)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="no attention"):
        Seq2Seq(9, 8).attention_weights([3], [4])


def test_dot_attention_with_a_bidirectional_encoder_is_refused_clearly():
    with pytest.raises(ValueError, match=r"attention='dot' needs encoder outputs of the decoder's size"):
        Seq2Seq(9, 8, bidirectional=True, attention="dot")
    with pytest.raises(ValueError, match=r"attention must be one of 'none', 'dot', 'general', 'additive', got 'luong'"):
        Seq2Seq(9, 8, attention="luong")


def test_checkpoint_records_attention_and_old_files_still_load(tmp_path):
    from tinyrnn.commands.seq2seq import load_for_translation
    from tinyrnn.models.seq2seq import translate

    meta = dict(kind="seq2seq", task="reverse", chars="abc", steps=1, accuracy=0.0)
    model = Seq2Seq(6, 8, "gru", attention="general", rng=np.random.default_rng(1))
    tr.save(tmp_path / "att.npz", model, meta=meta)
    loaded, vocab, header = load_for_translation(tmp_path / "att.npz")
    assert header["config"]["attention"] == "general" and loaded.attention_kind == "general"
    assert translate(loaded, vocab, ["abc", "ca"]) == translate(model, vocab, ["abc", "ca"])
    # A file written before attention existed: no "attention" in its config.
    old = Seq2Seq(6, 8, "gru", rng=np.random.default_rng(2))
    tr.save(tmp_path / "old.npz", old, meta=meta)
    with np.load(tmp_path / "old.npz") as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays[META_KEY]))
    del header["config"]["attention"]
    arrays[META_KEY] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    loaded, vocab, _ = load_for_translation(tmp_path / "old.npz")
    assert loaded.attention_kind == "none"
    assert translate(loaded, vocab, ["abc"]) == translate(old, vocab, ["abc"])


# ---------------------------------------------------------------- through the CLI
def run(capsys, *argv):
    from tinyrnn import cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_attention_test_lengths_and_plot(tmp_path, capsys):
    ck, png = tmp_path / "rev.npz", tmp_path / "attn.png"
    code, out, _ = run(
        capsys,
        "seq2seq",
        "train",
        "--task",
        "reverse",
        "--hidden",
        "8",
        "--steps",
        "3",
        "--max-len",
        "5",
        "--test-lengths",
        "6-7",
        "--quiet",
        "--save",
        str(ck),
        "--json",
    )
    metrics = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and metrics["config"]["attention"] == "additive"  # the default for reverse
    assert set(metrics["per_length"]) == {"3", "4", "5"} and set(metrics["test_lengths"]["per_length"]) == {"6", "7"}
    assert "Test lengths 6-7:" in out
    assert tr.read_header(ck)["config"]["attention"] == "additive"
    code, out, _ = run(capsys, "seq2seq", "translate", str(ck), "abc", "hello", "--plot", str(png))
    assert code == 0 and png.stat().st_size > 0 and f"Attention plot written to {png}" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--attention", "luong"], "--attention: invalid choice"),
        (["--test-lengths", "20-13"], "expected a range A-B of lengths with 1 <= A <= B, like 13-20, got '20-13'"),
        (["--test-lengths", "5"], "--test-lengths"),
        (["--test-lengths", "5-6", "--task", "words"], "--test-lengths needs --task reverse or add"),
        (["--max-len", "2", "--task", "reverse"], "--max-len: expected an integer from 3 to 100, got 2"),
        (["--attention", "dot", "--bidirectional"], "--attention dot needs a unidirectional encoder"),
    ],
)
def test_cli_bad_attention_flags_exit_2(capsys, argv, needle):
    code, _, err = run(capsys, "seq2seq", "train", *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_cli_plot_refused_for_a_model_without_attention(tmp_path, capsys):
    ck = tmp_path / "w.npz"
    assert run(capsys, "seq2seq", "train", "--steps", "2", "--quiet", "--save", str(ck))[0] == 0
    code, _, err = run(capsys, "seq2seq", "translate", str(ck), "man", "--plot", str(tmp_path / "a.png"))
    assert code == 2 and "has no attention" in err and not (tmp_path / "a.png").exists()
    code, _, err = run(
        capsys, "seq2seq", "train", "--steps", "2", "--quiet", "--task", "reverse", "--hidden", "4", "--save", str(ck)
    )
    code, _, err = run(capsys, "seq2seq", "translate", str(ck), "abc", "--plot", str(tmp_path / "no" / "a.png"))
    assert code == 2 and "does not exist" in err


def test_length_test_sets_have_the_asked_lengths():
    from tinyrnn.data.seq2seq import AddTask, ReverseTask

    rev = ReverseTask(seed=0, test_size=10).length_test(13, 15, 50)
    assert len(rev) == 50 and {len(s) for s, _ in rev} == {13, 14, 15} and all(t == s[::-1] for s, t in rev)
    add = AddTask(seed=0, test_size=10, digits=3).length_test(4, 5, 50)
    assert {AddTask(seed=0, test_size=1).length_of(s) for s, _ in add} == {4, 5}
    assert all(int(t) == sum(map(int, s.split("+"))) for s, t in add)
