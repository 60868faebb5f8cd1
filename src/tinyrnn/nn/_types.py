"""Names for the types in the layers' public signatures.

A ``forward`` returns its outputs and a cache; the cache is opaque to the caller and only
goes back to the same layer's ``backward``, so it is typed ``Cache`` (any object).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

Cache = Any
# h, or (h, c) for the LSTM; as an input either part (or the whole) may be None: zeros
State = np.ndarray | tuple[np.ndarray, np.ndarray]
StateIn = ArrayLike | tuple[ArrayLike | None, ArrayLike | None] | None

__all__ = ["ArrayLike", "Cache", "State", "StateIn"]
