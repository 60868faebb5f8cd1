"""The ``tinyrnn`` command. A thin layer: parse arguments, call a demo, print at the edge.

``main(argv) -> int`` is what tests call. Exit code 0 on success, 2 for bad flags or input
(one clear line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__


class UsageError(Exception):
    """A user mistake, reported as one clear line and exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


# ---------------------------------------------------------------- argument types
def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value
    return parse


def _float_in(low, high=None, low_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        bad = value <= low if low_open else value < low
        if bad or (high is not None and value > high) or value != value:
            rng = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"expected a number {rng}, got {text}")
        return value
    return parse


positive = _int_at_least(1)
nonneg = _int_at_least(0)
positive_float = _float_in(0.0, low_open=True)


def _common(p, seed=0):
    p.add_argument("--seed", type=nonneg, default=seed, help="random seed: the same seed gives the same output (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON object on the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-step lines")


def _print_json(obj):
    print(json.dumps(obj, sort_keys=True))


# ---------------------------------------------------------------- tinyrnn add
def _cmd_add(args):
    from .demos import add
    if args.test_bits and args.test_bits < 2:
        raise UsageError("tinyrnn add: error: argument --test-bits: expected an integer >= 2")
    cfg = add.AddConfig(bits=args.bits, hidden=args.hidden, lr=args.lr, steps=args.steps, batch=args.batch,
                        optimizer=args.optimizer, seed=args.seed, print_every=args.print_every,
                        eval_every=args.eval_every, test_bits=args.test_bits, quiet=args.quiet)
    emit = (lambda line: None) if args.quiet else print
    model, metrics = add.train(cfg, emit)
    first = metrics["first_perfect_step"]
    print(f"Exact accuracy on {'all' if metrics['eval_exhaustive'] else 'a sample of'} "
          f"{metrics['eval_pairs']} operand pairs: {100 * metrics['accuracy']:.2f}%")
    print("First evaluated step at 100%: " + (f"{first} ({metrics['train_seconds_to_first_perfect']:.3f} s of training)"
                                               if first else "never"))
    print(f"Training time: {metrics['train_seconds']:.2f} s for {args.steps} steps")
    if metrics["kept_step"] != args.steps:
        print(f"Kept the weights of step {metrics['kept_step']} (the best evaluation); the last step "
              f"scored {100 * metrics['final_step_accuracy']:.2f}%")
    g = metrics.get("generalisation")
    if g:
        print(f"{g['bits']}-bit operands (never trained on): {100 * g['sample_accuracy']:.2f}% of "
              f"{g['sample_pairs']} random pairs, {100 * g['edge_accuracy']:.0f}% of edge cases")
        for line in g["edge_examples"][:3]:
            print("  " + line)
    if args.plot:
        add.plot(args.plot, model, metrics, args.bits)
        print(f"Plot written to {args.plot}")
    if args.save:
        from .checkpoint import save
        save(args.save, model, meta=dict(kind="add", bits=args.bits, accuracy=metrics["accuracy"]))
        print(f"Checkpoint written to {args.save}")
    if args.json:
        metrics.pop("curve")
        _print_json(metrics)
    return 0


def _add_parser(sub):
    p = sub.add_parser("add", help="binary addition learned bit by bit (the classic tutorial)",
                       description="Train an Elman RNN with sigmoid units to add binary numbers, least "
                                   "significant bit first, by BPTT. Defaults are the tutorial's.")
    p.add_argument("--bits", type=_int_at_least(2), default=8, help="operand width in bits; operands are below 2^(bits-1) so the sum fits (default %(default)s)")
    p.add_argument("--hidden", type=positive, default=16, help="hidden units (default %(default)s)")
    p.add_argument("--lr", type=positive_float, default=0.1, help="learning rate (default %(default)s)")
    p.add_argument("--steps", type=positive, default=10_000, help="training steps (default %(default)s)")
    p.add_argument("--batch", type=positive, default=1, help="operand pairs per step, vectorised (default %(default)s)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="optimizer (default %(default)s)")
    p.add_argument("--print-every", type=positive, default=1000, help="steps between progress blocks (default %(default)s)")
    p.add_argument("--eval-every", type=positive, default=50, help="steps between all-pairs evaluations, to find the first 100%% (default %(default)s)")
    p.add_argument("--test-bits", type=nonneg, default=0, metavar="N", help="after training, exact accuracy on N-bit operands (a random sample and edge cases)")
    p.add_argument("--plot", metavar="PNG", help="write the error curve and the hidden activations of one example")
    p.add_argument("--save", metavar="CKPT", help="save the trained model (.npz)")
    _common(p)
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
                                   "[2,2]: outputs 4, 12, 32 (identity) or 1.928..., 1.998..., 1.99997... (tanh).")
    p.add_argument("--activation", choices=["identity", "tanh"], default="identity", help="hidden activation (default %(default)s)")
    p.add_argument("--torch", action="store_true", help="also run torch.nn.RNNCell with the same weights, side by side")
    p.add_argument("--json", action="store_true", help="print the trace as one JSON object on the last line")
    p.set_defaults(run=_cmd_srn)


