"""``check_file(path)``: a learner's step functions checked against ``tinyrnn.reference``.

The learner's file is their own code, so it runs in a child process (``_child``) with a time
limit: an endless loop, ``sys.exit``, ``os._exit``, a crash of the interpreter or a flood of
output in it is reported against the function that was running, and the remaining functions
are checked in a fresh child. This process never imports the file.
"""

from __future__ import annotations

import ast
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import tokenize

from ..errors import InputError
from .diagnose import FUNCTIONS
from .equations import EQUATIONS

OK = "correct"
TIMEOUT = 20.0  # seconds a child may run (the checks themselves take well under one)
_TAIL = 2000  # characters of the child's output kept for a crash message


def check_file(path: str, timeout: float = TIMEOUT) -> dict:
    """Check the functions ``path`` defines. Returns ``{"ok", "equation", "function",
    "functions": {name: {"status", "equation", "message", "max_diff", "where"}}, "file"}``;
    ``equation`` is the first broken equation's label in docs/bptt.md (``"L8"``), ``None`` when
    none is. Raises InputError for a file that cannot be checked (missing, not Python, a syntax
    error, none of the six functions, an import that fails or does not finish)."""
    if not timeout > 0:
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    given, path = path, os.path.abspath(_readable(path))
    pending, results = list(FUNCTIONS), {}
    defined: list[str] = []
    while pending:
        events, ended, output = _run_child(path, pending, timeout)
        if not any(e["event"] == "ready" for e in events):
            if ended == "timeout":
                raise InputError(
                    f"timeout {timeout:g} s is too short: the checker's child process did not even start "
                    f"(it imports NumPy and tinyrnn first); give more seconds (default {TIMEOUT:g})"
                )
            raise RuntimeError(f"the checker's child process did not start ({ended}): {output[-300:]}")
        imported = next((e for e in events if e["event"] in ("imported", "import_error")), None)
        if not defined:
            defined = _defined(path, imported, ended, timeout)
        for e in events:
            if e["event"] == "internal_error":
                raise RuntimeError(f"checking {e['function']} failed inside tinyrnn: {e['message']}")
            if e["event"] == "result":
                results[e["function"]] = {k: e[k] for k in ("status", "equation", "message", "max_diff", "where")}
        started = [e["function"] for e in events if e["event"] == "start"]
        if started and started[-1] not in results:  # the child died inside this function
            name = started[-1]
            results[name] = dict(
                status="timed out" if ended == "timeout" else "crashed",
                equation=None,
                message=_stopped(name, ended, timeout),
                max_diff=None,
                where=None,
            )
            if not name.endswith("_backward") and name + "_backward" in defined:
                results.setdefault(
                    name + "_backward",
                    dict(
                        status="not checked",
                        equation=None,
                        max_diff=None,
                        where=None,
                        message=f"{name} did not return, so {name}_backward could not be given its cache",
                    ),
                )
        elif not any(e["event"] == "done" for e in events):
            raise RuntimeError(
                f"the checker's child process stopped outside the learner's code ({ended}): {output[-300:]}"
            )
        pending = [n for n in defined if n not in results]
    functions = {n: results[n] for n in FUNCTIONS if n in defined}
    broken = next((n for n, r in functions.items() if r["equation"]), None)
    first = broken or next((n for n, r in functions.items() if r["status"] != OK), None)
    ok = first is None
    return dict(
        file=given,
        ok=ok,
        function=first,
        functions=functions,
        equation=functions[broken]["equation"] if broken else None,
    )


def _readable(path):
    if not os.path.exists(path):
        raise InputError(
            f"{path}: no such file; give the exercise file (write one with 'tinyrnn exercise lstm --out {os.path.basename(path) or 'my_lstm.py'}')"
        )
    if not os.path.isfile(path):
        raise InputError(f"{path} is not a file; give the Python file holding your functions")
    try:
        with open(path, "rb") as fh:
            source = fh.read()
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    problem = _not_text(source)
    if problem:
        raise InputError(f"{path} is not a Python source file: {problem}")
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        at = f", line {e.lineno}" if e.lineno else ""
        raise InputError(f"{path}{at}: syntax error: {e.msg}; fix it and check again") from None
    if not _top_level_names(tree) & set(FUNCTIONS):
        raise InputError(f"{path} defines none of {', '.join(FUNCTIONS)}; start from 'tinyrnn exercise lstm'")
    return path


