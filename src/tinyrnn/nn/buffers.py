"""BufferPool: the large arrays a recurrent layer reuses from one call to the next.

A forward+backward of a recurrent layer needs tens of megabytes of arrays (gates, states,
their gradients). Allocated afresh on every call, each comes from new pages of memory, and
touching those pages costs 20-35 % of the whole computation (docs/why_fast.md). A layer
therefore takes its large arrays from its own pool, and a pooled array is reused only once
nobody else holds it:

- the pool hands out arrays and keeps one reference to each; the cache returned by
  ``forward`` (and any output that is a view of a pooled array) holds the others;
- ``empty(name, shape, dtype)`` reuses an array of the same ``name`` only if its reference
  count shows that the pool's own reference is the only one left (every view of an array
  counts, since NumPy views reference the array that owns the memory). An array the caller
  still holds, through a cache, an output or a view, is never written to;
- per name the pool tracks at most ``HOLD`` arrays: in a training loop the caller still holds
  the previous step's cache while the next forward runs, so two alternate and nothing large
  is allocated in the steady state. If the caller keeps more, the pool forgets the oldest (it
  becomes the caller's alone and is freed when the caller drops it), so the pool keeps at most
  one step's arrays beyond what the caller holds;
- a free array of another shape (a new sequence length or batch size) is dropped, so
  changing shapes do not pile up arrays.

Small arrays (below ``MIN_BYTES``, 64 KiB) come from ``np.empty`` directly: the C allocator
reuses their memory itself. Arrays of 128 KiB and more it may not: freed together at the top of
the heap, glibc can hand their pages back to the system and fault them in again on the next
call (measured at (T, B, I, H) = (8, 256, 2, 16): 68 page faults and ~40 % of the time per
call in some processes and none in others, depending only on the heap's layout). Pooling them
makes the time the same in every process. Thread-safe (a lock around the hand-out).

The pool counts references, so it is used only on CPython (``ENABLED``); elsewhere every array
is allocated afresh. ``TINYRNN_NO_POOL=1`` in the environment turns it off on CPython too, for
bisecting a problem (read once, at import): the results are the same, only slower.
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

MIN_BYTES = 64 << 10  # below this, plain np.empty (the C heap reuses small blocks itself)
# Reference counts mean what the pool needs only on CPython; TINYRNN_NO_POOL=1 turns it off.
ENABLED = sys.implementation.name == "cpython" and os.environ.get("TINYRNN_NO_POOL", "").strip() in ("", "0")
HOLD = 2  # arrays tracked per name: the caller's previous one and the current one


def _refcounts(arrays):
    """Reference counts of the arrays of a list, as seen from here (see ``_FREE``)."""
    return [sys.getrefcount(a) for a in arrays]


# The count of an array referenced by nothing but its list, measured with the same function
# (so it does not depend on how a Python version counts the references of a loop variable).
_FREE = _refcounts([np.empty(1)])[0]


class BufferPool:
    """Arrays reused by name once only the pool references them (module docstring)."""

    def __init__(self):
        self._slots: dict[str, list[np.ndarray]] = {}  # name -> arrays, oldest first
        self._lock = threading.Lock()
        self._scopes: dict[tuple, Scope] = {}  # (prefix, dtype) -> Scope, see ``scope``

    def scope(self, prefix: str, dtype) -> Scope:
        """The ``Scope`` of this pool for ``prefix`` and ``dtype`` (made once, then kept: a
        layer asks for the same few on every call)."""
        key = (prefix, dtype)
        found = self._scopes.get(key)
        if found is None:
            found = self._scopes[key] = Scope(self if ENABLED else None, prefix, dtype)
        return found

    def empty(self, name: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, reused if ``name``'s is free."""
        if math.prod(shape) * dtype.itemsize < MIN_BYTES:
            return np.empty(shape, dtype)
        with self._lock:
            arrays = self._slots.get(name)
            if arrays is None:
                arrays = self._slots[name] = []
            counts = _refcounts(arrays)
            found = None
            for k in range(len(arrays) - 1, -1, -1):  # newest first
                if counts[k] != _FREE:
                    continue
                if arrays[k].shape != shape or arrays[k].dtype != dtype:
                    del arrays[k]  # free, but made for another shape
                elif found is None:
                    found = arrays[k]
            if found is None:
                found = np.empty(shape, dtype)
                arrays.append(found)
                del arrays[:-HOLD]  # forget the oldest: now the caller's alone
            return found

    def clear(self) -> None:
        """Forget every array (those the caller holds stay valid)."""
        with self._lock:
            self._slots.clear()

    def __len__(self):
        return sum(len(a) for a in self._slots.values())

    # A copied or pickled layer starts with an empty pool (arrays and the lock are not state).
    def __deepcopy__(self, memo):
        return BufferPool()

    def __reduce__(self):
        return BufferPool, ()


class Scope:
    """``empty(name, shape)`` of one pool, with a name prefix and a dtype fixed: what a kernel
    is given to get its arrays (``Scope(None, dtype)`` allocates afresh every time)."""

    def __init__(self, pool: BufferPool | None, prefix: str, dtype):
        self.pool, self.prefix, self.dtype = pool, prefix, np.dtype(dtype)

    def __call__(self, name: str, shape) -> np.ndarray:
        if self.pool is None:
            return np.empty(shape, self.dtype)
        return self.pool.empty(self.prefix + name, tuple(shape), self.dtype)
