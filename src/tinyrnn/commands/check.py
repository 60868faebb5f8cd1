"""``tinyrnn check FILE [--json]``: a learner's functions against tinyrnn.reference, with the first
broken equation of docs/bptt.md named (see tinyrnn.exercises)."""

from __future__ import annotations

from ..errors import InputError
from ..exercises import check_file, format_report
from ..exercises.checker import OK, TIMEOUT
from ._args import exit_codes, positive_float, print_json


def run(args) -> int:
    try:
        report = check_file(args.file, timeout=args.timeout)
    except Exception as e:  # still one JSON object with --json; main reports the error and its exit code
        if args.json:
            status = "cannot check" if isinstance(e, InputError) else "internal error"
            message = " ".join(str(e).split())
            print_json(
                dict(
                    file=args.file,
                    status=status,
                    ok=False,
                    equation=None,
                    function=None,
                    functions={},
                    problems=[message if status == "cannot check" else f"{type(e).__name__}: {message}"],
                )
            )
        raise
    for line in format_report(report):
        print(line)
    if args.json:
        functions = report["functions"]
        print_json(
            dict(
                file=args.file,
                status="correct" if report["ok"] else "not done",
                ok=report["ok"],
                equation=report["equation"],
                function=report["function"],
                functions={
                    n: dict(status=r["status"], equation=r["equation"], message=r["message"], max_diff=r["max_diff"])
                    for n, r in functions.items()
                },
                problems=[f"{n}: {r['status']}: {r['message']}" for n, r in functions.items() if r["status"] != OK],
            )
        )
    return 0 if report["ok"] else 4


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="check your own step and backward, naming the first broken equation",
        description="Import FILE in a child process with a time limit, check each of rnn_step, "
        "rnn_step_backward, lstm_step, lstm_step_backward, gru_step, gru_step_backward "
        "it defines against tinyrnn.reference in float64, and name the first broken "
        "equation of docs/bptt.md. Exit 0 when every defined function is correct, 4 "
        "when one is wrong or not written, 2 when FILE cannot be checked.",
        epilog=exit_codes(trains=False, check=True),
    )
    p.add_argument("file", metavar="FILE", help="the Python file with your functions (from 'tinyrnn exercise')")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON object on the last line of the output (status, ok, problems, "
        "functions), also when FILE cannot be checked",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=TIMEOUT,
        metavar="SECONDS",
        help="seconds the file may run before it is stopped (default %(default)g)",
    )
    p.set_defaults(run=run)
