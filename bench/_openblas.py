"""NumPy's OpenBLAS thread-count functions, for the benchmarks that compare thread counts.

(The layers themselves never change the thread count: a one-thread switch around the
recurrent loop was measured slower than OpenBLAS's own choice at every size in
docs/why_fast.md, so they have none.) ctypes from the standard library only.
"""

import ctypes
import glob
import os

import numpy as np

# (setter, getter) symbol names: NumPy's wheels (scipy-openblas, 64-bit ints), then plain OpenBLAS.
_SYMBOLS = [
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
]


def _candidate_libraries():
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1] if line.strip() else ""
                if "openblas" in os.path.basename(path).lower() and ".so" in path:
                    yield path
    except OSError:
        pass
    base = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*", "numpy.libs/*openblas*.dll"):
        yield from glob.glob(os.path.join(base, pattern))


def _find():
    seen = set()
    for path in _candidate_libraries():
        if path in seen:
            continue
        seen.add(path)
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _SYMBOLS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


FUNCS = _find()  # (set_num_threads, get_num_threads) or None
