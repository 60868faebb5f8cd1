"""The ``tinyrnn`` command. A thin layer: parse arguments, call a demo, print at the edge.

``main(argv) -> int`` is what tests call. Every failure goes through one error path in
``main`` (see EXIT_CODES): a user's mistake is one line on stderr and exit code 2, never a
traceback; a diverged training exits 3; a signal stops a training between steps, saves, and
exits 130 (SIGINT) or 143 (SIGTERM); a closed output pipe exits quietly; anything else is a
bug in tinyrnn, reported in one line (the traceback only under TINYRNN_DEBUG=1), exit code 1.

Flag defaults and their help come from the demos' config dataclasses.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from ._version import __version__
from .commands._args import (  # shared by every command's parser
    SEED,
    _defaults,
    _float_in,
    _int_in,
    _zero_or,
    nonneg,
    positive,
    positive_float,
)
from .commands._args import (
    add_common as _common,
)
from .commands._args import (
    print_json as _print_json,
)
from .demos.common import Diverged, UsageError, check_output

__all__ = ["main", "build_parser", "UsageError", "EXIT_CODES"]

EXIT_CODES = """exit codes:
  0    success
  1    internal error: a bug in tinyrnn (one line; TINYRNN_DEBUG=1 shows the traceback)
  2    bad flag, path, file or size: one line on stderr says what and what to do
  3    training diverged (non-finite loss or gradient); the last good checkpoint is kept
  130  stopped by Ctrl-C (SIGINT), 143 by SIGTERM: training stops between steps and saves
  141  the output pipe was closed (e.g. '| head'): stops quietly"""


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions; keeps the exit-code table as written."""

    def _fill_text(self, text, width, indent):
        if text.startswith("exit codes:"):
            return text
        return super()._fill_text(text, width, indent)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("epilog", EXIT_CODES)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


class _Terminated(BaseException):
    """SIGTERM outside a training loop (which handles it itself)."""



def _report_stop(metrics, save, resume_hint=True):
    """The lines after a run stopped by a signal; returns the exit code (0 if not stopped)."""
    if not metrics.get("signal"):
        return 0
    kept = metrics.get("kept_step", metrics["steps"])
    where = f"; checkpoint of step {kept} written to {save}" if save else "; nothing saved (no --save)"
    how = f"; resume with --resume {save}" if save and resume_hint else ""
    print(f"Stopped by {metrics['signal']} at step {metrics['steps']}{where}{how}")
    return metrics["exit_code"]


def _times(metrics) -> str:
    return f"{metrics['train_seconds']:.2f} s of training + {metrics['eval_seconds']:.2f} s of evaluation"


# ---------------------------------------------------------------- tinyrnn add
def _cmd_add(args):
    from .demos import add
    save = check_output("--save", args.save)
    png = check_output("--plot", args.plot, image=True)
    cfg = add.AddConfig(bits=args.bits, hidden=args.hidden, lr=args.lr, steps=args.steps, batch=args.batch,
                        optimizer=args.optimizer, seed=args.seed, print_every=args.print_every,
                        eval_every=args.eval_every, test_bits=args.test_bits, clip=args.clip, quiet=args.quiet)
    model, metrics = add.train(cfg, (lambda line: None) if args.quiet else print, save=save)
    first = metrics["first_perfect_step"]
    print(f"Exact accuracy on {'all' if metrics['eval_exhaustive'] else 'a sample of'} "
          f"{metrics['eval_pairs']} operand pairs: {100 * metrics['accuracy']:.2f}%")
    print("First evaluated step at 100%: " + (f"{first} ({metrics['train_seconds_to_first_perfect']:.3f} s of training)"
                                               if first else "never"))
    print(f"Time: {_times(metrics)} (all-pairs accuracy every {args.eval_every} steps) for {metrics['steps']} steps")
    if metrics["kept_step"] != metrics["steps"]:
        print(f"Kept the weights of step {metrics['kept_step']} (the best evaluation); the last step "
              f"scored {100 * metrics['final_step_accuracy']:.2f}%")
    g = metrics.get("generalisation")
    if g:
        print(f"{g['bits']}-bit operands (never trained on): {100 * g['sample_accuracy']:.2f}% of "
              f"{g['sample_pairs']} random pairs, {100 * g['edge_accuracy']:.0f}% of edge cases")
        for line in g["edge_examples"][:3]:
            print("  " + line)
    if png:
        add.plot(png, model, metrics, args.bits)
        print(f"Plot written to {png}")
    if save:
        print(f"Checkpoint written to {save}")
    code = _report_stop(metrics, save, resume_hint=False)
    if args.json:
        metrics.pop("curve")
        _print_json(metrics)
    return code


