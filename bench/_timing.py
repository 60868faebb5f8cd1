"""Shared by the benchmark scripts: the median wall-clock time of a call."""

import time

import numpy as np


def median_ms(fn, reps=15, warmup=3):
    """Median of ``reps`` timed calls of ``fn()`` in milliseconds, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))
