"""The CLI's edges: one error path, checks before work, divergence, signals, resume.

Every malformed command exits 2 (3 for a divergence) with one or two lines on stderr and no
traceback; a signal stops a training between steps, saves a loadable checkpoint and exits
130/143; a diverging run exits 3 and leaves the previous checkpoint as it was; resume trains
more, keeps the run's evaluation settings and refuses another corpus."""

import json
import os
import shlex
import signal
import subprocess
import sys

import numpy as np
import pytest

from tinyrnn import cli, read_header, signals
from tinyrnn.commands import _charlm_run as C
from tinyrnn.commands import _charlm_train
from tinyrnn.models.charlm import sample

TEXT = "dccbbaaaadcdccdc" * 300
TINY_LM = ["--hidden", "8", "--embed", "4", "--seq-len", "8", "--batch", "4", "--quiet"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Corpora, checkpoints of each kind, a directory and junk, shared by the table."""
    d = tmp_path_factory.mktemp("edges")
    (d / "text.txt").write_text(TEXT)
    (d / "other.txt").write_text("abcd" * 1200)
    (d / "empty.txt").write_text("")
    (d / "binary.txt").write_bytes(b"abc\x00\x01def")
    (d / "junk.npz").write_text("not a checkpoint")
    (d / "adir").mkdir()
    ro = d / "readonly"
    ro.mkdir()
    assert (
        cli.main(["charlm", "train", str(d / "text.txt"), *TINY_LM, "--steps", "3", "--save", str(d / "lm.npz")]) == 0
    )
    assert cli.main(["seq2seq", "train", "--steps", "2", "--hidden", "8", "--quiet", "--save", str(d / "s2s.npz")]) == 0
    assert cli.main(["add", "--steps", "2", "--quiet", "--save", str(d / "add.npz")]) == 0
    return {
        k: str(d / v)
        for k, v in dict(
            tmp=".",
            txt="text.txt",
            other="other.txt",
            empty="empty.txt",
            binary="binary.txt",
            junk="junk.npz",
            dir="adir",
            lm="lm.npz",
            s2s="s2s.npz",
            add="add.npz",
            missing="missing.npz",
        ).items()
    }


HUGE = "10000000000"
CASES = [
    # add
    "add --bits 0",
    "add --bits 70",
    "add --hidden -3",
    "add --hidden 1000000000",
    f"add --batch {HUGE}",
    "add --steps abc",
    "add --steps 0",
    "add --lr -1",
    "add --lr inf",
    "add --lr nan",
    "add --lr 1e309",
    "add --optimizer rmsprop",
    "add --test-bits 1",
    "add --test-bits 5000",
    "add --save {dir}",
    "add --save {tmp}/no/such/w.npz",
    "add --plot {tmp}/no/such/x.png",
    "add --plot {tmp}/out.xyz",
    "add --plot {dir}",
    "add --clip -1",
    "add --clip inf",
    "add --eval-every 0",
    "add --print-every 0",
    "add --seed -1",
    "add --bogus",
    "add --save ''",
    # srn
    "srn --activation relu",
    "srn --bogus 1",
    # hello
    "hello --epochs 0",
    "hello --lr 0",
    "hello --lr inf",
    "hello --clip nan",
    "hello --epochs 1e3",
    # seq2seq
    "seq2seq",
    "seq2seq fly",
    "seq2seq train --task sort",
    "seq2seq train --hidden 0",
    "seq2seq train --hidden 1000000",
    "seq2seq train --task add --digits 50",
    "seq2seq train --digits 0",
    "seq2seq train --time-budget inf",
    "seq2seq train --time-budget 0",
    "seq2seq train --time-budget -5",
    "seq2seq train --beam 0",
    "seq2seq train --save {tmp}/no/such/dir/w.npz",
    "seq2seq train --save {dir}",
    "seq2seq train --keep-best",
    "seq2seq train --plot {tmp}/p.xyz",
    f"seq2seq train --batch {HUGE}",
    "seq2seq train --layers 0",
    "seq2seq translate",
    "seq2seq translate {s2s}",
    "seq2seq translate {missing} man",
    "seq2seq translate {junk} man",
    "seq2seq translate {add} man",
    "seq2seq translate {s2s} Man1",
    "seq2seq translate {s2s} man --beam 0",
    "seq2seq translate {dir} man",
    "seq2seq translate {lm} man",
    # charlm
    "charlm",
    "charlm train {tmp}/none.txt",
    "charlm train {empty}",
    "charlm train {binary}",
    "charlm train {dir}",
    "charlm train {txt} --hidden 100000",
    "charlm train {txt} --dropout 1.5",
    "charlm train {txt} --eval-chars 1",
    "charlm train {txt} --time-budget inf",
    "charlm train {txt} --lr nan",
    "charlm train {txt} --save {dir}",
    "charlm train {txt} --plot {tmp}/x.xyz",
    "charlm train {txt} --seq-len 100000",
    "charlm train {txt} --resume {missing}",
    "charlm train {txt} --resume {s2s}",
    "charlm train {txt} --resume {junk}",
    "charlm train {txt} --resume {lm} --seed 3",
    "charlm train {txt} --resume {lm} --cell rnn",
    "charlm train {other} --resume {lm}",
    "charlm train --resume {lm}",
    f"charlm train {{txt}} --batch {HUGE}",
    "charlm sample",
    "charlm sample {missing}",
    "charlm sample {s2s}",
    "charlm sample {junk}",
    "charlm sample {lm} --prime aZ9",
    "charlm sample {lm} --top-k 1000",
    "charlm sample {lm} --temperature 0",
    "charlm sample {lm} --temperature inf",
    "charlm sample {lm} --length -1",
    "nonsense",
    "--bogus",
]
DIVERGE = [
    "add --lr 1e300 --steps 20 --quiet",
    "hello --lr 1e30 --quiet",
    "seq2seq train --lr 1e30 --steps 5 --hidden 8 --quiet",
    "charlm train {txt} --optimizer sgd --lr 1e6 --steps 30 " + " ".join(TINY_LM),
    "charlm train {txt} --lr 1e30 --steps 30 " + " ".join(TINY_LM),
]


def _argv(case, files):
    import shlex

    return shlex.split(case.format(**files))


def test_table_has_every_subcommand():
    assert len(CASES) + len(DIVERGE) >= 60
    for cmd in ("add", "srn", "hello", "seq2seq train", "seq2seq translate", "charlm train", "charlm sample"):
        assert any(c.startswith(cmd) for c in CASES), cmd


@pytest.mark.parametrize("case", CASES)
def test_malformed_command_exits_2_with_one_line(case, files, capsys):
    code, out, err = run(capsys, *_argv(case, files))
    assert code == 2, (case, out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2 and "error:" in lines[0], err


@pytest.mark.parametrize("case", DIVERGE)
def test_divergence_exits_3(case, files, capsys):
    code, out, err = run(capsys, *_argv(case, files))
    assert code == 3, (case, out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "training diverged at step" in lines[0] and "lower --lr (now" in lines[0]
    assert "or set --clip" in lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "--steps", "40", "--lr", "1e300"],
        ["seq2seq", "train", "--steps", "5", "--hidden", "8", "--lr", "1e30"],
        ["charlm", "train", "{txt}", *TINY_LM, "--steps", "30", "--lr", "1e30"],
    ],
)
def test_divergence_keeps_the_previous_checkpoint(argv, files, tmp_path, capsys):
    """A good checkpoint at --save survives a diverging run at the same path, byte for byte."""
    ck = tmp_path / "ck.npz"
    good = [a.replace("1e300", "0.1").replace("1e30", "0.01") for a in argv]
    argv = [a.format(**files) for a in argv]
    assert cli.main([a.format(**files) for a in good] + ["--quiet", "--save", str(ck)]) == 0
    before = ck.read_bytes()
    assert cli.main(argv + ["--quiet", "--save", str(ck)]) == 3
    assert "training diverged" in capsys.readouterr().err
    assert ck.read_bytes() == before
    with np.load(ck) as z:
        assert all(np.isfinite(z[k]).all() for k in z.files if z[k].dtype.kind == "f")
    assert not [p for p in os.listdir(tmp_path) if p != "ck.npz"]


def test_closed_pipe_exits_quietly(tmp_path):
    code = "import sys; from tinyrnn.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run(
        f"{sys.executable} -c '{code}' add --steps 3000 --print-every 1 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        executable="/bin/bash",
    )
    assert p.stdout.startswith(("threads:", "Error:")) and p.stderr == ""  # the first line, then the pipe closed


def test_internal_error_one_line_traceback_only_in_debug(monkeypatch, capsys):
    from tinyrnn.commands import srn

    monkeypatch.setattr(srn, "trace", lambda activation: 1 / 0)
    code, out, err = run(capsys, "srn")
    assert code == 1 and "internal error" in err and "ZeroDivisionError" in err and "TINYRNN_DEBUG=1" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    monkeypatch.setenv("TINYRNN_DEBUG", "1")
    code, out, err = run(capsys, "srn")
    assert code == 1 and "Traceback" in err


def test_exit_codes_in_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["charlm", "train", "--help"])
    out = capsys.readouterr().out
    for code in ("0 ", "1 ", "2 ", "3 ", "130", "141"):
        assert f"\n  {code}" in out
    assert "143 by SIGTERM" in out
    assert "%%" not in out and "MORE" in out


def test_plot_name_without_extension_is_reported_as_written(tmp_path, capsys):
    code, out, _ = run(capsys, "add", "--steps", "50", "--quiet", "--plot", tmp_path / "adir")
    assert code == 0 and f"Plot written to {tmp_path / 'adir.png'}" in out
    assert (tmp_path / "adir.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- signals
LAUNCH = "import sys; from tinyrnn.cli import main; sys.exit(main(sys.argv[1:]))"


def _start(argv):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command", ["charlm", "seq2seq"])
def test_signal_during_training_saves_and_resumes(command, sig, files, tmp_path):
    ck = str(tmp_path / "sig.npz")
    if command == "charlm":
        argv = [
            "charlm",
            "train",
            files["txt"],
            "--hidden",
            "8",
            "--embed",
            "4",
            "--seq-len",
            "8",
            "--batch",
            "4",
            "--time-budget",
            "300",
            "--eval-every",
            "20",
            "--save",
            ck,
        ]
    else:
        argv = ["seq2seq", "train", "--hidden", "8", "--time-budget", "300", "--eval-every", "5", "--save", ck]
    proc = _start(argv)
    while not proc.stdout.readline().startswith("step "):  # training is under way
        assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and f"Stopped by {signals.SIGNAL_NAMES[sig]}" in out
    key = "step" if command == "charlm" else "steps"
    step = read_header(ck)["meta"][key]
    resume = ["charlm", "train", files["txt"]] if command == "charlm" else ["seq2seq", "train"]
    assert step > 0 and f"resume with: {shlex.join(['tinyrnn', *resume])} --resume {shlex.quote(ck)}" in out
    assert cli.main(resume + ["--resume", ck, "--steps", "3", "--quiet"]) == 0
    assert read_header(ck)["meta"][key] == step + 3
    if command == "seq2seq":
        assert cli.main(["seq2seq", "translate", ck, "man"]) == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command", ["charlm", "seq2seq"])
def test_signal_during_saving(command, sig, files, tmp_path, monkeypatch, capsys):
    """The signal arrives while a checkpoint is being written: the file is finished, the run
    stops, the checkpoint loads, the exit code is the signal's, and charlm resumes from it."""
    module = _charlm_train if command == "charlm" else __import__("tinyrnn.commands._seq2seq_train", fromlist=["x"])
    real = module.save_checkpoint
    sent = []

    def save_with_signal(*a, **k):
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), sig)
        return real(*a, **k)

    monkeypatch.setattr(module, "save_checkpoint", save_with_signal)
    ck = str(tmp_path / "s.npz")
    if command == "charlm":
        argv = ["charlm", "train", files["txt"], *TINY_LM, "--steps", "40", "--eval-every", "5", "--save", ck]
    else:
        argv = ["seq2seq", "train", "--hidden", "8", "--steps", "5", "--quiet", "--save", ck]
    code, out, err = run(capsys, *argv)
    assert code == 128 + sig and "Traceback" not in err
    meta = read_header(str(ck))["meta"]
    if command == "charlm":
        assert meta["step"] in (5, 6)  # stopped right after the interrupted save
        monkeypatch.setattr(module, "save_checkpoint", real)
        assert cli.main(["charlm", "train", files["txt"], "--resume", ck, "--quiet"]) == 0
        assert read_header(str(ck))["meta"]["step"] == 40  # the saved plan, finished
    else:
        assert meta["steps"] == 5
        monkeypatch.setattr(module, "save_checkpoint", real)
        assert cli.main(["seq2seq", "train", "--resume", ck, "--steps", "4", "--quiet"]) == 0
        assert read_header(ck)["meta"]["steps"] == 9


