"""tinyrnn exercise / tinyrnn check: the template, the checker and the equation it names.

A correct solution written unlike the reference passes; every single-line bug of
tests/data/exercises/bugs.json is flagged and the named equation is the one the bug breaks for
at least 90 % of them; an unfilled template is "not written" throughout; a file that loops,
exits or crashes is reported, never fatal; the exit codes are 0, 4 and 2."""

import importlib.util
import json
import os
import re

import pytest

from tinyrnn import cli
from tinyrnn import reference as ref
from tinyrnn.errors import InputError
from tinyrnn.exercises import FUNCTIONS, check_file, format_report, template
from tinyrnn.exercises.diagnose import check_function
from tinyrnn.exercises.equations import EQUATIONS, FUNCTION_EQUATIONS

HERE = os.path.dirname(__file__)
SOLUTION = os.path.join(HERE, "data", "exercises", "solution.py")
BUGS = os.path.join(HERE, "data", "exercises", "bugs.json")
DOCS = os.path.join(HERE, "..", "docs", "bptt.md")
NAMED_AT_LEAST = 0.9


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {n: getattr(module, n) for n in FUNCTIONS if hasattr(module, n)}


# ---------------------------------------------------------------- the template
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_template_has_the_reference_signatures(cell):
    import inspect

    text = template(cell)
    names = {}
    exec(compile(text, f"my_{cell}.py", "exec"), names)
    for name in (f"{cell}_step", f"{cell}_step_backward"):
        assert str(inspect.signature(names[name])) == str(inspect.signature(getattr(ref, name)))
        doc = names[name].__doc__
        assert "docs/bptt.md" in doc
        labels = FUNCTION_EQUATIONS[name]
        assert f"({labels[0]})" in doc and f"({labels[-1]})" in doc
        with pytest.raises(NotImplementedError):
            names[name](*[None] * len(inspect.signature(names[name]).parameters))
    assert "TODO" in text


def test_template_to_stdout_and_to_a_file_never_over_one(capsys, tmp_path):
    code, out, _ = run(capsys, "exercise", "gru")
    assert code == 0 and out == template("gru")
    target = tmp_path / "mine.py"
    code, out, _ = run(capsys, "exercise", "lstm", "--out", target)
    assert code == 0 and "tinyrnn check" in out
    assert "def lstm_step_backward(dh_next, dc_next, cache):" in target.read_text()
    target.write_text("my work")
    code, out, err = run(capsys, "exercise", "lstm", "--out", target)
    assert code == 2 and "exists" in err and target.read_text() == "my work"
    code, _, err = run(capsys, "exercise", "lstm", "--out", tmp_path / "nofolder" / "x.py")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "exercise", "cnn")
    assert code == 2 and "rnn" in err


def test_unfilled_template_is_not_written_everywhere(capsys, tmp_path):
    path = write(tmp_path, "all.py", template("rnn") + template("lstm") + template("gru"))
    code, out, _ = run(capsys, "check", path, "--json")
    result = last_json(out)
    assert code == 4 and result["ok"] is False and result["equation"] is None
    assert result["function"] == "rnn_step"
    assert set(result["functions"]) == set(FUNCTIONS)
    assert all(r["status"] == "not written" for r in result["functions"].values())
    assert result["status"] == "not done" and len(result["problems"]) == 6
    assert result["problems"][0] == "rnn_step: not written: rnn_step raises NotImplementedError"
    assert out.count("not written") >= 6


# ---------------------------------------------------------------- a correct solution
@pytest.mark.parametrize("solution", [SOLUTION, os.path.join(HERE, "data", "exercises", "solution_sliced.py")])
def test_a_solution_unlike_the_reference_passes(capsys, solution):
    code, out, _ = run(capsys, "check", solution, "--json")
    result = last_json(out)
    assert code == 0, out
    assert result == dict(
        file=solution,
        status="correct",
        ok=True,
        equation=None,
        function=None,
        functions={n: dict(status="correct", equation=None, message="", max_diff=None) for n in FUNCTIONS},
        problems=[],
    )
    assert out.count("✓") == 6


def test_the_reference_itself_passes(tmp_path):
    path = write(tmp_path, "ref.py", "from tinyrnn.reference import " + ", ".join(FUNCTIONS) + "\n")
    report = check_file(path)
    assert report["ok"] and all(r["status"] == "correct" for r in report["functions"].values())


