"""Argument types and flags shared by every command's parser.

Each parser raises ``argparse.ArgumentTypeError`` with what was expected; the root parser turns
it into a one-line usage error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import MISSING, fields

__all__ = ["positive", "nonneg", "positive_float", "SEED", "add_common", "print_json",
           "_int_in", "_float_in", "_zero_or", "_defaults"]


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


def _float_in(low, high=None, low_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        rng = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number {rng}, got {text}")
        if (value <= low if low_open else value < low) or (high is not None and value > high):
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


def _defaults(config_class) -> dict:
    """The default of every field of a config dataclass (the one source of defaults)."""
    return {f.name: f.default for f in fields(config_class) if f.default is not MISSING}


def add_common(p, seed=0, seed_help="(default %(default)s)"):
    p.add_argument("--seed", type=SEED, default=seed,
                   help=f"random seed: the same seed gives the same output {seed_help}")
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON object on the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-step lines")


def print_json(obj):
    print(json.dumps(obj, sort_keys=True))
