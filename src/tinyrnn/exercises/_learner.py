"""What the exercise checker shares: the outcomes of a check, the probes (random inputs of
each cell's step), and ``Learner``, the learner's functions called safely."""

from __future__ import annotations

import traceback

import numpy as np

from .. import reference as ref
from .equations import EQUATIONS, FUNCTION_EQUATIONS

FUNCTIONS = tuple(FUNCTION_EQUATIONS)
RTOL, ATOL = 1e-6, 1e-8


# ------------------------------------------------------------------ outcomes
class NotWritten(Exception):
    """The function raised NotImplementedError."""


class LearnerError(Exception):
    """The function raised something else (the message says where in the learner's file)."""


class BadReturn(Exception):
    """The function returned something of the wrong kind (not a tuple, a wrong count, no dict, an
    array of the wrong shape or dtype); ``status`` is "wrong shape" or "wrong type"."""

    def __init__(self, message, status="wrong type"):
        super().__init__(message)
        self.status = status


def result(status, equation=None, message="", max_diff=None, where=None):
    return dict(status=status, equation=equation, message=message, max_diff=max_diff, where=where)


def _wrong(equation, diff, where, shape_msg=None, note="", should=None):
    should = should or EQUATIONS[equation][1]
    if note:
        should += f" ({note})"
    if shape_msg:
        return result("wrong shape", equation, f"{shape_msg}; ({equation}): {should}", where=where)
    return result(
        "wrong", equation, f"({equation}): {should}; largest difference {diff:.3g}", max_diff=float(diff), where=where
    )


def _call(fn, name, path, *args):
    """fn(*args) on copies of the arrays; the learner's exceptions become NotWritten/LearnerError."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        return fn(*args)
    except NotImplementedError:
        raise NotWritten from None
    except (Exception, SystemExit) as e:  # the learner's code: anything may come out
        lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
        at = f" at line {lines[-1]}" if lines else ""
        text = " ".join(str(e).split())[:200]
        raise LearnerError(f"{name} raised {type(e).__name__}{at}: {text}") from None


def _unpack(out, name, what):
    if not isinstance(out, (tuple, list)) or len(out) != len(what):
        if isinstance(out, (tuple, list)):
            got = f"{len(out)} value{'' if len(out) == 1 else 's'}"
        else:
            got = f"a value of type {type(out).__name__}"
        raise BadReturn(f"{name} returned {got}, expected a tuple ({', '.join(what)})")
    return out


def _array(value, label, shape):
    """None if value is a float64 array of ``shape``, else what is wrong with it."""
    if not isinstance(value, np.ndarray):
        return f"{label} is of type {type(value).__name__}, expected a float64 array of shape {shape}"
    if value.shape != shape:
        return f"{label} has shape {value.shape}, expected {shape}"
    if value.dtype != np.float64:
        return f"{label} has dtype {value.dtype}, expected float64 (the inputs were float64)"
    return None


def _diff(a, b):
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _close(a, b):
    return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL)


def _agree(values):
    return all(_close(v, values[0]) for v in values[1:])


# ------------------------------------------------------------------ probes
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
SIZES = ((3, 3), (4, 2))  # (I, H): square, so that a transposed weight gives numbers
BATCHES = (1, 3)


def _probe(rng, cell, B, I, H, bias, nonlinearity=None):
    G = GATES[cell] * H
    p = dict(
        x=rng.normal(size=(B, I)),
        h=rng.uniform(-0.9, 0.9, (B, H)),
        weight_ih=rng.uniform(-1, 1, (G, I)),
        weight_hh=rng.uniform(-1, 1, (G, H)),
        bias_ih=rng.uniform(-1, 1, G) if bias else None,
        bias_hh=rng.uniform(-1, 1, G) if bias else None,
    )
    if cell == "lstm":
        p["c"] = rng.normal(size=(B, H))
    if nonlinearity is not None:
        p["nonlinearity"] = nonlinearity
    return p


def _describe(p, extra=""):
    text = f"batch {len(p['x'])}, {'with' if p['bias_ih'] is not None else 'without'} biases"
    if "nonlinearity" in p:
        text += f", nonlinearity {p['nonlinearity']}"
    return text + (", " + extra if extra else "")


def probes(cell):
    rng = np.random.default_rng(23)
    out = []
    for nl in ref.NONLINEARITIES if cell == "rnn" else (None,):
        for bias in (True, False):
            for B in BATCHES:
                for I, H in SIZES:
                    out.append(_probe(rng, cell, B, I, H, bias, nl))
    return out


def _args(cell, p):
    if cell == "rnn":
        return (p["x"], p["h"], p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"], p["nonlinearity"])
    if cell == "lstm":
        return (p["x"], p["h"], p["c"], p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    return (p["x"], p["h"], p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])


_FORWARD = {
    "rnn": (ref.rnn_step, ("h_next", "cache")),
    "lstm": (ref.lstm_step, ("h_next", "c_next", "cache")),
    "gru": (ref.gru_step, ("h_next", "cache")),
}


def _ref_forward(cell, p):
    out = _FORWARD[cell][0](*_args(cell, p))
    return out[:-1], out[-1]


class Learner:
    """The learner's functions of one cell, called on copies, outputs validated."""

    def __init__(self, functions, path, cell):
        self.fns, self.path, self.cell = functions, path, cell

    def forward(self, p):
        """The learner's forward outputs (a tuple of arrays) and cache, or raises."""
        name = f"{self.cell}_step"
        what = _FORWARD[self.cell][1]
        out = _unpack(_call(self.fns[name], name, self.path, *_args(self.cell, p)), name, what)
        B, H = p["h"].shape
        for label, value in zip(what[:-1], out[:-1]):
            problem = _array(value, label, (B, H))
            if problem:
                raise BadReturn(
                    f"{name}'s {problem} ({_describe(p)})",
                    "wrong shape" if " has shape " in problem else "wrong type",
                )
        return tuple(out[:-1]), out[-1]
