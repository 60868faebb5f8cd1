"""Learning-rate schedules and early stopping: small objects a training loop asks each step.

A schedule answers ``lr_at(step, seconds)``: ``step`` is the number of steps done before the one
the rate is for (0 for the first), ``seconds`` the training time so far (the loop sets
``optimizer.lr`` from it before each update). :func:`lr_schedule` picks the schedule of a run
from its flags. :class:`EarlyStopping` is told each evaluation and says when to stop and which
evaluation was the best (the loop keeps that one's weights).
"""

from __future__ import annotations

import math

from ._check import nonneg_float, positive_int, probability
from .errors import InputError

__all__ = ["ConstantLR", "CosineLR", "EarlyStopping", "lr_schedule"]


class ConstantLR:
    """The same learning rate at every step."""

    def __init__(self, lr: float):
        self.lr = nonneg_float("lr", lr)

    def lr_at(self, step: int, seconds: float = 0.0) -> float:
        return self.lr

    def __repr__(self):
        return f"ConstantLR(lr={self.lr:g})"


class CosineLR:
    """Half a cosine from ``lr`` down to ``floor * lr`` over the plan: ``steps`` steps, or
    ``time_budget`` seconds of training when that is set; ``floor * lr`` after it. With
    ``warmup``, the first ``warmup`` steps rise linearly from ``lr / warmup`` to ``lr`` and the
    cosine spans the steps after them. A resumed run's plan is its whole plan, so the decay goes
    on where it stopped."""

    def __init__(self, lr: float, steps: int = 0, time_budget: float = 0.0, floor: float = 0.05, warmup: int = 0):
        self.lr = nonneg_float("lr", lr)
        self.steps = positive_int("steps", steps or 0, allow_zero=True)
        self.time_budget = nonneg_float("time_budget", time_budget or 0.0)
        self.floor = probability("floor", floor)
        self.warmup = positive_int("warmup", warmup, allow_zero=True)
        if self.warmup and not self.time_budget and self.warmup >= self.steps:
            raise InputError(f"warmup must be smaller than steps={steps}, got {warmup}")

    def done(self, step: int, seconds: float = 0.0) -> float:
        """The fraction of the plan's cosine part done, 0 to 1."""
        if self.time_budget:
            return min(1.0, seconds / self.time_budget)
        return min(1.0, (step - self.warmup) / max(self.steps - self.warmup, 1))

    def lr_at(self, step: int, seconds: float = 0.0) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.lr * (self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * self.done(step, seconds))))

    def __repr__(self):
        plan = f"time_budget={self.time_budget:g}" if self.time_budget else f"steps={self.steps}"
        return f"CosineLR(lr={self.lr:g}, {plan}, floor={self.floor:g}, warmup={self.warmup})"


def lr_schedule(lr: float, decay: bool, steps: int = 0, time_budget: float = 0.0):
    """The schedule of a run: CosineLR (to 5% of ``lr``) when ``decay``, else ConstantLR."""
    return CosineLR(lr, steps, time_budget) if decay else ConstantLR(lr)


class EarlyStopping:
    """Stop after ``patience`` evaluations without improvement; remember the best one.

    ``update(value)`` returns True when ``value`` is the best so far (``mode="min"``: lowest;
    ``"max"``: highest; an improvement must beat the best by more than ``min_delta``).
    ``should_stop`` is True once ``patience`` evaluations in a row did not improve
    (``patience=0``: never stop early, only remember the best).
    """

    def __init__(self, patience: int, mode: str = "min", min_delta: float = 0.0):
        self.patience = positive_int("patience", patience, allow_zero=True)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.min_delta = nonneg_float("min_delta", min_delta)
        self.best: float | None = None
        self.best_index = -1  # which update() was the best (0-based)
        self.count = 0  # update() calls so far
        self.bad = 0  # updates since the best

    def update(self, value: float) -> bool:
        value = float(value)
        sign = 1.0 if self.mode == "min" else -1.0
        improved = self.best is None or sign * (self.best - value) > self.min_delta
        if improved:
            self.best, self.best_index, self.bad = value, self.count, 0
        else:
            self.bad += 1
        self.count += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad >= self.patience