# ---------------------------------------------------------------- tinyrnn hello
def _cmd_hello(args):
    from .demos import hello
    cfg = hello.HelloConfig(epochs=args.epochs, lr=args.lr, seed=args.seed)
    metrics = hello.train(cfg, (lambda line: None) if args.quiet else print)
    print(f"Final prediction: {metrics['predicted']} (target {cfg.target})")
    if args.json:
        metrics.pop("history")
        _print_json(metrics)
    return 0


def _hello_parser(sub):
    p = sub.add_parser("hello", help='the smallest character model: "hello" -> "ohlol"',
                       description='Embedding(4, 10) -> 2-layer RNN (hidden 8) -> Linear(8, 4), cross-entropy, '
                                   'Adam, learning to map "hello" to "ohlol".')
    p.add_argument("--epochs", type=positive, default=15, help="training epochs (default %(default)s)")
    p.add_argument("--lr", type=positive_float, default=0.05, help="Adam learning rate (default %(default)s)")
    _common(p)
    p.set_defaults(run=_cmd_hello)


# ---------------------------------------------------------------- tinyrnn seq2seq
TASK_DEFAULTS = {"words": dict(cell="rnn", hidden=128, steps=600, attention="none"),
                 "reverse": dict(cell="lstm", hidden=256, steps=4000, attention="additive", attention_steps=800),
                 "add": dict(cell="gru", hidden=256, steps=10000, attention="additive", attention_steps=6000)}


