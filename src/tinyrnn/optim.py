"""Optimizers (PyTorch's update rules, to the letter) and gradient clipping.

Each optimizer takes ``model.parameters()`` and updates ``.data`` in place from ``.grad``.
``state_dict()`` returns plain numbers and arrays, so it fits in a checkpoint.

Hyper-parameters are checked by one function per optimizer (``_check_defaults``), used both
by the constructor and by ``load_state_dict``; a state_dict is checked completely (a *plan*)
before anything is assigned, so a refused one leaves the optimizer exactly as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._check import flag, integer, nonneg_float, real, shape_str, to_numpy
from .errors import InputError, NonFiniteError
from .module import Parameter

MAX_STEP = 2**53  # a step count beyond this cannot be a float exponent exactly (b1 ** t)


def _param_list(params, *, single_ok: bool = False, empty_ok: bool = False) -> list[Parameter]:
    """``params`` as a list of distinct Parameters (a single Parameter too, where ``single_ok``)."""
    if isinstance(params, Parameter):
        if single_ok:
            return [params]
        raise TypeError(
            "params must be an iterable of Parameters (model.parameters()), got a single Parameter: pass [param]"
        )
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"params must be an iterable of Parameters (model.parameters()), got {type(params).__name__}"
        ) from None
    if not params and not empty_ok:
        raise InputError("params must contain at least one Parameter, got an empty list")
    seen: dict[int, int] = {}
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"params must be Parameters (model.parameters()), got {type(p).__name__} at position {i}")
        if id(p) in seen:
            raise InputError(
                f"params lists the same Parameter twice (positions {seen[id(p)]} and {i}); "
                "each Parameter must appear once"
            )
        seen[id(p)] = i
    return params


def _betas(value) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {value!r}")
    b1, b2 = real("betas[0]", value[0]), real("betas[1]", value[1])
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise InputError(f"betas must each be in [0, 1), got ({b1}, {b2})")
    return b1, b2


class Optimizer:
    """Base: hyperparameters in ``self.defaults``, per-parameter arrays in ``self.state``."""

    state_keys: tuple[str, ...] = ()

    def __init__(self, params, defaults: dict):
        self.params = _param_list(params)
        self.defaults = self._check_defaults(defaults)
        self.step_count = 0
        self.state = [self._initial_state(p) for p in self.params]

    # ------------------------------------------------------------ subclass hooks
    @staticmethod
    def _check_defaults(d: dict) -> dict:  # pragma: no cover - abstract
        """Every hyper-parameter checked (finite, in range) -> a new defaults dict."""
        raise NotImplementedError

    def _initial_state(self, p: Parameter) -> dict:
        return {}

    def _check_state(self, i: int, st: dict) -> None:
        """Which entries one parameter's state must hold, and their signs (arrays already cast)."""
        if st and set(st) != set(self.state_keys):
            raise InputError(
                f"optimizer state of parameter {i} must hold none or all of "
                f"{', '.join(self.state_keys)}, got {', '.join(sorted(st))}"
            )

    def _update(self, p: Parameter, st: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------ use
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

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "type": type(self).__name__,
            "defaults": dict(self.defaults),
            "step": self.step_count,
            "state": [{k: v.copy() for k, v in st.items()} for st in self.state],
        }

    def load_state_dict(self, sd: dict) -> None:
        """Load a ``state_dict()``: all of it is checked first; a refused one changes nothing."""
        self._commit(self._plan_load(sd))

    def _check_state_entry(self, i: int, key, shape, dtype) -> None:
        """One state array's name, shape and dtype, before its values are read."""
        if key not in self.state_keys:
            raise InputError(
                f"optimizer state of parameter {i} has unknown entry {key!r} "
                f"({type(self).__name__} keeps {', '.join(self.state_keys)})"
            )
        p = self.params[i]
        if tuple(shape) != p.data.shape:
            raise InputError(
                f"optimizer state {key!r} of parameter {i} has shape {shape_str(shape)}, "
                f"expected {shape_str(p.data.shape)}"
            )
        if np.dtype(dtype).kind not in "fiu":
            raise InputError(f"optimizer state {key!r} of parameter {i} has dtype {dtype}, expected floats")

    def _plan_load(self, sd) -> tuple:
        """Check a state_dict completely; returns (defaults, step, state) ready to assign."""
        if not isinstance(sd, Mapping):
            raise TypeError(f"state_dict must be a dict from Optimizer.state_dict(), got {type(sd).__name__}")
        absent = [k for k in ("type", "defaults", "step", "state") if k not in sd]
        if absent:
            raise InputError(f"optimizer state_dict lacks {', '.join(absent)}")
        if sd["type"] != type(self).__name__:
            raise InputError(f"optimizer state is for {sd['type']}, not {type(self).__name__}")
        if not isinstance(sd["defaults"], Mapping):
            raise TypeError(f"optimizer defaults must be a dict, got {type(sd['defaults']).__name__}")
        unknown = [str(k) for k in sd["defaults"] if k not in self.defaults]
        if unknown:
            raise InputError(f"optimizer defaults has unknown hyper-parameters: {', '.join(unknown)}")
        defaults = self._check_defaults({**self.defaults, **sd["defaults"]})
        step = integer("step", sd["step"])
        if not 0 <= step <= MAX_STEP:
            raise InputError(f"step must be in [0, 2**53], got {step}")
        states = sd["state"]
        if not isinstance(states, (list, tuple)):
            raise TypeError(f"optimizer state must be a list (one dict per parameter), got {type(states).__name__}")
        if len(states) != len(self.params):
            raise InputError(f"optimizer state has {len(states)} parameters, this optimizer has {len(self.params)}")
        new_state = []
        for i, (p, st) in enumerate(zip(self.params, states)):
            if not isinstance(st, Mapping):
                raise TypeError(f"optimizer state of parameter {i} must be a dict, got {type(st).__name__}")
            new = {}
            for k, v in st.items():
                arr = to_numpy(v)
                self._check_state_entry(i, k, arr.shape, arr.dtype)
                with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
                    arr = np.array(arr, dtype=p.data.dtype)  # a copy in the parameter's dtype
                if not np.isfinite(arr).all():
                    raise NonFiniteError(
                        f"optimizer state {k!r} of parameter {i} contains NaN or inf (in {p.data.dtype})"
                    )
                new[k] = arr
            self._check_state(i, new)
            new_state.append(new)
        return defaults, step, new_state

    def _commit(self, plan: tuple) -> None:
        self.defaults, self.step_count, self.state = plan


