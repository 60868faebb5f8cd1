"""Your own sequences: pad, batch by length, standardise, split, and read ``.npz`` / ``.csv`` files.

Arrays are batch-first here, as users store them: ``x`` (N, T, F), ``lengths`` (N,), and labels
``y`` (N,) as ints ``0 .. C-1`` with ``classes`` naming them. Every check a user's data can fail
raises :class:`tinyrnn.errors.InputError` naming the file (``source``), the sequence and the step.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, NonFiniteError
from ..init import make_rng

__all__ = [
    "SequenceSet",
    "Standardizer",
    "encode_labels",
    "length_batches",
    "load_csv",
    "load_npz",
    "pad_sequences",
    "stratified_split",
]


def _as_steps(i: int, seq, source: str) -> np.ndarray:
    a = np.asarray(seq)
    if a.dtype.kind not in "fiub":
        raise InputError(f"{source}: sequence {i} is not numeric (dtype {a.dtype})")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"{source}: sequence {i} must be (T,) or (T, features), got shape {a.shape}")
    if len(a) == 0:
        raise InputError(f"{source}: sequence {i} has length 0; every sequence needs at least one step")
    return a


def check_finite(x: np.ndarray, lengths: np.ndarray, source: str) -> None:
    """Refuse NaN/inf inside any sequence's valid steps, naming the first one: sequence, step, feature."""
    T = x.shape[1]
    valid = np.arange(T)[None, :] < lengths[:, None]  # (N, T)
    bad = ~np.isfinite(x) & valid[:, :, None]
    if bad.any():
        n, t, f = np.argwhere(bad)[0]
        raise NonFiniteError(
            f"{source}: {x[n, t, f]} in sequence {n}, step {t}, feature {f} "
            f"({int(bad.sum())} value(s) in all); remove or fill them first"
        )


def pad_sequences(sequences, dtype=np.float32, batch_first: bool = True, source: str = "sequences"):
    """A list of N arrays, each (T_i, F) or (T_i,), -> ``x, lengths``.

    ``x`` is (N, T_max, F) (``batch_first=False``: (T_max, N, F), the recurrent layers' default
    layout) with zeros after each sequence's end; ``lengths`` (N,) int64 holds each T_i. Pass
    ``lengths`` on to the recurrent layers and the classifier so that the padding never counts.
    """
    seqs = [_as_steps(i, s, source) for i, s in enumerate(sequences)]
    if not seqs:
        raise InputError(f"{source}: no sequences")
    F = seqs[0].shape[1]
    for i, s in enumerate(seqs):
        if s.shape[1] != F:
            raise InputError(
                f"{source}: sequence {i} has {s.shape[1]} features, sequence 0 has {F}; "
                "every sequence needs the same features"
            )
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.zeros((len(seqs), int(lengths.max()), F), dtype=dtype)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    check_finite(x, lengths, source)
    return (x if batch_first else np.ascontiguousarray(x.transpose(1, 0, 2))), lengths


