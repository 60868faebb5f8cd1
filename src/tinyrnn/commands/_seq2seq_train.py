"""Sequence-to-sequence demo: train on a task, report held-out exact match, translate."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import check_config
from ..checkpoint import load as load_checkpoint
from ..checkpoint import save as save_checkpoint
from ..data.seq2seq import TASKS, WORD_PAIRS, pad_batch
from ..models.seq2seq import Seq2Seq, accuracy_within, evaluate, translate
from ..nn import CELLS
from ..nn.recurrent import REGULARISERS
from ..optim import Adam, clip_grad_norm_, grad_norm
from ..schedule import lr_schedule
from ..train import Plan, Run, ce_ceiling, guarded_step
from ._args import (
    _float_in,
    _int_in,
    describe_regularisers,
    flag,
    length_range,
    nonneg,
    positive,
    positive_float,
    regulariser,
    resume_policy,
)
from ._common import check_memory, pyplot, save_figure, smooth

UNSEEN_WORDS = ["mans", "old", "kin", "blak", "hig"]


@dataclass
class Seq2SeqConfig:
    task: str = field(
        default="words",
        metadata=flag(
            "words: man->women, king->queen, ... (the tutorial); reverse: letter strings of length 3-12 reversed; "
            "add: '357+84' -> '441' (default %(default)s)",
            choices=["words", "reverse", "add"],
            resume="fixed",
        ),
    )
    cell: str = field(default="rnn", metadata=flag("recurrent cell (%(default)s)", choices=list(CELLS), resume="fixed"))
    hidden: int = field(default=128, metadata=flag("hidden size (%(default)s)", type=positive, resume="fixed"))
    layers: int = field(
        default=1, metadata=flag("layers in encoder and decoder (default %(default)s)", type=positive, resume="fixed")
    )
    bidirectional: bool = field(
        default=False, metadata=flag("bidirectional encoder (its two final states are summed)", resume="fixed")
    )
    attention: str = field(
        default="none",
        metadata=flag(
            "attention over the encoder outputs (%(default)s)",
            choices=["none", "dot", "general", "additive"],
            resume="fixed",
        ),
    )
    # The recurrent layers' regularising options (docs/bptt.md, "Regularised recurrences")
    recurrent_dropout: float = regulariser("recurrent_dropout", resume="fixed")
    weight_drop: float = regulariser("weight_drop", resume="fixed")
    zoneout: float = regulariser("zoneout", resume="fixed")
    layer_norm: bool = regulariser("layer_norm", resume="fixed")
    lr: float = field(
        default=1e-3, metadata=flag("Adam learning rate (%(default)s)", type=positive_float, resume="fixed")
    )
    batch: int = field(default=3, metadata=flag("pairs per step (%(default)s)", type=positive, resume="fixed"))
    steps: int = field(
        default=600,
        metadata=flag(
            "training steps (%(default)s); with --resume, this many MORE steps (default: finish the saved plan)",
            type=positive,
            resume="more",
        ),
    )
    time_budget: float = field(
        default=0.0,
        metadata=flag(  # seconds; 0 = use steps
            "train for this many seconds of training instead of --steps (evaluation not counted; the report gives "
            "both times); with --resume, this many MORE seconds",
            type=positive_float,
            metavar="SECONDS",
            resume="more",
        ),
    )
    clip: float = field(
        default=5.0,
        metadata=flag("global gradient-norm clip, 0 = off (default %(default)s)", type=_float_in(0.0), resume="fixed"),
    )
    lr_decay: bool = field(
        default=True,
        metadata=flag(
            "keep the learning rate constant (default: cosine decay to 5%% of --lr over the run)",
            name="--no-lr-decay",
            resume="fixed",
        ),
    )
    digits: int = field(
        default=3,
        metadata=flag(
            "--task add: operands up to this many digits, 1 to 18 (default %(default)s)",
            type=_int_in(1, 18),
            resume="fixed",
        ),
    )
    min_len: int = field(default=3, metadata=resume_policy("fixed"))  # --task reverse
    max_len: int = field(
        default=12,
        metadata=flag(
            "--task reverse: sources of length 3..MAX_LEN, 3 to 100 (default %(default)s)",
            type=_int_in(3, 100),
            resume="fixed",
        ),
    )
    test_lengths: tuple[int, int] | None = field(
        default=None,
        metadata=flag(
            "also report exact match on held-out sources of lengths A..B (reverse: characters, add: digits of the "
            "longer operand), e.g. lengths never trained on",
            type=length_range,
            metavar="A-B",
        ),
    )
    test_size: int = field(default=1000, metadata=resume_policy("fixed"))
    beam: int = field(
        default=1,
        metadata=flag(
            "beam width for decoding, 1 to 64; 1 = greedy (default %(default)s)",
            type=_int_in(1, 64),
            metavar="K",
            resume="free",
        ),
    )
    eval_every: int = field(
        default=0,
        metadata=flag(  # 0 = only at the end
            "print loss and held-out accuracy every N steps (default 0 = off)", type=nonneg, resume="free"
        ),
    )
    keep_best: bool = field(
        default=False,
        metadata=flag(
            "keep (and save) the weights of the best evaluation, not the last (needs --eval-every)", resume="free"
        ),
    )
    seed: int = field(default=0, metadata=resume_policy("fixed"))
    quiet: bool = False


# The defaults that depend on --task (the dataclass's own defaults are the words task's).
TASK_DEFAULTS = {
    "words": dict(cell="rnn", hidden=128, steps=600, batch=3, lr=1e-3, attention="none"),
    "reverse": dict(cell="lstm", hidden=256, steps=4000, batch=64, lr=3e-3, attention="additive"),
    "add": dict(cell="gru", hidden=256, steps=10000, batch=64, lr=3e-3, attention="additive"),
}
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
    return TASKS[cfg.task](
        seed=cfg.seed, test_size=cfg.test_size, digits=cfg.digits, min_len=cfg.min_len, max_len=cfg.max_len
    )


def train(
    cfg: Seq2SeqConfig,
    emit=lambda line: None,
    save: str | None = None,
    resume: str | None = None,
    plot_to: str | None = None,
    threads: int | str | None = None,
):
    """Train, evaluate, save; returns (model, task, metrics). SIGINT/SIGTERM stop between steps
    and the model so far is saved (``metrics["signal"]``); a non-finite loss or gradient raises
    Diverged before anything is saved. ``resume`` continues a saved run (``cfg`` from
    ``resume_config``): weights, Adam state, step, the task's random state, times, curves."""
    task = make_task(cfg)
    shape = dict(
        vocab_size=len(task.vocab),
        hidden_size=cfg.hidden,
        cell=cfg.cell,
        num_layers=cfg.layers,
        bidirectional=cfg.bidirectional,
        attention=cfg.attention,
        **{name: getattr(cfg, name) for name in REGULARISERS if getattr(cfg, name)},  # when on
    )
    if resume:
        check_config(resume, Seq2Seq, shape)  # before anything is allocated
    seq = 2 * cfg.max_len + 2 if cfg.task != "add" else 4 * cfg.digits + 4
    check_memory(
        lambda hidden, batch, layers: memory_estimate(hidden, batch, layers, 1 + cfg.bidirectional, seq),
        {"--hidden": cfg.hidden, "--batch": cfg.batch, "--layers": cfg.layers},
    )
    rng = np.random.default_rng(cfg.seed)
    model = Seq2Seq(**shape, rng=rng)
    opt = Adam(model.parameters(), lr=cfg.lr)
    losses, cpu_seconds, history = [], 0.0, dict(step=[], accuracy=[])
    step, train_seconds, eval_seconds = 0, 0.0, 0.0
    if resume:
        meta = load_checkpoint(resume, model, opt)["meta"]
        step = meta["steps"]
        task.rng.bit_generator.state = meta["task_rng"]
        if "model_rng" in meta:  # the masks of the regularising options continue (absent before them)
            rng.bit_generator.state = meta["model_rng"]
        train_seconds, eval_seconds = meta["train_seconds"], meta["eval_seconds"]
        losses, history = (
            list(meta["curve"]["loss"]),
            dict(step=meta["curve"]["step"], accuracy=meta["curve"]["accuracy"]),
        )
        emit(f"Resuming from step {step} ({train_seconds:.0f} s of training so far)")
    emit(
        f"Model: {cfg.cell.upper()} encoder-decoder, {cfg.layers} layer{'s' if cfg.layers > 1 else ''}"
        f"{', bidirectional encoder' if cfg.bidirectional else ''}, hidden {cfg.hidden}"
        + describe_regularisers(cfg)
        + ": "
        f"{sum(p.data.size for p in model.parameters()):,} parameters"
    )
    emit(
        f"Plan: {f'{cfg.time_budget:g} s of training' if cfg.time_budget else f'{cfg.steps} steps'} of {cfg.batch} "
        f"pairs, Adam lr {cfg.lr:g}{' (cosine decay)' if cfg.lr_decay else ''}, clip {cfg.clip:g}"
    )
    schedule = lr_schedule(cfg.lr, cfg.lr_decay, cfg.steps, cfg.time_budget)
    ceiling = ce_ceiling(len(task.vocab))
    best = None  # keep_best: the whole state of the best evaluation (weights, Adam, step, random state)
    held_out = [None]  # the held-out accuracy of the weights in the model

    def now(weights: bool = False) -> dict:
        """What a checkpoint holds of the run as it is now (with copies of the weights and the
        optimizer state when ``weights``, for keep_best)."""
        s = dict(
            step=run.step,
            rng=task.rng.bit_generator.state,
            model_rng=rng.bit_generator.state,
            train_seconds=run.timer.seconds,
            eval_seconds=run.eval_timer.seconds,
            losses=len(losses),
            evals=len(history["step"]),
            accuracy=held_out[0],
        )
        if weights:
            s.update(weights=model.state_dict(), opt=opt.state_dict())
        return s

    def checkpoint(s=None) -> None:
        s = s or now()
        curve = dict(
            loss=[round(float(v), 5) for v in losses[: s["losses"]]],
            step=history["step"][: s["evals"]],
            accuracy=history["accuracy"][: s["evals"]],
        )
        save_checkpoint(
            save,
            model,
            opt,
            meta=dict(
                kind="seq2seq",
                task=cfg.task,
                chars=task.vocab.chars,
                steps=s["step"],
                kept_step=s["step"],
                accuracy=s["accuracy"],
                train_config=asdict(cfg),
                task_rng=s["rng"],
                model_rng=s["model_rng"],
                train_seconds=s["train_seconds"],
                eval_seconds=s["eval_seconds"],
                curve=curve,
            ),
        )

    run = Run(
        Plan(cfg.steps, cfg.time_budget),
        emit,
        quiet=cfg.quiet,
        desc=f"seq2seq {cfg.task}",
        lr=cfg.lr,
        clip=cfg.clip,
        ceiling=ceiling,
        start=step,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        save=save and checkpoint,
        save_on_interrupt=not cfg.keep_best,
        threads=threads,
    )
    with run:
        for step in run.steps():
            opt.lr = schedule.lr_at(step - 1, run.timer.seconds)
            cpu0 = time.process_time()
            with run.training(step):  # teacher forcing, clip, Adam
                pairs = task.train_batch(cfg.batch)
                src, src_len = pad_batch([task.vocab.encode(s) for s, _ in pairs])
                tgt, _ = pad_batch([task.vocab.encode(t) for _, t in pairs])
                model.zero_grad()
                loss = float(model.loss_and_backward(src, src_len, tgt))
                norm = clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip else grad_norm(model.parameters())
                guarded_step(opt, model, step, loss, norm, cfg.lr, cfg.clip, ceiling)
            cpu_seconds += time.process_time() - cpu0  # this process's CPU time (a loaded machine inflates wall time)
            losses.append(loss)
            run.log(loss)
            held_out[0], improved = None, False
            if cfg.eval_every and step % cfg.eval_every == 0:
                with run.evaluating():
                    ev = evaluate(model, task, task.test[:200])
                history["step"].append(step)
                history["accuracy"].append(ev["accuracy"])
                held_out[0] = ev["accuracy"]
                if cfg.keep_best and (best is None or ev["accuracy"] > best["accuracy"]):
                    best, improved = now(weights=True), True
                run.say(
                    f"step {step} loss {np.mean(losses[-cfg.eval_every :]):.4f} held-out exact {ev['accuracy']:.3f}"
                )
            at_eval = not cfg.eval_every or step % cfg.eval_every == 0
            if save and at_eval and (improved or not cfg.keep_best) and run.checkpoint_due():
                run.save_now()  # keep_best: only a step that improved
        step = kept = run.step
        kept_state = None  # the state the final checkpoint holds (None: now)
        if cfg.keep_best and best is not None:
            with run.evaluating():
                last = evaluate(model, task, task.test[:200])["accuracy"]
            if best["accuracy"] > last:  # the whole state of that step, not its weights only
                model.load_state_dict(best["weights"])
                opt.load_state_dict(best["opt"])
                task.rng.bit_generator.state = best["rng"]
                rng.bit_generator.state = best["model_rng"]
                kept_state, kept = best, best["step"]
        with run.evaluating():
            result = evaluate(model, task, task.test, cfg.beam)
        metrics = dict(
            config=asdict(cfg),
            **run.metrics(),
            kept_step=kept,
            train_cpu_seconds=round(cpu_seconds, 2),
            final_loss=round(float(np.mean(losses[-20:])), 4) if losses else None,
            test_pairs=len(task.test),
            held_out=cfg.task != "words",
            curve=dict(loss=[round(float(v), 5) for v in losses], **history),
            **result,
        )
        if cfg.test_lengths:
            low, high = cfg.test_lengths
            with run.evaluating():
                extra = evaluate(model, task, task.length_test(low, high, cfg.test_size), cfg.beam)
            metrics["test_lengths"] = dict(low=low, high=high, **extra)
        if cfg.task == "reverse" and cfg.max_len > 10:  # the 0.1.0 default range, for comparison
            metrics["accuracy_len_3_10"] = round(accuracy_within(result["per_length_counts"], 3, 10), 4)
        if cfg.task == "words":
            words = [w for w, _ in WORD_PAIRS] + UNSEEN_WORDS
            metrics["translations"] = dict(zip(words, translate(model, task.vocab, words, cfg.beam)))
        if save:  # first: a plot that fails must not cost the model
            held_out[0] = result["accuracy"]
            if kept_state is not None:
                kept_state["accuracy"] = result["accuracy"]
            run.save_now(kept_state)
        if plot_to:
            plot(plot_to, metrics)
        metrics.update(run.metrics())  # a signal during the save or the plot counts
        return model, task, metrics


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
    ax2.plot(
        c["step"],
        100 * np.array(c["accuracy"], dtype=float),
        "o-",
        color="tab:orange",
        label=f"exact match, {what} (%)",
    )
    ax2.set_ylabel("exact match (%)")
    ax2.set_ylim(-2, 102)
    ax.set_title(f"seq2seq {cfg['task']}: {cfg['cell'].upper()} {cfg['hidden']} x {cfg['layers']}")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
