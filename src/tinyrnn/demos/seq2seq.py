"""Sequence-to-sequence demo: train on a task, report held-out exact match, translate."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..checkpoint import load as load_checkpoint
from ..checkpoint import read_header
from ..checkpoint import save as save_checkpoint
from ..data.seq2seq import TASKS, WORD_PAIRS, Vocab, pad_batch
from ..models.seq2seq import Seq2Seq
from ..optim import Adam, clip_grad_norm_
from .common import (
    Timer,
    ce_ceiling,
    check_memory,
    close,
    diverging,
    grad_norm,
    guarded_step,
    progress,
    pyplot,
    resume_settings,
    smooth,
    through,
    training,
)

UNSEEN_WORDS = ["mans", "old", "kin", "blak", "hig"]


@dataclass
class Seq2SeqConfig:
    task: str = "words"
    cell: str = "rnn"
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = False
    attention: str = "none"        # none | dot | general | additive
    lr: float = 1e-3
    batch: int = 3
    steps: int = 600
    time_budget: float = 0.0       # seconds; 0 = use steps
    clip: float = 5.0
    lr_decay: bool = True          # cosine decay to 5% of lr over the run
    digits: int = 3                # --task add
    min_len: int = 3               # --task reverse
    max_len: int = 12
    test_lengths: tuple[int, int] | None = None   # also evaluate on these source lengths (e.g. never trained on)
    test_size: int = 1000
    beam: int = 1
    eval_every: int = 0            # 0 = only at the end
    keep_best: bool = False        # keep the weights of the best evaluation (needs eval_every)
    seed: int = 0
    quiet: bool = False


# The defaults that depend on --task (the dataclass's own defaults are the words task's).
TASK_DEFAULTS = {"words": dict(cell="rnn", hidden=128, steps=600, batch=3, lr=1e-3, attention="none"),
                 "reverse": dict(cell="lstm", hidden=256, steps=4000, batch=64, lr=3e-3, attention="additive"),
                 "add": dict(cell="gru", hidden=256, steps=10000, batch=64, lr=3e-3, attention="additive")}
# With attention the tasks need fewer steps (docs: "Attention"); used when --steps is not given.
ATTENTION_STEPS = {"reverse": 800, "add": 6000}


def config_for(task: str, **given) -> Seq2SeqConfig:
    """The configuration of ``task``: its defaults, overridden by ``given`` (None = not given)."""
    values = {**TASK_DEFAULTS[task], **{k: v for k, v in given.items() if v is not None}}
    if given.get("steps") is None and values["attention"] != "none" and task in ATTENTION_STEPS:
        values["steps"] = ATTENTION_STEPS[task]
    return Seq2SeqConfig(task=task, **values)


def memory_estimate(hidden: int, batch: int, layers: int, directions: int = 1, seq: int = 40, vocab: int = 32) -> int:
    """Bytes for parameters with gradients and Adam state, and one step's activations (float32),
    for the largest cell (LSTM, 4 gates)."""
    params = (directions + 1) * layers * 4 * hidden * (vocab + hidden + 2) + hidden * vocab
    acts = (directions + 1) * layers * batch * seq * hidden * 12 + batch * seq * vocab * 4
    return 4 * (4 * params + acts)


def make_task(cfg: Seq2SeqConfig):
    return TASKS[cfg.task](seed=cfg.seed, test_size=cfg.test_size, digits=cfg.digits,
                           min_len=cfg.min_len, max_len=cfg.max_len)


def max_output_len(source: str) -> int:
    return 2 * len(source) + 5


def translate(model: Seq2Seq, vocab: Vocab, sources, beam: int = 1) -> list[str]:
    """Decode each source string (greedy for beam=1, batched; beam search otherwise)."""
    empty = [i for i, s in enumerate(sources) if not s]
    if empty:
        raise ValueError(f"INPUT {empty[0] + 1} is empty; give at least one character to translate")
    ids = [vocab.encode(s) for s in sources]
    if beam == 1:
        src, lengths = pad_batch(ids)
        outs = model.greedy(src, lengths, max(max_output_len(s) for s in sources))
    else:
        outs = [model.beam(i, beam, max_output_len(s)) for i, s in zip(ids, sources)]
    return [vocab.decode(o) for o in outs]


def evaluate(model, task, pairs, beam: int = 1, chunk: int = 256) -> dict:
    """Exact-match accuracy on pairs, overall and per source length."""
    right, per_len = 0, {}
    for s in range(0, len(pairs), chunk):
        part = pairs[s:s + chunk]
        preds = translate(model, task.vocab, [p[0] for p in part], beam)
        for (src, tgt), pred in zip(part, preds):
            n = task.length_of(src)
            tot = per_len.setdefault(n, [0, 0])
            tot[1] += 1
            if pred == tgt:
                right += 1
                tot[0] += 1
    return dict(accuracy=right / max(len(pairs), 1),
                per_length={int(k): round(v[0] / v[1], 4) for k, v in sorted(per_len.items())},
                per_length_counts={int(k): v for k, v in sorted(per_len.items())})


def accuracy_within(counts: dict, low: int, high: int) -> float:
    """Exact match over the lengths low..high, from ``evaluate``'s per_length_counts."""
    right = sum(v[0] for k, v in counts.items() if low <= int(k) <= high)
    total = sum(v[1] for k, v in counts.items() if low <= int(k) <= high)
    return right / total if total else float("nan")


