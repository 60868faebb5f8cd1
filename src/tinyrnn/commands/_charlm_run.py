"""The pieces of a ``tinyrnn charlm train`` run: its settings (``CharLMConfig``), the corpus,
the checkpoint it reads and writes, resume, the evaluation record and the plot. The training
loop itself is ``_charlm_train.train``; the parser and handlers are ``charlm``.

The training text is cut into ``batch`` contiguous streams. Each step reads the next
``seq_len`` characters of every stream; the hidden state is carried from one chunk to the next
(the gradient is cut at the chunk boundary), and reset where the streams wrap around. The
library pieces live in ``tinyrnn.data.text`` (``Streams``) and ``tinyrnn.models.charlm``
(``train_step``, ``evaluate``, ``sample``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..checkpoint import CheckpointError, check_meta, read_for
from ..checkpoint import load as load_checkpoint
from ..data.text import CharVocab, CorpusError, fingerprint, load_corpus, split
from ..errors import UsageError
from ..models.charlm import CharLM, evaluate
from ..nn import CELLS
from ..nn.recurrent import REGULARISERS
from ..schedule import lr_schedule
from ..train import progress
from ._args import (
    _float_in,
    describe_regularisers,
    flag,
    nonneg,
    positive,
    positive_float,
    regulariser,
    resume_keys,
    resume_policy,
)
from ._common import resume_settings, settings_types, smooth

LN2 = math.log(2.0)
# REGULARISERS: settings added after the first checkpoints (absent from those, so not required
# on resume), passed to the model only when on (a plain model's config is as before)


def _fixed(help: str, **kwargs) -> dict:
    """A model or data setting: a resumed run keeps the checkpoint's."""
    return flag(help, resume="fixed", **kwargs)


@dataclass
class CharLMConfig:
    files: list = field(default_factory=list)
    # The default recipe: the best validation after a fixed training time among the recipes tried
    # in docs/charlm.md (a GRU does about twice the steps of an LSTM of the same size here).
    cell: str = field(default="gru", metadata=_fixed("recurrent cell (default %(default)s)", choices=list(CELLS)))
    layers: int = field(default=1, metadata=_fixed("recurrent layers (default %(default)s)", type=positive))
    hidden: int = field(default=256, metadata=_fixed("hidden size (default %(default)s)", type=positive))
    embed: int = field(default=64, metadata=_fixed("embedding size (default %(default)s)", type=positive))
    dropout: float = field(
        default=0.0,
        metadata=_fixed(
            "dropout between layers and before the output, 0 to 0.99 (default %(default)s)", type=_float_in(0.0, 0.99)
        ),
    )
    # The recurrent layer's regularising options (docs/bptt.md, "Regularised recurrences")
    recurrent_dropout: float = regulariser("recurrent_dropout", resume="fixed")
    weight_drop: float = regulariser("weight_drop", resume="fixed")
    zoneout: float = regulariser("zoneout", resume="fixed")
    layer_norm: bool = regulariser("layer_norm", resume="fixed")
    seq_len: int = field(
        default=64, metadata=_fixed("characters per truncated-BPTT chunk (default %(default)s)", type=positive)
    )
    batch: int = field(default=64, metadata=_fixed("parallel streams (default %(default)s)", type=positive))
    optimizer: str = field(
        default="adam", metadata=_fixed("optimizer (default %(default)s)", choices=["adam", "adagrad", "sgd"])
    )
    lr: float = field(default=4e-3, metadata=_fixed("learning rate (default %(default)s)", type=positive_float))
    clip: float = field(
        default=5.0, metadata=_fixed("global gradient-norm clip, 0 = off (default %(default)s)", type=_float_in(0.0))
    )
    lr_decay: bool = field(
        default=True,
        metadata=flag(  # cosine decay of lr to 5 % of it over the plan
            "keep --lr constant (default: cosine decay to 5%% of --lr over the run's steps or time budget)",
            name="--no-lr-decay",
            resume="free",
        ),
    )
    steps: int = field(
        default=2000,
        metadata=flag(
            "training steps (default %(default)s); with --resume, this many MORE steps (default: finish the saved "
            "run's plan)",
            type=positive,
            resume="more",
        ),
    )
    time_budget: float = field(
        default=0.0,
        metadata=flag(  # seconds of training; 0 = use steps
            "train for this many seconds of training instead of --steps (evaluation and saving are not counted; the "
            "final report gives each); with --resume, this many MORE seconds",
            type=positive_float,
            metavar="SECONDS",
            resume="more",
        ),
    )
    eval_every: int = field(
        default=1000,
        metadata=flag(
            "steps between validations (and checkpoints) (default %(default)s; with --resume, the run's own)",
            type=positive,
            resume="free",
        ),
    )
    eval_chars: int = field(
        default=0,
        metadata=flag(  # 0 = the whole validation split
            "validate on the first N held-out characters, at least --seq-len + 1; 0 = all (default 0; with --resume, "
            "the run's own)",
            type=nonneg,
            resume="free",
        ),
    )
    valid_fraction: float = field(default=0.1, metadata=resume_policy("fixed"))
    keep_best: bool = field(
        default=False,
        metadata=flag(  # the checkpoint holds the best validation so far
            "write the checkpoint only when validation improves, so it holds the best weights; the report says which "
            "step",
            resume="free",
        ),
    )
    seed: int = field(default=0, metadata=resume_policy("fixed"))
    quiet: bool = False


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