# ---------------------------------------------------------------- resume
@pytest.fixture
def lm(files, tmp_path):
    ck = tmp_path / "lm.npz"
    assert (
        cli.main(
            [
                "charlm",
                "train",
                files["txt"],
                *TINY_LM,
                "--steps",
                "20",
                "--eval-every",
                "5",
                "--eval-chars",
                "100",
                "--save",
                str(ck),
            ]
        )
        == 0
    )
    return str(ck)


def _json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_resume_steps_and_budget_mean_more(lm, files, capsys):
    capsys.readouterr()
    assert cli.main(["charlm", "train", files["txt"], "--resume", lm, "--steps", "7", "--quiet", "--json"]) == 0
    data = _json(capsys)
    assert data["steps"] == 27
    before = read_header(lm)["meta"]["train_seconds"]
    assert cli.main(["charlm", "train", files["txt"], "--resume", lm, "--time-budget", "1", "--quiet", "--json"]) == 0
    data = _json(capsys)
    assert data["steps"] > 27 and data["train_seconds"] >= before + 1.0 - 0.01  # train_seconds is rounded to 0.01


def test_resume_keeps_evaluation_settings_and_marks_a_change(lm, files, capsys):
    capsys.readouterr()
    assert cli.main(["charlm", "train", files["txt"], "--resume", lm, "--steps", "10", "--quiet", "--json"]) == 0
    data = _json(capsys)
    assert data["config"]["eval_every"] == 5 and data["config"]["eval_chars"] == 100
    assert data["history"]["step"] == [5, 10, 15, 20, 25, 30] and data["history"]["eval_changes"] == []
    assert (
        cli.main(["charlm", "train", files["txt"], "--resume", lm, "--steps", "5", "--eval-chars", "200", "--json"])
        == 0
    )
    out = capsys.readouterr().out
    assert "Evaluation settings change at step 30: --eval-chars 100 -> 200" in out
    assert json.loads(out.strip().splitlines()[-1])["history"]["eval_changes"] == [dict(step=30, eval_chars=200)]