def _length_range(text):
    """'A-B' -> (A, B) with 1 <= A <= B."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or not 1 <= int(parts[0]) <= int(parts[1]):
        raise argparse.ArgumentTypeError(f"expected a range A-B of lengths with 1 <= A <= B, like 13-20, got {text!r}")
    return int(parts[0]), int(parts[1])


def _cmd_seq2seq_train(args):
    from .demos import seq2seq
    cfg = seq2seq.Seq2SeqConfig(task=args.task, cell=args.cell, hidden=args.hidden, layers=args.layers,
                                bidirectional=args.bidirectional, attention=args.attention or "none",
                                max_len=args.max_len, test_lengths=args.test_lengths, lr=args.lr, batch=args.batch,
                                steps=args.steps, time_budget=args.time_budget, clip=args.clip,
                                lr_decay=not args.no_lr_decay,
                                digits=args.digits, beam=args.beam, eval_every=args.eval_every,
                                seed=args.seed, quiet=args.quiet)
    if args.attention is None:
        cfg.attention = TASK_DEFAULTS[args.task]["attention"]
    if args.test_lengths and args.task == "words":
        raise UsageError("tinyrnn seq2seq train: error: --test-lengths needs --task reverse or add")
    if args.max_len < cfg.min_len:
        raise UsageError(f"tinyrnn seq2seq train: error: --max-len must be >= {cfg.min_len}, got {args.max_len}")
    if cfg.attention == "dot" and args.bidirectional:
        raise UsageError("tinyrnn seq2seq train: error: --attention dot needs a unidirectional encoder "
                         "(a bidirectional one's outputs are twice the decoder's size): use general or additive")
    if args.cell is None:
        cfg.cell = TASK_DEFAULTS[args.task]["cell"]
    if args.steps is None:
        defaults = TASK_DEFAULTS[args.task]
        cfg.steps = defaults["steps"] if cfg.attention == "none" else defaults.get("attention_steps", defaults["steps"])
    if args.batch is None:
        cfg.batch = 3 if args.task == "words" else 64
    if args.lr is None:
        cfg.lr = 1e-3 if args.task == "words" else 3e-3
    if args.hidden is None:
        cfg.hidden = TASK_DEFAULTS[args.task]["hidden"]
    emit = (lambda line: None) if args.quiet else print
    _, task, metrics = seq2seq.train(cfg, emit, save=args.save)
    print(f"Task {cfg.task}: {metrics['steps']} steps in {metrics['train_seconds']:.1f} s, "
          f"held-out exact match {100 * metrics['accuracy']:.1f}% on {metrics['test_pairs']} pairs"
          + (f" (beam {cfg.beam})" if cfg.beam > 1 else ""))
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
    if args.save:
        print(f"Checkpoint written to {args.save}")
    if args.json:
        _print_json(metrics)
    return 0


def _cmd_seq2seq_translate(args):
    from .checkpoint import CheckpointError
    from .demos import seq2seq
    try:
        model, vocab, header = seq2seq.load_for_translation(args.checkpoint)
    except CheckpointError as e:
        raise UsageError(f"tinyrnn seq2seq translate: error: {e}") from None
    if args.plot:
        _check_plot_target(args, model)
    try:
        outs = seq2seq.translate(model, vocab, args.inputs, args.beam)
    except ValueError as e:
        raise UsageError(f"tinyrnn seq2seq translate: error: {e}") from None
    for src, out in zip(args.inputs, outs):
        print(f"{src} -> {out}")
    if args.plot:
        seq2seq.plot_attention(model, vocab, args.inputs, outs, args.plot)
        print(f"Attention plot written to {args.plot}")
    if args.json:
        _print_json(dict(task=header["meta"].get("task"), translations=dict(zip(args.inputs, outs))))
    return 0


def _check_plot_target(args, model):
    import os
    if model.attention_kind == "none":
        raise UsageError(f"tinyrnn seq2seq translate: error: --plot draws attention weights, and {args.checkpoint} "
                         "has no attention (train with --attention dot, general or additive)")
    folder = os.path.dirname(os.path.abspath(args.plot))
    if not os.path.isdir(folder):
        raise UsageError(f"tinyrnn seq2seq translate: error: --plot {args.plot}: folder {folder} does not exist")


def _seq2seq_parser(sub):
    p = sub.add_parser("seq2seq", help="encoder-decoder: word -> word, string reversal, decimal addition",
                       description="Encoder-decoder RNNs on one-hot characters.")
    ss = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    t = ss.add_parser("train", help="train on a task and report held-out exact match",
                      description="Train an encoder RNN whose final state starts a decoder RNN (teacher forcing), "
                                  "then decode the held-out set feeding back the model's own predictions.")
    t.add_argument("--task", choices=["words", "reverse", "add"], default="words",
                   help="words: man->women, king->queen, ... (the tutorial); reverse: letter strings of length "
                        "3-12 reversed; add: '357+84' -> '441' (default %(default)s)")
    t.add_argument("--cell", choices=["rnn", "lstm", "gru"], help="recurrent cell (default rnn for words, lstm for reverse, gru for add)")
    t.add_argument("--hidden", type=positive, help="hidden size (default 128 for words, 256 otherwise)")
    t.add_argument("--layers", type=positive, default=1, help="layers in encoder and decoder (default %(default)s)")
    t.add_argument("--bidirectional", action="store_true", help="bidirectional encoder (its two final states are summed)")
    t.add_argument("--attention", choices=["none", "dot", "general", "additive"], default=None,
                   help="attention over the encoder outputs (default none for words, additive otherwise)")
    t.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate (default 0.001 for words, 0.003 otherwise)")
    t.add_argument("--batch", type=positive, default=None, help="pairs per step (default 3 for words, 64 otherwise)")
    t.add_argument("--steps", type=positive, default=None, help="training steps (default 600 for words; reverse 800 with attention, 4000 without; "
                        "add 6000 with attention, 10000 without)")
    t.add_argument("--time-budget", type=positive_float, default=0.0, metavar="SECONDS", help="train for this many seconds instead of --steps")
    t.add_argument("--clip", type=_float_in(0.0), default=5.0, help="global gradient-norm clip, 0 = off (default %(default)s)")
    t.add_argument("--no-lr-decay", action="store_true", help="keep the learning rate constant (default: cosine decay to 5%% of --lr over the run)")
    t.add_argument("--digits", type=positive, default=3, help="--task add: operands up to this many digits (default %(default)s)")
    t.add_argument("--max-len", type=positive, default=12, help="--task reverse: sources of length 3..MAX_LEN (default %(default)s)")
    t.add_argument("--test-lengths", type=_length_range, metavar="A-B",
                   help="also report exact match on held-out sources of lengths A..B (reverse: characters, add: digits "
                        "of the longer operand), e.g. lengths never trained on")
    t.add_argument("--beam", type=positive, default=1, metavar="K", help="beam width for decoding; 1 = greedy (default %(default)s)")
    t.add_argument("--eval-every", type=nonneg, default=0, help="print loss and held-out accuracy every N steps (0 = off)")
    t.add_argument("--save", metavar="CKPT", help="save the trained model (.npz) for 'tinyrnn seq2seq translate'")
    _common(t)
    t.set_defaults(run=_cmd_seq2seq_train)
    r = ss.add_parser("translate", help="translate inputs with a saved model",
                      description="Decode each INPUT with a checkpoint written by 'tinyrnn seq2seq train --save'.")
    r.add_argument("checkpoint", metavar="CKPT")
    r.add_argument("inputs", nargs="+", metavar="INPUT")
    r.add_argument("--beam", type=positive, default=1, metavar="K", help="beam width; 1 = greedy (default %(default)s)")
    r.add_argument("--json", action="store_true", help="print the translations as one JSON object on the last line")
    r.add_argument("--plot", metavar="PNG", help="draw each translation's attention weights (output against source characters)")
    r.set_defaults(run=_cmd_seq2seq_translate)
    p.set_defaults(run=lambda args: _missing_action(p, "train or translate"))


def _missing_action(parser, actions):
    raise UsageError(f"{parser.prog}: error: choose an action: {actions}")


# ---------------------------------------------------------------- tinyrnn charlm
_CHARLM_DEFAULTS = dict(cell="lstm", layers=1, hidden=256, embed=64, dropout=0.0, seq_len=64, batch=32,
                        optimizer="adam", lr=2e-3, clip=5.0)


def _cmd_charlm_train(args):
    from .checkpoint import CheckpointError, read_header
    from .data.text import CorpusError
    from .demos import charlm
    given = {k: getattr(args, k) for k in _CHARLM_DEFAULTS if getattr(args, k) is not None}
    if args.resume:
        try:
            saved = read_header(args.resume).get("meta", {}).get("train_config")
        except CheckpointError as e:
            raise UsageError(f"tinyrnn charlm train: error: {e}") from None
        if saved is None:
            raise UsageError(f"tinyrnn charlm train: error: {args.resume} is not a charlm checkpoint")
        clash = [f"--{k.replace('_', '-')} {v} (checkpoint: {saved[k]})" for k, v in given.items() if saved[k] != v]
        if clash:
            raise UsageError("tinyrnn charlm train: error: --resume continues the checkpoint's run; these flags "
                             "differ from it: " + "; ".join(clash))
        if args.files and list(args.files) != list(saved["files"]):
            raise UsageError("tinyrnn charlm train: error: --resume needs the same FILEs as the checkpoint's run")
    cfg = charlm.CharLMConfig(files=list(args.files), steps=args.steps, time_budget=args.time_budget,
                              eval_every=args.eval_every, eval_chars=args.eval_chars, seed=args.seed,
                              quiet=args.quiet, **{**_CHARLM_DEFAULTS, **given})
    emit = (lambda line: None) if args.quiet else print
    try:
        _, _, metrics = charlm.train(cfg, emit, save=args.save, resume=args.resume)
    except (CorpusError, CheckpointError) as e:
        raise UsageError(f"tinyrnn charlm train: error: {e}") from None
    print(f"Corpus: {metrics['corpus']} ({metrics['corpus_chars']} characters, vocabulary {metrics['vocab_size']}, "
          f"last 10% held out)")
    print(f"{metrics['steps']} steps, {metrics['train_seconds']:.1f} s of training: validation "
          f"{metrics['valid_nats']:.4f} nats = {metrics['valid_bpc']:.3f} bits/char")
    if args.plot:
        charlm.plot(args.plot, metrics["history"])
        print(f"Plot written to {args.plot}")
    if args.save:
        print(f"Checkpoint written to {args.save}")
    if metrics["interrupted"]:
        print("Interrupted by Ctrl-C" + (f"; resume with --resume {args.save}" if args.save else ""))
    if args.json:
        _print_json(metrics)
    return 130 if metrics["interrupted"] else 0


def _cmd_charlm_sample(args):
    import numpy as np

    from .checkpoint import CheckpointError
    from .demos import charlm
    try:
        model, vocab, _ = charlm.load_model(args.checkpoint)
    except CheckpointError as e:
        raise UsageError(f"tinyrnn charlm sample: error: {e}") from None
    try:
        vocab.encode(args.prime, "--prime")
    except ValueError as e:
        raise UsageError(f"tinyrnn charlm sample: error: {e}") from None
    if args.top_k and args.top_k > len(vocab):
        raise UsageError(f"tinyrnn charlm sample: error: --top-k must be at most the vocabulary size {len(vocab)}")

    def emit(ch):
        sys.stdout.write(ch)
        sys.stdout.flush()

    sys.stdout.write(args.prime)
    charlm.sample(model, vocab, args.prime, args.length, args.temperature, args.top_k,
                  np.random.default_rng(args.seed), emit, keep=False)
    sys.stdout.write("\n")
    return 0


def _charlm_parser(sub):
    p = sub.add_parser("charlm", help="character language model on real text: train, then sample",
                       description="A character-level language model: Embedding -> RNN/LSTM/GRU -> Linear.")
    ss = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    t = ss.add_parser("train", help="train with stateful truncated BPTT",
                      description="Train on FILEs (UTF-8 text; default: the .py files directly in this Python's "
                                  "standard-library folder, about 4.7 MB on CPython 3.11). The last 10%% is held "
                                  "out. The text is read as --batch parallel streams; the hidden state is carried "
                                  "from one --seq-len chunk to the next and the gradient is cut at the boundary.")
    t.add_argument("files", nargs="*", metavar="FILE", help="text files to train on (default: the stdlib corpus)")
    t.add_argument("--cell", choices=["rnn", "lstm", "gru"], help="recurrent cell (default lstm)")
    t.add_argument("--layers", type=positive, help="recurrent layers (default 1)")
    t.add_argument("--hidden", type=positive, help="hidden size (default 256)")
    t.add_argument("--embed", type=positive, help="embedding size (default 64)")
    t.add_argument("--dropout", type=_float_in(0.0, 0.99), help="dropout between layers and before the output (default 0)")
    t.add_argument("--seq-len", type=positive, help="characters per truncated-BPTT chunk (default 64)")
    t.add_argument("--batch", type=positive, help="parallel streams (default 32)")
    t.add_argument("--optimizer", choices=["adam", "adagrad", "sgd"], help="optimizer (default adam)")
    t.add_argument("--lr", type=positive_float, help="learning rate (default 0.002)")
    t.add_argument("--clip", type=_float_in(0.0), help="global gradient-norm clip, 0 = off (default 5)")
    t.add_argument("--steps", type=positive, default=2000, help="training steps in all, resumed ones included (default %(default)s)")
    t.add_argument("--time-budget", type=positive_float, default=0.0, metavar="SECONDS", help="train for this many seconds instead of --steps")
    t.add_argument("--eval-every", type=positive, default=200, help="steps between validations (and checkpoints) (default %(default)s)")
    t.add_argument("--eval-chars", type=nonneg, default=0, help="validate on the first N held-out characters, 0 = all (default %(default)s)")
    t.add_argument("--save", metavar="CKPT", help="checkpoint written atomically at every validation and at the end (and on Ctrl-C)")
    t.add_argument("--resume", metavar="CKPT", help="continue a saved run exactly, with its settings and corpus")
    t.add_argument("--plot", metavar="PNG", help="training and validation curves in bits per character")
    _common(t)
    t.set_defaults(run=_cmd_charlm_train)
    s = ss.add_parser("sample", help="stream characters from a trained model",
                      description="Feed --prime through the model, then draw --length characters, printing each "
                                  "as it is drawn.")
    s.add_argument("checkpoint", metavar="CKPT")
    s.add_argument("--prime", default="", help="text fed through the model first (and printed)")
    s.add_argument("--length", type=nonneg, default=500, help="characters to draw (default %(default)s)")
    s.add_argument("--temperature", type=positive_float, default=1.0,
                   help="divides the logits: below 1 is more conservative, above 1 more surprising (default %(default)s)")
    s.add_argument("--top-k", type=nonneg, default=0, metavar="K", help="draw only among the K most likely characters; 1 = greedy, 0 = all (default %(default)s)")
    s.add_argument("--seed", type=nonneg, default=0, help="random seed (default %(default)s)")
    s.set_defaults(run=_cmd_charlm_sample)
    p.set_defaults(run=lambda args: _missing_action(p, "train or sample"))


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
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        from .perf import retain_memory
        retain_memory()
        return int(args.run(args) or 0)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main_entry() -> None:  # console script
    sys.exit(main())
