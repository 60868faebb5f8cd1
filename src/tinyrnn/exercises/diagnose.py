"""Check a learner's step functions against ``tinyrnn.reference`` and name the first broken
equation of docs/bptt.md, from the functions' outputs alone (the learner's cache is opaque).

How an equation is found (float64 throughout, every input a fresh copy):
- linear part of a forward, (1), (L1), (G1)/(G2): the same pre-activations are produced in
  several ways (all through the biases, through rank-one weights, with no biases); a correct
  linear part gives the same outputs for all of them, a wrong one does not;
- the rest of a forward: with the pre-activations held fixed, an input that only enters the
  last equation (``c`` in (L3), ``h`` in (G3) when ``weight_hh`` is zero) is varied; the
  outputs must be affine in it with the slope and intercept of the equation, and which of the
  two is off says whether the gate (L2), (G1), (G2) or the combination (L3), (L4), (G3) is;
- a backward: at batch size 1 the bias gradients (and ``dW_ih x^T / |x|²``) read out the
  learner's pre-activation gradients gate by gate; setting ``dh_next`` or ``dc_next`` to zero
  separates the paths through (L6)-(L9); the gates that are wrong say which line is.
A backward is only called on inputs where the learner's own forward is right, so a bug in a
forward is named there and never blamed on its backward.

The forward diagnosis is in ``_diagnose_forward``, the backward one in ``_diagnose_backward``,
the probes and the safe calls of the learner's functions in ``_learner``.
"""

from __future__ import annotations

import numpy as np

from ._diagnose_backward import check_backward
from ._diagnose_forward import check_forward
from ._learner import FUNCTIONS, BadReturn, Learner, LearnerError, NotWritten, _call, result

__all__ = ["FUNCTIONS", "check_function", "check_forward", "check_backward", "result"]


# ------------------------------------------------------------------ one function
def check_function(name, functions, path):
    """The result dict of checking ``name`` (one of FUNCTIONS) among the learner's ``functions``."""
    cell = name.split("_")[0]
    learner = Learner(functions, path, cell)
    try:
        if name.endswith("_backward"):
            if f"{cell}_step" not in functions:
                return result(
                    "not checked",
                    None,
                    f"{name} is checked with the cache of {cell}_step: define {cell}_step in the same file",
                )
            return check_backward(learner)
        return check_forward(learner)
    except NotWritten:
        if name.endswith("_backward") and not _raises_not_written(functions[name], path):
            return result("not checked", None, f"{cell}_step is not written yet; {name} is checked with its cache")
        return result("not written", None, f"{name} raises NotImplementedError")
    except BadReturn as e:
        return result(e.status, None, str(e))
    except LearnerError as e:
        return result("error", None, str(e))


def _raises_not_written(fn, path):
    """Whether a backward raises NotImplementedError at once (an unfilled template), given a cache
    of None because its forward gives none."""
    dummy = np.zeros((1, 1))
    try:
        _call(fn, "", path, *([dummy] * (fn.__code__.co_argcount - 1 if hasattr(fn, "__code__") else 1)), None)
    except NotWritten:
        return True
    except (LearnerError, BadReturn):
        return False
    return False
