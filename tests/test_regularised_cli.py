"""--recurrent-dropout, --weight-drop, --zoneout and --layer-norm on ``seq2seq train`` and ``memory``: each
reaches the recurrent layers, is saved in the checkpoint's model config, is kept on resume (a
different value refused), the checkpoint loads with them for ``translate``, and bad values give
one clear line and exit 2. (``charlm train``'s are in test_charlm.py.)"""

import json

import numpy as np
import pytest

from tinyrnn import cli, read_header
from tinyrnn.commands import _memory_train as memory
from tinyrnn.commands import _seq2seq_train as S
from tinyrnn.commands.seq2seq import load_for_translation
from tinyrnn.errors import UsageError

REGS = dict(recurrent_dropout=0.2, weight_drop=0.3, zoneout=0.1, layer_norm=True)
FLAGS = ["--recurrent-dropout", "0.2", "--weight-drop", "0.3", "--zoneout", "0.1", "--layer-norm"]


def layer_options(layer):
    return {name: getattr(layer, name) for name in REGS}


def test_seq2seq_flags_reach_the_layers_and_the_checkpoint(tmp_path, capsys):
    ck = str(tmp_path / "s.npz")
    base = ["seq2seq", "train", "--cell", "lstm", "--layers", "2", "--bidirectional", "--hidden", "8", "--quiet"]
    assert cli.main(base + FLAGS + ["--steps", "3", "--save", ck]) == 0
    header = read_header(ck)
    assert {k: header["config"][k] for k in REGS} == REGS
    assert {k: header["meta"]["train_config"][k] for k in REGS} == REGS
    model, _, _ = load_for_translation(ck)
    assert layer_options(model.encoder) == REGS and layer_options(model.decoder) == REGS
    assert model.encoder.bidirectional and model.encoder.num_layers == 2
    capsys.readouterr()
    # translate runs in evaluation mode: no mask is drawn, the same answer twice
    assert cli.main(["seq2seq", "translate", ck, "man", "king"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["seq2seq", "translate", ck, "man", "king"]) == 0
    assert capsys.readouterr().out == first and first.strip()


def test_seq2seq_plain_run_keeps_the_plain_config(tmp_path):
    ck = str(tmp_path / "p.npz")
    assert cli.main(["seq2seq", "train", "--hidden", "8", "--steps", "2", "--quiet", "--save", ck]) == 0
    assert not set(REGS) & set(read_header(ck)["config"])


def test_seq2seq_resume_keeps_the_options_and_their_masks(tmp_path, capsys):
    """5 steps, then 5 more on resume, equal 10 uninterrupted steps (the model's random state,
    which draws the masks, is saved); another value on resume is refused."""
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    base = ["seq2seq", "train", "--cell", "gru", "--hidden", "8", "--no-lr-decay", "--quiet"] + FLAGS
    assert cli.main(base + ["--steps", "10", "--save", a]) == 0
    assert cli.main(base + ["--steps", "5", "--save", b]) == 0
    assert cli.main(["seq2seq", "train", "--resume", b, "--steps", "5", "--quiet"]) == 0
    assert {k: read_header(b)["config"][k] for k in REGS} == REGS
    with np.load(a) as za, np.load(b) as zb:
        names = [k for k in za.files if k.startswith("model/")]
        assert names
        for k in names:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=k)
    capsys.readouterr()
    assert cli.main(["seq2seq", "train", "--resume", b, "--zoneout", "0.2", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "--zoneout 0.2 (checkpoint: 0.1)" in err and len(err.strip().splitlines()) == 1


def test_seq2seq_train_builds_the_model_with_the_options():
    cfg = S.config_for("words", steps=2, hidden=8, quiet=True, **REGS)
    model, _, metrics = S.train(cfg)
    assert layer_options(model.encoder) == REGS and layer_options(model.decoder) == REGS
    assert model.training and metrics["config"]["zoneout"] == 0.1


def test_memory_flags_reach_the_layer_and_the_checkpoint(tmp_path, capsys):
    ck = str(tmp_path / "m.npz")
    argv = ["memory", "adding", "--T", "6", "--hidden", "8", "--steps", "4", "--eval-every", "2", "--test-size", "20"]
    assert cli.main(argv + FLAGS + ["--json", "--save", ck]) == 0
    out = capsys.readouterr().out
    assert json.loads(out.strip().splitlines()[-1])["config"]["zoneout"] == 0.1
    assert {k: read_header(ck)["config"][k] for k in REGS} == REGS
    cfg = memory.MemoryConfig(task="copy", cell="rnn", T=3, hidden=6, steps=2, eval_every=2, test_size=10, quiet=True)
    model, _ = memory.train(memory.MemoryConfig(**{**cfg.__dict__, **REGS}))
    assert layer_options(model.rnn) == REGS
    plain, _ = memory.train(cfg)
    assert layer_options(plain.rnn) == dict.fromkeys(REGS, 0.0) and not set(REGS) & set(plain.config)


@pytest.mark.parametrize("command", [["seq2seq", "train"], ["memory", "adding"]])
@pytest.mark.parametrize("flag_name", ["--recurrent-dropout", "--weight-drop", "--zoneout"])
@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "x"])
def test_bad_values_one_line_exit_2(capsys, command, flag_name, value):
    assert cli.main(command + [flag_name, value]) == 2
    err = capsys.readouterr().err
    assert f"argument {flag_name}: expected a" in err and value in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("name", ["recurrent_dropout", "weight_drop", "zoneout"])
def test_memory_config_refuses_bad_values_from_python(name):
    with pytest.raises(UsageError, match=f"--{name.replace('_', '-')} must be a number from 0 to 0.99, got 1.5"):
        memory.MemoryConfig(**{name: 1.5}).resolved()


def test_memory_config_refuses_a_layer_norm_that_is_not_a_switch():
    with pytest.raises(UsageError, match="--layer-norm is a switch"):
        memory.MemoryConfig(layer_norm=1).resolved()
