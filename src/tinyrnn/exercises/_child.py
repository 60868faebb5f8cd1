"""The child process of ``tinyrnn check``: imports the learner's file and checks its functions.

    python -m tinyrnn.exercises._child FILE RESULTS NAME...

Writes one JSON object a line to RESULTS (``import_error``, ``imported``, then ``start`` and
``result`` per function, ``done``), flushed at once, so the parent knows how far it got when
the learner's code loops, exits or crashes the process. Nothing here is imported by tinyrnn.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
import traceback
import warnings

MEMORY_LIMIT = 4 << 30  # bytes of address space for the learner's file


def _where(e, path):
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    return f" at line {lines[-1]}" if lines else ""


def _limit_memory():
    """A runaway allocation in the learner's code raises MemoryError here rather than pressing on
    the machine (this process is the checker's own child)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv):
    path, results, names = argv[0], argv[1], argv[2:]
    with open(results, "a", encoding="utf-8") as out:

        def emit(**fields):
            out.write(json.dumps(fields) + "\n")
            out.flush()

        warnings.simplefilter("ignore")  # the learner's overflows are not ours to print
        _limit_memory()
        from tinyrnn.exercises.diagnose import FUNCTIONS, check_function

        emit(event="ready")
        sys.path.insert(0, os.path.dirname(path))
        loader = importlib.machinery.SourceFileLoader("exercise_under_check", path)  # any file name, not only .py
        spec = importlib.util.spec_from_file_location("exercise_under_check", path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except BaseException as e:  # SystemExit and KeyboardInterrupt included
            text = " ".join(str(e).split())[:200]
            emit(event="import_error", message=f"{type(e).__name__}{_where(e, path)}" + (f": {text}" if text else ""))
            return
        defined = {n: getattr(module, n) for n in FUNCTIONS if callable(getattr(module, n, None))}
        emit(event="imported", defined=list(defined))
        for name in names:
            if name in defined:
                emit(event="start", function=name)
                try:
                    found = check_function(name, defined, path)
                except Exception:  # ours: the learner's exceptions are caught inside
                    emit(event="internal_error", function=name, message=traceback.format_exc()[-1500:])
                    return
                emit(event="result", function=name, **found)
        emit(event="done")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(0)  # no atexit handler of the learner's runs