def _add_parser(sub):
    from .demos.add import AddConfig
    d = _defaults(AddConfig)
    p = sub.add_parser("add", help="binary addition learned bit by bit (the classic tutorial)",
                       description="Train an Elman RNN with sigmoid units to add binary numbers, least "
                                   "significant bit first, by BPTT. Defaults are the tutorial's.")
    p.add_argument("--bits", type=_int_in(2, 64), default=d["bits"], help="operand width in bits, 2 to 64; operands are below 2^(bits-1) so the sum fits (default %(default)s)")
    p.add_argument("--hidden", type=positive, default=d["hidden"], help="hidden units (default %(default)s)")
    p.add_argument("--lr", type=positive_float, default=d["lr"], help="learning rate (default %(default)s)")
    p.add_argument("--steps", type=positive, default=d["steps"], help="training steps (default %(default)s)")
    p.add_argument("--batch", type=positive, default=d["batch"], help="operand pairs per step, vectorised (default %(default)s)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default=d["optimizer"], help="optimizer (default %(default)s)")
    p.add_argument("--clip", type=_float_in(0.0), default=d["clip"], help="global gradient-norm clip, 0 = off (default %(default)s)")
    p.add_argument("--print-every", type=positive, default=d["print_every"], help="steps between progress blocks (default %(default)s)")
    p.add_argument("--eval-every", type=positive, default=d["eval_every"], help="steps between all-pairs evaluations, to find the first 100%% (default %(default)s)")
    p.add_argument("--test-bits", type=_zero_or(_int_in(2, 1024), "an integer from 2 to 1024"), default=d["test_bits"], metavar="N", help="after training, exact accuracy on N-bit operands, 2 to 1024 (a random sample and edge cases); 0 = off")
    p.add_argument("--plot", metavar="PNG", help="write the error curve and the hidden activations of one example")
    p.add_argument("--save", metavar="CKPT", help="save the trained model (.npz); also on Ctrl-C/SIGTERM")
    _common(p, d["seed"])
    p.set_defaults(run=_cmd_add)


# ---------------------------------------------------------------- tinyrnn srn
def _cmd_srn(args):
    from .demos import srn
    rows = srn.trace(args.activation)
    theirs = srn.torch_trace(args.activation) if args.torch else None
    if args.torch and theirs is None:
        print("(torch is not installed: showing tinyrnn only)")
    print(f"Simple recurrent network, activation={args.activation}, every weight 1, no biases, h0 = 0")
    for k, r in enumerate(rows):
        line = f"step {r['step']}: input {r['input']}  state {r['state']}  output {r['output']}"
        print(line)
        if theirs:
            print(f"        torch:  state {theirs[k]['state']}  output {theirs[k]['output']}")
    if args.json:
        _print_json(dict(activation=args.activation, steps=rows, torch=theirs))
    return 0


def _srn_parser(sub):
    p = sub.add_parser("srn", help="the simple recurrent network worked example, step by step",
                       description="2 inputs, 2 hidden units, 2 outputs, every weight 1, inputs [1,1], [1,1], "
                                   "[2,2]: outputs 4, 12, 32 (identity) or 1.928..., 1.998..., 1.99997... (tanh). "
                                   "Deterministic: no --seed; nothing to silence: no --quiet.")
    p.add_argument("--activation", choices=["identity", "tanh"], default="identity", help="hidden activation (default %(default)s)")
    p.add_argument("--torch", action="store_true", help="also run torch.nn.RNNCell with the same weights, side by side")
    p.add_argument("--json", action="store_true", help="print the trace as one JSON object on the last line")
    p.set_defaults(run=_cmd_srn)


# ---------------------------------------------------------------- tinyrnn hello
def _cmd_hello(args):
    from .demos import hello
    cfg = hello.HelloConfig(epochs=args.epochs, lr=args.lr, clip=args.clip, seed=args.seed)
    metrics = hello.train(cfg, (lambda line: None) if args.quiet else print)
    print(f"Final prediction: {metrics['predicted']} (target {cfg.target})")
    if args.json:
        metrics.pop("history")
        _print_json(metrics)
    return 0


def _hello_parser(sub):
    from .demos.hello import HelloConfig
    d = _defaults(HelloConfig)
    p = sub.add_parser("hello", help='the smallest character model: "hello" -> "ohlol"',
                       description='Embedding(4, 10) -> 2-layer RNN (hidden 8) -> Linear(8, 4), cross-entropy, '
                                   'Adam, learning to map "hello" to "ohlol".')
    p.add_argument("--epochs", type=positive, default=d["epochs"], help="training epochs (default %(default)s)")
    p.add_argument("--lr", type=positive_float, default=d["lr"], help="Adam learning rate (default %(default)s)")
    p.add_argument("--clip", type=_float_in(0.0), default=d["clip"], help="global gradient-norm clip, 0 = off (default %(default)s)")
    _common(p, d["seed"])
    p.set_defaults(run=_cmd_hello)


# ---------------------------------------------------------------- tinyrnn seq2seq
def _cmd_seq2seq_train(args):
    from .demos import seq2seq
    save = check_output("--save", args.save or args.resume)     # a resumed run saves back to its file by default
    png = check_output("--plot", args.plot, image=True)
    given = dict(task=args.task, cell=args.cell, hidden=args.hidden, layers=args.layers,
                 bidirectional=args.bidirectional or None, attention=args.attention, max_len=args.max_len,
                 test_lengths=args.test_lengths, lr=args.lr, batch=args.batch, steps=args.steps,
                 time_budget=args.time_budget, clip=args.clip, lr_decay=False if args.no_lr_decay else None,
                 digits=args.digits, beam=args.beam, eval_every=args.eval_every, keep_best=args.keep_best or None,
                 seed=args.seed)
    if args.resume:
        cfg = seq2seq.resume_config(args.resume, {**given, "quiet": args.quiet})
    else:
        d = _defaults(seq2seq.Seq2SeqConfig)
        given.pop("task")
        cfg = seq2seq.config_for(args.task or d["task"], **given, quiet=args.quiet)
    if cfg.keep_best and not cfg.eval_every:
        raise UsageError("--keep-best needs --eval-every N (the evaluations it chooses from)")
    if cfg.test_lengths and cfg.task == "words":
        raise UsageError("--test-lengths needs --task reverse or add")
    if cfg.max_len < cfg.min_len:
        raise UsageError(f"--max-len must be >= {cfg.min_len}, got {cfg.max_len}")
    if cfg.attention == "dot" and cfg.bidirectional:
        raise UsageError("--attention dot needs a unidirectional encoder (a bidirectional one's outputs are "
                         "twice the decoder's size): use general or additive")
    emit = (lambda line: None) if args.quiet else print
    _, task, metrics = seq2seq.train(cfg, emit, save=save, resume=args.resume)
    pairs = (f"held-out exact match {100 * metrics['accuracy']:.1f}% on {metrics['test_pairs']} pairs"
             if metrics["held_out"] else
             f"exact match {100 * metrics['accuracy']:.1f}% on the {metrics['test_pairs']} training pairs")
    print(f"Task {cfg.task}: {metrics['steps']} steps, {_times(metrics)}, {pairs}"
          + (f" (beam {cfg.beam})" if cfg.beam > 1 else ""))
    if cfg.keep_best or metrics["kept_step"] != metrics["steps"]:
        print(f"Kept the weights of step {metrics['kept_step']} (the best evaluation)")
    if cfg.task != "words":
        what = "source length" if cfg.task == "reverse" else "digits of the longer operand"
        print(f"Per {what}: " + ", ".join(f"{k}: {100 * v:.1f}%" for k, v in metrics["per_length"].items()))
    if "accuracy_len_3_10" in metrics:
        print(f"Lengths 3-10: {100 * metrics['accuracy_len_3_10']:.1f}% exact")
    if "test_lengths" in metrics:
        m = metrics["test_lengths"]
        print(f"Test lengths {m['low']}-{m['high']}: {100 * m['accuracy']:.1f}% exact; per length: "
              + ", ".join(f"{k}: {100 * v:.1f}%" for k, v in m["per_length"].items()))
    for src, out in metrics.get("translations", {}).items():
        print(f"  {src} -> {out}")
    if png:
        seq2seq.plot(png, metrics)
        print(f"Plot written to {png}")
    if save:
        print(f"Checkpoint written to {save}")
    code = _report_stop(metrics, save)
    if args.json:
        metrics.pop("curve")
        _print_json(metrics)
    return code


def _cmd_seq2seq_translate(args):
    from .demos import seq2seq
    png = check_output("--plot", args.plot, image=True)
    model, vocab, header = seq2seq.load_for_translation(args.checkpoint)
    if png and model.attention_kind == "none":
        raise UsageError(f"--plot draws attention weights, and {args.checkpoint} has no attention "
                         "(train with --attention dot, general or additive)")
    outs = seq2seq.translate(model, vocab, args.inputs, args.beam)
    for src, out in zip(args.inputs, outs):
        print(f"{src} -> {out}")
    if png:
        seq2seq.plot_attention(model, vocab, args.inputs, outs, png)
        print(f"Attention plot written to {png}")
    if args.json:
        _print_json(dict(task=header["meta"].get("task"), translations=dict(zip(args.inputs, outs))))
    return 0


def _length_range(text):
    """'A-B' -> (A, B) with 1 <= A <= B."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or not 1 <= int(parts[0]) <= int(parts[1]) <= 100:
        raise argparse.ArgumentTypeError(f"expected a range A-B of lengths with 1 <= A <= B, like 13-20, got {text!r} "
                                         "(B at most 100)")
    return int(parts[0]), int(parts[1])


def _seq2seq_parser(sub):
    from .demos.seq2seq import ATTENTION_STEPS, TASK_DEFAULTS, Seq2SeqConfig
    d = _defaults(Seq2SeqConfig)

    def per_task(key, fmt=str):
        return "default " + ", ".join(f"{fmt(v[key])} for {k}" for k, v in TASK_DEFAULTS.items())

    p = sub.add_parser("seq2seq", help="encoder-decoder: word -> word, string reversal, decimal addition",
                       description="Encoder-decoder RNNs on one-hot characters.")
    ss = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    t = ss.add_parser("train", help="train on a task and report held-out exact match",
                      description="Train an encoder RNN whose final state starts a decoder RNN (teacher forcing), "
                                  "then decode the held-out set feeding back the model's own predictions. "
                                  "Ctrl-C or SIGTERM stops between steps and saves the model so far.")
    t.add_argument("--task", choices=list(TASK_DEFAULTS),
                   help="words: man->women, king->queen, ... (the tutorial); reverse: letter strings of length "
                        f"3-12 reversed; add: '357+84' -> '441' (default {d['task']})")
    t.add_argument("--cell", choices=["rnn", "lstm", "gru"], help=f"recurrent cell ({per_task('cell')})")
    t.add_argument("--hidden", type=positive, help=f"hidden size ({per_task('hidden')})")
    t.add_argument("--layers", type=positive, help=f"layers in encoder and decoder (default {d['layers']})")
    t.add_argument("--bidirectional", action="store_true", help="bidirectional encoder (its two final states are summed)")
    t.add_argument("--attention", choices=["none", "dot", "general", "additive"],
                   help=f"attention over the encoder outputs ({per_task('attention')})")
    t.add_argument("--lr", type=positive_float, default=None, help=f"Adam learning rate ({per_task('lr', '{:g}'.format)})")
    t.add_argument("--batch", type=positive, default=None, help=f"pairs per step ({per_task('batch')})")
    t.add_argument("--steps", type=positive, default=None, help=f"training steps ({per_task('steps')}; with attention "
                        + ", ".join(f"{v} for {k}" for k, v in ATTENTION_STEPS.items()) + "); with --resume, "
                                                                "this many MORE steps (default: finish the saved plan)")
    t.add_argument("--time-budget", type=positive_float, default=None, metavar="SECONDS",
                   help="train for this many seconds of training instead of --steps (evaluation not counted; "
                        "the report gives both times); with --resume, this many MORE seconds")
    t.add_argument("--clip", type=_float_in(0.0), help=f"global gradient-norm clip, 0 = off (default {d['clip']:g})")
    t.add_argument("--no-lr-decay", action="store_true", help="keep the learning rate constant (default: cosine decay to 5%% of --lr over the run)")
    t.add_argument("--digits", type=_int_in(1, 18), help=f"--task add: operands up to this many digits, 1 to 18 (default {d['digits']})")
    t.add_argument("--max-len", type=_int_in(3, 100), help=f"--task reverse: sources of length {d['min_len']}..MAX_LEN, 3 to 100 (default {d['max_len']})")
    t.add_argument("--test-lengths", type=_length_range, metavar="A-B",
                   help="also report exact match on held-out sources of lengths A..B (reverse: characters, add: digits "
                        "of the longer operand), e.g. lengths never trained on")
    t.add_argument("--beam", type=_int_in(1, 64), metavar="K", help=f"beam width for decoding, 1 to 64; 1 = greedy (default {d['beam']})")
    t.add_argument("--eval-every", type=nonneg, help="print loss and held-out accuracy every N steps (default 0 = off)")
    t.add_argument("--keep-best", action="store_true", help="keep (and save) the weights of the best evaluation, not the last (needs --eval-every)")
    t.add_argument("--plot", metavar="PNG", help="training loss and held-out accuracy curves (needs --eval-every for the accuracy points)")
    t.add_argument("--save", metavar="CKPT", help="save the trained model (.npz) for 'tinyrnn seq2seq translate' and "
                                                  "--resume; also on Ctrl-C/SIGTERM")
    t.add_argument("--resume", metavar="CKPT", help="continue a run saved by --save, with its settings, saving back to "
                                                    "CKPT unless --save is given; no --seed")
    _common(t, None, f"(default {d['seed']}; not with --resume)")
    t.set_defaults(run=_cmd_seq2seq_train)
    r = ss.add_parser("translate", help="translate inputs with a saved model",
                      description="Decode each INPUT with a checkpoint written by 'tinyrnn seq2seq train --save'. "
                                  "Deterministic (greedy or beam search): no --seed.")
    r.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by 'tinyrnn seq2seq train --save'")
    r.add_argument("inputs", nargs="+", metavar="INPUT", help="source strings to translate, e.g. king or 357+84")
    r.add_argument("--beam", type=_int_in(1, 64), default=1, metavar="K", help="beam width, 1 to 64; 1 = greedy (default %(default)s)")
    r.add_argument("--json", action="store_true", help="print the translations as one JSON object on the last line")
    r.add_argument("--plot", metavar="PNG", help="draw each translation's attention weights (output against source characters)")
    r.set_defaults(run=_cmd_seq2seq_translate)
    p.set_defaults(run=lambda args: _missing_action(p, "train or translate"))


def _missing_action(parser, actions):
    raise UsageError(f"{parser.prog}: error: choose an action: {actions}")


# ---------------------------------------------------------------- tinyrnn charlm
_RESUMABLE = ("cell", "layers", "hidden", "embed", "dropout", "seq_len", "batch", "optimizer", "lr", "lr_decay", "clip",
              "steps", "time_budget", "eval_every", "eval_chars", "keep_best", "seed")


def _cmd_charlm_train(args):
    from .demos import charlm
    save = check_output("--save", args.save or args.resume)     # a resumed run saves back to its file by default
    png = check_output("--plot", args.plot, image=True)
    given = {k: getattr(args, k) for k in _RESUMABLE if getattr(args, k) is not None}    # the flags named
    if args.resume:
        cfg = charlm.resume_config(args.resume, args.files, {**given, "quiet": args.quiet})
    else:
        cfg = charlm.CharLMConfig(files=list(args.files), quiet=args.quiet, **given)
        if args.time_budget:
            cfg.steps = 0
    emit = (lambda line: None) if args.quiet else print
    _, _, metrics = charlm.train(cfg, emit, save=save, resume=args.resume)
    run = metrics["run"]                        # this invocation (a resumed run has done more before)
    other = metrics["wall_seconds"] - run["train_seconds"] - run["eval_seconds"]
    done = f"{metrics['steps']} steps" + (f" ({run['steps']} in this run)" if run["steps"] != metrics["steps"] else "")
    print(f"{done} in {metrics['wall_seconds']:.1f} s: {_times(run)} + {max(other, 0):.2f} s of loading and saving")
    print(f"Validation {metrics['valid_nats']:.4f} nats = {metrics['valid_bpc']:.3f} bits/char at step "
          f"{metrics['steps']}; best {metrics['best_valid_bpc']:.3f} bits/char at step {metrics['best_step']}")
    if png:
        c = metrics["config"]
        title = (f"{metrics['corpus'][:70]}\n{c['cell'].upper()} {c['layers']}x{c['hidden']}, embedding {c['embed']}, "
                 f"seq {c['seq_len']}, batch {c['batch']}, {c['optimizer']} {c['lr']:g}")
        charlm.plot(png, metrics["history"], title)
        print(f"Plot written to {png}")
    if save:
        kept = metrics["kept_step"]
        print(f"Checkpoint written to {save}" + (f" (the weights of step {kept}, the best validation)"
                                                 if cfg.keep_best else ""))
    code = _report_stop(metrics, save)
    if args.json:
        _print_json(metrics)
    return code


def _cmd_charlm_sample(args):
    import numpy as np

    from .demos import charlm
    model, vocab, _ = charlm.load_model(args.checkpoint)
    if args.prime_file:
        args.prime = _read_prime_file(args.prime_file)
    vocab.encode(args.prime, "--prime-file" if args.prime_file else "--prime")
    if args.top_k and args.top_k > len(vocab):
        raise UsageError(f"--top-k must be at most the vocabulary size {len(vocab)}, got {args.top_k}")
    drawn = []

    def emit(ch):
        if args.json:
            drawn.append(ch)
        else:
            sys.stdout.write(ch)
            sys.stdout.flush()

    if not args.json:
        sys.stdout.write(args.prime)
    try:
        charlm.sample(model, vocab, args.prime, args.length, args.temperature, args.top_k,
                      np.random.default_rng(args.seed), emit, keep=False)
    finally:
        if not args.json:
            sys.stdout.write("\n")             # an interrupted sample still ends its line
            sys.stdout.flush()
    if args.json:
        _print_json(dict(prime=args.prime, sample="".join(drawn), length=args.length,
                         temperature=args.temperature, top_k=args.top_k, seed=args.seed))
    return 0


def _charlm_parser(sub):
    from .demos.charlm import CharLMConfig, SampleConfig
    d, ds = _defaults(CharLMConfig), _defaults(SampleConfig)
    p = sub.add_parser("charlm", help="character language model on real text: train, then sample",
                       description="A character-level language model: Embedding -> RNN/LSTM/GRU -> Linear.")
    ss = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    t = ss.add_parser("train", help="train with stateful truncated BPTT",
                      description="Train on FILEs (UTF-8 text; default: the .py files directly in this Python's "
                                  "standard-library folder, about 4.7 MB on CPython 3.11). The last "
                                  f"{d['valid_fraction']:.0%} is held out. The text is read as --batch parallel "
                                  "streams; the hidden state is carried from one --seq-len chunk to the next and the "
                                  "gradient is cut at the boundary. Ctrl-C or SIGTERM stops between steps and saves.")
    t.add_argument("files", nargs="*", metavar="FILE",
                   help="text files to train on (default: the stdlib corpus); with --resume, the same text again")
    t.add_argument("--cell", choices=["rnn", "lstm", "gru"], help=f"recurrent cell (default {d['cell']})")
    t.add_argument("--layers", type=positive, help=f"recurrent layers (default {d['layers']})")
    t.add_argument("--hidden", type=positive, help=f"hidden size (default {d['hidden']})")
    t.add_argument("--embed", type=positive, help=f"embedding size (default {d['embed']})")
    t.add_argument("--dropout", type=_float_in(0.0, 0.99), help=f"dropout between layers and before the output, 0 to 0.99 (default {d['dropout']:g})")
    t.add_argument("--seq-len", type=positive, help=f"characters per truncated-BPTT chunk (default {d['seq_len']})")
    t.add_argument("--batch", type=positive, help=f"parallel streams (default {d['batch']})")
    t.add_argument("--optimizer", choices=["adam", "adagrad", "sgd"], help=f"optimizer (default {d['optimizer']})")
    t.add_argument("--lr", type=positive_float, help=f"learning rate (default {d['lr']:g})")
    t.add_argument("--clip", type=_float_in(0.0), help=f"global gradient-norm clip, 0 = off (default {d['clip']:g})")
    t.add_argument("--no-lr-decay", dest="lr_decay", action="store_const", const=False,
                   help="keep --lr constant (default: cosine decay to 5%% of --lr over the run's steps or time budget)")
    t.add_argument("--steps", type=positive, help=f"training steps (default {d['steps']}); with --resume, this many "
                                                  "MORE steps (default: finish the saved run's plan)")
    t.add_argument("--time-budget", type=positive_float, metavar="SECONDS",
                   help="train for this many seconds of training instead of --steps (evaluation and saving are not "
                        "counted; the final report gives each); with --resume, this many MORE seconds")
    t.add_argument("--eval-every", type=positive, help=f"steps between validations (and checkpoints) (default "
                                                       f"{d['eval_every']}; with --resume, the run's own)")
    t.add_argument("--eval-chars", type=nonneg, help="validate on the first N held-out characters, at least --seq-len + 1; "
                                                     "0 = all (default 0; with --resume, the run's own)")
    t.add_argument("--keep-best", action="store_const", const=True, help="write the checkpoint only when validation improves, so it "
                                                            "holds the best weights; the report says which step")
    t.add_argument("--save", metavar="CKPT", help="checkpoint written atomically at every validation and at the end "
                                                  "(and on Ctrl-C/SIGTERM); never after a divergence")
    t.add_argument("--resume", metavar="CKPT", help="continue a saved run exactly, with its settings, saving back to CKPT "
                                                    "unless --save is given; name its corpus FILEs again (checked "
                                                    "against the saved fingerprint); no --seed")
    t.add_argument("--plot", metavar="PNG", help="training and validation curves in bits per character")
    _common(t, None, f"(default {d['seed']}; not with --resume, which continues the saved random state)")
    t.set_defaults(run=_cmd_charlm_train)
    s = ss.add_parser("sample", help="stream characters from a trained model",
                      description="Feed --prime through the model, then draw --length characters, printing each "
                                  "as it is drawn.")
    s.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by 'tinyrnn charlm train --save'")
    primer = s.add_mutually_exclusive_group()
    primer.add_argument("--prime", default=ds["prime"], help="text fed through the model first (and printed)")
    primer.add_argument("--prime-file", metavar="PATH", help="like --prime, with the text of a UTF-8 file (long, multi-line primers)")
    s.add_argument("--length", type=nonneg, default=ds["length"], help="characters to draw (default %(default)s)")
    s.add_argument("--temperature", type=_float_in(1e-6, 1e6), default=ds["temperature"],
                   help="divides the logits, 1e-06 to 1e+06: below 1 is more conservative, above 1 more surprising "
                        "(default %(default)s)")
    s.add_argument("--top-k", type=nonneg, default=ds["top_k"], metavar="K", help="draw only among the K most likely characters; 1 = greedy, 0 = all (default %(default)s)")
    s.add_argument("--seed", type=SEED, default=ds["seed"], help="random seed (default %(default)s)")
    s.add_argument("--json", action="store_true", help="print the sample as one JSON object instead of streaming it")
    s.set_defaults(run=_cmd_charlm_sample)
    _charlm_show_parser(ss)
    p.set_defaults(run=lambda args: _missing_action(p, "train, sample or show"))


def _read_prime_file(path):
    from .data.text import CorpusError, read_text
    try:
        return read_text(path)
    except CorpusError as e:
        raise UsageError(f"--prime-file: {e}") from None


# ---------------------------------------------------------------- tinyrnn charlm show
def _cmd_charlm_show(args):
    from .checkpoint import CheckpointError
    from .demos import show
    from .viz.page import cell_label
    check_output("--html", args.html)
    cfg = show.ShowConfig(chars=args.chars, top=args.top, layer=args.layer or 0, state=args.state)
    try:
        analysis, summary = show.show(args.checkpoint, args.file, cfg, args.html)
    except (CheckpointError, ValueError) as e:          # CorpusError is a ValueError
        raise UsageError(f"tinyrnn charlm show: error: {e}") from None
    print(f"Text: {summary['source']}: {summary['chars']} characters"
          + (f", {analysis.bits_per_char:.3f} bits/char" if summary["bits_per_char"] is not None else ""))
    if summary["skipped"]:
        print(f"Skipped {summary['skipped']} characters outside the model's vocabulary (marked on the page): "
              + ", ".join(repr(c) for c in summary["skipped_chars"][:20]))
    print("Cells ranked by their correlation with a feature of the text (first the best cell for each feature):")
    for c in summary["cells"]:
        print(f"{c['rank']:>3}. {cell_label(c):<24} {c['feature']:<14} r = {c['r']:+.3f}")
    if args.html:
        print(f"Page written to {args.html} ({summary['html_bytes'] / 1e6:.2f} MB)")
    if args.json:
        _print_json(summary)
    return 0


def _charlm_show_parser(ss):
    from .demos.show import ShowConfig
    d = ShowConfig()
    w = ss.add_parser("show", help="see inside a trained model: its cells and predictions as one HTML page",
                      description="Run a charlm checkpoint over a text (FILE, or the start of the checkpoint's "
                                  "held-out slice when its corpus is found here) and write one self-contained "
                                  "HTML page: the text coloured by one cell's activation (blue negative, red "
                                  "positive), the cells that track quotes, brackets, position in the line, "
                                  "indentation and comments ranked first, the top-5 predictions and the surprise "
                                  "of each character on hover, the loss per character above the text.")
    w.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by 'tinyrnn charlm train --save'")
    w.add_argument("file", nargs="?", metavar="FILE", help="UTF-8 text to run the model over (default: the held-out slice)")
    w.add_argument("--html", metavar="OUT.html", help="write the page here")
    w.add_argument("--chars", type=positive, default=d.chars, metavar="N", help="the first N characters of FILE or of the held-out slice (default %(default)s)")
    w.add_argument("--top", type=positive, default=d.top, metavar="K", help="ranked cells listed (default %(default)s)")
    w.add_argument("--layer", type=positive, default=d.layer or None, help="rank the cells of this layer only, from 1 (default: every layer)")
    w.add_argument("--state", choices=["c", "h", "both"], default=d.state, help="LSTM: rank tanh(c), h or both (default %(default)s)")
    w.add_argument("--json", action="store_true", help="print the ranked cells and their features as one JSON object on the last line")
    w.set_defaults(run=_cmd_charlm_show)


# ---------------------------------------------------------------- tinyrnn memory
def _memory_config(args):
    from .demos import memory
    given = {k: getattr(args, k) for k in memory.MemoryConfig.__dataclass_fields__ if hasattr(args, k)}
    return memory.MemoryConfig(**given)


def _cmd_memory(args):
    from .demos import memory
    prog = f"tinyrnn memory {args.task}"
    try:
        cfg = _memory_config(args).resolved()
    except ValueError as e:
        raise UsageError(f"{prog}: error: {e}") from None
    args.plot = check_output("--plot", args.plot, image=True)      # checked before any training
    args.save = check_output("--save", args.save)
    if args.sweep:
        return _memory_sweep(args, cfg, prog)
    if args.scheduler:
        raise UsageError(f"{prog}: error: --scheduler sends --sweep runs to a cluster; give --sweep too")
    try:
        model, metrics = memory.train(cfg, (lambda line: None) if args.quiet else print)
    except memory.TrainingDiverged as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 3
    what = f"{cfg.task} (--variant {cfg.variant})" if cfg.task == "adding" else cfg.task
    print(f"memory {what}, cell {cfg.cell}, T = {cfg.T}: {metrics['steps']} steps, {metrics['sequences_seen']} "
          f"sequences, {metrics['seconds']:.1f} s of training")
    print(f"Held-out ({cfg.test_size} sequences): {memory.headline(cfg, metrics)}; baseline {metrics['baseline']:.4g}; "
          + (f"solved after {metrics['solved_at']['sequences']} sequences" if metrics["solved_at"] else "not solved"))
    if args.plot:
        memory.plot(args.plot, metrics)
        print(f"Plot written to {args.plot}")
    if args.save:
        from .checkpoint import save
        save(args.save, model, meta=dict(kind="memory", task=cfg.task, variant=cfg.variant, T=cfg.T,
                                         steps=metrics["steps"]))
        print(f"Checkpoint written to {args.save}")
    if metrics["interrupted"]:
        print(f"Stopped by {metrics['signal'] or 'Ctrl-C (SIGINT)'} at step {metrics['steps']}: the metrics above "
              "are those of the model at that point" + (f", saved in {args.save}" if args.save else ""))
    if args.json:
        metrics.pop("curve")
        _print_json(metrics)
    return metrics["exit_code"]


def _memory_sweep(args, cfg, prog):
    from .demos import memory_sweep
    from .sweep import SweepError
    if args.save:
        raise UsageError(f"{prog}: error: --save saves one run; it cannot be used with --sweep")
    results = args.results or f"sweep-{args.task}.jsonl"
    try:
        configs = memory_sweep.expand(cfg, memory_sweep.parse_grid(args.sweep))
        records, ran, interrupted = memory_sweep.run_sweep(configs, results, args.scheduler, args.workers,
                                                           (lambda line: None) if args.quiet else print)
    except (ValueError, SweepError) as e:
        raise UsageError(f"{prog}: error: {e}") from None
    if records:
        print(memory_sweep.table(records))
    print(f"{len(records)} of {len(configs)} runs finished ({ran} run now); results in {results}")
    if args.plot and records:
        memory_sweep.plot(args.plot, records)
        print(f"Plot written to {args.plot}")
    if interrupted:
        print(f"Interrupted by Ctrl-C: the finished runs are kept in {results}; run the same command to finish")
    if args.json:
        for r in records:
            if r["metrics"]:
                r["metrics"].pop("curve", None)
        _print_json(dict(task=cfg.task, results=results, runs=records))
    return 130 if interrupted else 0


def _memory_parser(sub):
    from .demos.memory import TASK_DEFAULTS, TIME_BUDGET, MemoryConfig
    d = MemoryConfig()
    per_task = lambda k: ", ".join(f"{t} {v[k]}" for t, v in TASK_DEFAULTS.items())
    p = sub.add_parser("memory", help="long-range memory: the adding, copy and temporal-order tasks",
                       description="Train a cell on a synthetic long-range memory task of the LSTM papers and "
                                   "evaluate it on a held-out set fixed by --seed (docs/memory.md).")
    p.add_argument("task", choices=["adding", "copy", "order"], metavar="TASK",
                   help="adding: the adding problem; copy: the copy-memory task; order: temporal order")
    p.add_argument("--variant", choices=["le", "hochreiter"], default=d.variant,
                   help="adding: le (Le et al. 2015, fixed length T) or hochreiter (1997, lengths T to 1.1 T) (default %(default)s)")
    p.add_argument("--cell", choices=["rnn", "irnn", "lstm", "gru"], default=d.cell, help="rnn (tanh), irnn (ReLU, identity init), lstm, gru (default %(default)s)")
    p.add_argument("--T", type=positive, default=d.T, help="sequence length (order, hochreiter: the minimum length; copy: the blanks) (default %(default)s)")
    p.add_argument("--hidden", type=positive, help=f"hidden size (default: {per_task('hidden')})")
    p.add_argument("--layers", type=positive, default=d.layers, help="recurrent layers (default %(default)s)")
    p.add_argument("--batch", type=positive, help=f"sequences per step (default: {per_task('batch')})")
    p.add_argument("--optimizer", choices=["adam", "sgd", "adagrad"], default=d.optimizer, help="optimizer (default %(default)s)")
    p.add_argument("--lr", type=positive_float, help=f"learning rate (default: {per_task('lr')})")
    p.add_argument("--clip", type=_float_in(0.0), default=d.clip, help="global gradient-norm clip, 0 = off (default %(default)s)")
    p.add_argument("--no-lr-decay", dest="lr_decay", action="store_false", help="keep --lr constant (default: cosine decay to 5%% of --lr over the run)")
    p.add_argument("--forget-bias", type=_float_in(-1e6, 1e6), metavar="B", help=f"lstm only: forget-gate biases start at B (default: {per_task('forget_bias')})")
    p.add_argument("--steps", type=positive, help="training steps (default: train for --time-budget seconds)")
    p.add_argument("--time-budget", type=positive_float, metavar="SECONDS", help=f"seconds of training, evaluations excluded (default {TIME_BUDGET:g} unless --steps is given)")
    p.add_argument("--eval-every", type=positive, default=d.eval_every, help="steps between held-out evaluations (default %(default)s)")
    p.add_argument("--test-size", type=positive, default=d.test_size, help="held-out sequences (default %(default)s)")
    p.add_argument("--stop-when-solved", action="store_true", help="stop at the first evaluation that meets the task's criterion")
    p.add_argument("--plot", metavar="PNG", help="learning curve against the baseline (with --sweep: the score against T per cell)")
    p.add_argument("--save", metavar="CKPT", help="save the trained model (.npz)")
    p.add_argument("--sweep", nargs="+", metavar="KEY=V1,V2", help="run every combination on Dask, e.g. cell=rnn,lstm T=100,200 seed=0,1")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", help="--sweep on this existing Dask cluster (default: a local cluster)")
    p.add_argument("--workers", type=positive, help="--sweep local cluster: worker processes (default: one per core)")
    p.add_argument("--results", metavar="JSONL", help="--sweep results file, extended by later sweeps (default sweep-TASK.jsonl)")
    _common(p)
    p.set_defaults(run=_cmd_memory)


# ---------------------------------------------------------------- tinyrnn gradflow
def _name_list(choices):
    def parse(text):
        names = [v.strip() for v in text.split(",")]
        bad = [v for v in names if v not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(choices)}, got {text!r}")
        return tuple(dict.fromkeys(names))
    return parse


def _float_list(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(abs(v) < 1e6 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def _cmd_gradflow(args):
    from .demos import gradflow
    if args.T < 2:
        raise UsageError("tinyrnn gradflow: error: argument --T: expected an integer >= 2 (the adding problem)")
    args.plot = check_output("--plot", args.plot, image=True)      # checked before any training
    cfg = gradflow.GradflowConfig(cells=args.cell, forget_biases=args.forget_bias, T=args.T, hidden=args.hidden,
                                  batch=args.batch, train_steps=args.train_steps, seed=args.seed, quiet=args.quiet)
    from .demos.memory import TrainingDiverged
    try:
        result = gradflow.run(cfg, (lambda line: None) if args.quiet else print)
    except TrainingDiverged as e:
        print(f"tinyrnn gradflow: {e}", file=sys.stderr)
        return 3
    if args.plot:
        gradflow.plot(args.plot, result)
        print(f"Plot written to {args.plot}")
    if args.json:
        out = dict(T=result["T"], train_steps=result["train_steps"], ratio=result["init"]["ratio"])
        if "trained" in result:
            out["ratio_trained"] = result["trained"]["ratio"]
            out["test_mse_trained"] = result["trained"]["test_mse"]
        _print_json(out)
    return 0


def _gradflow_parser(sub):
    from .demos.gradflow import GradflowConfig
    d = GradflowConfig()
    p = sub.add_parser("gradflow", help="the vanishing gradient: |dL/dx_t| for each input step, per cell",
                       description="On a batch of the adding problem, the norm of the gradient of the loss at the "
                                   "last step with respect to each input x_t, averaged over the batch, computed by "
                                   "the library's BPTT, at initialisation and (--train-steps) after training.")
    p.add_argument("--cell", type=_name_list(("rnn", "irnn", "lstm", "gru")), default=d.cells, metavar="CELLS",
                   help="comma-separated cells (default " + ",".join(d.cells) + ")")
    p.add_argument("--forget-bias", type=_float_list, default=d.forget_biases, metavar="B1,B2",
                   help="lstm: one curve per forget-gate bias (default " + ",".join(f"{b:g}" for b in d.forget_biases) + ")")
    p.add_argument("--T", type=positive, default=d.T, help="sequence length (default %(default)s)")
    p.add_argument("--hidden", type=positive, default=d.hidden, help="hidden size (default %(default)s)")
    p.add_argument("--batch", type=positive, default=d.batch, help="sequences averaged over (default %(default)s)")
    p.add_argument("--train-steps", type=nonneg, default=d.train_steps, metavar="N",
                   help="also measure after N steps of 'tinyrnn memory adding' training (default %(default)s: initialisation only)")
    p.add_argument("--plot", metavar="PNG", help="log-scale plot of |dL/dx_t| against t, the cells side by side")
    _common(p)
    p.set_defaults(run=_cmd_gradflow)


# ---------------------------------------------------------------- entry
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinyrnn", description="Recurrent networks in plain NumPy, with hand-derived BPTT.")
    parser.add_argument("--version", action="version", version=f"tinyrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_parser(sub)
    _srn_parser(sub)
    _hello_parser(sub)
    _seq2seq_parser(sub)
    _charlm_parser(sub)
    _memory_parser(sub)
    _gradflow_parser(sub)
    from .commands import add_all
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
        text = f"{e.strerror}: {e.filename}" + (f" -> {e.filename2}" if e.filename2 else "") if e.filename else e.strerror
    elif isinstance(e, MemoryError):
        text = "not enough memory for this configuration; lower --hidden or --batch"
    text = _one_line(text)
    if text.startswith("tinyrnn") and ": error: " in text:
        return text
    return f"{prog}: error: {text}"


def _on_sigterm(signum, frame):
    raise _Terminated


def main(argv=None) -> int:
    prog = "tinyrnn"
    old_term = None
    try:
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:                          # not the main thread
        pass
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        prog = getattr(args, "_prog", prog)
        if extra:
            raise UsageError(f"{prog}: error: unrecognized arguments: {' '.join(extra)}")
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args.run(args) or 0)
    except Diverged as e:
        print(f"{prog}: {_one_line(e)}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except (UsageError, ValueError, TypeError, OSError, MemoryError) as e:
        _flush_line()
        print(_user_message(prog, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _flush_line()
        print("interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        _flush_line()
        print("stopped by SIGTERM", file=sys.stderr)
        return 143
    except Exception as e:
        if os.environ.get("TINYRNN_DEBUG") == "1":
            import traceback
            traceback.print_exc()
        print(f"{prog}: internal error (a bug in tinyrnn, please report it): {type(e).__name__}: "
              f"{_one_line(e)[:300]}; run with TINYRNN_DEBUG=1 to see the traceback", file=sys.stderr)
        return 1
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


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