def test_resume_refuses_another_corpus_and_never_opens_a_path_by_itself(lm, files, capsys):
    capsys.readouterr()
    assert cli.main(["charlm", "train", files["other"], "--resume", lm]) == 2
    assert "is not the one the run trained on" in capsys.readouterr().err
    assert cli.main(["charlm", "train", "--resume", lm]) == 2
    assert "name the corpus FILEs" in capsys.readouterr().err
    assert cli.main(["charlm", "train", files["txt"], "--resume", lm, "--seed", "1"]) == 2
    assert "--seed cannot be given with --resume" in capsys.readouterr().err


def test_keep_best_writes_the_best_validation(files, tmp_path, capsys):
    ck = tmp_path / "best.npz"
    assert (
        cli.main(
            [
                "charlm",
                "train",
                files["txt"],
                *TINY_LM,
                "--steps",
                "30",
                "--eval-every",
                "5",
                "--lr",
                "0.05",
                "--keep-best",
                "--save",
                str(ck),
                "--json",
            ]
        )
        == 0
    )
    data = _json(capsys)
    hist = data["history"]
    best = hist["step"][int(np.argmin(hist["valid_loss"]))]
    assert data["kept_step"] == best == read_header(str(ck))["meta"]["step"]


def test_seq2seq_keep_best(tmp_path, capsys):
    ck = tmp_path / "w.npz"
    assert (
        cli.main(
            [
                "seq2seq",
                "train",
                "--hidden",
                "16",
                "--steps",
                "40",
                "--eval-every",
                "5",
                "--keep-best",
                "--quiet",
                "--save",
                str(ck),
                "--json",
            ]
        )
        == 0
    )
    data = _json(capsys)
    acc = data["curve"] if "curve" in data else None
    assert acc is None  # the curve stays out of --json
    assert read_header(str(ck))["meta"]["kept_step"] == data["kept_step"]
    assert data["kept_step"] % 5 == 0 or data["kept_step"] == 40


