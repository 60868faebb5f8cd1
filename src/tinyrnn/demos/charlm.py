"""Character language model on real text: stateful truncated BPTT, exact resume, sampling.

The training text is cut into ``batch`` contiguous streams. Each step reads the next
``seq_len`` characters of every stream; the hidden state is carried from one chunk to the next
(the gradient is cut at the chunk boundary), and reset where the streams wrap around.
"""

from __future__ import annotations

import hashlib
import math
import signal
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import CheckpointError
from ..checkpoint import load as load_checkpoint
from ..checkpoint import read_header
from ..checkpoint import save as save_checkpoint
from ..data.text import CharVocab, CorpusError, load_corpus, split
from ..functional import log_softmax
from ..losses import cross_entropy
from ..models.charlm import CharLM
from ..optim import OPTIMIZERS, clip_grad_norm_
from .common import Timer, progress

LN2 = math.log(2.0)
MODEL_KEYS = ("cell", "layers", "hidden", "embed", "dropout")
DATA_KEYS = ("seq_len", "batch", "optimizer", "lr", "clip", "seed", "valid_fraction")


@dataclass
class CharLMConfig:
    files: list = field(default_factory=list)
    cell: str = "lstm"
    layers: int = 1
    hidden: int = 256
    embed: int = 64
    dropout: float = 0.0
    seq_len: int = 64
    batch: int = 32
    optimizer: str = "adam"
    lr: float = 2e-3
    clip: float = 5.0
    steps: int = 2000
    time_budget: float = 0.0        # seconds of training; 0 = use steps
    eval_every: int = 200
    eval_chars: int = 0             # 0 = the whole validation split
    valid_fraction: float = 0.1
    seed: int = 0
    quiet: bool = False


class Streams:
    """``batch`` contiguous streams over ``data`` (a view, no copy), read ``seq_len`` at a time."""

    def __init__(self, data: np.ndarray, batch: int, seq_len: int):
        length = len(data) // batch
        if length < seq_len + 1:
            raise CorpusError(f"the training text ({len(data)} characters) is too short for --batch {batch} "
                              f"streams of --seq-len {seq_len} + 1 characters")
        self.streams = data[: length * batch].reshape(batch, length)   # (B, L)
        self.seq_len = seq_len
        self.pos = 0

    def next(self):
        """(x (S, B), y (S, B), reset): y is x shifted by one; reset when the streams wrap."""
        S = self.seq_len
        reset = self.pos == 0
        if self.pos + S + 1 > self.streams.shape[1]:
            self.pos, reset = 0, True
        chunk = self.streams[:, self.pos:self.pos + S + 1].T            # (S+1, B)
        self.pos += S
        return chunk[:-1], chunk[1:], reset


def fingerprint(ids: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(ids).tobytes()).hexdigest()[:16]


