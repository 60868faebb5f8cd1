"""Losses. Each returns ``(loss, dinput)``: the loss and its gradient w.r.t. the first argument.

``reduction`` is "mean" (default), "sum" or "none". With "none" the loss is an array and
``dinput`` is the gradient of its sum (each element's own gradient).
"""

from __future__ import annotations

import numpy as np

from ._check import choice, float_array, int_array, integer, shape_str, to_numpy
from .errors import InputError
from .functional import log_softmax, sigmoid

REDUCTIONS = ("mean", "sum", "none")


def _floats(name, x):
    """A float array in its own precision (integers are refused by float_array)."""
    arr = to_numpy(x)
    return float_array(name, arr, arr.dtype if arr.dtype.kind == "f" else np.float64)


def _pair(name_a, a, name_b, b):
    a = _floats(name_a, a)
    b = float_array(name_b, b, a.dtype)
    if a.shape != b.shape:
        raise InputError(f"{name_b} must have the shape of {name_a} {shape_str(a.shape)}, got {shape_str(b.shape)}")
    return a, b


def _reduce(losses, grad, reduction, count):
    if reduction == "none":
        return losses, grad
    if reduction == "sum":
        return float(losses.sum()), grad
    return float(losses.sum() / count), grad / count


def mse_loss(pred, target, reduction: str = "mean"):
    """mean((pred - target)^2), as ``torch.nn.functional.mse_loss``. d/dpred = 2 (pred - target)."""
    choice("reduction", reduction, REDUCTIONS)
    pred, target = _pair("pred", pred, "target", target)
    diff = pred - target
    return _reduce(diff * diff, 2 * diff, reduction, max(diff.size, 1))


def bce_loss(prob, target, reduction: str = "mean"):
    """Binary cross-entropy on probabilities (e.g. sigmoid outputs), as
    ``torch.nn.functional.binary_cross_entropy``: logs clamped at -100, and the gradient
    (p - t) / max(p (1 - p), 1e-12)."""
    choice("reduction", reduction, REDUCTIONS)
    prob, target = _pair("prob", prob, "target", target)
    if prob.size and (prob.min() < 0 or prob.max() > 1):
        raise InputError(f"prob must be probabilities in [0, 1], got values in [{prob.min()}, {prob.max()}]")
    if target.size and (target.min() < 0 or target.max() > 1):
        raise InputError(f"target must be in [0, 1], got values in [{target.min()}, {target.max()}]")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(prob), -100)
        log_1p = np.maximum(np.log1p(-prob), -100)
    losses = -(target * log_p + (1 - target) * log_1p)
    grad = (prob - target) / np.maximum(prob * (1 - prob), 1e-12)
    return _reduce(losses, grad, reduction, max(prob.size, 1))


def bce_with_logits(logits, target, reduction: str = "mean"):
    """Binary cross-entropy on logits, stable for any logit:
    max(x, 0) - x t + log(1 + exp(-|x|)); d/dx = sigmoid(x) - t."""
    choice("reduction", reduction, REDUCTIONS)
    logits, target = _pair("logits", logits, "target", target)
    losses = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    grad = sigmoid(logits, out=np.empty_like(logits)) - target  # out=: a 0-d input stays an array
    return _reduce(losses, grad, reduction, max(logits.size, 1))


def cross_entropy(logits, targets, ignore_index: int = -100, reduction: str = "mean"):
    """Softmax cross-entropy with class-index targets.

    logits (..., C) with the classes on the LAST axis (PyTorch puts them on axis 1; for
    (N, C) the two agree), targets (...) integers in [0, C) or ``ignore_index``.
    "mean" averages over the targets that are not ignored (0.0 if all are ignored).
    d/dlogits = softmax(logits) - onehot(target), zero on ignored rows.
    """
    choice("reduction", reduction, REDUCTIONS)
    ignore_index = integer("ignore_index", ignore_index)
    logits = _floats("logits", logits)
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise InputError(f"logits must have shape (..., C) with C >= 1 classes, got {shape_str(logits.shape)}")
    C = logits.shape[-1]
    targets = int_array("targets", targets, what="class index")
    if targets.shape != logits.shape[:-1]:
        raise InputError(
            f"targets must have shape {shape_str(logits.shape[:-1])} to match logits "
            f"{shape_str(logits.shape)}, got {shape_str(targets.shape)}"
        )
    valid = targets != ignore_index
    bad = valid & ((targets < 0) | (targets >= C))
    if bad.any():
        raise InputError(
            f"targets must be class indices in [0, {C}) or ignore_index={ignore_index}, got {targets[bad].flat[0]}"
        )
    safe = np.where(valid, targets, 0)
    logp = log_softmax(logits)  # (..., C)
    picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    losses = np.where(valid, -picked, 0).astype(logits.dtype)
    grad = np.exp(logp)  # softmax
    np.put_along_axis(grad, safe[..., None], np.take_along_axis(grad, safe[..., None], -1) - 1, -1)
    grad *= valid[..., None]
    return _reduce(losses, grad, reduction, max(int(valid.sum()), 1))