RESUME_META = dict(step=int, pos=int, rng_state=dict, train_config=dict, history=dict, train_seconds=float)


def read_checked(path, resume: bool = False) -> dict:
    """The header of a charlm checkpoint, checked before any model is built: its class and
    kind; ``meta.chars`` (the model's characters, each once, in order, as many as the
    embedding has rows); the config against the shapes the archive declares; with ``resume``,
    the run's state and every setting of its ``train_config``. Raises CheckpointError."""
    header = read_for(path, CharLM, "charlm", dict(chars=str, **(RESUME_META if resume else {})))
    meta = header["meta"]
    chars, rows = meta["chars"], header["config"]["vocab_size"]
    if chars != "".join(sorted(set(chars))) or len(chars) != rows:
        raise CheckpointError(
            f"checkpoint {path}: meta.chars does not describe the model's vocabulary ({len(chars)} "
            f"characters, {len(set(chars))} distinct, for an embedding of {rows} rows; they must be "
            "the model's characters, each once, in sorted order)"
        )
    if resume:
        check_meta(
            path,
            meta["train_config"],
            settings_types(CharLMConfig, skip=("lr_decay", "quiet") + REGULARISERS),
            "meta.train_config",
        )
        if meta["step"] < 0 or meta["pos"] < 0:
            raise CheckpointError(
                f"checkpoint {path}: meta.step and meta.pos must be >= 0, got {meta['step']} and {meta['pos']}"
            )
    return header


def model_config(cfg: CharLMConfig, vocab_size: int) -> dict:
    """The CharLM construction arguments of a run's settings."""
    return dict(
        vocab_size=vocab_size,
        embed_size=cfg.embed,
        hidden_size=cfg.hidden,
        cell=cfg.cell,
        num_layers=cfg.layers,
        dropout=cfg.dropout,
        **{name: getattr(cfg, name) for name in REGULARISERS if getattr(cfg, name)},
    )


def resume_config(path: str, files, given: dict) -> CharLMConfig:
    """The configuration that continues the run saved in ``path``. ``given`` holds the flags
    named on the command line (``steps``/``time_budget`` mean *more* training; evaluation
    settings default to the run's own). Model and data settings cannot change, nor the seed;
    the corpus must be named again when the run used files (a checkpoint never opens a path)."""
    header = read_checked(path, resume=True)
    meta = header.get("meta", {})
    saved = meta.get("train_config") or {}
    settings = resume_settings(
        path,
        header,
        "charlm",
        given,
        resume_keys(CharLMConfig, "fixed"),
        resume_keys(CharLMConfig, "free"),
        int(meta.get("step", 0)),
        float(meta.get("train_seconds", 0.0)),
    )
    if "lr_decay" not in saved and "lr_decay" not in given:  # saved before the decay existed: constant lr
        settings["lr_decay"] = False
    if saved.get("files") and not files:
        raise UsageError(
            f"--resume {path}: the run trained on {', '.join(map(str, saved['files']))}; name the "
            f"corpus FILEs on the command line (a checkpoint never opens files by itself)"
        )
    return CharLMConfig(files=list(files), **settings)


def _check_eval_chars(cfg: CharLMConfig) -> None:
    if cfg.eval_chars and cfg.eval_chars < cfg.seq_len + 1:
        raise UsageError(
            f"--eval-chars {cfg.eval_chars} is shorter than one sequence (--seq-len {cfg.seq_len} "
            f"+ 1 = {cfg.seq_len + 1} characters); give at least that, or 0 for the whole split"
        )


def lr_at(cfg: CharLMConfig, step: int, seconds: float) -> float:
    """The learning rate of the step after ``step`` steps and ``seconds`` of training: the run's
    cosine schedule (``schedule.CosineLR``) over its plan."""
    return lr_schedule(cfg.lr, True, cfg.steps, cfg.time_budget).lr_at(step, seconds)


