"""How far tinyrnn's LSTM forward+backward is from its matrix products alone.

Times, for (T, B, I, H) = (64, 32, 64, 256) and (64, 32, 64, 512) in float32, in this one
process with default settings, (a) tinyrnn.LSTM forward+backward and
(b) only the matrix products that computation needs, with the same shapes and layouts: the
input projection, 2 x T recurrent products, dW_hh, dW_ih and dx. The difference is what the
elementwise gate work, the layout changes and Python cost; (b) is the floor for any NumPy
formulation that calls BLAS the same way.

    python bench/lstm_floor.py
"""

import os
import sys

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import tinyrnn as tr  # noqa: E402
from _timing import median_ms  # noqa: E402


def compare(T, B, I, H):
    """(whole forward+backward ms, matrix products alone ms) at (T, B, I, H), float32."""
    G = 4 * H
    rng = np.random.default_rng(0)
    lstm = tr.LSTM(I, H, rng=rng)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    dy = rng.standard_normal((T, B, H)).astype(np.float32)
    W_ih = lstm.weight_ih_l0.data
    W_hh = lstm.weight_hh_l0.data
    W_hh_t = np.ascontiguousarray(W_hh.T)
    hT = rng.standard_normal((H, B)).astype(np.float32)
    gT = np.empty((G, B), np.float32)
    xa = np.concatenate([x, np.ones((T, B, 1), np.float32)], axis=2)  # inputs with the bias column
    W_aug = np.concatenate([W_ih, np.zeros((G, 1), np.float32)], axis=1)
    dA = rng.standard_normal((G, T * B)).astype(np.float32)  # feature-major gate gradients
    S = rng.standard_normal((T * B, H)).astype(np.float32)
    xg = np.empty((T, G, B), np.float32)

    def full():
        out, hc, cache = lstm.forward(x)
        lstm.backward(dy, cache)

    def products_only():
        np.matmul(W_aug, xa.transpose(0, 2, 1), out=xg)  # input projection (T, 4H, B), bias included
        for _ in range(T):
            np.dot(W_hh, hT, out=gT)  # forward recurrent product (feature-major)
        for _ in range(T):
            np.dot(W_hh_t, gT, out=hT)  # backward recurrent product
        dA @ S  # dW_hh
        dA @ x.reshape(T * B, I)  # dW_ih
        dA.T @ W_ih  # dx

    return median_ms(full), median_ms(products_only)


for H in (256, 512):
    T, B, I = 64, 32, 64
    a, b = compare(T, B, I, H)
    print(
        f"LSTM (T={T}, B={B}, I={I}, H={H}) forward+backward: {a:.1f} ms; matrix products alone: "
        f"{b:.1f} ms; ratio {a / b:.2f} (target <= 1.15)",
        flush=True,
    )
