"""Thread count of NumPy's BLAS for the recurrent loop (ctypes from the standard library only).

The per-step recurrent product of a small layer ((B, H) @ (H, G*H)) is too small for
OpenBLAS's threads: waking them costs more than they save, and OpenBLAS turns them on above
M*N*K = 262,144 (e.g. B=32, H=128). The large fused products before and after the loop do
gain from threads. ``loop_threads(work)`` therefore runs the loop on one thread when the
per-step work is small, and restores the previous count afterwards.

If NumPy's BLAS is not an OpenBLAS that can be found, everything here is a no-op.
Set ``TINYRNN_LOOP_THREADS=keep`` to disable the switch.
"""

from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager, nullcontext

import numpy as np

# Per-step M*N*K below which the loop runs on one thread (measured on 2 cores; docs/performance.md).
SINGLE_THREAD_WORK = 1 << 22
# Below this OpenBLAS uses one thread by itself (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD).
OPENBLAS_SINGLE_BELOW = 65536 * 4

# (setter, getter) symbol names: NumPy's wheels (scipy-openblas, 64-bit ints), then plain OpenBLAS.
_SYMBOLS = [("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
            ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
            ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
            ("openblas_set_num_threads", "openblas_get_num_threads")]


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


_FUNCS = None if os.environ.get("TINYRNN_LOOP_THREADS") == "keep" else _find()


_KEEP = nullcontext()   # what loop_threads returns when it changes nothing (one shared object)


def loop_threads(work_per_step: int):
    """Run the enclosed loop on one BLAS thread if ``work_per_step`` (M*N*K) is small.

    A context manager; when nothing is to change (no OpenBLAS found, or the work outside the
    range where the switch helps) it is a shared do-nothing one, so the common small case
    costs no generator per call.
    """
    if _FUNCS is None or not OPENBLAS_SINGLE_BELOW <= work_per_step < SINGLE_THREAD_WORK:
        return _KEEP
    return _one_thread(*_FUNCS)


@contextmanager
def _one_thread(setter, getter):
    """One BLAS thread inside, the previous count restored afterwards (also after an error)."""
    before = getter()
    if before <= 1:
        yield
        return
    setter(1)
    try:
        yield
    finally:
        setter(before)