def _not_text(source: bytes) -> str | None:
    """What keeps ``source`` from being Python text, at its first offending byte (a NUL, or a
    byte its encoding cannot decode), or a bad coding declaration; None when it is text.
    Offsets count bytes from 0."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as e:  # an unknown declared encoding, or a first line that is not UTF-8
        encoding, declared = "utf-8", e
    else:
        declared = None
    nul = source.find(b"\0")
    try:
        source.decode(encoding)
        bad = -1
    except UnicodeDecodeError as e:
        bad = e.start
    first = min(i for i in (nul, bad, len(source)) if i >= 0)
    if first == len(source):
        return None if declared is None else f"its coding declaration is refused ({declared}); fix it or remove it"
    line = source.count(b"\n", 0, first) + 1
    what = "it holds a NUL byte" if first == nul else f"it is not {encoding.upper()} text (byte 0x{source[first]:02x})"
    return f"{what} at byte offset {first}, line {line}; give the .py file holding your functions, saved as UTF-8"


def _top_level_names(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        else:
            names |= set(FUNCTIONS)  # defined inside an if/try: let the import decide
    return names


def _defined(path, imported, ended, timeout):
    if imported is None:
        if ended == "timeout":
            raise InputError(
                f"{path}: importing it did not finish within {timeout:g} s; is there an endless "
                "loop at the top level of the file? Put the code that runs into the functions"
            )
        raise InputError(f"{path}: importing it stopped the process ({ended}); the file must only define functions")
    if imported["event"] == "import_error":
        raise InputError(f"{path}: importing it raised {imported['message']}; fix it and check again")
    if not imported["defined"]:
        raise InputError(f"{path} defines none of {', '.join(FUNCTIONS)}; start from 'tinyrnn exercise lstm'")
    return imported["defined"]


def _stopped(name, ended, timeout):
    if ended == "timeout":
        return f"{name} did not return within {timeout:g} s (an endless loop?)"
    return f"{name} stopped the whole process ({ended}): sys.exit, os._exit or a crash in it"


def _run_child(path, names, timeout):
    """Run the child on ``names``; returns its events, how it ended ("timeout" or a description)
    and the tail of what it printed."""
    fd, results = tempfile.mkstemp(prefix="tinyrnn-check-", suffix=".jsonl")
    os.close(fd)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tinyrnn.exercises._child", path, results, *names],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            thread, tail = _drain(proc.stdout)
            code = proc.wait(timeout=timeout)
            ended = "exit code 0" if code == 0 else _describe_exit(code)
        except subprocess.TimeoutExpired:
            _kill(proc)
            ended = "timeout"
        except BaseException:  # Ctrl-C or SIGTERM: end the child too (it has its own process group)
            _kill(proc)
            raise
        thread.join(timeout=5)
        with open(results, encoding="utf-8") as fh:
            events = [json.loads(line) for line in fh if line.endswith("\n")]
    finally:
        os.unlink(results)
    return events, ended, tail[0].decode("utf-8", "replace")


def _describe_exit(code):
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the child and anything it started
    except (ProcessLookupError, PermissionError, AttributeError):  # AttributeError: no killpg (Windows)
        proc.kill()
    proc.wait()


def _drain(stream):
    """Read the child's output to its end in a thread (so a flood never blocks it); returns the
    thread and a one-item list that holds the last bytes read."""
    kept = [b""]

    def run():
        for chunk in iter(lambda: stream.read(65536), b""):
            kept[0] = (kept[0] + chunk)[-_TAIL:]
        stream.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, kept


# ------------------------------------------------------------------ the printed report
_MARK = {OK: "✓", "not written": "·", "not checked": "·"}


def format_report(report: dict) -> list[str]:
    """The lines ``tinyrnn check`` prints: one per function, then the first broken equation's line
    of docs/bptt.md and what it should compute."""
    rnn = ", every nonlinearity" if any(n.startswith("rnn") for n in report["functions"]) else ""
    lines = [
        f"Checked {report['file']} against tinyrnn.reference (float64, batch sizes 1 and 3, with and "
        f"without biases{rnn}):"
    ]
    for name, r in report["functions"].items():
        mark = _MARK.get(r["status"], "✗")
        if r["status"] == OK:
            lines.append(f"  {mark} {name}")
        elif r["status"] in ("wrong", "wrong shape") and r["equation"]:
            what = "is wrong" if r["status"] == "wrong" else "gives an array of the wrong shape"
            lines.append(f"  {mark} {name}: ({r['equation']}) {what} ({r['where']})")
        else:
            lines.append(f"  {mark} {name}: {r['status']}: {r['message']}")
    if report["equation"]:
        r = report["functions"][report["function"]]
        line, _ = EQUATIONS[report["equation"]]
        lines += [
            f"First broken equation: ({report['equation']}) in {report['function']}, docs/bptt.md:",
            *(f"    {part.strip()}" for part in line.split("\n")),
            f"hint: {r['message']}",
        ]
    elif report["ok"]:
        lines.append(_all_correct(list(report["functions"])))
    else:
        name = report["function"]
        lines.append(f"Not done yet: {name} {_NOT_DONE[report['functions'][name]['status']]}.")
    return lines


# what a function whose status is the key does, as the end of "Not done yet: NAME ..."
_NOT_DONE = {
    "wrong": "gives wrong values",
    "wrong shape": "returns an array of the wrong shape",
    "wrong type": "returns the wrong kind of value",
    "error": "raises an exception",
    "not written": "is not written yet",
    "not checked": "could not be checked yet",
    "timed out": "did not return within the time limit",
    "crashed": "stopped the whole process",
}


def _all_correct(names: list[str]) -> str:
    if len(names) == 1:
        return f"{names[0]} is correct."
    return f"{'Both' if len(names) == 2 else f'All {len(names)}'} functions are correct."
