"""Flags declared once, on the config dataclass fields (commands/_args.py): the parser, the
mapping of the flags named back to the config, and the resume policy all come from there."""

from dataclasses import dataclass, field

import pytest

from tinyrnn.commands._args import Parser, add_config_flags, flag, given, positive, resume_keys, resume_policy
from tinyrnn.errors import UsageError


@dataclass
class Config:
    hidden: int = field(default=16, metadata=flag("hidden units (default %(default)s)", type=positive, resume="fixed"))
    lr: float = field(default=0.25, metadata=flag("learning rate (default %(default)s)", resume="free"))
    lr_decay: bool = field(default=True, metadata=flag("constant rate", name="--no-lr-decay"))
    keep_best: bool = field(default=False, metadata=flag("keep the best"))
    batch: int | None = field(
        default=None, metadata=flag("batch (default %(default)s)", type=int, default_text="by task")
    )
    valid_fraction: float = field(default=0.1, metadata=resume_policy("fixed"))
    seed: int = 0
    quiet: bool = False


def _parser():
    p = Parser(prog="tinyrnn demo")
    add_config_flags(p, Config)
    p.add_argument("--seed", type=int)
    return p


def test_one_field_one_flag_with_its_help():
    text = _parser().format_help()
    for piece in (
        "--hidden HIDDEN",
        "hidden units (default 16)",
        "learning rate (default 0.25)",
        "--no-lr-decay",
        "--keep-best",
        "batch (default by task)",
    ):
        assert piece in text
    assert "--valid-fraction" not in text and "--quiet" not in text


def test_the_flags_named_map_back_to_the_config():
    args = _parser().parse_args(["--hidden", "8", "--no-lr-decay", "--keep-best", "--seed", "3"])
    named = given(args, Config)
    assert named == dict(hidden=8, lr_decay=False, keep_best=True, seed=3)
    assert Config(**named) == Config(hidden=8, lr_decay=False, keep_best=True, seed=3)
    assert given(_parser().parse_args([]), Config) == {}  # nothing named: the config's defaults


def test_resume_policy_from_the_fields():
    assert resume_keys(Config, "fixed") == ("hidden", "valid_fraction")
    assert resume_keys(Config, "free") == ("lr",)


def test_a_bad_value_is_a_usage_error_naming_the_parser():
    with pytest.raises(UsageError) as e:
        _parser().parse_args(["--hidden", "0"])
    assert e.value.prog == "tinyrnn demo" and "--hidden" in str(e.value)