def length_batches(lengths, batch: int, rng=None, shuffle: bool = True) -> list[np.ndarray]:
    """Index arrays of at most ``batch`` sequences of similar length (sorted by length, cut into
    batches, batch order shuffled), so little time is spent on padding. Every index appears once.
    Equal lengths are ordered at random, so batches differ from epoch to epoch."""
    lengths = np.asarray(lengths)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    rng = make_rng(rng)
    tie = rng.random(len(lengths)) if shuffle else np.arange(len(lengths))
    order = np.lexsort((tie, lengths))
    batches = [order[i : i + batch] for i in range(0, len(order), batch)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class Standardizer:
    """Per-feature mean and standard deviation, fitted on the valid steps of the training
    sequences only; ``transform`` keeps the padding at zero. ``mean`` and ``std`` (F,) are arrays
    a checkpoint can hold (``state()`` / ``from_state``)."""

    def __init__(self, mean=None, std=None):
        self.mean = None if mean is None else np.asarray(mean, np.float64)
        self.std = None if std is None else np.asarray(std, np.float64)

    def fit(self, x, lengths) -> Standardizer:
        x = np.asarray(x, np.float64)
        valid = np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None]  # (N, T)
        steps = x[valid]  # (steps, F)
        self.mean = steps.mean(axis=0)
        std = steps.std(axis=0)
        self.std = np.where(std > 1e-12, std, 1.0)  # a constant feature is only centred
        return self

    def transform(self, x, lengths, dtype=np.float32) -> np.ndarray:
        if self.mean is None:
            raise RuntimeError("Standardizer.transform before fit")
        x = np.asarray(x)
        if x.shape[-1] != len(self.mean):
            raise InputError(f"data has {x.shape[-1]} features, the model was fitted on {len(self.mean)}")
        valid = (np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None])[:, :, None]
        return np.where(valid, (x - self.mean) / self.std, 0.0).astype(dtype)

    def state(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state) -> Standardizer:
        return cls(state["mean"], state["std"])


def encode_labels(y, classes=None):
    """Labels (ints or strings) -> ``(codes (N,) int64, classes)``. ``classes`` (a list of
    strings, sorted, numerically where every label is an int) is built from ``y`` unless given;
    with it given, a label outside it is an error naming the first one."""
    text = np.asarray([str(v) for v in np.asarray(y).ravel()])
    if classes is None:
        uniq = sorted(set(text.tolist()))
        try:
            uniq = sorted(uniq, key=int)
        except ValueError:
            pass
        classes = uniq
    index = {c: i for i, c in enumerate(classes)}
    unknown = [v for v in dict.fromkeys(text.tolist()) if v not in index]
    if unknown:
        raise InputError(
            f"labels {unknown[:5]} are not among the training labels {list(classes)[:20]}; "
            "every class must appear in the training data"
        )
    return np.array([index[v] for v in text], dtype=np.int64), list(classes)


