"""The small commands through ``cli.main``: numbers, learning, --json, and exit code 2 for bad input."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import cli
from tinyrnn.commands import _seq2seq_train as seq2seq
from tinyrnn.commands import add, hello, srn
from tinyrnn.models.seq2seq import translate

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- srn
def test_srn_identity_exact():
    outs = [r["output"] for r in srn.trace("identity")]
    assert outs == [[4.0, 4.0], [12.0, 12.0], [32.0, 32.0]]


def test_srn_tanh_exact():
    outs = [r["output"][0] for r in srn.trace("tanh")]
    assert outs == [1.9280551601516338, 1.9984510891336251, 1.9999753470497836]


def test_srn_cli_json(capsys):
    code, out, _ = run(capsys, "srn", "--activation", "tanh", "--json")
    assert code == 0
    data = last_json(out)
    assert data["steps"][2]["output"][1] == 1.9999753470497836
    assert "step 1: input [1.0, 1.0]" in out


def test_srn_torch_side_by_side(capsys, torch):
    code, out, _ = run(capsys, "srn", "--torch", "--json")
    assert code == 0
    data = last_json(out)
    assert [r["output"] for r in data["torch"]] == [r["output"] for r in data["steps"]]


# ---------------------------------------------------------------- hello
def test_hello_reaches_ohlol(capsys):
    code, out, _ = run(capsys, "hello", "--json")
    assert code == 0
    assert "Epoch 15/15 loss=" in out
    data = last_json(out)
    assert data["predicted"] == "ohlol" and data["solved"]


# ---------------------------------------------------------------- add
def test_add_batched_adam_reaches_100_percent_on_all_pairs(capsys):
    code, out, _ = run(
        capsys,
        "add",
        "--batch",
        "64",
        "--optimizer",
        "adam",
        "--lr",
        "0.1",
        "--steps",
        "400",
        "--test-bits",
        "16",
        "--json",
    )
    assert code == 0
    data = last_json(out)
    assert data["eval_exhaustive"] and data["eval_pairs"] == 16384
    assert data["accuracy"] == 1.0
    assert data["first_perfect_step"] is not None and data["first_perfect_step"] <= 400
    g = data["generalisation"]
    assert g["bits"] == 16 and g["sample_accuracy"] == 1.0 and g["edge_accuracy"] == 1.0
    assert "Error:" in out and "Pred:" in out and "True:" in out and " + " in out


def test_add_prints_tutorial_block():
    lines = []
    add.train(add.AddConfig(steps=20, print_every=10, quiet=True), lines.append)
    block = lines[0].splitlines()
    assert block[0].startswith("Error:") and block[1].startswith("Pred:") and block[2].startswith("True:")
    assert len(block[1]) == len("Pred:") + 8
    a, rest = block[3].split(" + ")
    b, s = rest.split(" = ")
    assert a.isdigit() and b.isdigit() and s.isdigit()


def test_add_same_seed_same_output(capsys):
    args = ("add", "--steps", "200", "--batch", "8", "--print-every", "50", "--json")
    _, out1, _ = run(capsys, *args)
    _, out2, _ = run(capsys, *args)
    strip = (
        lambda o: [
            ln
            for ln in o.splitlines()
            if "seconds" not in ln
            and "Training time" not in ln
            and "s of training" not in ln
            and not ln.startswith("threads:")  # the BLAS thread count follows the machine's load
        ][:-1]
    )
    assert strip(out1) == strip(out2)
    j1, j2 = last_json(out1), last_json(out2)
    for j in (j1, j2):
        j.pop("train_seconds"), j.pop("eval_seconds")
        j.pop("train_seconds_to_first_perfect")
        j.pop("threads"), j.pop("threads_reason")
    assert j1 == j2


def test_add_plot_and_save(tmp_path, capsys):
    png, ck = tmp_path / "add.png", tmp_path / "add.npz"
    code, out, _ = run(capsys, "add", "--steps", "50", "--quiet", "--plot", str(png), "--save", str(ck))
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    header = tr.read_header(ck)
    assert header["class"] == "BinaryAdder" and header["meta"]["kind"] == "add"


# ---------------------------------------------------------------- seq2seq
def test_seq2seq_words_translates_six_words(tmp_path, capsys):
    ck = tmp_path / "w.npz"
    code, out, _ = run(capsys, "seq2seq", "train", "--steps", "300", "--save", str(ck), "--json")
    assert code == 0
    data = last_json(out)
    for src, tgt in [
        ("man", "women"),
        ("black", "white"),
        ("king", "queen"),
        ("girl", "boy"),
        ("up", "down"),
        ("high", "low"),
    ]:
        assert data["translations"][src] == tgt
    assert {"mans", "old", "kin"} <= set(data["translations"])
    code, out, _ = run(capsys, "seq2seq", "translate", str(ck), "king", "up", "--beam", "3")
    assert code == 0
    assert out.splitlines() == ["king -> queen", "up -> down"]


def test_beam_one_equals_greedy():
    cfg = seq2seq.Seq2SeqConfig(steps=150, quiet=True)
    model, task, _ = seq2seq.train(cfg)
    words = ["man", "black", "mans", "kin", "zzz", "q"]
    assert translate(model, task.vocab, words, beam=1) == [
        task.vocab.decode(model.beam(task.vocab.encode(w), 1, 20)) for w in words
    ]


# ---------------------------------------------------------------- bad input exits 2
@pytest.mark.parametrize(
    "argv,needle",
    [
        (["add", "--bits", "0"], "--bits"),
        (["add", "--hidden", "-3"], "--hidden"),
        (["add", "--steps", "abc"], "--steps"),
        (["add", "--lr", "-1"], "--lr"),
        (["add", "--optimizer", "rmsprop"], "--optimizer"),
        (["add", "--test-bits", "1"], "--test-bits"),
        (["hello", "--epochs", "0"], "--epochs"),
        (["srn", "--activation", "relu"], "--activation"),
        (["seq2seq", "train", "--task", "sort"], "--task"),
        (["seq2seq", "train", "--hidden", "0"], "--hidden"),
        (["seq2seq"], "choose an action"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_flags_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_translate_bad_inputs_exit_2(tmp_path, capsys):
    ck = tmp_path / "w.npz"
    assert run(capsys, "seq2seq", "train", "--steps", "5", "--quiet", "--save", str(ck))[0] == 0
    code, _, err = run(capsys, "seq2seq", "translate", str(ck), "Man1")
    assert code == 2 and "outside the alphabet" in err and "'1'" in err and "'M'" in err
    code, _, err = run(capsys, "seq2seq", "translate", str(tmp_path / "missing.npz"), "man")
    assert code == 2 and "does not exist" in err
    foreign = tmp_path / "adder.npz"
    run(capsys, "add", "--steps", "5", "--quiet", "--save", str(foreign))
    code, _, err = run(capsys, "seq2seq", "translate", str(foreign), "man")
    assert code == 2 and "not a seq2seq checkpoint" in err
    junk = tmp_path / "junk.npz"
    junk.write_text("not a checkpoint")
    code, _, err = run(capsys, "seq2seq", "translate", str(junk), "man")
    assert code == 2 and "not a .npz" in err


def test_help_explains_options(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["add", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in (
        "--bits",
        "--hidden",
        "--lr",
        "--steps",
        "--batch",
        "--optimizer",
        "--seed",
        "--test-bits",
        "--plot",
        "--save",
        "--json",
        "--quiet",
    ):
        assert opt in out


def test_generic_rnn_example_converges(capsys):
    runpy.run_path(str(ROOT / "examples" / "generic_rnn.py"), run_name="__main__")
    out = capsys.readouterr().out
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("iteration")]
    assert len(losses) == 10 and losses[-1] < 1e-4 < losses[0]


def test_demo_functions_return_data_without_printing(capsys):
    m = hello.train(hello.HelloConfig(epochs=2))
    assert set(m) >= {"predicted", "final_loss", "history"}
    assert capsys.readouterr().out == ""
    assert np.isfinite(m["final_loss"])