# ---------------------------------------------------------------- the bug set
def test_single_line_bugs_are_flagged_and_named(tmp_path):
    """Each bug of bugs.json breaks one line of the solution; the checker must flag every one,
    and name the equation the bug breaks for at least 90 % of them."""
    source = open(SOLUTION).read()
    bugs = json.load(open(BUGS))
    assert len(bugs) >= 25 and {b["cell"] for b in bugs} == {"rnn", "lstm", "gru"}
    named, flagged, misses = 0, 0, []
    for k, bug in enumerate(bugs):
        assert source.count(bug["find"]) == 1, bug["find"]
        path = write(tmp_path, f"bug{k}.py", source.replace(bug["find"], bug["replace"]))
        functions = load(path, f"bug{k}")
        results = [check_function(n, functions, path) for n in FUNCTIONS if n.startswith(bug["cell"] + "_")]
        wrong = [r for r in results if r["status"] != "correct"]
        flagged += bool(wrong)
        equation = next((r["equation"] for r in wrong if r["equation"]), None)
        if equation == bug["equation"]:
            named += 1
        else:
            misses.append((bug["replace"], bug["equation"], equation))
    assert flagged == len(bugs)
    assert named / len(bugs) >= NAMED_AT_LEAST, misses
    print(f"named correctly / flagged / total: {named} / {flagged} / {len(bugs)}; missed: {misses}")


def test_a_bug_is_named_through_the_command(capsys, tmp_path):
    source = open(SOLUTION).read()
    path = write(tmp_path, "mine.py", source.replace("dcprev = dcell * fg", "dcprev = dcell * og"))
    code, out, _ = run(capsys, "check", path, "--json")
    result = last_json(out)
    assert code == 4
    assert (result["ok"], result["equation"], result["function"]) == (False, "L9", "lstm_step_backward")
    assert result["functions"]["lstm_step_backward"]["status"] == "wrong"
    assert result["functions"]["lstm_step"] == dict(status="correct", equation=None, message="", max_diff=None)
    assert EQUATIONS["L9"][0] in out and "largest difference" in out and "hint:" in out


def test_forward_bug_is_named_before_its_backward(capsys, tmp_path):
    source = open(SOLUTION).read()
    broken = source.replace("cnew = fg * c + ig * cand", "cnew = fg * c + cand")
    path = write(tmp_path, "mine.py", broken.replace("dcprev = dcell * fg", "dcprev = dcell * og"))
    result = check_file(path)
    assert (result["equation"], result["function"]) == ("L3", "lstm_step")
    assert result["functions"]["lstm_step_backward"]["status"] == "not checked"


def test_wrong_shape_and_wrong_type(tmp_path):
    source = open(SOLUTION).read()
    path = write(tmp_path, "shape.py", source.replace('grads["bias_ih"] = d_in.sum(0)', 'grads["bias_ih"] = d_in'))
    result = check_file(path)["functions"]["gru_step_backward"]
    assert (result["status"], result["equation"]) == ("wrong shape", "G8")
    assert re.search(r"grads\['bias_ih'\] has shape \(\d+, \d+\), expected \(\d+,\)", result["message"])
    path = write(
        tmp_path,
        "type.py",
        source.replace("return hnew, (x, h, reset", "return (hnew, (x, h, reset").replace(
            "bias_ih is not None)\n\n\ndef gru_step_backward", "bias_ih is not None), 0)\n\n\ndef gru_step_backward"
        ),
    )
    result = check_file(path)["functions"]["gru_step"]
    assert result["status"] == "wrong type" and "expected a tuple (h_next, cache)" in result["message"]
    path = write(
        tmp_path, "f32.py", source.replace("return out, (x, h, out,", "return out.astype(np.float32), (x, h, out,")
    )
    result = check_file(path)["functions"]["rnn_step"]
    assert result["status"] == "wrong type" and "float32" in result["message"]
    path = write(tmp_path, "transposed.py", source.replace("return out, (x, h, out,", "return out.T, (x, h, out,"))
    result = check_file(path)["functions"]["rnn_step"]
    assert result["status"] == "wrong shape" and "h_next has shape (3, 1), expected (1, 3)" in result["message"]


def test_every_equation_line_is_in_the_docs():
    text = open(DOCS, encoding="utf-8").read()
    for label, (line, sentence) in EQUATIONS.items():
        assert line in text, label
        assert sentence
    assert set(EQUATIONS) == {e for eqs in FUNCTION_EQUATIONS.values() for e in eqs}