def stratified_split(y, fraction: float, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: from each class, ``round(fraction * n_class)`` samples go to
    ``held_out`` (at least 1 where the class has 2 or more; a class of one stays in ``keep``).
    Seeded by ``rng``; both index arrays are sorted."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = make_rng(rng)
    y = np.asarray(y)
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(max(round(fraction * len(idx)), 1), len(idx) - 1)
        held.extend(idx[:k].tolist())
    held = np.sort(np.array(held, dtype=np.int64))
    keep = np.setdiff1d(np.arange(len(y)), held)
    return keep, held


@dataclass
class SequenceSet:
    """Sequences: ``x`` (N, T, F) float, ``lengths`` (N,), ``y`` (N,) raw labels (None: unlabelled);
    ``columns``: the names of the F features where the file has them (a ``.csv``), else None."""

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray
    source: str = "data"
    columns: tuple[str, ...] | None = None

    def __len__(self):
        return len(self.lengths)

    def subset(self, idx) -> SequenceSet:
        T = int(self.lengths[idx].max())
        y = None if self.y is None else self.y[idx]
        return SequenceSet(self.x[idx, :T], self.lengths[idx], y, self.source, self.columns)


def _from_arrays(x, lengths, y, source) -> SequenceSet:
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise InputError(f"{source}: x must have shape (N, T, F), got {x.shape}")
    if x.dtype.kind not in "fiub":
        raise InputError(f"{source}: x must be numeric, got dtype {x.dtype}")
    N, T, _ = x.shape
    if lengths is None:
        lengths = np.full(N, T, np.int64)
    lengths = np.asarray(lengths)
    if lengths.shape != (N,) or lengths.dtype.kind not in "iu":
        raise InputError(
            f"{source}: lengths must be (N,)=({N},) integers, got shape {lengths.shape} dtype {lengths.dtype}"
        )
    if N and lengths.min() < 1:
        raise InputError(
            f"{source}: sequence {int(np.argmin(lengths))} has length {lengths.min()}; "
            "every sequence needs at least one step"
        )
    if N and lengths.max() > T:
        raise InputError(f"{source}: lengths go up to {lengths.max()} but x has only T={T} steps")
    if y is not None and y.shape != (N,):
        raise InputError(f"{source}: y must have shape (N,)=({N},), one label per sequence, got {y.shape}")
    if N == 0:
        raise InputError(f"{source}: no sequences")
    check_finite(x, lengths, source)
    return SequenceSet(x.astype(np.float64), lengths.astype(np.int64), y, source)


def load_npz(path, labels: bool = True) -> SequenceSet:
    """An ``.npz`` with ``x`` (N, T, F) (or (N, T)), optional ``lengths`` (N,), ``y`` (N,) labels
    (ints or strings; optional with ``labels=False``)."""
    source = os.fspath(path)
    try:
        with np.load(source, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise InputError(f"{source}: cannot read as .npz ({e})") from None
    missing = [k for k in (("x", "y") if labels else ("x",)) if k not in arrays]
    if missing:
        raise InputError(
            f"{source}: missing array(s) {', '.join(missing)}; expected x (N, T, F), "
            f"y (N,) and optional lengths (N,), found {sorted(arrays) or 'none'}"
        )
    return _from_arrays(arrays["x"], arrays.get("lengths"), arrays.get("y"), source)


def load_csv(path, id_column: str, label_column: str, feature_columns=None, labels: bool = True) -> SequenceSet:
    """A long-form ``.csv`` with a header: one row per time step, rows of a sequence in time order,
    sequences identified by ``id_column``, labelled by ``label_column`` (one label per sequence),
    features from ``feature_columns`` (default: every other column). An empty or non-numeric
    feature cell is an error naming its line. With ``labels=False`` the label column may be absent."""
    source = os.fspath(path)
    try:
        with open(source, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{source}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    if not rows:
        raise InputError(f"{source}: empty file; expected a header line and one row per time step")
    header = [h.strip() for h in rows[0]]
    features = list(feature_columns) if feature_columns else [h for h in header if h not in (id_column, label_column)]
    if not labels and label_column not in header:
        label_column = None
    missing = [c for c in [id_column, label_column, *features] if c is not None and c not in header]
    if missing:
        raise InputError(f"{source}: no column {', '.join(map(repr, missing))}; the header has {header}")
    if not features:
        raise InputError(f"{source}: no feature columns besides {id_column!r} and {label_column!r}")
    ic, fc = header.index(id_column), [header.index(c) for c in features]
    lc = None if label_column is None else header.index(label_column)
    steps, found = {}, {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"{source}, line {line}: {len(row)} fields, the header has {len(header)}")
        key = row[ic]
        try:
            values = [float(row[j]) for j in fc]
        except ValueError:
            bad = next(c for c, j in zip(features, fc) if not _is_number(row[j]))
            raise InputError(
                f"{source}, line {line}: column {bad!r} holds {row[header.index(bad)]!r}, not a number"
            ) from None
        if not np.isfinite(values).all():
            bad = next(c for c, v in zip(features, values) if not np.isfinite(v))
            raise NonFiniteError(
                f"{source}, line {line}: column {bad!r} is {row[header.index(bad)]}; remove or fill it first"
            )
        label = None if lc is None else row[lc]
        if key in found and found[key] != label:
            raise InputError(
                f"{source}, line {line}: sequence {key!r} has label {label!r} here and "
                f"{found[key]!r} before; one label per sequence"
            )
        found[key] = label
        steps.setdefault(key, []).append(values)
    if not steps:
        raise InputError(f"{source}: no data rows after the header")
    x, lengths = pad_sequences([np.array(s) for s in steps.values()], np.float64, source=source)
    y = None if lc is None else np.array(list(found.values()))
    return SequenceSet(x, lengths, y, source, tuple(features))


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
