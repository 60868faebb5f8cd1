"""The training-loop skeleton (tinyrnn/train.py) and the end of a run as every training command
has it: the learning-rate schedules, the plain progress line off a terminal, periodic
checkpoints, the checkpoint written before the plot, keep-best saving one step's whole state,
a held-out loss above the ceiling as a divergence, and the second signal."""

import json
import math
import os
import signal
import sys

import numpy as np
import pytest

from tinyrnn import cli, train
from tinyrnn.checkpoint import read_header
from tinyrnn.commands import _charlm_run as C
from tinyrnn.commands import _memory_train as memory
from tinyrnn.commands import _seq2seq_train as seq2seq
from tinyrnn.commands import add as add_demo
from tinyrnn.commands.seq2seq import load_for_translation
from tinyrnn.errors import Diverged
from tinyrnn.signals import Interrupted

MEMORY = ["memory", "adding", "--T", "10", "--hidden", "8", "--test-size", "50", "--quiet"]


# ---------------------------------------------------------------- schedules
def test_constant_lr():
    s = train.ConstantLR(0.3)
    assert s.lr_at(0) == s.lr_at(10**6, 1e9) == 0.3


def test_cosine_lr_over_steps_and_seconds():
    s = train.CosineLR(0.01, steps=100)
    assert s.lr_at(0) == pytest.approx(0.01)
    assert s.lr_at(50) == pytest.approx(0.01 * (0.05 + 0.95 * 0.5))
    assert s.lr_at(100) == pytest.approx(0.0005) and s.lr_at(500) == pytest.approx(0.0005)
    timed = train.CosineLR(0.01, steps=3, time_budget=60.0)  # the budget wins over steps
    assert timed.lr_at(2, 30.0) == pytest.approx(0.01 * (0.05 + 0.95 * 0.5))
    assert timed.lr_at(10**6, 0.0) == pytest.approx(0.01)
    assert isinstance(train.lr_schedule(0.1, False, 10), train.ConstantLR)
    assert isinstance(train.lr_schedule(0.1, True, 10), train.CosineLR)


def test_charlm_rate_is_the_cosine_schedule():
    cfg = C.CharLMConfig(lr=0.02, steps=40)
    assert all(C.lr_at(cfg, k, 0.0) == train.CosineLR(0.02, 40).lr_at(k) for k in range(0, 60, 7))


# ---------------------------------------------------------------- progress off a terminal
def test_plain_progress_line_when_stdout_is_not_a_terminal(capsys):
    lines = []
    with train.Run(train.Plan(steps=5), lines.append, desc="demo", progress_seconds=0.0) as run:
        for step in run.steps():
            with run.training(step):
                pass
            run.log(1.0 / step)
    assert run.step == 5
    assert lines[0].startswith("demo: step 1/5, loss 1, ") and "steps/s" in lines[0] and lines[0].endswith(" left")
    assert len(lines) == 5 and lines[-1].startswith("demo: step 5/5, loss 0.2, ")


def test_no_progress_line_when_quiet():
    lines = []
    with train.Run(train.Plan(steps=5), lines.append, quiet=True, progress_seconds=0.0) as run:
        for step in run.steps():
            with run.training(step):
                pass
    assert lines == []


def test_a_command_logged_to_a_file_shows_progress(monkeypatch, capsys):
    monkeypatch.setattr(train, "PROGRESS_SECONDS", 0.0)
    assert cli.main(["add", "--steps", "30", "--print-every", "1000"]) == 0
    out = capsys.readouterr().out
    assert "add: step 10/30, loss " in out and "left" in out


def test_time_budget_plan_has_no_step_total(capsys):
    lines = []
    with train.Run(train.Plan(time_budget=1e9), lines.append, desc="t", progress_seconds=0.0) as run:
        for step in run.steps():
            with run.training(step):
                pass
            if step == 3:
                break
    assert lines[0].startswith("t: step 1, loss nan")


