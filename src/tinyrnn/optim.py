"""Optimizers (PyTorch's update rules, to the letter) and gradient clipping.

Each optimizer takes ``model.parameters()`` and updates ``.data`` in place from ``.grad``.
``state_dict()`` returns plain numbers and arrays, so it fits in a checkpoint.
"""

from __future__ import annotations

import math

import numpy as np

from ._check import nonneg_float
from .module import Parameter


def _param_list(params) -> list[Parameter]:
    params = list(params)
    if not params:
        raise ValueError("params must contain at least one Parameter, got an empty list")
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"params must be Parameters (model.parameters()), got {type(p).__name__}")
    return params


class Optimizer:
    """Base: hyperparameters in ``self.defaults``, per-parameter arrays in ``self.state``."""

    state_keys: tuple[str, ...] = ()

    def __init__(self, params, defaults: dict):
        self.params = _param_list(params)
        self.defaults = defaults
        self.step_count = 0
        self.state = [dict() for _ in self.params]

    @property
    def lr(self) -> float:
        return self.defaults["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.defaults["lr"] = nonneg_float("lr", value)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad.fill(0)

    def step(self) -> None:
        self.step_count += 1
        for p, st in zip(self.params, self.state):
            self._update(p, st)

    def _update(self, p: Parameter, st: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {"type": type(self).__name__, "defaults": dict(self.defaults), "step": self.step_count,
                "state": [{k: v.copy() for k, v in st.items()} for st in self.state]}

    def load_state_dict(self, sd: dict) -> None:
        if sd.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {sd.get('type')}, not {type(self).__name__}")
        if len(sd["state"]) != len(self.params):
            raise ValueError(f"optimizer state has {len(sd['state'])} parameters, this optimizer has "
                             f"{len(self.params)}")
        for i, (p, st) in enumerate(zip(self.params, sd["state"])):
            for k, v in st.items():
                if k not in self.state_keys:
                    raise ValueError(f"optimizer state for parameter {i} has unknown entry {k!r}")
                if np.shape(v) != p.data.shape:
                    raise ValueError(f"optimizer state {k!r} of parameter {i} has shape {np.shape(v)}, "
                                     f"expected {p.data.shape}")
        self.defaults.update(sd["defaults"])
        if "betas" in self.defaults:
            self.defaults["betas"] = tuple(self.defaults["betas"])
        self.step_count = int(sd["step"])
        self.state = [{k: np.array(v, dtype=p.data.dtype) for k, v in st.items()}
                      for p, st in zip(self.params, sd["state"])]


class SGD(Optimizer):
    """``torch.optim.SGD``: g = grad + wd p; buf = mu buf + (1 - dampening) g (buf = g at first);
    step = g + mu buf (nesterov) or buf; p -= lr step."""

    state_keys = ("momentum_buffer",)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        defaults = dict(lr=nonneg_float("lr", lr), momentum=nonneg_float("momentum", momentum),
                        dampening=nonneg_float("dampening", dampening),
                        weight_decay=nonneg_float("weight_decay", weight_decay), nesterov=bool(nesterov))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0")
        super().__init__(params, defaults)

    def _update(self, p, st):
        c = self.defaults
        g = p.grad if c["weight_decay"] == 0 else p.grad + c["weight_decay"] * p.data
        if c["momentum"]:
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = st["momentum_buffer"] = g.copy()
            else:
                buf *= c["momentum"]
                buf += (1 - c["dampening"]) * g
            g = g + c["momentum"] * buf if c["nesterov"] else buf
        p.data -= c["lr"] * g


class Adam(Optimizer):
    """``torch.optim.Adam``: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)  (eps outside the sqrt)."""

    state_keys = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must each be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=nonneg_float("lr", lr), betas=(float(b1), float(b2)),
                                      eps=nonneg_float("eps", eps),
                                      weight_decay=nonneg_float("weight_decay", weight_decay)))

    def _update(self, p, st):
        c = self.defaults
        b1, b2 = c["betas"]
        g = p.grad if c["weight_decay"] == 0 else p.grad + c["weight_decay"] * p.data
        if not st:
            st["exp_avg"] = np.zeros_like(p.data)
            st["exp_avg_sq"] = np.zeros_like(p.data)
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        t = self.step_count
        step_size = c["lr"] / (1 - b1 ** t)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - b2 ** t)
        denom += c["eps"]
        p.data -= step_size * (m / denom)


class Adagrad(Optimizer):
    """``torch.optim.Adagrad`` (as min-char-rnn trains): sum += g^2;
    p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(sum) + eps)."""

    state_keys = ("sum",)

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, dict(lr=nonneg_float("lr", lr), lr_decay=nonneg_float("lr_decay", lr_decay),
                                      weight_decay=nonneg_float("weight_decay", weight_decay),
                                      initial_accumulator_value=nonneg_float("initial_accumulator_value",
                                                                             initial_accumulator_value),
                                      eps=nonneg_float("eps", eps)))
        for p, st in zip(self.params, self.state):
            st["sum"] = np.full_like(p.data, self.defaults["initial_accumulator_value"])

    def _update(self, p, st):
        c = self.defaults
        g = p.grad if c["weight_decay"] == 0 else p.grad + c["weight_decay"] * p.data
        clr = c["lr"] / (1 + (self.step_count - 1) * c["lr_decay"])
        st["sum"] += g * g
        p.data -= clr * (g / (np.sqrt(st["sum"]) + c["eps"]))


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": Adagrad}


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their global norm is at most ``max_norm``.

    PyTorch's formula: total = ||(||g_1||, ..., ||g_n||)||; coef = max_norm / (total + 1e-6);
    gradients are multiplied by min(coef, 1). Returns the total norm before clipping.
    """
    params = _param_list(params)
    max_norm = nonneg_float("max_norm", max_norm)
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(p.grad).max()) if p.grad.size else 0.0 for p in params)
    else:
        total = float(sum(float((np.abs(p.grad) ** norm_type).sum()) for p in params) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is non-finite")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in params:
            p.grad *= coef
    return total


def clip_grad_value_(params, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = nonneg_float("clip_value", clip_value)
    for p in _param_list(params):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
