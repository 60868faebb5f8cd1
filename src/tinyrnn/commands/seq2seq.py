"""``tinyrnn seq2seq train`` and ``translate``: encoder-decoder tasks."""

from __future__ import annotations

from ..errors import UsageError
from ._args import (
    Parser,
    _int_in,
    add_common,
    add_config_flags,
    add_threads,
    given,
    missing_action,
    print_json,
    report_stop,
    resume_keys,
    times,
)
from ._common import check_output


def train(args):
    from . import _seq2seq_train as seq2seq

    save = check_output(
        "--save",
        args.save or args.resume,  # a resumed run saves back to its file by default
        outputs={"--plot": args.plot},
    )
    png = check_output("--plot", args.plot, image=True, inputs={"--resume": args.resume}, outputs={"--save": save})
    named = given(args, seq2seq.Seq2SeqConfig)
    if args.resume:
        cfg = resume_config(args.resume, {**named, "quiet": args.quiet})
    else:
        cfg = seq2seq.config_for(named.pop("task", seq2seq.Seq2SeqConfig.task), **named, quiet=args.quiet)
    check(cfg)
    emit = (lambda line: None) if args.quiet else print
    _, task, metrics = seq2seq.train(cfg, emit, save=save, resume=args.resume, plot_to=png, threads=args.threads)
    pairs = (
        f"held-out exact match {100 * metrics['accuracy']:.1f}% on {metrics['test_pairs']} pairs"
        if metrics["held_out"]
        else f"exact match {100 * metrics['accuracy']:.1f}% on the {metrics['test_pairs']} training pairs"
    )
    print(
        f"Task {cfg.task}: {metrics['steps']} steps, {times(metrics)}, {pairs}"
        + (f" (beam {cfg.beam})" if cfg.beam > 1 else "")
    )
    if cfg.keep_best or metrics["kept_step"] != metrics["steps"]:
        print(f"Kept the weights of step {metrics['kept_step']} (the best evaluation)")
    if cfg.task != "words":
        what = "source length" if cfg.task == "reverse" else "digits of the longer operand"
        print(f"Per {what}: " + ", ".join(f"{k}: {100 * v:.1f}%" for k, v in metrics["per_length"].items()))
    if "accuracy_len_3_10" in metrics:
        print(f"Lengths 3-10: {100 * metrics['accuracy_len_3_10']:.1f}% exact")
    if "test_lengths" in metrics:
        m = metrics["test_lengths"]
        print(
            f"Test lengths {m['low']}-{m['high']}: {100 * m['accuracy']:.1f}% exact; per length: "
            + ", ".join(f"{k}: {100 * v:.1f}%" for k, v in m["per_length"].items())
        )
    for src, out in metrics.get("translations", {}).items():
        print(f"  {src} -> {out}")
    if save:
        print(f"Checkpoint written to {save}")
    if png:
        print(f"Plot written to {png}")
    code = report_stop(metrics, save, "tinyrnn seq2seq train")
    if args.json:
        metrics.pop("curve")
        print_json(metrics)
    return code


def check(cfg) -> None:
    """The flags that do not go together, checked before any work."""
    if cfg.keep_best and not cfg.eval_every:
        raise UsageError("--keep-best needs --eval-every N (the evaluations it chooses from)")
    if cfg.test_lengths and cfg.task == "words":
        raise UsageError("--test-lengths needs --task reverse or add")
    if cfg.max_len < cfg.min_len:
        raise UsageError(f"--max-len must be >= {cfg.min_len}, got {cfg.max_len}")
    if cfg.attention == "dot" and cfg.bidirectional:
        raise UsageError(
            "--attention dot needs a unidirectional encoder (a bidirectional one's outputs are "
            "twice the decoder's size): use general or additive"
        )


def translate(args):
    from ..models.seq2seq import translate as translate_batch

    png = check_output("--plot", args.plot, image=True, inputs={"CKPT": args.checkpoint})
    empty = [i for i, s in enumerate(args.inputs) if not s]
    if empty:
        raise UsageError(f"INPUT {empty[0] + 1} is empty; give at least one character to translate")
    model, vocab, header = load_for_translation(args.checkpoint)
    if png and model.attention_kind == "none":
        raise UsageError(
            f"--plot draws attention weights, and {args.checkpoint} has no attention "
            "(train with --attention dot, general or additive)"
        )
    outs = translate_batch(model, vocab, args.inputs, args.beam)
    for src, out in zip(args.inputs, outs):
        print(f"{src} -> {out}")
    if png:
        plot_attention(model, vocab, args.inputs, outs, png)
        print(f"Attention plot written to {png}")
    if args.json:
        print_json(dict(task=header["meta"].get("task"), translations=dict(zip(args.inputs, outs))))
    return 0