def train(cfg: Seq2SeqConfig, emit=lambda line: None, save: str | None = None, resume: str | None = None):
    """Train, evaluate, save; returns (model, task, metrics). SIGINT/SIGTERM stop between steps
    and the model so far is saved (``metrics["signal"]``); a non-finite loss or gradient raises
    Diverged before anything is saved. ``resume`` continues a saved run (``cfg`` from
    ``resume_config``): weights, Adam state, step, the task's random state, times, curves."""
    seq = 2 * cfg.max_len + 2 if cfg.task != "add" else 4 * cfg.digits + 4
    check_memory(lambda hidden, batch, layers: memory_estimate(hidden, batch, layers, 1 + cfg.bidirectional, seq),
                 {"--hidden": cfg.hidden, "--batch": cfg.batch, "--layers": cfg.layers})
    task = make_task(cfg)
    rng = np.random.default_rng(cfg.seed)
    model = Seq2Seq(len(task.vocab), cfg.hidden, cfg.cell, cfg.layers, cfg.bidirectional, cfg.attention, rng=rng)
    opt = Adam(model.parameters(), lr=cfg.lr)
    timer, eval_timer, losses, cpu_seconds = Timer(), Timer(), [], 0.0
    history = dict(step=[], accuracy=[])
    best = (-1.0, 0, None)                 # (held-out accuracy, step, weights) for keep_best
    step = 0
    if resume:
        meta = load_checkpoint(resume, model, opt)["meta"]
        step = meta["steps"]
        task.rng.bit_generator.state = meta["task_rng"]
        timer.seconds, eval_timer.seconds = meta["train_seconds"], meta["eval_seconds"]
        losses, history = list(meta["curve"]["loss"]), dict(step=meta["curve"]["step"], accuracy=meta["curve"]["accuracy"])
        emit(f"Resuming from step {step} ({timer.seconds:.0f} s of training so far)")
    first = step + 1
    total = cfg.steps - step if not cfg.time_budget else None
    emit(f"Model: {cfg.cell.upper()} encoder-decoder, {cfg.layers} layer{'s' if cfg.layers > 1 else ''}"
         f"{', bidirectional encoder' if cfg.bidirectional else ''}, hidden {cfg.hidden}: "
         f"{sum(p.data.size for p in model.parameters()):,} parameters")
    emit(f"Plan: {f'{cfg.time_budget:g} s of training' if cfg.time_budget else f'{cfg.steps} steps'} of {cfg.batch} "
         f"pairs, Adam lr {cfg.lr:g}{' (cosine decay)' if cfg.lr_decay else ''}, clip {cfg.clip:g}")
    bar = progress(range(first, 10**12), total or 0, not cfg.quiet, f"seq2seq {cfg.task}")
    say = through(bar, emit)
    with training() as flag:
        for step in bar:
            if flag.stop or (cfg.time_budget and timer.seconds >= cfg.time_budget) or \
                    (not cfg.time_budget and step > cfg.steps):
                step -= 1
                break
            cpu0 = time.process_time()
            with timer, diverging(step, cfg.lr, cfg.clip):
                loss = _step(model, opt, task, cfg, step, timer.seconds)
            cpu_seconds += time.process_time() - cpu0    # this process's CPU time (a loaded machine inflates wall time)
            losses.append(loss)
            if cfg.eval_every and step % cfg.eval_every == 0:
                with eval_timer:
                    ev = evaluate(model, task, task.test[:200])
                history["step"].append(step)
                history["accuracy"].append(ev["accuracy"])
                if ev["accuracy"] > best[0]:
                    best = (ev["accuracy"], step, model.state_dict())
                say(f"step {step} loss {np.mean(losses[-cfg.eval_every:]):.4f} "
                    f"held-out exact {ev['accuracy']:.3f}")
        close(bar)
        kept = step
        if cfg.keep_best and best[2] is not None:
            with eval_timer:
                last = evaluate(model, task, task.test[:200])["accuracy"]
            if best[0] > last:
                model.load_state_dict(best[2])
                kept = best[1]
        with eval_timer:
            result = evaluate(model, task, task.test, cfg.beam)
        metrics = dict(config=asdict(cfg), steps=step, kept_step=kept, train_seconds=round(timer.seconds, 2),
                       eval_seconds=round(eval_timer.seconds, 2), train_cpu_seconds=round(cpu_seconds, 2),
                       final_loss=round(float(np.mean(losses[-20:])), 4) if losses else None,
                       test_pairs=len(task.test), held_out=cfg.task != "words",
                       signal=flag.signum and flag.name, exit_code=flag.exit_code,
                       curve=dict(loss=[round(float(v), 5) for v in losses], **history), **result)
        if cfg.test_lengths:
            low, high = cfg.test_lengths
            with eval_timer:
                extra = evaluate(model, task, task.length_test(low, high, cfg.test_size), cfg.beam)
            metrics["test_lengths"] = dict(low=low, high=high, **extra)
            metrics["eval_seconds"] = round(eval_timer.seconds, 2)
        if cfg.task == "reverse" and cfg.max_len > 10:     # the 0.1.0 default range, for comparison
            metrics["accuracy_len_3_10"] = round(accuracy_within(result["per_length_counts"], 3, 10), 4)
        if cfg.task == "words":
            words = [w for w, _ in WORD_PAIRS] + UNSEEN_WORDS
            metrics["translations"] = dict(zip(words, translate(model, task.vocab, words, cfg.beam)))
        if save:
            save_checkpoint(save, model, opt, meta=dict(
                kind="seq2seq", task=cfg.task, chars=task.vocab.chars, steps=step, kept_step=kept,
                accuracy=result["accuracy"], train_config=asdict(cfg), task_rng=task.rng.bit_generator.state,
                train_seconds=timer.seconds, eval_seconds=eval_timer.seconds,
                curve=dict(loss=[round(float(v), 5) for v in losses], **history)))
        metrics.update(signal=flag.signum and flag.name, exit_code=flag.exit_code)   # one during the save counts
        return model, task, metrics


