"""Would overlapping the LSTM's loop with its big products on two threads pay?

The LSTM's backward runs 64 recurrent products (one per step, sequential) and then the big
weight-gradient products. One could run the loop on one core and the big products on the
other, each with one BLAS thread, so that the loop's elementwise work hides behind them.
That only pays if a product on one thread is more than half as fast as on two. This script
times, at (T, B, H) = (64, 32, 256) in float32: the 64 backward recurrent products and dW_hh
on 2 BLAS threads, the same on 1 thread, and both at once in two Python threads with 1 BLAS
thread each.

    python bench/blas_threads.py
"""

import os
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from _openblas import FUNCS  # noqa: E402
from _timing import median_ms  # noqa: E402

if FUNCS is None:
    sys.exit("NumPy's OpenBLAS thread setter was not found")
set_threads, get_threads = FUNCS
T, B, H = 64, 32, 256
G = 4 * H
rng = np.random.default_rng(0)
W_hh_t = rng.standard_normal((H, G)).astype(np.float32)
da = rng.standard_normal((G, B)).astype(np.float32)
dh = np.empty((H, B), np.float32)
dA = rng.standard_normal((G, T * B)).astype(np.float32)
S = rng.standard_normal((T * B, H)).astype(np.float32)


def loop():
    for _ in range(T):
        np.dot(W_hh_t, da, out=dh)


def dw_hh():
    dA @ S


def both():
    worker = threading.Thread(target=dw_hh)
    worker.start()
    loop()
    worker.join()


before = get_threads()
try:
    for n in (2, 1):
        set_threads(n)
        print(
            f"{n} BLAS thread(s): {T} recurrent products {median_ms(loop, 20):.2f} ms, dW_hh {median_ms(dw_hh, 20):.2f} ms"
        )
    set_threads(1)
    print(f"both at once, two Python threads of 1 BLAS thread each: {median_ms(both, 20):.2f} ms")
finally:
    set_threads(before)
