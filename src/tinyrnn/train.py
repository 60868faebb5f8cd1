"""The skeleton every training command shares; the loop body stays in each command.

- Learning-rate schedules as objects: ``ConstantLR`` and ``CosineLR`` from :mod:`tinyrnn.schedule`
  (re-exported here), each with ``lr_at(step, seconds)``, over a plan of ``steps`` steps or
  ``time_budget`` seconds of training; ``lr_schedule`` picks one from a run's flags.
- :class:`Run`: the parts of a run around the body: the plan (steps or seconds), three timers
  (training, evaluation, saving), SIGINT/SIGTERM caught between steps, the progress bar on a
  terminal or a plain progress line at a steady interval elsewhere (a log file), the divergence
  guard's ceiling, and the metrics every command reports under the same names (``steps``,
  ``train_seconds``, ``eval_seconds``, ``save_seconds``, ``signal``, ``exit_code``).
- The divergence guard around an optimizer step (``guarded_step``) and the ceiling of a
  cross-entropy (``ce_ceiling``); SIGINT/SIGTERM handling is :mod:`tinyrnn.signals`.

A loop reads::

    with Run(plan, emit, save=write_checkpoint, ...) as run:
        for step in run.steps():
            opt.lr = schedule.lr_at(step - 1, run.timer.seconds)
            with run.training(step):
                loss = ...one step...
            run.log(loss)
            if step % eval_every == 0:
                with run.evaluating():
                    ...
                if run.checkpoint_due():
                    run.save_now()
        ...final evaluation, run.save_now(), the plot: all inside the signal guard, the save first
        metrics = dict(..., **run.metrics())

A first SIGINT/SIGTERM stops the loop between steps; a second one stops at once, except that a
training step or a save under way finishes first, and the run as it is then is saved.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import contextmanager

import numpy as np

from .errors import Diverged, NonFiniteError
from .schedule import ConstantLR, CosineLR, lr_schedule
from .signals import Interrupted, StopFlag, training
from .threads import ThreadChoice

__all__ = [
    "ConstantLR",
    "CosineLR",
    "lr_schedule",
    "Plan",
    "Run",
    "Timer",
    "ce_ceiling",
    "guarded_step",
    "PROGRESS_SECONDS",
    "CHECKPOINT_SECONDS",
]

PROGRESS_SECONDS = 30.0  # the plain progress line's interval when stdout is not a terminal
CHECKPOINT_SECONDS = 60.0  # periodic checkpoints: at an evaluation, at most this often (each one fsyncs)
UNSAVED = "Note: no --save, so the trained model will not be kept"
BAR_DELAY = 1.0  # seconds before a progress bar appears (so short loops show none)


def progress(iterable, total: int, enabled: bool, desc: str = ""):
    """A tqdm bar that appears only on loops longer than a second, only on a terminal."""
    if not enabled or not sys.stdout.isatty():
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total or None, desc=desc, delay=BAR_DELAY, leave=False, dynamic_ncols=True)


def through(bar, emit):
    """``emit`` routed around the progress bar (cleared, the line printed, redrawn), so no printed
    line is ever broken by the bar."""
    if not hasattr(bar, "external_write_mode"):
        return emit

    def write(line):
        with bar.external_write_mode():
            emit(line)

    return write


def close(bar) -> None:
    """Remove the bar before the final report (a loop left by ``break`` does not close it)."""
    if hasattr(bar, "close"):
        bar.close()


class Timer:
    """Accumulates the seconds spent inside ``with timer:`` blocks."""

    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._t0
        return False


def check_finite(
    step: int,
    loss: float,
    norm: float = 0.0,
    lr: float | None = None,
    clip: float | None = None,
    ceiling: float = math.inf,
) -> None:
    """The divergence guard, the one test of every training loop: raise Diverged when the loss
    (or an evaluation) or the gradient norm is not finite, or the loss is above ``ceiling`` (for
    a cross-entropy, 10 times that of a uniform guess: no model that still learns gets there).
    ``lr`` and ``clip`` go into the message (what to change)."""
    if not (math.isfinite(loss) and math.isfinite(norm)) or loss > ceiling:
        raise Diverged(step, loss, lr, clip)


def ce_ceiling(vocab_size: int) -> float:
    """The divergence ceiling of a cross-entropy over ``vocab_size`` classes (nats)."""
    return 10.0 * math.log(max(vocab_size, 2))


def params_finite(model) -> bool:
    """Every parameter finite (a float64 sum of finite float32 values cannot overflow)."""
    return all(math.isfinite(float(p.data.sum(dtype=np.float64))) for p in model.parameters())


def guarded_step(
    opt, model, step: int, loss: float, norm: float, lr: float, clip: float | None = None, ceiling: float = math.inf
) -> None:
    """The divergence guard around an optimizer step: refuse a non-finite loss or gradient
    before the update, and weights that the update made non-finite after it."""
    check_finite(step, loss, norm, lr, clip, ceiling)
    opt.step()
    if not params_finite(model):
        raise Diverged(step, loss, lr, clip)


class Plan:
    """How long a run trains: ``steps`` steps, or ``time_budget`` seconds of training when that
    is set (evaluation and saving not counted)."""

    def __init__(self, steps: int = 0, time_budget: float = 0.0):
        self.steps, self.time_budget = steps or 0, time_budget or 0.0

    def finished(self, step: int, seconds: float) -> bool:
        """After ``step`` steps and ``seconds`` of training: is the plan done?"""
        return seconds >= self.time_budget if self.time_budget else step >= self.steps

    def left(self, step: int, seconds: float, rate: float) -> float:
        """Seconds of training left at ``rate`` steps per second."""
        if self.time_budget:
            return max(self.time_budget - seconds, 0.0)
        return max(self.steps - step, 0) / rate if rate > 0 else math.inf


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Run:
    """The frame of one training run (see the module's docstring). ``start`` steps and the
    timers' ``train_seconds`` / ``eval_seconds`` continue a resumed run. ``ceiling``: the
    divergence guard's bound on a loss (for a cross-entropy, ``ce_ceiling``).
    ``save()`` writes the run's checkpoint (``save_now``); after a second signal the run as it
    is then is saved, unless ``save_on_interrupt`` is False (keep-best: the file holds the best
    step and stays). Periodic checkpoints come at most every ``checkpoint_seconds``.
    ``threads``: the BLAS thread count of the run (``tinyrnn.threads.ThreadChoice``: a number or
    ``"auto"``), applied from the start of the ``with`` block to its end and reported through
    ``emit`` and ``metrics()``; None leaves the count alone (what a library caller gets).
    ``note_unsaved``: at a terminal, a run without ``save`` says that the model will not be kept
    (False for a command that has no --save)."""

    def __init__(
        self,
        plan: Plan,
        emit=lambda line: None,
        *,
        quiet: bool = False,
        desc: str = "",
        lr: float = 0.0,
        clip: float | None = None,
        ceiling: float = math.inf,
        start: int = 0,
        train_seconds: float = 0.0,
        eval_seconds: float = 0.0,
        progress_seconds: float | None = None,
        save=None,
        save_on_interrupt: bool = True,
        checkpoint_seconds: float | None = None,
        threads: int | str | None = None,
        note_unsaved: bool = True,
    ):
        self.plan, self.quiet, self.desc = plan, quiet, desc
        self.lr, self.clip, self.ceiling = lr, clip, ceiling
        self.step = self.start = start
        self.timer, self.eval_timer, self.save_timer = Timer(), Timer(), Timer()
        self.timer.seconds, self.eval_timer.seconds = train_seconds, eval_seconds
        self._emit = emit
        self.say = emit
        self.flag: StopFlag | None = None
        self._bar = None
        self._every = PROGRESS_SECONDS if progress_seconds is None else progress_seconds
        self._loss = math.nan
        self._last = None  # (wall time, step) of the last plain progress line
        self._save = save or None  # save(): write the checkpoint of the run as it is now
        self._saved_step = None
        self._save_on_interrupt = save_on_interrupt  # False with keep-best: the file holds the best step
        self._checkpoint_every = CHECKPOINT_SECONDS if checkpoint_seconds is None else checkpoint_seconds
        self._last_checkpoint = time.perf_counter()
        self._step_context = _Step(self)
        self._thread_setting = threads
        self._note_unsaved = note_unsaved
        self.threads: ThreadChoice | None = None

    # ---------------------------------------------------------------- the frame
    def __enter__(self) -> Run:
        if self._thread_setting is not None:
            self.threads = ThreadChoice(self._thread_setting, self._emit).__enter__()
        self._training = training()
        self.flag = self._training.__enter__()
        if self._save is None and self._note_unsaved and not self.quiet and _is_terminal(sys.stderr):
            print(UNSAVED, file=sys.stderr)  # at a terminal: a long run would be lost without a word
        return self

    def __exit__(self, kind, e, tb):
        close(self._bar)
        self.say = self._emit
        try:
            if (
                kind is not None
                and issubclass(kind, Interrupted)
                and self._save_on_interrupt
                and self._saved_step != self.step
            ):
                self.save_now()  # a second signal outside a step: the weights are whole; keep them
        finally:
            self._training.__exit__(kind, e, tb)
            if self.threads is not None:
                self.threads.__exit__(kind, e, tb)
        return False

    @property
    def stop(self) -> bool:
        """A signal asked the run to stop (between steps)."""
        return self.flag is not None and self.flag.stop

    def steps(self):
        """Step numbers from ``start + 1`` until the plan is done or a signal stops the run;
        ``self.step`` is the step under way, then the last one done. Draws the bar (terminal)
        or prints the plain progress line at a steady interval (elsewhere: a log file)."""
        total = 0 if self.plan.time_budget else max(self.plan.steps - self.start, 0)
        self._bar = bar = progress(iter(int, 1), total, not self.quiet, self.desc)
        self.say = through(bar, self._emit)
        plain = not self.quiet and not hasattr(bar, "update") and not _is_terminal()
        self._last = (time.perf_counter(), self.step)
        try:
            for _ in bar:
                if plain and self.step > self.start:
                    self._progress_line()
                if self.stop or self.plan.finished(self.step, self.timer.seconds):
                    break
                self.step += 1
                yield self.step
        finally:
            close(bar)
            self.say = self._emit

    def training(self, step: int) -> _Step:
        """The context of one training step: timed as training; a second signal waits for its
        end; a layer refusing non-finite activations means the run diverged (Diverged)."""
        self._step_context.step = step
        return self._step_context

    def evaluating(self):
        return self.eval_timer

    @contextmanager
    def saving(self):
        """The context of a save: timed as saving; a second signal waits for its end."""
        with self.flag.held(), self.save_timer:
            yield

    def checkpoint_due(self) -> bool:
        """At an evaluation: is a periodic checkpoint due (at most every CHECKPOINT_SECONDS)?"""
        now = time.perf_counter()
        if now - self._last_checkpoint < self._checkpoint_every:
            return False
        self._last_checkpoint = now
        return True

    def save_now(self, *args) -> None:
        """Write the checkpoint: ``save(*args)``, the ``save`` given to the Run (if any)."""
        if self._save is not None:
            with self.saving():
                self._save(*args)
            self._saved_step = self.step

    def log(self, loss: float) -> None:
        """The training loss of the step just done (for the progress line)."""
        self._loss = float(loss)

    def check(self, value: float, step: int | None = None, norm: float = 0.0) -> None:
        """The divergence guard (``check_finite``) on a loss or an evaluation, and on the gradient
        norm when given: non-finite, or above the run's ceiling."""
        check_finite(self.step if step is None else step, value, norm, self.lr, self.clip, self.ceiling)

    def _progress_line(self) -> None:
        now = time.perf_counter()
        t0, s0 = self._last
        if now - t0 < self._every:
            return
        rate = (self.step - s0) / (now - t0)
        left = self.plan.left(self.step, self.timer.seconds, rate)
        of = f"/{self.plan.steps}" if not self.plan.time_budget else ""
        self._emit(f"{self.desc}: step {self.step}{of}, loss {self._loss:.4g}, {rate:.3g} steps/s, {_clock(left)} left")
        sys.stdout.flush()
        self._last = (now, self.step)

    def metrics(self) -> dict:
        """The run's part of the metrics, under the names every command uses."""
        flag = self.flag
        threads = self.threads.summary() if self.threads is not None else {}
        return dict(
            **threads,
            steps=self.step,
            train_seconds=round(self.timer.seconds, 4),
            eval_seconds=round(self.eval_timer.seconds, 4),
            save_seconds=round(self.save_timer.seconds, 4),
            signal=flag.signum and flag.name,
            exit_code=flag.exit_code,
        )


def _is_terminal(stream=None) -> bool:
    try:
        return (stream or sys.stdout).isatty()
    except (AttributeError, ValueError):
        return False


class _Step:
    """``Run.training(step)``: one object reused at every step (a step can take 100 us)."""

    def __init__(self, run: Run):
        self.run, self.step = run, 0

    def __enter__(self):
        self.run.flag._held += 1
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, kind, e, tb):
        run = self.run
        seconds = time.perf_counter() - self._t0
        run.timer.seconds += seconds
        if run.threads is not None and run.threads.probing:
            run.threads.step_done(seconds)
        run.flag._held -= 1
        if kind is not None and issubclass(kind, NonFiniteError):  # weights grew until a product overflowed
            raise Diverged(self.step, math.nan, run.lr, run.clip) from e
        if kind is None and run.flag._pending is not None and not run.flag._held:
            run.flag.signum, run.flag._pending = run.flag._pending, None
            raise Interrupted(run.flag.signum)
        return False
