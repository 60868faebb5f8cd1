"""The ``tinyrnn`` command. A thin layer: parse arguments, call a demo, print at the edge.

``main(argv) -> int`` is what tests call. Every failure goes through one error path in
``main`` (see EXIT_CODES): a user's mistake is one line on stderr and exit code 2, never a
traceback; a diverged training exits 3; a signal stops a training between steps, saves, and
exits 130 (SIGINT) or 143 (SIGTERM); a closed output pipe exits quietly; anything else is a
bug in tinyrnn, reported in one line (the traceback only under TINYRNN_DEBUG=1), exit code 1.

Each command is one module of ``tinyrnn.commands`` (its parser and its handler); this file holds
the root parser, the error path and the handling of SIGTERM outside a training loop.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from ._version import __version__
from .commands import add_all
from .commands._args import EXIT_CODES, Parser
from .commands._common import RUN_SIZES, out_of_memory
from .errors import Diverged, InputError, UsageError

__all__ = ["main", "build_parser", "UsageError", "EXIT_CODES"]


class _Terminated(BaseException):
    """SIGTERM outside a training loop (which handles it itself)."""


# ---------------------------------------------------------------- entry
def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tinyrnn", description="Recurrent networks in plain NumPy, with hand-derived BPTT.")
    parser.add_argument("--version", action="version", version=f"tinyrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_all(sub)
    _name_parsers(parser)
    return parser


def _name_parsers(parser) -> None:
    """Every (sub)parser records its prog, so errors name the subcommand that was run."""
    parser.set_defaults(_prog=parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _name_parsers(child)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _user_message(prog: str, e: BaseException) -> str:
    text = str(e)
    if isinstance(e, OSError) and e.strerror:
        text = (
            f"{e.strerror}: {e.filename}" + (f" -> {e.filename2}" if e.filename2 else "") if e.filename else e.strerror
        )
    elif isinstance(e, MemoryError):
        text = out_of_memory(e)
    return f"{prog}: error: {_one_line(text)}"


def _on_sigterm(signum, frame):
    raise _Terminated


def main(argv=None) -> int:
    args = None
    old_term = None
    try:
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        pass
    RUN_SIZES.set(None)  # this run's sizes, once a command states them
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args.run(args) or 0)
    except Diverged as e:
        print(f"{_prog(args, e)}: {_one_line(e)}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except (InputError, OSError, MemoryError) as e:
        _flush_line()
        print(_user_message(_prog(args, e), e), file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C, or a second signal during a training run
        _flush_line()
        code = getattr(e, "exit_code", 130)
        print("stopped by SIGTERM" if code == 143 else "interrupted", file=sys.stderr)
        return code
    except _Terminated:
        _flush_line()
        print("stopped by SIGTERM", file=sys.stderr)
        return 143
    except Exception as e:  # a bug: ValueError and TypeError from inside tinyrnn too
        if os.environ.get("TINYRNN_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        print(
            f"{_prog(args, e)}: internal error (a bug in tinyrnn, please report it): {type(e).__name__}: "
            f"{_one_line(e)[:300]}; run with TINYRNN_DEBUG=1 to see the traceback",
            file=sys.stderr,
        )
        return 1
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _prog(args, e: BaseException) -> str:
    """The command an error message names: the parser that refused the flags, else the
    (sub)command that ran (a handler may name it more precisely, as ``memory TASK`` does)."""
    return getattr(e, "prog", None) or getattr(args, "_prog", None) or "tinyrnn"


def _flush_line() -> None:
    """End a partly written stdout line, so a message never lands in the middle of output."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main_entry() -> None:  # console script
    sys.exit(main())
