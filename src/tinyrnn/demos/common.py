"""Helpers shared by the demos: progress bars, timers, plotting back-end."""

from __future__ import annotations

import sys
import time


def progress(iterable, total: int, enabled: bool, desc: str = ""):
    """A tqdm bar that appears only on loops longer than a second, only on a terminal."""
    if not enabled or not sys.stdout.isatty():
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, delay=1.0, leave=False, dynamic_ncols=True)


class Timer:
    """Accumulates the seconds spent inside ``with timer:`` blocks."""

    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._t0
        return False


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg back-end, or a clear error."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'tinyrnn[cli]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
