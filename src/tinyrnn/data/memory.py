"""The long-range memory tasks of the LSTM papers, generated from a numpy Generator.

- ``adding_le``: Le, Jaitly & Hinton 2015 (also Arjovsky, Shah & Bengio 2016).
- ``adding_hochreiter``: Hochreiter & Schmidhuber 1997, experiment 4 (variable lengths).
- ``copy_memory``: Arjovsky, Shah & Bengio 2016.
- ``temporal_order``: Hochreiter & Schmidhuber 1997, experiment 6a (variable lengths).

Every generator returns a ``Batch``: inputs ``x`` (T, B, I) float, targets ``y``, and
``lengths`` (B,) ints (None when every sequence has length T). Positions are 0-based.

Each task is an object (``make_task(name, T, variant)``, like ``data.seq2seq``'s tasks): its
batches, sizes, loss, held-out metrics, success criterion and ``baseline``, the loss of the best
input-blind answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._check import choice
from ..errors import InputError
from ..functional import softmax
from ..losses import cross_entropy, mse_loss

ADDING_VARIANTS = ("le", "hochreiter")
TASKS = ("adding", "copy", "order")
COPY_SYMBOLS = 8  # categories a1..a8, coded 1..8
COPY_LENGTH = 10  # symbols to remember
COPY_BLANK, COPY_DELIM = 0, 9  # the copy task's 10 input/output classes: blank, a1..a8, delimiter
ORDER_SYMBOLS = "abcdXYBE"  # distractors a-d, the two marked symbols X/Y, begin/end markers
HOCHREITER_TOLERANCE = 0.04  # adding: a sequence is processed correctly when |error| < 0.04
ORDER_TOLERANCE = 0.3  # order: classified correctly when every output's final error < 0.3


@dataclass
class Batch:
    x: np.ndarray  # (T, B, I)
    y: np.ndarray  # adding (B, 1) float; copy (T, B) int; order (B,) int
    lengths: np.ndarray | None  # (B,) ints, or None when all are T


def adding_le(rng: np.random.Generator, T: int, batch: int, dtype=np.float32) -> Batch:
    """Two channels of T steps: values U[0, 1) and a marker that is 1 at exactly two steps, one
    in each half (the second half starts at T//2). Target: the sum of the two marked values.
    Predicting 1 (the mean of the sum) gives MSE = Var(U1 + U2) = 2/12 = 1/6 (the baseline)."""
    x = np.zeros((T, batch, 2), dtype)
    x[:, :, 0] = rng.random((T, batch))
    half = T // 2
    first = rng.integers(0, half, batch)
    second = rng.integers(half, T, batch)
    cols = np.arange(batch)
    x[first, cols, 1] = 1
    x[second, cols, 1] = 1
    y = (x[first, cols, 0] + x[second, cols, 0])[:, None]
    return Batch(x, y.astype(dtype), None)


def adding_hochreiter(rng: np.random.Generator, T: int, batch: int, dtype=np.float32) -> Batch:
    """Hochreiter & Schmidhuber 1997, experiment 4, as the paper states it.

    Lengths uniform in [T, T + T//10]. Values U[-1, 1]. Markers: +1 at one of the first 10
    steps (X1), then +1 at one of "the first T/2 - 1 still unmarked" steps (X2), read as the
    first T//2 - 1 steps that are not X1's: steps 0 .. T//2 - 1 without X1's, T//2 - 1 of them;
    -1 at the first and the last step of each sequence unless marked there; 0 elsewhere (and
    past a sequence's end). X1 is set to 0 when it is at step 0 (the paper's rule names X1
    only; an X2 at step 0 keeps its value). Target 0.5 + (X1 + X2) / 4, in [0, 1]."""
    lengths = rng.integers(T, T + T // 10 + 1, batch)
    steps = int(lengths.max())
    x = np.zeros((steps, batch, 2), dtype)
    live = np.arange(steps)[:, None] < lengths[None, :]  # (steps, B)
    x[:, :, 0] = rng.uniform(-1.0, 1.0, (steps, batch)) * live
    cols = np.arange(batch)
    x[0, :, 1] = -1
    x[lengths - 1, cols, 1] = -1
    first = rng.integers(0, 10, batch)
    second = rng.integers(0, T // 2 - 1, batch)  # the first T/2 - 1 unmarked steps
    second += second >= first  # skip X1's step
    for m in (first, second):
        x[m, cols, 1] = 1
    x[0, :, 0] = np.where(first == 0, 0, x[0, :, 0])  # X1 at step 0 is set to 0
    y = 0.5 + (x[first, cols, 0] + x[second, cols, 0]) / 4
    return Batch(x, y[:, None].astype(dtype), lengths)


def copy_memory(rng: np.random.Generator, T: int, batch: int, dtype=np.float32) -> Batch:
    """Arjovsky, Shah & Bengio 2016: T + 20 steps of one-hot classes (0 blank, 1-8 symbols,
    9 delimiter). Input: 10 symbols, T - 1 blanks, the delimiter, 10 blanks. Target: T + 10
    blanks, then the 10 symbols. y (T + 20, B) class indices."""
    L = T + 2 * COPY_LENGTH
    symbols = rng.integers(1, COPY_SYMBOLS + 1, (COPY_LENGTH, batch))
    inp = np.full((L, batch), COPY_BLANK)
    inp[:COPY_LENGTH] = symbols
    inp[T + COPY_LENGTH - 1] = COPY_DELIM
    y = np.full((L, batch), COPY_BLANK)
    y[T + COPY_LENGTH :] = symbols
    x = np.eye(COPY_SYMBOLS + 2, dtype=dtype)[inp]  # (L, B, 10)
    return Batch(x, y, None)


def order_positions(T: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Ranges (inclusive) of the two marked steps: [T/10, T/5] and [T/2, 3T/5]; for T = 100
    the paper's t1 in [10, 20] and t2 in [50, 60]."""
    return (T // 10, T // 5), (T // 2, 3 * T // 5)


def temporal_order(rng: np.random.Generator, T: int, batch: int, dtype=np.float32) -> Batch:
    """Hochreiter & Schmidhuber 1997, experiment 6a. Lengths uniform in [T, T + T//10] (100-110
    for T = 100); one-hot over "abcdXYBE": E first, B (the trigger symbol) last, distractors a-d
    elsewhere except X or Y at t1 and t2 (``order_positions``). Class = 2 * [first is Y] +
    [second is Y]: XX 0, XY 1, YX 2, YY 3 (the paper's Q, R, S, U). Steps past a sequence's end
    are zero vectors."""
    lengths = rng.integers(T, T + T // 10 + 1, batch)
    steps = int(lengths.max())
    cols = np.arange(batch)
    sym = rng.integers(0, 4, (steps, batch))  # distractors a-d
    (lo1, hi1), (lo2, hi2) = order_positions(T)
    t1, t2 = rng.integers(lo1, hi1 + 1, batch), rng.integers(lo2, hi2 + 1, batch)
    first_y, second_y = rng.integers(0, 2, batch), rng.integers(0, 2, batch)
    sym[t1, cols] = 4 + first_y  # X = 4, Y = 5
    sym[t2, cols] = 4 + second_y
    sym[0] = 7  # E first
    sym[lengths - 1, cols] = 6  # B, the trigger, last
    x = np.eye(len(ORDER_SYMBOLS), dtype=dtype)[sym]
    x *= (np.arange(steps)[:, None] < lengths[None, :])[:, :, None]
    return Batch(x, 2 * first_y + second_y, lengths)


def order_correct(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(B,) bool: the 1997 criterion for temporal order, "the final error of all output units
    below 0.3", read on the model's outputs softmax(logits) (B, 4) against the one-hot target."""
    err = np.abs(softmax(logits) - np.eye(logits.shape[-1])[y])
    return err.max(axis=-1) < ORDER_TOLERANCE


# ---------------------------------------------------------------- the tasks as objects
class MemoryTask:
    """One long-range memory task at sequence length ``T``: its batches, input and output sizes,
    training loss, held-out metrics, success criterion and baseline. ``every_step``: the model
    answers at every step (copy), else at each sequence's last step. ``score``: the metric the
    learning curve follows."""

    name = ""
    inputs = outputs = 0
    every_step = False
    score = "test_ce"
    min_T = 1

    @classmethod
    def lowest_T(cls, variant: str = "le") -> int:
        """The smallest T the task is defined for."""
        return cls.min_T

    def __init__(self, T: int):
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < self.min_T:
            raise InputError(f"T must be an integer >= {self.min_T} for {self.label}, got {T}")
        self.T = int(T)

    @property
    def label(self) -> str:
        return self.name

    def batch(self, rng: np.random.Generator, n: int, dtype=np.float32) -> Batch:  # pragma: no cover - abstract
        raise NotImplementedError

    def max_length(self) -> int:
        """Steps of the longest sequence: T + T//10 for the variable-length tasks."""
        return self.T + self.T // 10

    def loss(self, y, batch: Batch):
        """The training loss and its gradient with respect to the model output ``y``."""
        return cross_entropy(y, batch.y)

    def metrics(self, y, test: Batch) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def solved(self, m: dict) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def headline(self, m: dict) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def baseline(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class AddingTask(MemoryTask):
    """The adding problem: ``variant`` "le" (Le et al. 2015, fixed length T) or "hochreiter"
    (1997, lengths T to T + T//10). Loss MSE; solved when 99 % of the test sequences are within
    0.04."""

    name, inputs, outputs, score = "adding", 2, 1, "test_mse"

    @classmethod
    def lowest_T(cls, variant: str = "le") -> int:
        return 24 if variant == "hochreiter" else 2

    def __init__(self, T: int, variant: str = "le"):
        self.variant = choice("variant", variant, ADDING_VARIANTS)
        self.min_T = self.lowest_T(variant)
        super().__init__(T)

    @property
    def label(self) -> str:
        return f"adding variant={self.variant}"

    def batch(self, rng, n, dtype=np.float32):
        return (adding_hochreiter if self.variant == "hochreiter" else adding_le)(rng, self.T, n, dtype)

    def max_length(self) -> int:
        return self.T + self.T // 10 if self.variant == "hochreiter" else self.T

    def loss(self, y, batch):
        return mse_loss(y, batch.y)

    def metrics(self, y, test):
        err = np.abs(y[:, 0] - test.y[:, 0])
        return dict(test_mse=float(np.mean(err**2)), solved_fraction=float(np.mean(err < HOCHREITER_TOLERANCE)))

    def solved(self, m):
        return m["solved_fraction"] >= 0.99

    def headline(self, m):
        return f"test MSE {m['test_mse']:.5f}, solved {100 * m['solved_fraction']:.1f}%"

    @property
    def baseline(self):
        """MSE of always answering the mean. le: always 1, Var(U1 + U2) = 1/6. hochreiter: always
        0.5, (E[X1^2] + E[X2^2]) / 16 with E[X^2] = 1/3, except that X1 is 0 with probability
        1/10 (marked at step 0): (0.9 / 3 + 1 / 3) / 16 = 0.0395833."""
        if self.variant == "hochreiter":
            return (0.9 / 3 + 1 / 3) / 16
        return 1.0 / 6.0


class CopyTask(MemoryTask):
    """The copy-memory task: T + 20 steps, cross-entropy at every step; solved below 10 % of the
    baseline cross-entropy."""

    name, inputs, outputs, every_step = "copy", COPY_SYMBOLS + 2, COPY_SYMBOLS + 2, True

    def batch(self, rng, n, dtype=np.float32):
        return copy_memory(rng, self.T, n, dtype)

    def max_length(self) -> int:
        return self.T + 2 * COPY_LENGTH

    def metrics(self, y, test):
        ce, _ = cross_entropy(y, test.y)
        recall = slice(self.T + COPY_LENGTH, None)
        right = y[recall].argmax(-1) == test.y[recall]
        return dict(test_ce=float(ce), recall_accuracy=float(right.mean()))

    def solved(self, m):
        return m["test_ce"] < 0.1 * self.baseline

    def headline(self, m):
        return f"test CE {m['test_ce']:.5f}, recall {100 * m['recall_accuracy']:.1f}%"

    @property
    def baseline(self):
        """Blanks, then uniform guesses over the 8 symbols: 10 ln 8 / (T + 20) per step."""
        return COPY_LENGTH * math.log(COPY_SYMBOLS) / (self.T + 2 * COPY_LENGTH)


class OrderTask(MemoryTask):
    """Temporal order: four classes at the last step; solved at 99 % test accuracy.
    ``solved_fraction``, the share of sequences with every output within 0.3 of its target (the
    1997 criterion), is reported beside it."""

    name, inputs, outputs, min_T = "order", len(ORDER_SYMBOLS), 4, 10

    def batch(self, rng, n, dtype=np.float32):
        return temporal_order(rng, self.T, n, dtype)

    def metrics(self, y, test):
        ce, _ = cross_entropy(y, test.y)
        return dict(
            test_ce=float(ce),
            test_accuracy=float(np.mean(y.argmax(-1) == test.y)),
            solved_fraction=float(np.mean(order_correct(y, test.y))),
        )

    def solved(self, m):
        return m["test_accuracy"] >= 0.99

    def headline(self, m):
        return (
            f"test accuracy {100 * m['test_accuracy']:.1f}%, all outputs within 0.3 {100 * m['solved_fraction']:.1f}%"
        )

    @property
    def baseline(self):
        """Uniform guesses over the 4 classes: ln 4."""
        return math.log(4)


TASK_CLASSES = {"adding": AddingTask, "copy": CopyTask, "order": OrderTask}


def make_task(name: str, T: int, variant: str = "le") -> MemoryTask:
    """The task called ``name`` at length ``T`` (``variant`` matters for adding only)."""
    cls = TASK_CLASSES[choice("task", name, TASKS)]
    return cls(T, variant) if cls is AddingTask else cls(T)


def baseline(task: str, T: int, variant: str = "le") -> float:
    """The loss of the best answer that ignores the input, the level a model must beat."""
    return make_task(task, T, variant).baseline
