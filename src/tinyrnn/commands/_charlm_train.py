"""The training loop of ``tinyrnn charlm train``: stateful truncated BPTT, exact resume,
evaluation at a steady interval, keep-best. The run's settings, checkpoints and plot are in
``_charlm_run``."""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import numpy as np

from ..checkpoint import check_config
from ..checkpoint import load as load_checkpoint
from ..checkpoint import save as save_checkpoint
from ..data.text import Streams
from ..errors import Diverged
from ..models.charlm import CharLM, train_step
from ..optim import OPTIMIZERS
from ..schedule import lr_schedule
from ..train import Plan, Run, ce_ceiling, params_finite
from ._charlm_run import (
    LN2,
    CharLMConfig,
    _check_eval_chars,
    _check_same_corpus,
    _load,
    _note_eval_change,
    _record,
    _state_arrays,
    _state_from,
    describe,
    memory_estimate,
    model_config,
    plot,
    read_checked,
)
from ._common import check_memory


def train(
    cfg: CharLMConfig,
    emit=lambda line: None,
    save: str | None = None,
    resume: str | None = None,
    on_eval=None,
    plot_to: str | None = None,
    threads: int | str | None = None,
):
    """Train (or continue a run); returns (model, vocab, metrics). SIGINT/SIGTERM stop between
    steps and the run is saved; a non-finite loss, gradient or validation raises Diverged and
    nothing is saved (the last good checkpoint stays)."""
    wall0 = time.perf_counter()
    resumed = read_checked(resume, resume=True) if resume else None
    _check_eval_chars(cfg)
    vocab, train_ids, valid_ids, desc, fp = _load(cfg)
    if resumed:
        _check_same_corpus(resume, resumed["meta"], vocab, fp, desc)
        check_config(resume, CharLM, model_config(cfg, len(vocab)))  # before anything is allocated
    states = {"adam": 2, "adagrad": 1, "sgd": 0}[cfg.optimizer]
    vocabulary = "the vocabulary (the corpus's distinct characters)"
    check_memory(
        lambda **k: memory_estimate(**k, states=states),
        {
            "--hidden": cfg.hidden,
            "--batch": cfg.batch,
            "--seq-len": cfg.seq_len,
            "--layers": cfg.layers,
            "--embed": cfg.embed,
            vocabulary: len(vocab),
        },
        names={vocabulary: "vocab"},
    )
    rng = np.random.default_rng(cfg.seed)
    model = CharLM(**model_config(cfg, len(vocab)), rng=rng)
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    streams = Streams(train_ids, cfg.batch, cfg.seq_len)
    step, state, train_seconds, eval_seconds = 0, None, 0.0, 0.0
    history = dict(step=[], train_loss=[], valid_loss=[], seconds=[], log_step=[], log_loss=[], eval_changes=[])
    best = [math.inf, 0]  # best validation (nats) and its step
    for line in describe(cfg, model, vocab, train_ids, valid_ids, desc):
        emit(line)
    if resumed:
        meta = resumed["meta"]
        header = load_checkpoint(resume, model, opt)
        step, streams.pos = meta["step"], meta["pos"]
        rng.bit_generator.state = meta["rng_state"]
        state = _state_from(header["extra"])
        history.update(meta["history"])
        train_seconds, eval_seconds = meta["train_seconds"], meta.get("eval_seconds", 0.0)
        best = [meta.get("best_valid", math.inf), meta.get("best_step", 0)]
        _note_eval_change(meta["train_config"], cfg, history, step, emit)
        emit(f"Resuming from step {step} ({train_seconds:.0f} s of training so far)")
    start = dict(step=step, train=train_seconds, eval=eval_seconds)
    ceiling = ce_ceiling(len(vocab))
    schedule = lr_schedule(cfg.lr, cfg.lr_decay, cfg.steps, cfg.time_budget)

    def checkpoint():
        meta = dict(
            kind="charlm",
            chars=vocab.chars,
            corpus=fp,
            corpus_name=desc,
            step=run.step,
            pos=streams.pos,
            rng_state=rng.bit_generator.state,
            train_config=asdict(cfg),
            history=history,
            train_seconds=run.timer.seconds,
            eval_seconds=run.eval_timer.seconds,
            best_valid=best[0],
            best_step=best[1],
        )
        save_checkpoint(save, model, opt, meta=meta, extra=_state_arrays(state))

    def record(window):
        with run.evaluating():
            v = _record(model, valid_ids, cfg, history, run.step, window, run.timer, run.say)
        if not params_finite(model):
            raise Diverged(run.step, v, cfg.lr, cfg.clip)
        run.check(v)
        if v < best[0]:
            best[:] = [v, run.step]
        if save and (not cfg.keep_best or best[1] == run.step):
            run.save_now()  # at every validation (keep_best: every improvement)

    run = Run(
        Plan(cfg.steps, cfg.time_budget),
        emit,
        quiet=cfg.quiet,
        desc="charlm",
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
    window, log = [], []
    with run:
        for step in run.steps():
            with run.training(step):
                opt.lr = schedule.lr_at(step - 1, run.timer.seconds)
                x, y, reset = streams.next()
                if reset:
                    state = None  # the streams wrapped: start afresh
                guard = lambda loss, norm, step=step: run.check(loss, step, norm)
                loss, state = train_step(model, opt, x, y, state, cfg.clip, on_grad=guard)  # state carried on
            if not params_finite(model):
                raise Diverged(step, float(loss), cfg.lr, cfg.clip)
            window.append(loss)
            log.append(loss)
            run.log(loss)
            if step % 10 == 0:
                history["log_step"].append(step)
                history["log_loss"].append(round(float(np.mean(log)), 5))
                log = []
            if step % cfg.eval_every == 0:
                record(window)
                window = []
                if on_eval:
                    on_eval(step, history)
        step = run.step
        if window or not history["step"] or history["step"][-1] != step:
            record(window)
        final = history["valid_loss"][-1]
        metrics = dict(
            config=asdict(cfg),
            corpus=desc,
            corpus_chars=int(len(train_ids) + len(valid_ids)),
            vocab_size=len(vocab),
            **run.metrics(),
            wall_seconds=round(time.perf_counter() - wall0, 2),
            run=dict(
                steps=step - start["step"],
                train_seconds=round(run.timer.seconds - start["train"], 2),
                eval_seconds=round(run.eval_timer.seconds - start["eval"], 2),
            ),
            valid_nats=round(final, 4),
            valid_bpc=round(final / LN2, 4),
            best_step=best[1],
            best_valid_bpc=round(best[0] / LN2, 4),
            kept_step=best[1] if cfg.keep_best else step,
            interrupted=run.stop,
            history=history,
        )
        if plot_to:  # after the final checkpoint (written by record above)
            title = (
                f"{desc[:70]}\n{cfg.cell.upper()} {cfg.layers}x{cfg.hidden}, embedding {cfg.embed}, "
                f"seq {cfg.seq_len}, batch {cfg.batch}, {cfg.optimizer} {cfg.lr:g}"
            )
            plot(plot_to, history, title)
        metrics.update(run.metrics(), wall_seconds=round(time.perf_counter() - wall0, 2))
        return model, vocab, metrics
