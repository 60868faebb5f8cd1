"""Gradient checking as a public tool: central differences in float64.

You give a function that runs your composition forward and backward::

    def loss_and_grads(x, h0):
        model.zero_grad() is done for you
        out, h_n, cache = rnn.forward(x, h0)
        loss = (out * G).sum() + (h_n * Gh).sum()           # a random projection
        dx, dh0 = rnn.backward(G, cache, Gh)                 # parameter grads accumulate
        return loss, {"x": dx, "h0": dh0}

    report = gradcheck(loss_and_grads, rnn, inputs={"x": x, "h0": h0})
    print(report)            # one row per tensor: max abs and relative error
    assert report.ok

Every element of every parameter and of every input is perturbed by +-eps and the loss
re-evaluated, so keep the sizes small. A float input whose gradient ``loss_and_grads`` does
not return is reported *unchecked*, which makes the report not ok; a check with nothing to
check is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._check import nonneg_float, real
from .errors import InputError
from .module import Module


@dataclass
class GradcheckRow:
    name: str
    shape: tuple
    max_abs_err: float
    max_rel_err: float
    ok: bool
    checked: bool = True  # False: no analytic gradient was returned for this input


@dataclass
class GradcheckReport:
    rows: list[GradcheckRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    def __getitem__(self, name: str) -> GradcheckRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.rows] + [6])
        lines = [f"{'tensor':<{width}}  {'shape':<16} {'max abs err':>12} {'max rel err':>12}  ok"]
        for r in self.rows:
            if not r.checked:
                lines.append(
                    f"{r.name:<{width}}  {str(r.shape):<16} {'-':>12} {'-':>12}  "
                    "UNCHECKED: loss_and_grads returned no gradient for it"
                )
                continue
            lines.append(
                f"{r.name:<{width}}  {str(r.shape):<16} {r.max_abs_err:12.3e} "
                f"{r.max_rel_err:12.3e}  {'yes' if r.ok else 'NO'}"
            )
        return "\n".join(lines)


def _compare(name, analytic, numeric, atol, rtol) -> GradcheckRow:
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise InputError(f"gradient of {name} has shape {analytic.shape}, expected {numeric.shape}")
    abs_err = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    rel = np.where(scale > 0, abs_err / np.where(scale > 0, scale, 1), 0.0)
    ok = bool(np.all(abs_err <= atol + rtol * scale))
    return GradcheckRow(name, tuple(numeric.shape), float(abs_err.max(initial=0)), float(rel.max(initial=0)), ok)


def _call(loss_and_grads, inputs) -> tuple[float, dict]:
    """Run the user's function once: (finite loss as a float, dict of input gradients)."""
    result = loss_and_grads(**inputs)
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError("loss_and_grads must return (loss, {input_name: gradient})")
    loss, grads = result
    try:
        loss = float(np.asarray(loss, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise TypeError(f"loss_and_grads must return a scalar loss, got {type(loss).__name__}") from None
    if not math.isfinite(loss):
        raise InputError(f"loss_and_grads returned a non-finite loss ({loss})")
    if grads is not None and not isinstance(grads, Mapping):
        raise TypeError(f"loss_and_grads must return its input gradients as a dict, got {type(grads).__name__}")
    return loss, dict(grads or {})


def gradcheck(
    loss_and_grads,
    module: Module | None = None,
    inputs: dict | None = None,
    eps: float = 1e-6,
    atol: float = 1e-7,
    rtol: float = 1e-5,
) -> GradcheckReport:
    """Compare analytic gradients with central differences (f(v+eps) - f(v-eps)) / 2eps.

    loss_and_grads(**inputs) -> (loss, {input_name: d loss / d input}); it must accumulate
    parameter gradients into ``.grad`` (gradcheck zeroes them first). ``module``'s parameters
    (if given) and the float arrays in ``inputs`` are checked element by element; they must
    be float64 (``model.to(np.float64)``). An element passes when
    |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
    """
    if not callable(loss_and_grads):
        raise TypeError(f"loss_and_grads must be a function, got {type(loss_and_grads).__name__}")
    if module is not None and not isinstance(module, Module):
        raise TypeError(f"module must be a tinyrnn Module or None, got {type(module).__name__}")
    if inputs is not None and not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict of name -> array, got {type(inputs).__name__}")
    eps = real("eps", eps)
    if not 0.0 < eps < math.inf:
        raise InputError(f"eps must be a finite number > 0, got {eps}")
    atol, rtol = nonneg_float("atol", atol), nonneg_float("rtol", rtol)
    inputs = {
        k: np.array(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f" else v for k, v in (inputs or {}).items()
    }
    named = list(module.named_parameters()) if module is not None else []
    for name, p in named:
        if p.data.dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 parameters, {name} is {p.data.dtype}: call module.to(np.float64) first"
            )
    float_inputs = [k for k, v in inputs.items() if isinstance(v, np.ndarray) and v.dtype == np.float64]
    if not named and not float_inputs:
        raise InputError("gradcheck has nothing to check: give a module with parameters or float inputs")
    if module is not None:
        module.zero_grad()
    loss, input_grads = _call(loss_and_grads, inputs)
    analytic = {name: p.grad.copy() for name, p in named}
    unknown = [str(k) for k in input_grads if k not in inputs]
    if unknown:
        raise InputError(f"loss_and_grads returned gradients for {', '.join(unknown)}, which are not in inputs")

    def f() -> float:
        return _call(loss_and_grads, inputs)[0]

    def numeric_grad(arr: np.ndarray) -> np.ndarray:
        num = np.zeros(arr.shape)
        flat, nflat = arr.reshape(-1), num.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = f()
            flat[i] = old - eps
            down = f()
            flat[i] = old
            nflat[i] = (up - down) / (2 * eps)
        return num

    report = GradcheckReport()
    for name, p in named:
        report.rows.append(_compare(name, analytic[name], numeric_grad(p.data), atol, rtol))
    for name in float_inputs:
        arr = inputs[name]
        if input_grads.get(name) is None:
            report.rows.append(GradcheckRow(name, tuple(arr.shape), math.nan, math.nan, ok=False, checked=False))
            continue
        report.rows.append(_compare(name, input_grads[name], numeric_grad(arr), atol, rtol))
    if module is not None:
        module.zero_grad()
    return report
