"""The ``tinyrnn`` command. A thin layer: parse arguments, call a demo, print at the edge.

``main(argv) -> int`` is what tests call; exit code 2 means bad flags or input.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


class UsageError(Exception):
    """A user mistake reported as one clear line and exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinyrnn", description="Recurrent networks in plain NumPy, with hand-derived BPTT.")
    parser.add_argument("--version", action="version", version=f"tinyrnn {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args.run(args) or 0)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2


def main_entry() -> None:  # console script
    sys.exit(main())
