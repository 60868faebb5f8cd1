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
from .common import Timer, progress, pyplot

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
    seed: int = 0
    quiet: bool = False


def make_task(cfg: Seq2SeqConfig):
    return TASKS[cfg.task](seed=cfg.seed, test_size=cfg.test_size, digits=cfg.digits,
                           min_len=cfg.min_len, max_len=cfg.max_len)


def max_output_len(source: str) -> int:
    return 2 * len(source) + 5


def translate(model: Seq2Seq, vocab: Vocab, sources, beam: int = 1) -> list[str]:
    """Decode each source string (greedy for beam=1, batched; beam search otherwise)."""
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


def train(cfg: Seq2SeqConfig, emit=lambda line: None, save: str | None = None):
    task = make_task(cfg)
    rng = np.random.default_rng(cfg.seed)
    model = Seq2Seq(len(task.vocab), cfg.hidden, cfg.cell, cfg.layers, cfg.bidirectional, cfg.attention, rng=rng)
    opt = Adam(model.parameters(), lr=cfg.lr)
    timer, losses, cpu_seconds = Timer(), [], 0.0   # cpu: this process's CPU time (a loaded machine inflates wall time)
    start = time.perf_counter()
    step = 0
    total = cfg.steps if not cfg.time_budget else None
    for step in progress(range(1, 10**9), total or 0, not cfg.quiet, f"seq2seq {cfg.task}"):
        if (cfg.time_budget and time.perf_counter() - start >= cfg.time_budget) or \
                (not cfg.time_budget and step > cfg.steps):
            step -= 1
            break
        if cfg.lr_decay:
            done = min(1.0, (time.perf_counter() - start) / cfg.time_budget if cfg.time_budget else (step - 1) / cfg.steps)
            opt.lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done)))
        cpu0 = time.process_time()
        with timer:
            pairs = task.train_batch(cfg.batch)
            src, src_len = pad_batch([task.vocab.encode(s) for s, _ in pairs])
            tgt, _ = pad_batch([task.vocab.encode(t) for _, t in pairs])
            model.zero_grad()
            loss = model.loss_and_backward(src, src_len, tgt)
            if cfg.clip:
                clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
        cpu_seconds += time.process_time() - cpu0
        losses.append(loss)
        if cfg.eval_every and step % cfg.eval_every == 0:
            ev = evaluate(model, task, task.test[:200])
            emit(f"step {step} loss {np.mean(losses[-cfg.eval_every:]):.4f} "
                 f"held-out exact {ev['accuracy']:.3f}")
    result = evaluate(model, task, task.test, cfg.beam)
    metrics = dict(config=asdict(cfg), steps=step, train_seconds=round(timer.seconds, 2),
                   train_cpu_seconds=round(cpu_seconds, 2),
                   final_loss=round(float(np.mean(losses[-20:])), 4) if losses else None,
                   test_pairs=len(task.test), **result)
    if cfg.test_lengths:
        low, high = cfg.test_lengths
        extra = evaluate(model, task, task.length_test(low, high, cfg.test_size), cfg.beam)
        metrics["test_lengths"] = dict(low=low, high=high, **extra)
    if cfg.task == "reverse":
        metrics["accuracy_len_3_10"] = round(accuracy_within(result["per_length_counts"], 3, 10), 4)
    if cfg.task == "words":
        words = [w for w, _ in WORD_PAIRS] + UNSEEN_WORDS
        metrics["translations"] = dict(zip(words, translate(model, task.vocab, words, cfg.beam)))
    if save:
        save_checkpoint(save, model, meta=dict(kind="seq2seq", task=cfg.task, chars=task.vocab.chars,
                                               steps=step, accuracy=result["accuracy"], max_len=cfg.max_len))
    return model, task, metrics


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