def add_parser(sub):
    from ._seq2seq_train import ATTENTION_STEPS, TASK_DEFAULTS, Seq2SeqConfig

    def per_task(key, fmt=str):
        return "default " + ", ".join(f"{fmt(v[key])} for {k}" for k, v in TASK_DEFAULTS.items())

    p = sub.add_parser(
        "seq2seq",
        help="encoder-decoder: word -> word, string reversal, decimal addition",
        description="Encoder-decoder RNNs on one-hot characters.",
    )
    ss = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    t = ss.add_parser(
        "train",
        help="train on a task and report held-out exact match",
        description="Train an encoder RNN whose final state starts a decoder RNN (teacher forcing), "
        "then decode the held-out set feeding back the model's own predictions. "
        "Ctrl-C or SIGTERM stops between steps and saves the model so far.",
    )
    steps = per_task("steps") + "; with attention " + ", ".join(f"{v} for {k}" for k, v in ATTENTION_STEPS.items())
    add_config_flags(
        t,
        Seq2SeqConfig,
        default_text=dict(
            cell=per_task("cell"),
            hidden=per_task("hidden"),
            attention=per_task("attention"),
            lr=per_task("lr", "{:g}".format),
            batch=per_task("batch"),
            steps=steps,
        ),
    )
    t.add_argument(
        "--plot",
        metavar="PNG",
        help="training loss and held-out accuracy curves (needs --eval-every for the accuracy points)",
    )
    t.add_argument(
        "--save",
        metavar="CKPT",
        help="save the trained model (.npz) for 'tinyrnn seq2seq translate' and --resume; also on Ctrl-C/SIGTERM",
    )
    t.add_argument(
        "--resume",
        metavar="CKPT",
        help="continue a run saved by --save, with its settings, saving back to CKPT unless --save is given; no --seed",
    )
    add_common(t, None, f"(default {Seq2SeqConfig.seed}; not with --resume)")
    add_threads(t)
    t.set_defaults(run=train)
    r = ss.add_parser(
        "translate",
        help="translate inputs with a saved model",
        description="Decode each INPUT with a checkpoint written by 'tinyrnn seq2seq train --save'. "
        "Deterministic (greedy or beam search): no --seed.",
    )
    r.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by 'tinyrnn seq2seq train --save'")
    r.add_argument("inputs", nargs="+", metavar="INPUT", help="source strings to translate, e.g. king or 357+84")
    r.add_argument(
        "--beam",
        type=_int_in(1, 64),
        default=1,
        metavar="K",
        help="beam width, 1 to 64; 1 = greedy (default %(default)s)",
    )
    r.add_argument("--json", action="store_true", help="print the translations as one JSON object on the last line")
    r.add_argument(
        "--plot", metavar="PNG", help="draw each translation's attention weights (output against source characters)"
    )
    r.set_defaults(run=translate)
    p.set_defaults(run=lambda args: missing_action(p, "train or translate"))


def load_for_translation(path):
    """(model, vocab, header) from a seq2seq checkpoint; raises CheckpointError/ValueError."""
    from ..checkpoint import load as load_checkpoint
    from ..data.seq2seq import Vocab
    from ..models.seq2seq import Seq2Seq

    header = read_checked(path)
    cfg = dict(header["config"])
    model = Seq2Seq(**cfg)
    load_checkpoint(path, model)
    return model, Vocab(header["meta"]["chars"]), header


def plot_attention(model, vocab, sources, outputs, path) -> None:
    """Draw each translation's attention weights: output characters (rows, then </s>) against
    source characters (columns). For reverse, the anti-diagonal."""
    from ._common import pyplot, save_figure

    plt = pyplot()
    n = len(sources)
    fig, axes = plt.subplots(1, n, figsize=(max(3.0, 0.45 * max(map(len, sources)) + 1.5) * n, 4.5), squeeze=False)
    for ax, src, out in zip(axes[0], sources, outputs):
        w = model.attention_weights(vocab.encode(src), vocab.encode(out, "output"))  # (len(out)+1, len(src))
        ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(src)), list(src))
        ax.set_yticks(range(len(out) + 1), list(out) + ["</s>"])
        ax.set_xlabel("source")
        ax.set_ylabel("output")
        ax.set_title(f"{src} -> {out}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


RESUME_META = dict(steps=int, task_rng=dict, train_seconds=float, eval_seconds=float, curve=dict, train_config=dict)


def read_checked(path, resume: bool = False) -> dict:
    """The header of a seq2seq checkpoint, checked before any model is built: class and kind;
    ``meta.chars`` (the alphabet, each character once, with the three special symbols as many
    as the model's vocabulary); the config against the shapes the archive declares; with
    ``resume``, the run's state and every setting of its ``train_config``."""
    from ..checkpoint import CheckpointError, check_meta, read_for
    from ..data.seq2seq import SPECIALS
    from ..models.seq2seq import Seq2Seq
    from ..nn.recurrent import REGULARISERS
    from ._common import settings_types
    from ._seq2seq_train import Seq2SeqConfig

    header = read_for(path, Seq2Seq, "seq2seq", dict(chars=str, **(RESUME_META if resume else {})))
    meta = header["meta"]
    chars, size = meta["chars"], header["config"]["vocab_size"]
    if len(set(chars)) != len(chars) or len(chars) + len(SPECIALS) != size:
        raise CheckpointError(
            f"checkpoint {path}: meta.chars does not describe the model's vocabulary ({len(chars)} "
            f"characters, {len(set(chars))} distinct, + {len(SPECIALS)} special symbols, for a "
            f"vocabulary of {size})"
        )
    if resume:
        check_meta(
            path,
            meta["train_config"],
            settings_types(Seq2SeqConfig, skip=("test_lengths", "quiet") + REGULARISERS),  # those: added later
            "meta.train_config",
        )
        check_meta(path, meta["curve"], dict(loss=list, step=list, accuracy=list), "meta.curve")
    return header


def resume_config(path: str, given: dict):
    """The configuration that continues the run saved in ``path``: model and task settings are
    the checkpoint's; ``steps``/``time_budget`` given mean MORE training (none: finish the saved
    plan); evaluation, beam and keep-best settings are the run's own unless given."""
    from ._common import resume_settings
    from ._seq2seq_train import Seq2SeqConfig

    header = read_checked(path, resume=True)
    meta = header.get("meta", {})
    settings = resume_settings(
        path,
        header,
        "seq2seq",
        given,
        resume_keys(Seq2SeqConfig, "fixed"),
        resume_keys(Seq2SeqConfig, "free"),
        int(meta.get("steps", 0)),
        float(meta.get("train_seconds", 0.0)),
    )
    return Seq2SeqConfig(**settings)
