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
re-evaluated, so keep the sizes small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .module import Module


@dataclass
class GradcheckRow:
    name: str
    shape: tuple
    max_abs_err: float
    max_rel_err: float
    ok: bool


@dataclass
class GradcheckReport:
    rows: list[GradcheckRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def __getitem__(self, name: str) -> GradcheckRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.rows] + [6])
        lines = [f"{'tensor':<{width}}  {'shape':<16} {'max abs err':>12} {'max rel err':>12}  ok"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {str(r.shape):<16} {r.max_abs_err:12.3e} "
                         f"{r.max_rel_err:12.3e}  {'yes' if r.ok else 'NO'}")
        return "\n".join(lines)


def _compare(name, analytic, numeric, atol, rtol) -> GradcheckRow:
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"gradient of {name} has shape {analytic.shape}, expected {numeric.shape}")
    abs_err = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    rel = np.where(scale > 0, abs_err / np.where(scale > 0, scale, 1), 0.0)
    ok = bool(np.all(abs_err <= atol + rtol * scale))
    return GradcheckRow(name, tuple(numeric.shape), float(abs_err.max(initial=0)),
                        float(rel.max(initial=0)), ok)


def gradcheck(loss_and_grads, module: Module | None = None, inputs: dict | None = None,
              eps: float = 1e-6, atol: float = 1e-7, rtol: float = 1e-5) -> GradcheckReport:
    """Compare analytic gradients with central differences (f(v+eps) - f(v-eps)) / 2eps.

    loss_and_grads(**inputs) -> (loss, {input_name: d loss / d input}); it must accumulate
    parameter gradients into ``.grad`` (gradcheck zeroes them first). ``module``'s parameters
    (if given) and the float arrays in ``inputs`` are checked element by element; they must
    be float64 (``model.to(np.float64)``). An element passes when
    |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
    """
    inputs = {k: np.array(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f" else v
              for k, v in (inputs or {}).items()}
    named = list(module.named_parameters()) if module is not None else []
    for name, p in named:
        if p.data.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 parameters, {name} is {p.data.dtype}: "
                            "call module.to(np.float64) first")
    if module is not None:
        module.zero_grad()
    loss, input_grads = loss_and_grads(**inputs)
    analytic = {name: p.grad.copy() for name, p in named}
    input_grads = dict(input_grads or {})

    def f() -> float:
        return float(loss_and_grads(**inputs)[0])

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
    for name, arr in inputs.items():
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.float64) or name not in input_grads:
            continue
        report.rows.append(_compare(name, input_grads[name], numeric_grad(arr), atol, rtol))
    if module is not None:
        module.zero_grad()
    return report
