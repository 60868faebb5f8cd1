"""One module a command.

Each module here defines ``add_parser(sub)``: it creates its subparser on ``sub`` (the root
parser's subparsers action), declares its flags, and sets ``run=handler`` as the parser's
default, where ``handler(args) -> int`` returns the exit code. The handler raises
:class:`tinyrnn.errors.InputError` (usually ``UsageError``) for a user's mistake and
:class:`tinyrnn.errors.Diverged` for a training that blew up; ``tinyrnn.cli.main`` maps them
to exit codes. Shared argument types and flags live in ``_args``.

``COMMANDS`` lists the modules in the order ``tinyrnn --help`` shows them.
"""

from __future__ import annotations

import importlib

COMMANDS: list[str] = [
    "add",
    "srn",
    "hello",
    "seq2seq",
    "charlm",
    "memory",
    "gradflow",
    "classify",
    "forecast",
    "exercise",
    "check",
]


def add_all(sub) -> None:
    """Add the parser of every command module in ``COMMANDS`` to ``sub``."""
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