# ---------------------------------------------------------------- the end of a run
def test_no_save_is_said_at_the_start_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(train, "_is_terminal", lambda stream=None: stream is sys.stderr)
    assert cli.main(["add", "--steps", "5", "--print-every", "1000"]) == 0
    assert capsys.readouterr().err.strip() == train.UNSAVED
    assert cli.main(["add", "--steps", "5", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["add", "--hidden", "1000000000"]) == 2  # refused before the run: no note
    assert "will not be kept" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, module, name",
    [
        (MEMORY + ["--steps", "20", "--eval-every", "10"], memory, "plot"),
        (["add", "--steps", "20", "--quiet"], add_demo, "plot"),
        (["seq2seq", "train", "--steps", "4", "--hidden", "8", "--quiet"], seq2seq, "plot"),
    ],
)
def test_checkpoint_is_written_before_the_plot(argv, module, name, tmp_path, monkeypatch, capsys):
    """A plot that fails (a full disk) does not cost the trained model."""

    def full_disk(path, *args, **kwargs):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(module, name, full_disk)
    ckpt = tmp_path / "m.npz"
    assert cli.main(argv + ["--save", str(ckpt), "--plot", str(tmp_path / "p.png")]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert read_header(ckpt)["class"]


def test_periodic_checkpoint_keeps_all_but_the_last_period(tmp_path, monkeypatch, capsys):
    """A run that fails late loses at most one evaluation period: the checkpoint of the last
    evaluation is on disk."""
    monkeypatch.setattr(train, "CHECKPOINT_SECONDS", 0.0)
    real = memory.guarded_step

    def blow_up_late(opt, model, step, loss, *args):
        if step == 35:
            raise Diverged(step, math.inf, 0.01)
        return real(opt, model, step, loss, *args)

    monkeypatch.setattr(memory, "guarded_step", blow_up_late)
    ckpt = tmp_path / "m.npz"
    assert cli.main(MEMORY + ["--steps", "50", "--eval-every", "10", "--save", str(ckpt)]) == 3
    assert read_header(ckpt)["meta"]["steps"] == 30


def test_held_out_loss_above_the_ceiling_is_a_divergence(tmp_path, monkeypatch, capsys):
    def absurd(model, task, test):
        return dict(test_ce=1e4, recall_accuracy=0.0)

    monkeypatch.setattr(memory, "evaluate", absurd)
    ckpt = tmp_path / "m.npz"
    argv = ["memory", "copy", "--T", "5", "--hidden", "8", "--test-size", "20", "--steps", "10", "--eval-every", "5"]
    assert cli.main(argv + ["--quiet", "--save", str(ckpt)]) == 3
    assert "diverged" in capsys.readouterr().err and not ckpt.exists()


def test_keep_best_saves_one_steps_whole_state(tmp_path, monkeypatch):
    """The weights, the optimizer state, the step and the random state of the best evaluation:
    resuming continues from that step, not from a mixture."""
    scores = iter([0.9, 0.5, 0.4, 0.3, 0.2])
    real = seq2seq.evaluate
    seen = {}

    def scripted(model, task, pairs, beam=1, chunk=256):
        out = real(model, task, pairs[:5], beam, chunk)
        if len(pairs) == 200:  # the periodic evaluations, then the one before keeping
            out["accuracy"] = next(scores)
        return out

    monkeypatch.setattr(seq2seq, "evaluate", scripted)
    cfg = seq2seq.config_for(
        "reverse", hidden=8, batch=4, steps=12, eval_every=3, keep_best=True, max_len=5, quiet=True, lr=3e-3
    )
    original_step = seq2seq.guarded_step

    def record(opt, model, step, *args):
        original_step(opt, model, step, *args)
        if step == 3:
            seen["rng"] = task_rng[0].bit_generator.state
            seen["weights"] = model.state_dict()

    task_rng = []
    real_make = seq2seq.make_task

    def make(cfg):
        task = real_make(cfg)
        task_rng.append(task.rng)
        return task

    monkeypatch.setattr(seq2seq, "make_task", make)
    monkeypatch.setattr(seq2seq, "guarded_step", record)
    ckpt = tmp_path / "s.npz"
    _, _, metrics = seq2seq.train(cfg, save=str(ckpt))
    assert metrics["steps"] == 12 and metrics["kept_step"] == 3
    header = read_header(ckpt)
    assert header["meta"]["steps"] == header["meta"]["kept_step"] == 3
    assert header["optimizer"]["step"] == 3  # Adam's state of step 3, not of step 12
    assert header["meta"]["task_rng"] == seen["rng"]
    assert header["meta"]["curve"]["step"] == [3] and len(header["meta"]["curve"]["loss"]) == 3
    model, _, _ = load_for_translation(str(ckpt))
    for k, v in seen["weights"].items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


# ---------------------------------------------------------------- signals
def test_second_signal_saves_and_exits_with_its_code():
    """A second SIGTERM during an evaluation stops at once; the run as it is then is saved."""
    saved = []
    with pytest.raises(Interrupted) as e:
        with train.Run(train.Plan(steps=10), quiet=True, save=lambda: saved.append(run.step)) as run:
            for step in run.steps():
                with run.training(step):
                    pass
                if step == 4:
                    with run.evaluating():
                        os.kill(os.getpid(), signal.SIGTERM)  # the first: stop after this step
                        os.kill(os.getpid(), signal.SIGTERM)  # the second: stop now
    assert e.value.exit_code == 143 and saved == [4]


def test_second_signal_waits_for_the_step_under_way():
    saved = []
    with pytest.raises(Interrupted):
        with train.Run(train.Plan(steps=10), quiet=True, save=lambda: saved.append(run.step)) as run:
            for step in run.steps():
                with run.training(step):
                    if step == 2:
                        os.kill(os.getpid(), signal.SIGTERM)
                        os.kill(os.getpid(), signal.SIGTERM)
                        finished = step  # the step goes on to its end
    assert finished == 2 and saved == [2]


def test_second_sigterm_through_the_command_exits_143(tmp_path, monkeypatch, capsys):
    real = memory.evaluate

    def signalled(model, task, test):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        return real(model, task, test)

    monkeypatch.setattr(memory, "evaluate", signalled)
    ckpt = tmp_path / "m.npz"
    assert cli.main(MEMORY + ["--steps", "20", "--eval-every", "10", "--save", str(ckpt)]) == 143
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert read_header(ckpt)["meta"]["steps"] == 10


def test_metrics_vocabulary(capsys):
    assert cli.main(MEMORY + ["--steps", "10", "--eval-every", "5", "--json"]) == 0
    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("steps", "train_seconds", "eval_seconds", "save_seconds", "signal", "exit_code", "seconds"):
        assert key in m
    assert m["steps"] == 10 and m["signal"] is None and m["exit_code"] == 0


def test_a_checkpoint_after_a_second_signal_names_the_step_of_its_weights(tmp_path, monkeypatch, capsys):
    """add: stopped during the evaluation of step 100 (the weights of step 100, not yet
    evaluated), the checkpoint says step 100, not the step last evaluated."""
    real = add_demo.accuracy
    calls = []

    def signalled(model, a, b, chunk=65536):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
        return real(model, a, b, chunk)

    monkeypatch.setattr(add_demo, "accuracy", signalled)
    ckpt = tmp_path / "a.npz"
    assert cli.main(["add", "--steps", "300", "--quiet", "--save", str(ckpt)]) == 143
    meta = read_header(ckpt)["meta"]
    assert meta["steps"] == meta["kept_step"] == 100 and meta["accuracy"] is None
