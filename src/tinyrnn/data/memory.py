"""The long-range memory tasks of the LSTM papers, generated from a numpy Generator.

- ``adding_le``: Le, Jaitly & Hinton 2015 (also Arjovsky, Shah & Bengio 2016).
- ``adding_hochreiter``: Hochreiter & Schmidhuber 1997, experiment 4 (variable lengths).
- ``copy_memory``: Arjovsky, Shah & Bengio 2016.
- ``temporal_order``: Hochreiter & Schmidhuber 1997, experiment 6a (variable lengths).

Every generator returns a ``Batch``: inputs ``x`` (T, B, I) float, targets ``y``, and
``lengths`` (B,) ints (None when every sequence has length T). Positions are 0-based.
``baseline(task, T, variant)`` is the loss of the best input-blind answer (see each function).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..functional import softmax

ADDING_VARIANTS = ("le", "hochreiter")
TASKS = ("adding", "copy", "order")
COPY_SYMBOLS = 8                 # categories a1..a8, coded 1..8
COPY_LENGTH = 10                 # symbols to remember
COPY_BLANK, COPY_DELIM = 0, 9    # the copy task's 10 input/output classes: blank, a1..a8, delimiter
ORDER_SYMBOLS = "abcdXYBE"       # distractors a-d, the two marked symbols X/Y, begin/end markers
HOCHREITER_TOLERANCE = 0.04      # adding: a sequence is processed correctly when |error| < 0.04
ORDER_TOLERANCE = 0.3            # order: classified correctly when every output's final error < 0.3


@dataclass
class Batch:
    x: np.ndarray                    # (T, B, I)
    y: np.ndarray                    # adding (B, 1) float; copy (T, B) int; order (B,) int
    lengths: np.ndarray | None       # (B,) ints, or None when all are T


def min_T(task: str, variant: str = "le") -> int:
    """The smallest T each task is defined for."""
    if task == "adding":
        return 24 if variant == "hochreiter" else 2
    return 10 if task == "order" else 1


def max_length(task: str, T: int) -> int:
    """Steps of the longest sequence: T + T//10 for the variable-length tasks, T + 20 for copy."""
    return T + 20 if task == "copy" else T + T // 10


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
    live = np.arange(steps)[:, None] < lengths[None, :]              # (steps, B)
    x[:, :, 0] = rng.uniform(-1.0, 1.0, (steps, batch)) * live
    cols = np.arange(batch)
    x[0, :, 1] = -1
    x[lengths - 1, cols, 1] = -1
    first = rng.integers(0, 10, batch)
    second = rng.integers(0, T // 2 - 1, batch)                       # the first T/2 - 1 unmarked steps
    second += second >= first                                          # skip X1's step
    for m in (first, second):
        x[m, cols, 1] = 1
    x[0, :, 0] = np.where(first == 0, 0, x[0, :, 0])                   # X1 at step 0 is set to 0
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
    y[T + COPY_LENGTH:] = symbols
    x = np.eye(COPY_SYMBOLS + 2, dtype=dtype)[inp]                    # (L, B, 10)
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
    sym = rng.integers(0, 4, (steps, batch))                           # distractors a-d
    (lo1, hi1), (lo2, hi2) = order_positions(T)
    t1, t2 = rng.integers(lo1, hi1 + 1, batch), rng.integers(lo2, hi2 + 1, batch)
    first_y, second_y = rng.integers(0, 2, batch), rng.integers(0, 2, batch)
    sym[t1, cols] = 4 + first_y                                        # X = 4, Y = 5
    sym[t2, cols] = 4 + second_y
    sym[0] = 7                                                         # E first
    sym[lengths - 1, cols] = 6                                         # B, the trigger, last
    x = np.eye(len(ORDER_SYMBOLS), dtype=dtype)[sym]
    x *= (np.arange(steps)[:, None] < lengths[None, :])[:, :, None]
    return Batch(x, 2 * first_y + second_y, lengths)


def order_correct(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(B,) bool: the 1997 criterion for temporal order, "the final error of all output units
    below 0.3", read on the model's outputs softmax(logits) (B, 4) against the one-hot target."""
    err = np.abs(softmax(logits) - np.eye(logits.shape[-1])[y])
    return err.max(axis=-1) < ORDER_TOLERANCE


def generate(task: str, variant: str, rng: np.random.Generator, T: int, batch: int, dtype=np.float32) -> Batch:
    """One batch of ``task`` (``variant`` matters for adding only)."""
    if task == "adding":
        make = adding_hochreiter if variant == "hochreiter" else adding_le
    else:
        make = copy_memory if task == "copy" else temporal_order
    return make(rng, T, batch, dtype)


def io_sizes(task: str) -> tuple[int, int]:
    """(input features, output features) of each task."""
    return {"adding": (2, 1), "copy": (COPY_SYMBOLS + 2, COPY_SYMBOLS + 2),
            "order": (len(ORDER_SYMBOLS), 4)}[task]


def baseline(task: str, T: int, variant: str = "le") -> float:
    """The loss of the best answer that ignores the input, the level a model must beat.

    adding/le: MSE of always answering 1 = Var(U1 + U2) = 1/6.
    adding/hochreiter: MSE of always answering 0.5 = (E[X1^2] + E[X2^2]) / 16 with E[X^2] = 1/3,
    except that X1 is 0 with probability 1/10 (at step 0): (0.9 / 3 + 1 / 3) / 16 = 0.0395833.
    copy: cross-entropy per step of blanks then uniform guesses = 10 ln 8 / (T + 20).
    order: cross-entropy of uniform guesses over the 4 classes = ln 4."""
    if task == "adding":
        if variant == "hochreiter":
            return (0.9 / 3 + 1 / 3) / 16
        return 1.0 / 6.0
    if task == "copy":
        return COPY_LENGTH * math.log(COPY_SYMBOLS) / (T + 2 * COPY_LENGTH)
    return math.log(4)
