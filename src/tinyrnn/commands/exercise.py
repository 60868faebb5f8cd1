"""``tinyrnn exercise CELL [--out FILE]``: the file a learner fills in (see tinyrnn.exercises)."""

from __future__ import annotations

import os

from ..errors import UsageError
from ..exercises import CELLS, template


def run(args) -> int:
    if args.out is None:
        print(template(args.cell), end="")
        return 0
    from ._common import check_output

    path = check_output("--out", args.out) or args.out
    if os.path.exists(path):
        raise UsageError(
            f"--out {path} exists; it is not overwritten (it may hold "
            "your work): give another file name or delete it first"
        )
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(template(args.cell, name=os.path.basename(path)))
    print(f"Exercise written to {path}: fill in the functions, then run 'tinyrnn check {path}'")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "exercise",
        help="write a cell's step and backward yourself: the file to fill in",
        description="Write the template of one cell's step and backward: the functions of "
        "tinyrnn.reference with the same signatures, each naming its equations in "
        "docs/bptt.md and raising NotImplementedError until written. Check it with "
        "'tinyrnn check FILE'.",
    )
    p.add_argument("cell", choices=CELLS, metavar="CELL", help="rnn, lstm or gru")
    p.add_argument(
        "--out", metavar="FILE", help="write the template to FILE (never over an existing file); default: print it"
    )
    p.set_defaults(run=run)
