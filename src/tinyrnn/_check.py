"""Input validation shared by every public entry point.

Each helper raises early, naming the argument, what was expected and what came,
so a user never sees a NumPy traceback from deep inside a kernel.
"""

from __future__ import annotations

import math
import numbers
from types import SimpleNamespace

import numpy as np

from .errors import InputError, NonFiniteError


def to_numpy(value):
    """Arrays pass through; torch tensors (anything with ``.detach()``) are converted."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def check_dtype_arg(dtype) -> np.dtype:
    """Validate a module's ``dtype=`` argument: float32 or float64 only."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dt}")
    return dt


def float_array(name: str, value, dtype, *, finite: bool = True) -> np.ndarray:
    """Return ``value`` as a floating array of ``dtype``; refuse integers, bools, NaN/inf."""
    arr = to_numpy(value)
    if arr.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a floating-point array, got dtype {arr.dtype}"
            + (" (cast it with .astype(np.float32))" if arr.dtype.kind in "iub" else "")
        )
    arr = arr.astype(dtype, copy=False)
    if finite and not np.isfinite(arr).all():
        raise NonFiniteError(f"{name} contains NaN or inf")
    return arr


def int_array(name: str, value, *, low: int | None = None, high: int | None = None, what: str = "index") -> np.ndarray:
    """Return ``value`` as an int64 array, each entry in [low, high)."""
    arr = to_numpy(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of {what}es, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if low is not None and lo < low:
            raise InputError(f"{name} must have every {what} >= {low}, got {lo}")
        if high is not None and hi >= high:
            raise InputError(f"{name} must have every {what} < {high}, got {hi}")
    return arr


def shape_str(shape) -> str:
    """(5, 2, 3) and (3,) as Python prints tuples."""
    parts = [str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_shape(name: str, arr: np.ndarray, expected: tuple, note: str = "") -> None:
    """Raise unless ``arr.shape == expected`` (``None`` in ``expected`` matches any size)."""
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        exp = shape_str("*" if e is None else e for e in expected)
        raise InputError(f"{name} must have shape {exp}{note}, got {shape_str(arr.shape)}")


def positive_int(name: str, value, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return int(value)


def probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__}")
    if not 0.0 <= float(value) < 1.0:
        raise InputError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def real(name: str, value) -> float:
    """A Python float from any real number (not a bool); a huge int is an error, not an OverflowError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise InputError(f"{name} must be a finite number, got an int of {len(str(value))} digits") from None


def nonneg_float(name: str, value, *, allow_inf: bool = False) -> float:
    """A finite float >= 0 (``allow_inf``: +inf is accepted too); NaN is always refused."""
    v = real(name, value)
    if not v >= 0.0 or (v == math.inf and not allow_inf):
        raise InputError(f"{name} must be >= 0{'' if allow_inf else ' and finite'}, got {value}")
    return v


def integer(name: str, value) -> int:
    """Any Python or NumPy integer (not a bool, not a float such as 1.5 or 2.0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def flag(name: str, value) -> bool:
    """True or False (a Python or NumPy bool), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name: str, value, options) -> str:
    if value not in options:
        raise InputError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def check_cache(cache, layer, fields: tuple[str, ...]) -> None:
    """A layer's backward takes only the cache its own forward returned (it names its owner)."""
    name = type(layer).__name__
    if not isinstance(cache, SimpleNamespace) or not all(hasattr(cache, f) for f in fields + ("owner",)):
        raise TypeError(
            f"cache must be the second value returned by this {name}'s forward(), got {type(cache).__name__}"
        )
    if cache.owner is not layer:
        raise InputError(
            f"cache comes from the forward of another layer ({cache.owner!r}), not of this "
            f"{layer!r}: pass each layer the cache its own forward returned"
        )
