"""A process-wide allocator setting for the benchmarks' ``--retain`` mode (the library never
changes it; it needs no such setting).

``retain_memory()`` asks glibc's allocator to keep freed memory for reuse instead of giving
it back to the operating system. The recurrent layers do not need it: they reuse their own
large arrays between calls (``tinyrnn.nn.buffers``), which is what this setting used to buy
them (docs/why_fast.md). It may still help other code that allocates large arrays afresh
on every step. The price: the process keeps up to ``trim_bytes`` of freed memory.
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