class SGD(Optimizer):
    """``torch.optim.SGD``: g = grad + wd p; buf = mu buf + (1 - dampening) g (buf = g at first);
    step = g + mu buf (nesterov) or buf; p -= lr step."""

    state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(
            params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        )

    @staticmethod
    def _check_defaults(d):
        out = {k: nonneg_float(k, d[k]) for k in ("lr", "momentum", "dampening", "weight_decay")}
        out["nesterov"] = flag("nesterov", d["nesterov"])
        if out["nesterov"] and (out["momentum"] <= 0 or out["dampening"] != 0):
            raise InputError("nesterov requires momentum > 0 and dampening = 0")
        return out

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

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @staticmethod
    def _check_defaults(d):
        out = {k: nonneg_float(k, d[k]) for k in ("lr", "eps", "weight_decay")}
        out["betas"] = _betas(d["betas"])
        return out

    def _check_state(self, i, st):
        super()._check_state(i, st)
        if st and (st["exp_avg_sq"] < 0).any():
            raise InputError(f"optimizer state 'exp_avg_sq' of parameter {i} has negative entries")

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
        step_size = c["lr"] / (1 - b1**t)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - b2**t)
        denom += c["eps"]
        p.data -= step_size * (m / denom)


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``: sum += g^2; p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(sum) + eps),
    with sum starting at ``initial_accumulator_value``.

    min-char-rnn's rule is ``mem += g * g; p -= lr * g / sqrt(mem + 1e-8)`` with mem from 0.
    The defaults (sum from 0, eps 1e-10 outside the sqrt) differ from it: for a gradient much
    smaller than 1e-4 the first step is about lr * sign(g) here and lr * g / 1e-4 there.
    ``Adagrad(params, lr, initial_accumulator_value=1e-8, eps=0)`` is min-char-rnn's rule: sum
    is then mem + 1e-8 and the step divides by sqrt(sum), equal up to the rounding of where the
    1e-8 is added (tests/test_min_char_rnn.py: every update to 1e-10 in float64, with
    ``examples/min_char_rnn.py``). min-char-rnn has one hidden bias; with PyTorch's layout,
    leave ``bias_hh`` out of ``params`` (and at zero) to match it."""

    state_keys = ("sum",)

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
            ),
        )

    @staticmethod
    def _check_defaults(d):
        return {
            k: nonneg_float(k, d[k]) for k in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
        }

    def _initial_state(self, p):
        return {"sum": np.full_like(p.data, self.defaults["initial_accumulator_value"])}

    def _check_state(self, i, st):
        if set(st) != {"sum"}:
            raise InputError(
                f"optimizer state of parameter {i} must hold 'sum', got {', '.join(sorted(st)) or 'nothing'}"
            )
        if (st["sum"] < 0).any():
            raise InputError(f"optimizer state 'sum' of parameter {i} has negative entries")

    def _update(self, p, st):
        c = self.defaults
        g = p.grad if c["weight_decay"] == 0 else p.grad + c["weight_decay"] * p.data
        clr = c["lr"] / (1 + (self.step_count - 1) * c["lr_decay"])
        st["sum"] += g * g
        p.data -= clr * (g / (np.sqrt(st["sum"]) + c["eps"]))


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": Adagrad}


def _norm_type(value) -> float:
    p = real("norm_type", value)
    if not p > 0:
        raise InputError(f"norm_type must be > 0 (or inf), got {value}")
    return p


def _vector_norm(a: np.ndarray, p: float) -> float:
    """||a||_p of a 1-D array of absolute values, scaled by its max so that no power overflows."""
    m = float(a.max()) if a.size else 0.0
    if p == math.inf or not 0.0 < m < math.inf:
        return m  # the inf-norm, all zeros, or an inf / NaN that the norm carries
    r = a / m
    s = float(np.dot(r, r)) if p == 2 else float(np.sum(r**p, dtype=np.float64))
    return m * s ** (1.0 / p)


def grad_norm(params) -> float:
    """The global 2-norm of the gradients of ``params`` (a list of Parameters), sqrt(sum g^2):
    one dot product a tensor; per-tensor scaled (as ``clip_grad_norm_`` of any order) when that
    sum overflows, so a large finite norm stays finite; inf or NaN when a gradient holds them."""
    total = 0.0
    with np.errstate(over="ignore"):  # an overflowing sum is done again, scaled, below
        for p in params:
            g = p.grad.ravel()
            total += float(np.dot(g, g))
    if math.isfinite(total):
        return math.sqrt(total)
    return _vector_norm(np.array([_vector_norm(np.abs(p.grad).ravel(), 2.0) for p in params]), 2.0)


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their global norm is at most ``max_norm``.

    PyTorch's semantics: total = ||(||g_1||, ..., ||g_n||)||; coef = max_norm / (total + 1e-6);
    every gradient is multiplied by min(coef, 1), so a NaN or inf gradient makes them all NaN
    (or zero) rather than leaving the others unscaled. ``params`` may be a single Parameter or
    empty (then 0.0); ``norm_type`` is > 0 or inf. Returns the total norm before clipping.
    With ``error_if_nonfinite`` a non-finite total raises RuntimeError (as PyTorch) instead.
    """
    params = _param_list(params, single_ok=True, empty_ok=True)
    max_norm = nonneg_float("max_norm", max_norm, allow_inf=True)
    norm_type = _norm_type(norm_type)
    error_if_nonfinite = flag("error_if_nonfinite", error_if_nonfinite)
    if not params:
        return 0.0
    if norm_type == 2.0:
        total = grad_norm(params)
    else:
        total = _vector_norm(np.array([_vector_norm(np.abs(p.grad).ravel(), norm_type) for p in params]), norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}: "
            "the training diverged (lower the learning rate)"
        )
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # NaN too: it reaches every gradient, as in PyTorch
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN there too
            for p in params:
                p.grad *= coef
    return total


def clip_grad_value_(params, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place (NaN stays NaN).
    ``params`` may be a single Parameter or empty; ``clip_value`` >= 0 (inf: no clipping)."""
    params = _param_list(params, single_ok=True, empty_ok=True)
    clip_value = nonneg_float("clip_value", clip_value, allow_inf=True)
    for p in params:
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