def _step(model, opt, task, cfg, step, seconds) -> float:
    """One training step (cosine learning-rate decay, teacher forcing, clip, Adam); returns the
    loss. Raises Diverged on a non-finite loss or gradient norm, before the update."""
    if cfg.lr_decay:
        done = min(1.0, seconds / cfg.time_budget if cfg.time_budget else (step - 1) / cfg.steps)
        opt.lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done)))
    pairs = task.train_batch(cfg.batch)
    src, src_len = pad_batch([task.vocab.encode(s) for s, _ in pairs])
    tgt, _ = pad_batch([task.vocab.encode(t) for _, t in pairs])
    model.zero_grad()
    loss = model.loss_and_backward(src, src_len, tgt)
    norm = clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip else grad_norm(model.parameters())
    guarded_step(opt, model, step, float(loss), norm, cfg.lr, cfg.clip, ce_ceiling(len(task.vocab)))
    return float(loss)


def plot(path: str, metrics: dict) -> None:
    """Training loss at every step (smoothed) and held-out exact match at the evaluations."""
    plt = pyplot()
    c, cfg = metrics["curve"], metrics["config"]
    fig, ax = plt.subplots(figsize=(7, 4))
    loss = np.array(c["loss"], dtype=float)
    steps = np.arange(1, len(loss) + 1)
    ax.plot(steps, loss, color="tab:blue", alpha=0.25, lw=0.8)
    ax.plot(steps, smooth(loss), color="tab:blue", label="training loss (smoothed)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per output symbol)")
    ax2 = ax.twinx()
    what = "held-out" if metrics.get("held_out", True) else "training pairs"
    ax2.plot(c["step"], 100 * np.array(c["accuracy"], dtype=float), "o-", color="tab:orange",
             label=f"exact match, {what} (%)")
    ax2.set_ylabel("exact match (%)")
    ax2.set_ylim(-2, 102)
    ax.set_title(f"seq2seq {cfg['task']}: {cfg['cell'].upper()} {cfg['hidden']} x {cfg['layers']}")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def resume_config(path: str, given: dict) -> Seq2SeqConfig:
    """The configuration that continues the run saved in ``path``: model and task settings are
    the checkpoint's; ``steps``/``time_budget`` given mean MORE training (none: finish the saved
    plan); evaluation, beam and keep-best settings are the run's own unless given."""
    header = read_header(path)
    meta = header.get("meta", {})
    fixed = ("task", "cell", "hidden", "layers", "bidirectional", "attention", "lr", "batch", "clip", "lr_decay", "digits",
             "min_len", "max_len", "test_size", "seed")
    settings = resume_settings(path, header, "seq2seq", given, fixed, ("beam", "eval_every", "keep_best"),
                               int(meta.get("steps", 0)), float(meta.get("train_seconds", 0.0)))
    return Seq2SeqConfig(**settings)