# ---------------------------------------------------------------- hostile files
LOOP_FN = "def rnn_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity='tanh'):\n    while True:\n        pass\n"


@pytest.mark.parametrize(
    "body, status, words",
    [
        (LOOP_FN, "timed out", "did not return within 2 s"),
        ("import sys\ndef rnn_step(*a):\n    sys.exit(3)\n", "error", "SystemExit at line 4: 3"),
        ("import os\ndef rnn_step(*a):\n    os._exit(0)\n", "crashed", "exit code 0"),
        ("import os, signal\ndef rnn_step(*a):\n    os.kill(os.getpid(), signal.SIGSEGV)\n", "crashed", "SIGSEGV"),
        ("def rnn_step(*a):\n    while True:\n        print('x' * 100000)\n", "timed out", "did not return"),
    ],
)
def test_a_misbehaving_function_is_reported_and_the_rest_checked(tmp_path, body, status, words):
    rest = open(SOLUTION).read().split("def lstm_step(")[1]
    path = write(
        tmp_path,
        "mine.py",
        "import numpy as np\n"
        + body
        + "\n\ndef sig(v):\n    return 0.5 * (1.0 + np.tanh(0.5 * v))\n\n\ndef lstm_step("
        + rest,
    )
    report = check_file(path, timeout=2)
    fn = report["functions"]
    assert fn["rnn_step"]["status"] == status and words in fn["rnn_step"]["message"], fn["rnn_step"]
    assert all(fn[n]["status"] == "correct" for n in FUNCTIONS if not n.startswith("rnn")), fn
    assert not report["ok"] and report["function"] == "rnn_step"


@pytest.mark.parametrize(
    "text, words",
    [
        ("import sys\nsys.exit(0)\ndef rnn_step(): pass\n", "SystemExit at line 2"),
        ("while True:\n    pass\ndef rnn_step(): pass\n", "did not finish within 2 s"),
        ("import os\nos._exit(1)\ndef rnn_step(): pass\n", "stopped the process (exit code 1)"),
        ("raise RuntimeError('boom')\ndef rnn_step(): pass\n", "RuntimeError at line 1: boom"),
        ("def rnn_step(x):\n    return (x\n", "line 2: syntax error"),
        ("def helper():\n    pass\n", "defines none of rnn_step"),
    ],
)
def test_an_unusable_file_exits_2(capsys, tmp_path, text, words):
    path = write(tmp_path, "mine.py", text)
    code, _, err = run(capsys, "check", path, "--timeout", "2")
    assert code == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("plot.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text (byte 0x89) at byte offset 0, line 1"),
        ("data.csv", b"a,b\n1,2\n\x00\x07\x00", "holds a NUL byte at byte offset 8, line 3"),
        ("mine.py", b"def rnn_step():\n    return 'caf\xe9'\n", "not UTF-8 text (byte 0xe9) at byte offset 31, line 2"),
        ("utf16.py", "def rnn_step(): pass\n".encode("utf-16"), "not UTF-8 text (byte 0xff) at byte offset 0"),
        ("coding.py", b"# -*- coding: nonesuch -*-\ndef rnn_step(): pass\n", "coding declaration is refused"),
    ],
)
def test_a_file_that_is_not_python_text_says_what_it_found(capsys, tmp_path, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, "check", path)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "is not a Python source file" in err and words in err and "None" not in err, err


def test_a_declared_encoding_is_honoured(tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nfrom tinyrnn.reference import rnn_step\nNAME = 'caf\xe9'\n")
    assert check_file(str(path))["functions"]["rnn_step"]["status"] == "correct"


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("plot.png", b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
        ("mine.py", b"def rnn_step(x):\n    return (x\n", "line 2: syntax error"),
        ("missing.py", None, "no such file"),
    ],
)
def test_json_is_one_object_when_the_file_cannot_be_checked(capsys, tmp_path, name, data, words):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    code, out, err = run(capsys, "check", path, "--json")
    assert code == 2 and len(out.splitlines()) == 1 and words in err, (out, err)
    result = json.loads(out)
    assert result["status"] == "cannot check" and result["ok"] is False and result["functions"] == {}
    assert len(result["problems"]) == 1 and words in result["problems"][0]
    assert err.strip() == f"tinyrnn check: error: {result['problems'][0]}"