def evaluate(model: CharLM, data: np.ndarray, limit: int = 0, streams: int = 64, chunk: int = 256) -> float:
    """Mean cross-entropy (nats per character) of ``data`` (or its first ``limit`` characters),
    read as ``streams`` contiguous streams with the state carried across chunks."""
    if limit:
        data = data[:limit]
    streams = max(1, min(streams, (len(data) - 1) // 2))
    length = (len(data) - 1) // streams
    x_all = data[: length * streams].reshape(streams, length)
    y_all = data[1: length * streams + 1].reshape(streams, length)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for s in range(0, length, chunk):
        logits, state = model(x_all[:, s:s + chunk].T, state)
        loss, _ = cross_entropy(logits, y_all[:, s:s + chunk].T, reduction="sum")
        total += loss
        count += logits.shape[0] * logits.shape[1]
    model.train(was_training)
    return total / max(count, 1)


def train_step(model: CharLM, opt, x: np.ndarray, y: np.ndarray, state=None, clip: float = 0.0):
    """One step of stateful truncated BPTT on a chunk ``x`` (T, B) of character ids with
    targets ``y`` (T, B): forward from ``state`` (the previous chunk's final state, or None for
    zeros), cross-entropy, backward through the chunk only (the gradient stops at its start),
    global-norm clipping at ``clip`` (0: none), one optimizer step. Returns ``(loss, state)``,
    the state to carry into the next chunk."""
    logits, state, cache = model.forward(x, state)
    loss, dlogits = cross_entropy(logits, y)
    model.zero_grad()
    model.backward(dlogits, cache)
    if clip:
        clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss, state


def _state_arrays(state) -> dict:
    if state is None:
        return {}
    if isinstance(state, tuple):
        return {"state_h": state[0], "state_c": state[1]}
    return {"state_h": state}


def _state_from(extra: dict):
    if "state_c" in extra:
        return extra["state_h"], extra["state_c"]
    return extra.get("state_h")


class _StopFlag:
    """SIGINT sets a flag checked between steps (a second Ctrl-C stops at once)."""

    def __init__(self):
        self.stop = False

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:          # not the main thread: leave signals alone
            self._old = None
        return self

    def _handle(self, signum, frame):
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def prepare(cfg: CharLMConfig):
    """(vocab, train ids, valid ids, corpus description)."""
    text, desc = load_corpus(cfg.files)
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    train_ids, valid_ids = split(ids, cfg.valid_fraction)
    if len(valid_ids) < 3:
        raise CorpusError(f"the corpus ({len(ids)} characters) is too short to hold out a validation split")
    return vocab, train_ids, valid_ids, desc


def train(cfg: CharLMConfig, emit=lambda line: None, save: str | None = None, resume: str | None = None,
          on_eval=None):
    """Train (or continue a run); returns (model, vocab, metrics)."""
    resumed = None
    if resume:
        resumed = read_header(resume)
        if resumed.get("meta", {}).get("kind") != "charlm":
            raise CheckpointError(f"{resume} is not a charlm checkpoint")
        saved = resumed["meta"]["train_config"]
        for k in MODEL_KEYS + DATA_KEYS + ("files",):
            setattr(cfg, k, saved[k])
    vocab, train_ids, valid_ids, desc = prepare(cfg)
    rng = np.random.default_rng(cfg.seed)
    model = CharLM(len(vocab), cfg.embed, cfg.hidden, cfg.cell, cfg.layers, cfg.dropout, rng=rng)
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    streams = Streams(train_ids, cfg.batch, cfg.seq_len)
    step, state, history = 0, None, dict(step=[], train_loss=[], valid_loss=[], seconds=[])
    timer = Timer()
    if resumed:
        meta = resumed["meta"]
        if meta["chars"] != vocab.chars or meta["corpus"] != fingerprint(train_ids):
            raise CheckpointError(f"{resume} was trained on another corpus; resume needs the same text")
        header = load_checkpoint(resume, model, opt)
        step, streams.pos = meta["step"], meta["pos"]
        rng.bit_generator.state = meta["rng_state"]
        state = _state_from(header["extra"])
        history = meta["history"]
        timer.seconds = meta["train_seconds"]

    def checkpoint():
        if save:
            meta = dict(kind="charlm", chars=vocab.chars, corpus=fingerprint(train_ids), step=step,
                        pos=streams.pos, rng_state=rng.bit_generator.state, train_config=asdict(cfg),
                        history=history, train_seconds=timer.seconds)
            save_checkpoint(save, model, opt, meta=meta, extra=_state_arrays(state))

    window, tokens, t_window = [], 0, time.perf_counter()
    interrupted = False
    total = None if cfg.time_budget else cfg.steps
    bar = progress(iter(int, 1), total or 0, not cfg.quiet, "charlm")
    with _StopFlag() as flag:
        for _ in bar:
            if (cfg.time_budget and timer.seconds >= cfg.time_budget) or (not cfg.time_budget and step >= cfg.steps):
                break
            if flag.stop:
                interrupted = True
                break
            with timer:
                x, y, reset = streams.next()
                if reset:
                    state = None                                  # the streams wrapped: start afresh
                loss, state = train_step(model, opt, x, y, state, cfg.clip)   # state carried on
            step += 1
            window.append(loss)
            tokens += x.size
            if hasattr(bar, "set_postfix") and step % 10 == 0:
                now = time.perf_counter()
                bar.set_postfix(loss=f"{np.mean(window[-10:]):.3f}", tok_s=f"{tokens / (now - t_window):.0f}")
                tokens, t_window = 0, now
            if step % cfg.eval_every == 0:
                _record(model, valid_ids, cfg, history, step, window, timer, emit)
                window = []
                if on_eval:
                    on_eval(step, history)
                checkpoint()
    if window or not history["step"] or history["step"][-1] != step:
        _record(model, valid_ids, cfg, history, step, window, timer, emit)
    checkpoint()
    final = history["valid_loss"][-1]
    metrics = dict(config=asdict(cfg), corpus=desc, corpus_chars=int(len(train_ids) + len(valid_ids)),
                   vocab_size=len(vocab), steps=step, train_seconds=round(timer.seconds, 2),
                   valid_nats=round(final, 4), valid_bpc=round(final / LN2, 4), interrupted=interrupted,
                   history=history)
    return model, vocab, metrics


def _record(model, valid_ids, cfg, history, step, window, timer, emit):
    v = evaluate(model, valid_ids, cfg.eval_chars)
    tl = float(np.mean(window)) if window else float("nan")
    history["step"].append(step)
    history["train_loss"].append(round(tl, 5))
    history["valid_loss"].append(round(v, 5))
    history["seconds"].append(round(timer.seconds, 2))
    emit(f"step {step}: train {tl:.4f} nats, valid {v:.4f} nats = {v / LN2:.3f} bits/char "
         f"({timer.seconds:.0f} s of training)")


def load_model(path):
    """(model, vocab, header) from a charlm checkpoint."""
    header = read_header(path)
    if header.get("class") != "CharLM" or header.get("meta", {}).get("kind") != "charlm":
        raise CheckpointError(f"{path} is not a charlm checkpoint (it holds a {header.get('class')})")
    model = CharLM(**header["config"])
    load_checkpoint(path, model)
    return model, CharVocab(header["meta"]["chars"]), header


def sample(model: CharLM, vocab: CharVocab, prime: str, length: int, temperature: float = 1.0,
           top_k: int = 0, rng=None, emit=lambda text: None, keep: bool = True):
    """Feed ``prime`` through the model, then draw ``length`` characters one at a time, each
    passed to ``emit`` as it is drawn. Logits are divided by ``temperature`` (lower is more
    conservative); ``top_k`` keeps only the k most likely characters (1 = greedy).

    Returns the drawn text, or None with ``keep=False``: then memory does not grow with
    ``length`` (only the recurrent state is kept from step to step)."""
    rng = rng if rng is not None else np.random.default_rng()
    model.eval()
    if not prime:
        prime = "\n" if "\n" in vocab.stoi else vocab.chars[0]
    ids = vocab.encode(prime, "--prime")
    state = None
    for s in range(0, len(ids), 4096):               # a long primer in pieces: memory stays flat
        logits, state = model(ids[s:s + 4096, None], state)
    last = logits[-1, 0].astype(np.float64)
    out = []
    for _ in range(length):
        z = last / temperature
        if top_k and top_k < len(z):
            cut = np.partition(z, -top_k)[-top_k]
            z = np.where(z >= cut, z, -np.inf)
        p = np.exp(log_softmax(z))
        c = int(np.argmax(p)) if top_k == 1 else int(rng.choice(len(p), p=p / p.sum()))
        ch = vocab.chars[c]
        emit(ch)
        if keep:
            out.append(ch)
        logits, state = model(np.array([[c]]), state)
        last = logits[0, 0].astype(np.float64)
    return "".join(out) if keep else None


def plot(path: str, history: dict) -> None:
    from .common import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(history["step"], np.array(history["train_loss"]) / LN2, label="training (mean since last point)")
    ax.plot(history["step"], np.array(history["valid_loss"]) / LN2, marker="o", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
