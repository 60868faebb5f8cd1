"""Opt-in, process-wide speed settings (the library never changes them by itself).

``retain_memory()`` asks glibc's allocator to keep freed memory for reuse instead of giving
it back to the operating system. A recurrent layer allocates its step caches afresh on every
forward (they travel in the returned cache, so they cannot be reused safely); with the
default settings each large array comes from new pages, and touching those pages (a page
fault per 4 KiB) cost 20-25 % of an LSTM's forward+backward in our measurements
(docs/performance.md). The price: the process keeps up to ``trim_bytes`` of freed memory.

The ``tinyrnn`` command and the benchmarks call it; library users may call it once at start-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def retain_memory(mmap_bytes: int = 256 << 20, trim_bytes: int = 1 << 30) -> bool:
    """Serve allocations below ``mmap_bytes`` from the reusable heap and keep up to
    ``trim_bytes`` of freed memory. Returns False (and does nothing) where the C library
    is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, int(min(mmap_bytes, 2**31 - 1)))
    ok &= mallopt(M_TRIM_THRESHOLD, int(min(trim_bytes, 2**31 - 1)))
    return bool(ok)