# ---------------------------------------------------------------- silent wrong numbers
def test_words_task_says_training_pairs(capsys):
    code, out, _ = run(capsys, "seq2seq", "train", "--steps", "3", "--hidden", "8", "--quiet")
    assert code == 0 and "on the 6 training pairs" in out and "held-out" not in out


def test_sample_restores_training_mode(files):
    model, vocab, _ = C.load_model(files["lm"])
    model.train()
    sample(model, vocab, "dc", 5, rng=np.random.default_rng(0))
    assert model.training
    model.eval()
    sample(model, vocab, "dc", 5, rng=np.random.default_rng(0))
    assert not model.training


@pytest.mark.parametrize("temperature", ["0", "-1", "1e-9"])
def test_zero_temperature_points_to_the_greedy_sample(files, capsys, temperature):
    code, out, err = run(capsys, "charlm", "sample", files["lm"], "--temperature", temperature)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.strip().endswith(f"got {temperature}; --top-k 1 gives the greedy (argmax) sample"), err
    code, _, err = run(capsys, "charlm", "sample", files["lm"], "--temperature", "inf")
    assert code == 2 and "greedy" not in err  # the hint only where it helps


def test_library_sample_refuses_a_zero_temperature(files):
    from tinyrnn.errors import InputError

    model, vocab, _ = C.load_model(files["lm"])
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(
            InputError, match=r"^temperature must be a finite number > 0, got .*; top_k=1 gives the greedy"
        ):
            sample(model, vocab, "dc", 5, temperature=bad)


