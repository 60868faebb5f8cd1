"""Activations, their derivatives written in terms of the activation's *output*, and a
numerically stable log-softmax.

Every derivative here is taken from the output ``y = act(a)`` because that is what the
BPTT kernels keep: ``tanh' = 1 - y^2``, ``sigmoid' = y (1 - y)``, ``relu' = [y > 0]``,
``identity' = 1``.
"""

from __future__ import annotations

import numpy as np

NONLINEARITIES = ("tanh", "relu", "sigmoid", "identity")


def _sigmoid_raw(a: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    out = np.negative(a, out=out)
    np.exp(out, out=out)  # may overflow to inf for a << 0: 1 / inf = 0 is exact enough
    out += 1
    return np.reciprocal(out, out=out)


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + exp(-a)), accurate in both tails (exp overflow gives exactly 0)."""
    with np.errstate(over="ignore"):
        return _sigmoid_raw(a, out)


def activate_(name: str, a: np.ndarray) -> np.ndarray:
    """Apply nonlinearity ``name`` to ``a`` in place and return it."""
    if name == "tanh":
        return np.tanh(a, out=a)
    if name == "relu":
        return np.maximum(a, 0, out=a)
    if name == "sigmoid":
        return _sigmoid_raw(a, out=a)  # callers silence the overflow warning once, outside loops
    return a  # identity


def activation_grad(name: str, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
    """d act / d a evaluated from the output ``y`` (into ``out`` if given); ``None`` means 1
    everywhere (identity)."""
    if name == "tanh":
        d = np.multiply(y, y, out=out)
        np.subtract(1, d, out=d)
        return d
    if name == "relu":
        return (y > 0).astype(y.dtype) if out is None else np.greater(y, 0, out=out)
    if name == "sigmoid":
        d = np.subtract(1, y, out=out)
        d *= y
        return d
    return None


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax with max-subtraction, stable for large logits."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e
