"""Character language model on real text: stateful truncated BPTT, exact resume, sampling.

The training text is cut into ``batch`` contiguous streams. Each step reads the next
``seq_len`` characters of every stream; the hidden state is carried from one chunk to the next
(the gradient is cut at the chunk boundary), and reset where the streams wrap around.

This file orchestrates a run (configuration, checkpoints, resume, evaluation schedule, the
plot); the library pieces live in ``tinyrnn.data.text`` (``Streams``) and
``tinyrnn.models.charlm`` (``train_step``, ``evaluate``, ``sample``), re-exported here.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import CheckpointError, read_header
from ..checkpoint import load as load_checkpoint
from ..checkpoint import save as save_checkpoint
from ..data.text import CharVocab, CorpusError, Streams, fingerprint, load_corpus, split
from ..models.charlm import CharLM, evaluate, sample, train_step
from ..optim import OPTIMIZERS
from .common import (
    Diverged,
    Timer,
    UsageError,
    ce_ceiling,
    check_finite,
    check_memory,
    close,
    diverging,
    params_finite,
    progress,
    resume_settings,
    smooth,
    through,
    training,
)

__all__ = ["CharLMConfig", "SampleConfig", "Streams", "evaluate", "sample", "train_step", "train", "prepare", "load_model",
           "resume_config", "plot"]

LN2 = math.log(2.0)
MODEL_KEYS = ("cell", "layers", "hidden", "embed", "dropout")
DATA_KEYS = ("seq_len", "batch", "optimizer", "lr", "clip", "seed", "valid_fraction")


@dataclass
class CharLMConfig:
    files: list = field(default_factory=list)
    # The default recipe: the best validation after a fixed training time among the recipes tried
    # in docs/charlm.md (a GRU does about twice the steps of an LSTM of the same size here).
    cell: str = "gru"
    layers: int = 1
    hidden: int = 256
    embed: int = 64
    dropout: float = 0.0
    seq_len: int = 64
    batch: int = 64
    optimizer: str = "adam"
    lr: float = 4e-3
    clip: float = 5.0
    lr_decay: bool = True           # cosine decay of lr to 5 % of it over the plan (steps or time budget)
    steps: int = 2000
    time_budget: float = 0.0        # seconds of training; 0 = use steps
    eval_every: int = 1000
    eval_chars: int = 0             # 0 = the whole validation split
    valid_fraction: float = 0.1
    keep_best: bool = False         # the checkpoint holds the best validation so far, not the last
    seed: int = 0
    quiet: bool = False


@dataclass
class SampleConfig:
    """Defaults of ``tinyrnn charlm sample``."""
    prime: str = ""
    length: int = 500
    temperature: float = 1.0
    top_k: int = 0
    seed: int = 0


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


def prepare(cfg: CharLMConfig):
    """(vocab, train ids, valid ids, corpus description)."""
    return _load(cfg)[:4]


def _load(cfg: CharLMConfig):
    """(vocab, train ids, valid ids, corpus description, corpus fingerprint)."""
    text, desc = load_corpus(cfg.files)
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    train_ids, valid_ids = split(ids, cfg.valid_fraction)
    if len(valid_ids) < 3:
        raise CorpusError(f"the corpus ({len(ids)} characters) is too short to hold out a validation split")
    return vocab, train_ids, valid_ids, desc, fingerprint(text)


def memory_estimate(hidden, batch, seq_len, layers, embed, vocab=256, states=2) -> int:
    """Bytes for parameters, gradients and ``states`` optimizer arrays per parameter, and the
    activations of one training step and one evaluation chunk (float32; LSTM, 4 gates)."""
    params = vocab * embed + layers * 4 * hidden * (max(embed, hidden) + hidden + 2) + (hidden + 1) * vocab
    step = seq_len * batch * (embed + layers * hidden * 12 + vocab * 3)
    evaluation = 256 * 64 * (embed + layers * hidden * 6 + vocab * 3)
    return 4 * ((2 + states) * params + step + evaluation)


def resume_config(path: str, files, given: dict) -> CharLMConfig:
    """The configuration that continues the run saved in ``path``. ``given`` holds the flags
    named on the command line (``steps``/``time_budget`` mean *more* training; evaluation
    settings default to the run's own). Model and data settings cannot change, nor the seed;
    the corpus must be named again when the run used files (a checkpoint never opens a path)."""
    header = read_header(path)
    meta = header.get("meta", {})
    saved = meta.get("train_config") or {}
    settings = resume_settings(path, header, "charlm", given, MODEL_KEYS + DATA_KEYS,
                               ("eval_every", "eval_chars", "keep_best", "lr_decay"), int(meta.get("step", 0)),
                               float(meta.get("train_seconds", 0.0)))
    if "lr_decay" not in saved and "lr_decay" not in given:   # saved before the decay existed: constant lr
        settings["lr_decay"] = False
    if saved.get("files") and not files:
        raise UsageError(f"--resume {path}: the run trained on {', '.join(map(str, saved['files']))}; name the "
                         f"corpus FILEs on the command line (a checkpoint never opens files by itself)")
    return CharLMConfig(files=list(files), **settings)


def _check_eval_chars(cfg: CharLMConfig) -> None:
    if cfg.eval_chars and cfg.eval_chars < cfg.seq_len + 1:
        raise UsageError(f"--eval-chars {cfg.eval_chars} is shorter than one sequence (--seq-len {cfg.seq_len} "
                         f"+ 1 = {cfg.seq_len + 1} characters); give at least that, or 0 for the whole split")


def lr_at(cfg: CharLMConfig, step: int, seconds: float) -> float:
    """The learning rate of the next step: cosine decay from ``lr`` to 5 % of it over the
    plan, ``time_budget`` seconds of training or ``steps`` steps (a resumed run's plan is its
    whole plan, so the decay goes on where it stopped)."""
    done = min(1.0, seconds / cfg.time_budget if cfg.time_budget else step / max(cfg.steps, 1))
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done)))


def describe(cfg: CharLMConfig, model: CharLM, vocab, train_ids, valid_ids, desc) -> list[str]:
    """What a run trains on and how, printed before its first step."""
    n_params = sum(p.data.size for p in model.parameters())
    plan = (f"steps until {cfg.time_budget:g} s of training (evaluation not counted)" if cfg.time_budget
            else f"{cfg.steps} steps")
    chars = (f"the first {min(cfg.eval_chars, len(valid_ids))}" if cfg.eval_chars else "all")
    return [f"Corpus: {desc} ({len(train_ids) + len(valid_ids)} characters, vocabulary {len(vocab)}, "
            f"last {cfg.valid_fraction:.0%} held out)",
            f"Model: {cfg.cell.upper()}, {cfg.layers} layer{'s' if cfg.layers > 1 else ''}, embedding {cfg.embed}, "
            f"hidden {cfg.hidden}, dropout {cfg.dropout:g}: {n_params:,} parameters",
            f"Plan: {plan}, each {cfg.batch} streams x {cfg.seq_len} characters; {cfg.optimizer} lr {cfg.lr:g}"
            f"{' (cosine decay to 5%)' if cfg.lr_decay else ''}, "
            f"clip {cfg.clip:g}; validation every {cfg.eval_every} steps on {chars} of the "
            f"{len(valid_ids)} held-out characters"]


def train(cfg: CharLMConfig, emit=lambda line: None, save: str | None = None, resume: str | None = None,
          on_eval=None):
    """Train (or continue a run); returns (model, vocab, metrics). SIGINT/SIGTERM stop between
    steps and the run is saved; a non-finite loss, gradient or validation raises Diverged and
    nothing is saved (the last good checkpoint stays)."""
    wall0 = time.perf_counter()
    resumed = read_header(resume) if resume else None
    if resumed and resumed.get("meta", {}).get("kind") != "charlm":
        raise CheckpointError(f"{resume} is not a charlm checkpoint")
    _check_eval_chars(cfg)
    vocab, train_ids, valid_ids, desc, fp = _load(cfg)
    if resumed:
        _check_same_corpus(resume, resumed["meta"], vocab, fp, desc)
    states = {"adam": 2, "adagrad": 1, "sgd": 0}[cfg.optimizer]
    check_memory(lambda **k: memory_estimate(**k, vocab=len(vocab), states=states),
                 {"--hidden": cfg.hidden, "--batch": cfg.batch, "--seq-len": cfg.seq_len, "--layers": cfg.layers,
                  "--embed": cfg.embed})
    rng = np.random.default_rng(cfg.seed)
    model = CharLM(len(vocab), cfg.embed, cfg.hidden, cfg.cell, cfg.layers, cfg.dropout, rng=rng)
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    streams = Streams(train_ids, cfg.batch, cfg.seq_len)
    step, state = 0, None
    history = dict(step=[], train_loss=[], valid_loss=[], seconds=[], log_step=[], log_loss=[], eval_changes=[])
    timer, eval_timer = Timer(), Timer()
    best = [math.inf, 0]                        # best validation (nats) and its step
    for line in describe(cfg, model, vocab, train_ids, valid_ids, desc):
        emit(line)
    if resumed:
        meta = resumed["meta"]
        header = load_checkpoint(resume, model, opt)
        step, streams.pos = meta["step"], meta["pos"]
        rng.bit_generator.state = meta["rng_state"]
        state = _state_from(header["extra"])
        history.update(meta["history"])
        timer.seconds = meta["train_seconds"]
        eval_timer.seconds = meta.get("eval_seconds", 0.0)
        best = [meta.get("best_valid", math.inf), meta.get("best_step", 0)]
        _note_eval_change(meta["train_config"], cfg, history, step, emit)
        emit(f"Resuming from step {step} ({timer.seconds:.0f} s of training so far)")
    start = dict(step=step, train=timer.seconds, eval=eval_timer.seconds)

    def checkpoint():
        if save and (not cfg.keep_best or best[1] == step):
            meta = dict(kind="charlm", chars=vocab.chars, corpus=fp, corpus_name=desc, step=step,
                        pos=streams.pos, rng_state=rng.bit_generator.state, train_config=asdict(cfg),
                        history=history, train_seconds=timer.seconds, eval_seconds=eval_timer.seconds,
                        best_valid=best[0], best_step=best[1])
            save_checkpoint(save, model, opt, meta=meta, extra=_state_arrays(state))

    def record(window):
        with eval_timer:
            v = _record(model, valid_ids, cfg, history, step, window, timer, say)
        if not params_finite(model):
            raise Diverged(step, v, cfg.lr, cfg.clip)
        check_finite(step, v, 0.0, cfg.lr, cfg.clip, ceiling)
        if v < best[0]:
            best[:] = [v, step]

    window, log, tokens, t_window = [], [], 0, time.perf_counter()
    ceiling = ce_ceiling(len(vocab))
    bar = progress(iter(int, 1), 0 if cfg.time_budget else max(cfg.steps - step, 0), not cfg.quiet, "charlm")
    say = through(bar, emit)
    with training() as flag:
        for _ in bar:
            if (cfg.time_budget and timer.seconds >= cfg.time_budget) or (not cfg.time_budget and step >= cfg.steps):
                break
            if flag.stop:
                break
            with timer, diverging(step + 1, cfg.lr, cfg.clip):
                if cfg.lr_decay:
                    opt.lr = lr_at(cfg, step, timer.seconds)
                x, y, reset = streams.next()
                if reset:
                    state = None                                  # the streams wrapped: start afresh
                guard = lambda loss, norm, n=step + 1: check_finite(n, loss, norm, cfg.lr, cfg.clip, ceiling)
                loss, state = train_step(model, opt, x, y, state, cfg.clip, on_grad=guard)   # state carried on
            step += 1
            if not params_finite(model):
                raise Diverged(step, float(loss), cfg.lr, cfg.clip)
            window.append(loss)
            log.append(loss)
            tokens += x.size
            if step % 10 == 0:
                history["log_step"].append(step)
                history["log_loss"].append(round(float(np.mean(log)), 5))
                log = []
                if hasattr(bar, "set_postfix"):
                    now = time.perf_counter()
                    bar.set_postfix(loss=f"{history['log_loss'][-1]:.3f}", tok_s=f"{tokens / (now - t_window):.0f}")
                    tokens, t_window = 0, now
            if step % cfg.eval_every == 0:
                record(window)
                window = []
                if on_eval:
                    on_eval(step, history)
                checkpoint()
        close(bar)
        say = emit
        if window or not history["step"] or history["step"][-1] != step:
            record(window)
            checkpoint()
        final = history["valid_loss"][-1]
        metrics = dict(config=asdict(cfg), corpus=desc, corpus_chars=int(len(train_ids) + len(valid_ids)),
                       vocab_size=len(vocab), steps=step, train_seconds=round(timer.seconds, 2),
                       eval_seconds=round(eval_timer.seconds, 2), wall_seconds=round(time.perf_counter() - wall0, 2),
                       run=dict(steps=step - start["step"], train_seconds=round(timer.seconds - start["train"], 2),
                                eval_seconds=round(eval_timer.seconds - start["eval"], 2)),
                       valid_nats=round(final, 4), valid_bpc=round(final / LN2, 4),
                       best_step=best[1], best_valid_bpc=round(best[0] / LN2, 4),
                       kept_step=best[1] if cfg.keep_best else step,
                       interrupted=flag.stop, signal=flag.signum and flag.name, exit_code=flag.exit_code,
                       history=history)
        return model, vocab, metrics


def _check_same_corpus(path, meta, vocab, fp, desc) -> None:
    saved = meta.get("corpus")
    same = saved == fp if isinstance(saved, dict) else False
    if not same or meta.get("chars") != vocab.chars:
        was = (f"{saved.get('chars')} characters, sha256 {str(saved.get('sha256'))[:12]}"
               if isinstance(saved, dict) else "an older fingerprint")
        raise UsageError(f"--resume {path}: the corpus given ({desc}: {fp['chars']} characters, sha256 "
                         f"{fp['sha256'][:12]}) is not the one the run trained on ({was}); name the same text")


def _note_eval_change(saved: dict, cfg: CharLMConfig, history: dict, step: int, emit) -> None:
    """Mark the history where the evaluation settings change (figures before and after differ)."""
    changed = {k: getattr(cfg, k) for k in ("eval_every", "eval_chars") if saved.get(k) != getattr(cfg, k)}
    if changed:
        history.setdefault("eval_changes", []).append(dict(step=step, **changed))
        emit(f"Evaluation settings change at step {step}: "
             + ", ".join(f"--{k.replace('_', '-')} {saved.get(k)} -> {v}" for k, v in changed.items())
             + " (validation figures before and after are not comparable)")


def _record(model, valid_ids, cfg, history, step, window, timer, emit):
    wrap = lambda it, n: progress(it, n, not cfg.quiet, "validation")
    v = evaluate(model, valid_ids, cfg.eval_chars, wrap=wrap)
    tl = float(np.mean(window)) if window else float("nan")
    history["step"].append(step)
    history["train_loss"].append(round(tl, 5))
    history["valid_loss"].append(round(v, 5))
    history["seconds"].append(round(timer.seconds, 2))
    emit(f"step {step}: train {tl:.4f} nats, valid {v:.4f} nats = {v / LN2:.3f} bits/char "
         f"({timer.seconds:.0f} s of training)")
    return v


def load_model(path):
    """(model, vocab, header) from a charlm checkpoint."""
    header = read_header(path)
    if header.get("class") != "CharLM" or header.get("meta", {}).get("kind") != "charlm":
        raise CheckpointError(f"{path} is not a charlm checkpoint (it holds a {header.get('class')})")
    model = CharLM(**header["config"])
    load_checkpoint(path, model)
    return model, CharVocab(header["meta"]["chars"]), header


def plot(path: str, history: dict, title: str = "") -> None:
    """Training loss at every logged step (faint, and smoothed), validation at each evaluation,
    in bits per character; dashed lines where the evaluation settings changed."""
    from .common import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if history.get("log_step"):
        logged = np.array(history["log_loss"], dtype=float) / LN2
        ax.plot(history["log_step"], logged, color="tab:blue", alpha=0.25, lw=0.8)
        ax.plot(history["log_step"], smooth(logged), color="tab:blue", label="training (smoothed)")
    else:
        ax.plot(history["step"], np.array(history["train_loss"]) / LN2, color="tab:blue",
                label="training (mean since last point)")
    ax.plot(history["step"], np.array(history["valid_loss"]) / LN2, "o-", color="tab:orange", label="validation")
    for change in history.get("eval_changes", []):
        ax.axvline(change["step"], color="grey", ls="--", lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
