"""``tinyrnn charlm train`` and ``sample``: a character language model (``show`` is in show.py)."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass, field

from ..errors import UsageError
from . import show
from ._args import (
    SEED,
    Parser,
    _float_in,
    add_common,
    add_config_flags,
    add_threads,
    flag,
    given,
    missing_action,
    nonneg,
    print_json,
    report_stop,
    times,
)
from ._common import check_output

GREEDY = "--top-k 1 gives the greedy (argmax) sample"


def _temperature(text):
    """--temperature: a number from 1e-06 to 1e+06; a zero (or below) is told how to be greedy."""
    try:
        return _float_in(1e-6, 1e6)(text)
    except argparse.ArgumentTypeError as e:
        try:
            low = float(text) < 1e-6
        except ValueError:
            low = False
        raise argparse.ArgumentTypeError(f"{e}; {GREEDY}" if low else str(e)) from None


@dataclass
class SampleConfig:
    """The settings of ``tinyrnn charlm sample`` (``--prime``/``--prime-file`` are one choice)."""

    prime: str = ""
    length: int = field(default=500, metadata=flag("characters to draw (default %(default)s)", type=nonneg))
    temperature: float = field(
        default=1.0,
        metadata=flag(
            "divides the logits, 1e-06 to 1e+06: below 1 is more conservative, above 1 more surprising "
            "(default %(default)s)",
            type=_temperature,
        ),
    )
    top_k: int = field(
        default=0,
        metadata=flag(
            "draw only among the K most likely characters; 1 = greedy, 0 = all (default %(default)s)",
            type=nonneg,
            metavar="K",
        ),
    )
    seed: int = 0


def train(args):
    from . import _charlm_run as charlm
    from ._charlm_train import train as train_run

    save = check_output(
        "--save",
        args.save or args.resume,  # a resumed run saves back to its file by default
        inputs={"FILE": args.files},
        outputs={"--plot": args.plot},
    )
    png = check_output(
        "--plot", args.plot, image=True, inputs={"FILE": args.files, "--resume": args.resume}, outputs={"--save": save}
    )
    named = given(args, charlm.CharLMConfig)
    if args.resume:
        cfg = charlm.resume_config(args.resume, args.files, {**named, "quiet": args.quiet})
    else:
        cfg = charlm.CharLMConfig(files=list(args.files), quiet=args.quiet, **named)
        if args.time_budget:
            cfg.steps = 0
    emit = (lambda line: None) if args.quiet else print
    _, _, metrics = train_run(cfg, emit, save=save, resume=args.resume, plot_to=png, threads=args.threads)
    run = metrics["run"]  # this invocation (a resumed run has done more before)
    other = metrics["wall_seconds"] - run["train_seconds"] - run["eval_seconds"]
    done = f"{metrics['steps']} steps" + (f" ({run['steps']} in this run)" if run["steps"] != metrics["steps"] else "")
    print(f"{done} in {metrics['wall_seconds']:.1f} s: {times(run)} + {max(other, 0):.2f} s of loading and saving")
    print(
        f"Validation {metrics['valid_nats']:.4f} nats = {metrics['valid_bpc']:.3f} bits/char at step "
        f"{metrics['steps']}; best {metrics['best_valid_bpc']:.3f} bits/char at step {metrics['best_step']}"
    )
    if save:
        kept = metrics["kept_step"]
        print(
            f"Checkpoint written to {save}"
            + (f" (the weights of step {kept}, the best validation)" if cfg.keep_best else "")
        )
    if png:
        print(f"Plot written to {png}")
    code = report_stop(metrics, save, shlex.join(["tinyrnn", "charlm", "train", *args.files]))
    if args.json:
        print_json(metrics)
    return code


def sample(args):
    import numpy as np

    from ..models.charlm import sample as draw
    from ._charlm_run import load_model

    model, vocab, _ = load_model(args.checkpoint)
    prime = _read_prime_file(args.prime_file) if args.prime_file else args.prime
    cfg = SampleConfig(prime=prime, **given(args, SampleConfig))
    vocab.encode(cfg.prime, "--prime-file" if args.prime_file else "--prime")
    if cfg.top_k and cfg.top_k > len(vocab):
        raise UsageError(f"--top-k must be at most the vocabulary size {len(vocab)}, got {cfg.top_k}")
    drawn = []

    def emit(ch):
        if args.json:
            drawn.append(ch)
        else:
            sys.stdout.write(ch)
            sys.stdout.flush()

    if not args.json:
        sys.stdout.write(cfg.prime)
    try:
        draw(
            model,
            vocab,
            cfg.prime,
            cfg.length,
            cfg.temperature,
            cfg.top_k,
            np.random.default_rng(cfg.seed),
            emit,
            keep=False,
        )
    finally:
        if not args.json:
            sys.stdout.write("\n")  # an interrupted sample still ends its line
            sys.stdout.flush()
    if args.json:
        print_json(
            dict(
                prime=cfg.prime,
                sample="".join(drawn),
                length=cfg.length,
                temperature=cfg.temperature,
                top_k=cfg.top_k,
                seed=cfg.seed,
            )
        )
    return 0


def add_parser(sub):
    from ._charlm_run import CharLMConfig

    p = sub.add_parser(
        "charlm",
        help="character language model on real text: train, then sample",
        description="A character-level language model: Embedding -> RNN/LSTM/GRU -> Linear.",
    )
    ss = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    t = ss.add_parser(
        "train",
        help="train with stateful truncated BPTT",
        description="Train on FILEs (UTF-8 text; default: the .py files directly in this Python's "
        "standard-library folder, about 4.7 MB on CPython 3.11). The last "
        f"{CharLMConfig.valid_fraction:.0%} is held out. The text is read as --batch parallel "
        "streams; the hidden state is carried from one --seq-len chunk to the next and the "
        "gradient is cut at the boundary. Ctrl-C or SIGTERM stops between steps and saves.",
    )
    t.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="text files to train on (default: the stdlib corpus); with --resume, the same text again",
    )
    add_config_flags(t, CharLMConfig)
    t.add_argument(
        "--save",
        metavar="CKPT",
        help="checkpoint written atomically at every validation and at the end "
        "(and on Ctrl-C/SIGTERM); never after a divergence",
    )
    t.add_argument(
        "--resume",
        metavar="CKPT",
        help="continue a saved run exactly, with its settings, saving back to CKPT "
        "unless --save is given; name its corpus FILEs again (checked "
        "against the saved fingerprint); no --seed",
    )
    t.add_argument("--plot", metavar="PNG", help="training and validation curves in bits per character")
    add_common(t, None, f"(default {CharLMConfig.seed}; not with --resume, which continues the saved random state)")
    add_threads(t)
    t.set_defaults(run=train)
    s = ss.add_parser(
        "sample",
        help="stream characters from a trained model",
        description="Feed --prime through the model, then draw --length characters, printing each as it is drawn.",
    )
    s.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by 'tinyrnn charlm train --save'")
    primer = s.add_mutually_exclusive_group()
    primer.add_argument("--prime", default=SampleConfig.prime, help="text fed through the model first (and printed)")
    primer.add_argument(
        "--prime-file", metavar="PATH", help="like --prime, with the text of a UTF-8 file (long, multi-line primers)"
    )
    add_config_flags(s, SampleConfig)
    s.add_argument("--seed", type=SEED, default=SampleConfig.seed, help="random seed (default %(default)s)")
    s.add_argument("--json", action="store_true", help="print the sample as one JSON object instead of streaming it")
    s.set_defaults(run=sample)
    show.add_parser(ss)
    p.set_defaults(run=lambda args: missing_action(p, "train, sample or show"))


def _read_prime_file(path):
    from ..data.text import CorpusError, read_text

    try:
        return read_text(path)
    except CorpusError as e:
        raise UsageError(f"--prime-file: {e}") from None