def describe(cfg: CharLMConfig, model: CharLM, vocab, train_ids, valid_ids, desc) -> list[str]:
    """What a run trains on and how, printed before its first step."""
    n_params = sum(p.data.size for p in model.parameters())
    plan = (
        f"steps until {cfg.time_budget:g} s of training (evaluation not counted)"
        if cfg.time_budget
        else f"{cfg.steps} steps"
    )
    chars = f"the first {min(cfg.eval_chars, len(valid_ids))}" if cfg.eval_chars else "all"
    return [
        f"Corpus: {desc} ({len(train_ids) + len(valid_ids)} characters, vocabulary {len(vocab)}, "
        f"last {cfg.valid_fraction:.0%} held out)",
        f"Model: {cfg.cell.upper()}, {cfg.layers} layer{'s' if cfg.layers > 1 else ''}, embedding {cfg.embed}, "
        f"hidden {cfg.hidden}, dropout {cfg.dropout:g}" + describe_regularisers(cfg) + f": {n_params:,} parameters",
        f"Plan: {plan}, each {cfg.batch} streams x {cfg.seq_len} characters; {cfg.optimizer} lr {cfg.lr:g}"
        f"{' (cosine decay to 5%)' if cfg.lr_decay else ''}, "
        f"clip {cfg.clip:g}; validation every {cfg.eval_every} steps on {chars} of the "
        f"{len(valid_ids)} held-out characters",
    ]


def _check_same_corpus(path, meta, vocab, fp, desc) -> None:
    saved = meta.get("corpus")
    same = saved == fp if isinstance(saved, dict) else False
    if not same or meta.get("chars") != vocab.chars:
        was = (
            f"{saved.get('chars')} characters, sha256 {str(saved.get('sha256'))[:12]}"
            if isinstance(saved, dict)
            else "an older fingerprint"
        )
        raise UsageError(
            f"--resume {path}: the corpus given ({desc}: {fp['chars']} characters, sha256 "
            f"{fp['sha256'][:12]}) is not the one the run trained on ({was}); name the same text"
        )


def _note_eval_change(saved: dict, cfg: CharLMConfig, history: dict, step: int, emit) -> None:
    """Mark the history where the evaluation settings change (figures before and after differ)."""
    changed = {k: getattr(cfg, k) for k in ("eval_every", "eval_chars") if saved.get(k) != getattr(cfg, k)}
    if changed:
        history.setdefault("eval_changes", []).append(dict(step=step, **changed))
        emit(
            f"Evaluation settings change at step {step}: "
            + ", ".join(f"--{k.replace('_', '-')} {saved.get(k)} -> {v}" for k, v in changed.items())
            + " (validation figures before and after are not comparable)"
        )


def _record(model, valid_ids, cfg, history, step, window, timer, emit):
    wrap = lambda it, n: progress(it, n, not cfg.quiet, "validation")  # noqa: E731
    v = evaluate(model, valid_ids, cfg.eval_chars, wrap=wrap)
    tl = float(np.mean(window)) if window else float("nan")
    history["step"].append(step)
    history["train_loss"].append(round(tl, 5))
    history["valid_loss"].append(round(v, 5))
    history["seconds"].append(round(timer.seconds, 2))
    emit(
        f"step {step}: train {tl:.4f} nats, valid {v:.4f} nats = {v / LN2:.3f} bits/char "
        f"({timer.seconds:.0f} s of training)"
    )
    return v


def load_model(path):
    """(model, vocab, header) from a charlm checkpoint."""
    header = read_checked(path)
    model = CharLM(**header["config"])
    load_checkpoint(path, model)
    return model, CharVocab(header["meta"]["chars"]), header


def plot(path: str, history: dict, title: str = "") -> None:
    """Training loss at every logged step (faint, and smoothed), validation at each evaluation,
    in bits per character; dashed lines where the evaluation settings changed."""
    from ._common import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if history.get("log_step"):
        logged = np.array(history["log_loss"], dtype=float) / LN2
        ax.plot(history["log_step"], logged, color="tab:blue", alpha=0.25, lw=0.8)
        ax.plot(history["log_step"], smooth(logged), color="tab:blue", label="training (smoothed)")
    else:
        ax.plot(
            history["step"],
            np.array(history["train_loss"]) / LN2,
            color="tab:blue",
            label="training (mean since last point)",
        )
    ax.plot(history["step"], np.array(history["valid_loss"]) / LN2, "o-", color="tab:orange", label="validation")
    for change in history.get("eval_changes", []):
        ax.axvline(change["step"], color="grey", ls="--", lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
