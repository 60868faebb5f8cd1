"""What a user sees during and after a run: whole lines beside the progress bar, the
plan before step one, training and evaluation times that add up, plots, help texts."""

import io
import json
import re
import time

import pytest

from tinyrnn import cli, train

TINY_LM = ["--hidden", "8", "--embed", "4", "--seq-len", "8", "--batch", "4"]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def in_terminal(monkeypatch, argv):
    """Run with stdout and stderr one terminal, as in a shell, the bar shown at once (patched in
    the test's body: pytest restores its own capture after fixtures)."""
    term = FakeTerminal()
    monkeypatch.setattr(train, "BAR_DELAY", 0.0)
    with monkeypatch.context() as m:
        m.setattr("sys.stdout", term)
        m.setattr("sys.stderr", term)
        code = cli.main(argv)
    assert code == 0
    return term.getvalue()


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("dccbbaaaadcdccdc" * 300)
    return str(path)


def _segments(out):
    return [s for s in re.split(r"[\r\n]", out) if s.strip()]


def test_progress_bar_never_breaks_printed_lines(monkeypatch):
    segs = _segments(
        in_terminal(monkeypatch, ["add", "--steps", "1500", "--print-every", "50", "--eval-every", "100000"])
    )
    assert any("it/s" in s or "s/it" in s for s in segs)  # the bar was drawn
    errors = [s for s in segs if "rror:" in s]
    assert len(errors) == 30 and all(re.fullmatch(r"Error:[0-9.e+-]+", s) for s in errors)
    preds = [s for s in segs if "red:" in s]
    assert len(preds) == 30 and all(re.fullmatch(r"Pred:[01]{8}", s) for s in preds)


def test_charlm_lines_whole_beside_the_bar(monkeypatch, text):
    segs = _segments(
        in_terminal(monkeypatch, ["charlm", "train", text, *TINY_LM, "--steps", "300", "--eval-every", "20"])
    )
    steps = [s for s in segs if "nats" in s and "train" in s]
    assert len(steps) == 15
    assert all(
        re.fullmatch(
            r"step \d+: train [0-9.]+ nats, valid [0-9.]+ nats = [0-9.]+ bits/char "
            r"\(\d+ s of training\)",
            s,
        )
        for s in steps
    ), steps


def test_plan_printed_before_the_first_step(text, capsys):
    assert cli.main(["charlm", "train", text, *TINY_LM, "--steps", "10", "--eval-every", "5"]) == 0
    out = capsys.readouterr().out
    corpus, model, plan, first = (out.index(k) for k in ("Corpus:", "Model: GRU, 1 layer", "Plan: 10 steps", "step 5:"))
    assert corpus < model < plan < first
    assert "vocabulary 4" in out and "parameters" in out and "validation every 5 steps" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["charlm", "train", "{text}", *TINY_LM, "--steps", "60", "--eval-every", "10", "--quiet", "--json"],
        ["add", "--steps", "400", "--quiet", "--json"],
        ["seq2seq", "train", "--hidden", "8", "--steps", "40", "--eval-every", "10", "--quiet", "--json"],
    ],
)
def test_training_and_evaluation_times_add_up_to_wall_time(argv, text, capsys):
    t0 = time.perf_counter()
    assert cli.main([a.format(text=text) for a in argv]) == 0
    wall = time.perf_counter() - t0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["eval_seconds"] >= 0 and data["train_seconds"] > 0
    assert abs(wall - data["train_seconds"] - data["eval_seconds"]) < 1.0


def test_add_reports_both_times(capsys):
    assert cli.main(["add", "--steps", "100", "--quiet"]) == 0
    assert re.search(r"Time: [0-9.]+ s of training \+ [0-9.]+ s of evaluation", capsys.readouterr().out)


@pytest.mark.parametrize(
    "argv",
    [
        ["charlm", "train", "{text}", *TINY_LM, "--steps", "40", "--eval-every", "20", "--quiet"],
        ["seq2seq", "train", "--hidden", "8", "--steps", "20", "--eval-every", "10", "--quiet"],
    ],
)
def test_plot_written_under_the_reported_name(argv, text, tmp_path, capsys):
    assert cli.main([a.format(text=text) for a in argv] + ["--plot", str(tmp_path / "curves")]) == 0
    out = capsys.readouterr().out
    name = re.search(r"Plot written to (\S+)", out).group(1)
    assert name == str(tmp_path / "curves.png")
    with open(name, "rb") as fh:
        assert fh.read(4) == b"\x89PNG"


def test_help_texts(capsys):
    for argv in (
        ["add"],
        ["srn"],
        ["hello"],
        ["seq2seq", "train"],
        ["seq2seq", "translate"],
        ["charlm", "train"],
        ["charlm", "sample"],
        [],
    ):
        with pytest.raises(SystemExit):
            cli.main(argv + ["--help"])
        out = capsys.readouterr().out
        assert "%%" not in out and "(default None)" not in out and "exit codes:" in out
    with pytest.raises(SystemExit):
        cli.main(["seq2seq", "translate", "--help"])
    out = capsys.readouterr().out
    assert re.search(r"CKPT\s+a checkpoint written by", out) and re.search(r"INPUT\s+source strings", out)


def _help(capsys, argv):
    with pytest.raises(SystemExit):
        cli.main(argv + ["--help"])
    out = capsys.readouterr().out
    return out[out.index("exit codes:") :]


@pytest.mark.parametrize(
    "argv, codes",
    [
        (["check"], [0, 1, 2, 4, 130, 141]),
        (["classify"], [0, 1, 2, 3, 130, 141]),
        (["classify", "train"], [0, 1, 2, 3, 130, 141]),
        (["classify", "predict"], [0, 1, 2, 130, 141]),
    ],
)
def test_help_lists_the_exit_codes_a_command_returns(capsys, argv, codes):
    table = _help(capsys, argv)
    assert [int(c) for c in re.findall(r"^  (\d+) ", table, re.M)] == codes
    assert "143 by SIGTERM" in table
    assert ("saves if --save was given" in table) == (3 in codes)


def test_the_shared_exit_codes_say_which_commands_they_are_for(capsys):
    """A command that does not state its own exit codes shows the shared table: exit 3 and 4 say
    which commands they are for, so the table is true for every command."""
    from tinyrnn.commands import COMMANDS

    for argv in [[]] + [[c] for c in COMMANDS if c not in ("check", "classify")]:
        table = _help(capsys, argv)
        lines = table.splitlines()
        three = next((i for i, line in enumerate(lines) if line.startswith("  3 ")), None)
        four = next((line for line in lines if line.startswith("  4 ")), None)
        assert three is None or lines[three + 1].strip() == "(commands that train)", (argv, table)
        assert four is None or four.endswith("(tinyrnn check)"), (argv, table)


def test_subcommand_error_names_the_subcommand(capsys):
    assert cli.main(["charlm", "train", "--nonsense"]) == 2
    assert capsys.readouterr().err.startswith("tinyrnn charlm train: error: unrecognized arguments: --nonsense")
    assert cli.main(["seq2seq", "translate", "x.npz", "man", "--beam", "x"]) == 2
    assert capsys.readouterr().err.startswith("tinyrnn seq2seq translate: error: argument --beam")
