"""Learning-rate schedules and early stopping: small objects a training loop asks each step.

A schedule answers ``lr_at(step)`` for step 0, 1, ... (the loop sets ``optimizer.lr`` from it
before each update); :class:`EarlyStopping` is told each evaluation and says when to stop and
which evaluation was the best (the loop keeps that one's weights).
"""

from __future__ import annotations

import math

from ._check import nonneg_float, positive_int

__all__ = ["ConstantLR", "CosineLR", "EarlyStopping"]


class ConstantLR:
    """The same learning rate at every step."""

    def __init__(self, lr: float):
        self.lr = nonneg_float("lr", lr)

    def lr_at(self, step: int) -> float:
        return self.lr

    def __repr__(self):
        return f"ConstantLR(lr={self.lr:g})"


class CosineLR:
    """Linear warm-up over ``warmup`` steps from 0 to ``lr``, then half a cosine from ``lr`` down
    to ``min_lr`` at step ``total_steps`` (and ``min_lr`` after it)."""

    def __init__(self, lr: float, total_steps: int, warmup: int = 0, min_lr: float = 0.0):
        self.lr = nonneg_float("lr", lr)
        self.total_steps = positive_int("total_steps", total_steps)
        self.warmup = positive_int("warmup", warmup, allow_zero=True)
        if self.warmup >= self.total_steps:
            raise ValueError(f"warmup must be smaller than total_steps={total_steps}, got {warmup}")
        self.min_lr = nonneg_float("min_lr", min_lr)
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr must be at most lr={lr:g}, got {min_lr:g}")

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        done = min(1.0, (step - self.warmup) / (self.total_steps - self.warmup))
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * done))

    def __repr__(self):
        return (f"CosineLR(lr={self.lr:g}, total_steps={self.total_steps}, warmup={self.warmup}, "
                f"min_lr={self.min_lr:g})")


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
        self.best_index = -1          # which update() was the best (0-based)
        self.count = 0                # update() calls so far
        self.bad = 0                  # updates since the best

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