def load_for_translation(path):
    """(model, vocab, header) from a seq2seq checkpoint; raises CheckpointError/ValueError."""
    header = read_header(path)
    if header.get("class") != "Seq2Seq" or header.get("meta", {}).get("kind") != "seq2seq":
        from ..checkpoint import CheckpointError
        raise CheckpointError(f"{path} is not a seq2seq checkpoint (it holds a {header.get('class')})")
    cfg = dict(header["config"])
    model = Seq2Seq(**cfg)
    load_checkpoint(path, model)
    return model, Vocab(header["meta"]["chars"]), header


def plot_attention(model: Seq2Seq, vocab: Vocab, sources, outputs, path) -> None:
    """Draw each translation's attention weights: output characters (rows, then </s>) against
    source characters (columns). For reverse, the anti-diagonal."""
    plt = pyplot()
    n = len(sources)
    fig, axes = plt.subplots(1, n, figsize=(max(3.0, 0.45 * max(map(len, sources)) + 1.5) * n, 4.5), squeeze=False)
    for ax, src, out in zip(axes[0], sources, outputs):
        w = model.attention_weights(vocab.encode(src), vocab.encode(out, "output"))   # (len(out)+1, len(src))
        ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(src)), list(src))
        ax.set_yticks(range(len(out) + 1), list(out) + ["</s>"])
        ax.set_xlabel("source")
        ax.set_ylabel("output")
        ax.set_title(f"{src} -> {out}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