def test_json_is_one_object_on_an_internal_error(capsys, tmp_path, monkeypatch):
    from tinyrnn.commands import check

    def broken(*a, **k):
        raise RuntimeError("the checker broke")

    monkeypatch.setattr(check, "check_file", broken)
    code, out, err = run(capsys, "check", tmp_path / "x.py", "--json")
    result = json.loads(out)
    assert code == 1 and result["status"] == "internal error" and "internal error" in err
    assert result["problems"] == ["RuntimeError: the checker broke"]


def test_ctrl_c_stops_the_child_too(tmp_path):
    """The child has its own process group, so a Ctrl-C reaches only the checker, which ends it."""
    import signal
    import subprocess
    import sys
    import time

    path = write(tmp_path, "loop.py", LOOP_FN)
    pids = tmp_path / "pids"
    code = (
        "import signal, subprocess, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "real = subprocess.Popen\n"
        "def spy(*a, **k):\n"
        "    p = real(*a, **k)\n"
        f"    open({str(pids)!r}, 'a').write(str(p.pid) + '\\n')\n"
        "    return p\n"
        "subprocess.Popen = spy\n"
        "from tinyrnn.cli import main\n"
        f"sys.exit(main(['check', {path!r}, '--timeout', '60']))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the child is in the endless loop by now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and b"interrupted" in err, err
    child = int(pids.read_text().split()[0])
    time.sleep(0.5)
    alive = _running(child)
    if alive:  # leave nothing running, then fail
        os.kill(child, signal.SIGKILL)
    assert not alive, "the checker's child outlived a Ctrl-C"


def _running(pid):
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_a_missing_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "check", tmp_path / "nothing.py")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "check", tmp_path)
    assert code == 2 and "not a file" in err


def test_the_learner_cannot_change_the_inputs_of_the_next_probe(tmp_path):
    """A function that writes into its arguments in place is still checked fairly."""
    source = open(SOLUTION).read()
    path = write(
        tmp_path,
        "inplace.py",
        source.replace(
            "    pre = np.dot(x, weight_ih.T) + np.dot(h, weight_hh.T)\n",
            "    pre = np.dot(x, weight_ih.T) + np.dot(h, weight_hh.T)\n    x *= 0\n",
        ),
    )
    assert check_file(path)["functions"]["rnn_step"]["status"] == "correct"


def test_output_format(capsys, tmp_path):
    source = open(SOLUTION).read()
    path = write(
        tmp_path,
        "mine.py",
        source.replace("dxn = dh_next * (1 - update) * (1 - cand ** 2)", "dxn = dh_next * (1 - cand ** 2)"),
    )
    code, out, _ = run(capsys, "check", path)
    lines = out.splitlines()
    assert code == 4
    assert re.search(r"✗ gru_step_backward: \(G4\) is wrong \(batch \d", out)
    assert any(line.strip() == EQUATIONS["G4"][0] for line in lines)
    assert lines[-1].startswith("hint: (G4): da_n = dh_next (1 - z) (1 - n²); largest difference")


def test_every_line_reads_as_english(capsys, tmp_path):
    path = write(
        tmp_path,
        "mine.py",
        "import numpy as np\n"
        "def rnn_step(*a):\n    raise ValueError('boom')\n"
        "def rnn_step_backward(*a):\n    raise NotImplementedError\n"
        "def lstm_step(*a):\n    return np.zeros(3)\n"
        "def gru_step(*a):\n    return np.zeros((1, 1)), None\n",
    )
    code, out, _ = run(capsys, "check", path)
    assert code == 4
    assert out.splitlines()[1:] == [
        "  ✗ rnn_step: error: rnn_step raised ValueError at line 3: boom",
        "  · rnn_step_backward: not checked: rnn_step is not right on any input yet: fix it first, "
        "then rnn_step_backward is checked with its cache",
        "  ✗ lstm_step: wrong type: lstm_step returned a value of type ndarray, expected a tuple "
        "(h_next, c_next, cache)",
        "  ✗ gru_step: wrong shape: gru_step's h_next has shape (1, 1), expected (1, 3) (batch 1, with biases)",
        "Not done yet: rnn_step raises an exception.",
    ]


@pytest.mark.parametrize("returned, words", [("(h,)", "returned 1 value, expected"), ("()", "returned 0 values,")])
def test_a_count_of_returned_values_agrees(tmp_path, returned, words):
    path = write(tmp_path, "mine.py", f"def gru_step(x, h, *a):\n    return {returned}\n")
    result = check_file(path)["functions"]["gru_step"]
    assert result["status"] == "wrong type" and words in result["message"], result


