"""What every command shares: the parser class, argument types, common flags and report lines.

Each argument type raises ``argparse.ArgumentTypeError`` with what was expected; the parser
turns it into a one-line usage error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
from dataclasses import MISSING, field, fields

from ..errors import UsageError

__all__ = [
    "Parser",
    "EXIT_CODES",
    "exit_codes",
    "usage",
    "missing_action",
    "positive",
    "nonneg",
    "positive_float",
    "SEED",
    "add_common",
    "add_threads",
    "print_json",
    "report_stop",
    "times",
    "_int_in",
    "_float_in",
    "_zero_or",
    "_defaults",
    "flag",
    "resume_policy",
    "add_config_flags",
    "given",
    "resume_keys",
    "length_range",
    "name_list",
    "float_list",
    "count",
]


def exit_codes(trains: bool | None = None, check: bool | None = None) -> str:
    """The exit-code table of a ``--help``. ``trains``: whether the command trains (so it can exit
    3, and saves when stopped); ``check``: whether it is ``tinyrnn check`` (exit 4). None, for a
    parser that stands for several commands: the line is kept and says which commands it is for."""
    lines = [
        "exit codes:",
        "  0    success",
        "  1    internal error: a bug in tinyrnn (one line; TINYRNN_DEBUG=1 shows the traceback)",
        "  2    bad flag, path, file or size: one line on stderr says what and what to do",
    ]
    if trains is not False:
        lines.append("  3    training diverged (non-finite loss or gradient); the last good checkpoint is kept")
        if trains is None:
            lines.append("       (commands that train)")
    if check is not False:
        lines.append("  4    a function is wrong or not written yet" + (" (tinyrnn check)" if check is None else ""))
    lines.append("  130  stopped by Ctrl-C (SIGINT), 143 by SIGTERM" + ("" if trains is False else ";"))
    if trains is not False:
        lines.append(
            f"       {'a' if trains is None else 'the'} training stops between steps and saves if --save was given"
        )
    lines.append("  141  the output pipe was closed (e.g. '| head'): stops quietly")
    return "\n".join(lines)


EXIT_CODES = exit_codes()


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions; keeps the exit-code table as written."""

    def _fill_text(self, text, width, indent):
        if text.startswith("exit codes:"):
            return text
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """The parser of the root command and of every subcommand: the exit-code table as epilog,
    and a usage error raised (not printed and exited) so ``main`` reports it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("epilog", EXIT_CODES)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise usage(self, message)


def usage(parser, message) -> UsageError:
    """A usage error that names the (sub)parser it comes from (``main`` prefixes the name)."""
    e = UsageError(message)
    e.prog = parser.prog
    return e


def missing_action(parser, actions):
    raise usage(parser, f"choose an action: {actions}")


def _int_in(low, high=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            rng = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"expected an integer {rng}, got {value}")
        return value

    return parse


def _float_in(low, high=None, low_open=False, high_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        rng = f"{'>' if low_open else '>='} {low:g}" + (
            f" and {'<' if high_open else '<='} {high:g}" if high is not None else ""
        )
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number {rng}, got {text}")
        if (value <= low if low_open else value < low) or (
            high is not None and (value >= high if high_open else value > high)
        ):
            raise argparse.ArgumentTypeError(f"expected a number {rng}, got {text}")
        return value

    return parse


def _zero_or(parse, what):
    def parse_or_zero(text):
        if text.strip() == "0":
            return 0
        try:
            return parse(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"expected 0 or {what}, got {text!r}") from None

    return parse_or_zero


positive = _int_in(1)
nonneg = _int_in(0)
positive_float = _float_in(0.0, low_open=True)
SEED = _int_in(0, 2**63 - 1)


def length_range(text):
    """'A-B' -> (A, B) with 1 <= A <= B."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or not 1 <= int(parts[0]) <= int(parts[1]) <= 100:
        raise argparse.ArgumentTypeError(
            f"expected a range A-B of lengths with 1 <= A <= B, like 13-20, got {text!r} (B at most 100)"
        )
    return int(parts[0]), int(parts[1])


def name_list(choices):
    def parse(text):
        names = [v.strip() for v in text.split(",")]
        bad = [v for v in names if v not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(choices)}, got {text!r}")
        return tuple(dict.fromkeys(names))

    return parse