def test_interrupted_sample_ends_its_line(files, monkeypatch, capsys):
    def interrupted(model, vocab, prime, length, temperature, top_k, rng, emit, keep):
        emit("a")
        raise KeyboardInterrupt

    monkeypatch.setattr("tinyrnn.models.charlm.sample", interrupted)
    code, out, err = run(capsys, "charlm", "sample", files["lm"], "--prime", "dc")
    assert code == 130 and out == "dca\n" and err.strip() == "interrupted"


def test_seq2seq_resume_continues_the_run(tmp_path, capsys):
    """5 steps, then 5 more on resume, end with the weights of 10 uninterrupted steps."""
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    base = ["seq2seq", "train", "--hidden", "8", "--no-lr-decay", "--quiet"]
    assert cli.main(base + ["--steps", "10", "--save", a]) == 0
    assert cli.main(base + ["--steps", "5", "--save", b]) == 0
    assert cli.main(["seq2seq", "train", "--resume", b, "--steps", "5", "--quiet"]) == 0
    with np.load(a) as za, np.load(b) as zb:
        for k in za.files:
            if k.startswith("model/"):
                np.testing.assert_array_equal(za[k], zb[k])
    assert cli.main(["seq2seq", "train", "--resume", b, "--hidden", "16"]) == 2
    assert "--hidden 16 (checkpoint: 8)" in capsys.readouterr().err