@pytest.mark.parametrize(
    "status, ending",
    [
        ("wrong type", "returns the wrong kind of value."),
        ("wrong shape", "returns an array of the wrong shape."),
        ("error", "raises an exception."),
        ("not written", "is not written yet."),
        ("not checked", "could not be checked yet."),
        ("timed out", "did not return within the time limit."),
        ("crashed", "stopped the whole process."),
    ],
)
def test_the_summary_of_each_status_is_a_sentence(status, ending):
    r = dict(status=status, equation=None, message="m", max_diff=None, where=None)
    report = dict(file="f.py", ok=False, function="gru_step", equation=None, functions={"gru_step": r})
    assert format_report(report)[-1] == "Not done yet: gru_step " + ending


@pytest.mark.parametrize(
    "names, line",
    [
        (["rnn_step"], "rnn_step is correct."),
        (["rnn_step", "lstm_step"], "Both functions are correct."),
        (["rnn_step", "lstm_step", "gru_step"], "All 3 functions are correct."),
    ],
)
def test_the_count_of_correct_functions_agrees(names, line):
    r = dict(status="correct", equation=None, message="", max_diff=None, where=None)
    report = dict(file="f.py", ok=True, function=None, equation=None, functions={n: r for n in names})
    assert format_report(report)[-1] == line


def test_the_hint_names_the_gate(tmp_path):
    source = open(SOLUTION).read()
    path = write(
        tmp_path,
        "mine.py",
        source.replace("dzf = dcell * cprev * fg * (1 - fg)", "dzf = dcell * hprev * fg * (1 - fg)").replace(
            "dr = dxn * hn * reset * (1 - reset)", "dr = dxn * hprev * reset * (1 - reset)"
        ),
    )
    fn = check_file(path)["functions"]
    assert fn["lstm_step_backward"]["equation"] == "L8" and "here da_f is off" in fn["lstm_step_backward"]["message"]
    assert fn["gru_step_backward"]["equation"] == "G5" and "here da_r is off" in fn["gru_step_backward"]["message"]


@pytest.mark.parametrize(
    "term,words",
    [
        ("dm * og * (1 - squashed)", "here it is 1 - tanh(c_t): the square is missing"),
        ("dm * og * (1 - cprev ** 2)", "here it is 1 - c², with c the previous cell state c_(t-1)"),
        ("dm * og * (1 - np.tanh(squashed) ** 2)", "tanh is applied twice"),
        ("dm * og * squashed * (1 - squashed)", "the form of the sigmoid's derivative σ (1 - σ)"),
        ("dm * og", "the factor 1 - tanh²(c_t), tanh's derivative at c_t, is missing"),
        ("dm * (1 - squashed ** 2)", "the factor o is missing"),
        ("dm * og * (2 - squashed ** 2)", "it should be dm_t * o * (1 - tanh²(c_t)), where o comes from"),
    ],
)
def test_the_l7_hint_says_what_is_wrong_with_the_tanh_term(tmp_path, term, words):
    """A wrong term from dh_next in (L7) is told in plain words: which factor is wrong or missing."""
    source = open(SOLUTION).read()
    good = "dcell = dc_next + dm * og * (1 - squashed ** 2)"
    path = write(tmp_path, "mine.py", source.replace(good, "dcell = dc_next + " + term))
    result = check_file(path)["functions"]["lstm_step_backward"]
    assert result["equation"] == "L7", result
    assert result["message"].startswith("(L7): the term from dh_next is wrong (dc_next alone passes through right): ")
    assert words in result["message"], result["message"]


def test_a_memory_error_in_a_function_is_reported(tmp_path):
    rest = open(SOLUTION).read().split("def rnn_step_backward(")[1]
    path = write(
        tmp_path,
        "mine.py",
        "import numpy as np\n\n\ndef rnn_step(*a):\n    return np.ones(10**12), None\n\n\n"
        "def rnn_step_backward(" + rest,
    )
    fn = check_file(path)["functions"]
    assert fn["rnn_step"]["status"] == "error" and "MemoryError" in fn["rnn_step"]["message"]
    assert fn["rnn_step_backward"]["status"] == "not checked"


def test_a_timeout_too_short_to_start_the_checker_is_the_callers_mistake(tmp_path):
    path = write(tmp_path, "ref.py", "from tinyrnn.reference import " + ", ".join(FUNCTIONS) + "\n")
    with pytest.raises(InputError, match="timeout 0.001 s is too short"):
        check_file(path, timeout=0.001)