def float_list(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(abs(v) < 1e6 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def _defaults(config_class) -> dict:
    """The default of every field of a config dataclass (the one source of defaults)."""
    return {f.name: f.default for f in fields(config_class) if f.default is not MISSING}


def add_common(p, seed=0, seed_help="(default %(default)s)"):
    p.add_argument(
        "--seed", type=SEED, default=seed, help=f"random seed: the same seed gives the same output {seed_help}"
    )
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON object on the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-step lines")


def _threads(text):
    from ..threads import parse_threads

    try:
        return parse_threads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--threads: ")) from None


def add_threads(p):
    """``--threads``: the BLAS threads of a training run (tinyrnn.threads.ThreadChoice)."""
    p.add_argument(
        "--threads",
        type=_threads,
        default="auto",
        metavar="N|auto",
        help="BLAS threads for the whole run: a number, or auto (default): 1 thread when one core is "
        "free or the cores are busy, else the faster of 1 and all cores timed over the first "
        "steps; the startup lines say what was chosen and why",
    )


def print_json(obj):
    print(json.dumps(obj, sort_keys=True))


def report_stop(metrics, save, resume_hint: str | None = None, can_save=True):
    """The lines after a run stopped by a signal; returns the exit code (0 if not stopped).
    ``resume_hint``: the command line that resumes the run, without ``--resume CKPT`` (None: the
    command cannot resume); ``can_save``: False for a command without --save."""
    if not metrics.get("signal"):
        return 0
    kept = metrics.get("kept_step", metrics["steps"])
    where = (
        f"; checkpoint of step {kept} written to {save}" if save else "; nothing saved (no --save)" if can_save else ""
    )
    how = f"; resume with: {resume_hint} --resume {shlex.quote(save)}" if save and resume_hint else ""
    print(f"Stopped by {metrics['signal']} at step {metrics['steps']}{where}{how}")
    return metrics["exit_code"]


def count(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless n is 1: "1 feature", "3 features"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def times(metrics) -> str:
    return f"{metrics['train_seconds']:.2f} s of training + {metrics['eval_seconds']:.2f} s of evaluation"


# ---------------------------------------------------------------- flags declared on config fields
def flag(
    help: str,
    *,
    type=None,
    choices=None,
    metavar=None,
    name: str | None = None,
    resume: str | None = None,
    default_text: str | None = None,
) -> dict:
    """The metadata of a config dataclass field that is a command-line flag, for
    ``field(default=..., metadata=flag(...))``: its help (``%(default)s`` is the field's default,
    or ``default_text``), its argument type, choices and metavar, its name when it is not
    ``--field-name`` (``--no-lr-decay`` for a True default), and its ``resume`` policy:
    ``"fixed"`` (a resumed run keeps the checkpoint's value and refuses another), ``"free"``
    (the checkpoint's value unless given) or ``"more"`` (steps or seconds added to the plan)."""
    return dict(
        cli=dict(help=help, type=type, choices=choices, metavar=metavar, name=name, default_text=default_text),
        resume=resume,
    )


REGULARISER_HELP = {  # the recurrent layers' regularising options (docs/bptt.md, "Regularised recurrences")
    "recurrent_dropout": "dropout of the state entering the recurrent product, one mask per sequence",
    "weight_drop": "DropConnect on the recurrent weights, one mask per step of training",
    "zoneout": "probability that a unit keeps its previous state at a step",
    "layer_norm": "layer-normalise the recurrent layer's two products (and an LSTM's cell value) with learned "
    "gains and biases",
}


def regulariser(name: str, resume: str | None = None):
    """The config field of a recurrent layer's regularising option ``name`` (``REGULARISER_HELP``):
    a number from 0 (off, the default) to 0.99, flag ``--recurrent-dropout``, ``--weight-drop``
    or ``--zoneout``; ``layer_norm`` is a switch, ``--layer-norm``, off by default."""
    if name == "layer_norm":
        return field(default=False, metadata=flag(f"{REGULARISER_HELP[name]} (default: off)", resume=resume))
    return field(
        default=0.0,
        metadata=flag(
            f"{REGULARISER_HELP[name]}, 0 to 0.99 (default %(default)s)", type=_float_in(0.0, 0.99), resume=resume
        ),
    )


def describe_regularisers(cfg) -> str:
    """The regularising options that are on in a config, for a startup line: ", zoneout 0.1,
    layer norm" (empty when none is)."""
    from ..nn.options import REGULARISERS

    on = [(name.replace("_", " "), getattr(cfg, name)) for name in REGULARISERS if getattr(cfg, name, False)]
    return "".join(f", {name}" if v is True else f", {name} {v:g}" for name, v in on)


def resume_policy(policy: str) -> dict:
    """The metadata of a field that is not a flag but has a resume policy."""
    return dict(resume=policy)


def _flag_fields(config_class):
    return [f for f in fields(config_class) if "cli" in f.metadata]


def add_config_flags(parser, config_class, default_text: dict | None = None) -> None:
    """Add one flag per field of ``config_class`` declared with ``flag(...)``. Every flag's
    parsed default is None, so the flags a user named are those not None (``given``);
    ``default_text`` overrides the default shown in a field's help (e.g. a per-task default)."""
    default_text = default_text or {}
    for f in _flag_fields(config_class):
        cli = f.metadata["cli"]
        shown = default_text.get(f.name, cli["default_text"])
        if shown is None:
            shown = f"{f.default:g}" if isinstance(f.default, float) else str(f.default)
        kwargs = dict(help=cli["help"].replace("%(default)s", shown), dest=f.name, default=None)
        if f.type in (bool, "bool"):
            kwargs.update(action="store_const", const=not f.default)
        else:
            kwargs.update({k: cli[k] for k in ("type", "choices", "metavar") if cli[k] is not None})
        parser.add_argument(cli["name"] or "--" + f.name.replace("_", "-"), **kwargs)


def given(args, config_class) -> dict:
    """The config fields the user named on the command line (flags, ``seed``), by field name."""
    names = [f.name for f in _flag_fields(config_class)] + ["seed"] * ("seed" in config_class.__dataclass_fields__)
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def resume_keys(config_class, policy: str) -> tuple:
    """The fields whose resume policy is ``policy`` ("fixed", "free" or "more")."""
    return tuple(f.name for f in fields(config_class) if f.metadata.get("resume") == policy)
