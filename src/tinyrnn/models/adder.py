"""BinaryAdder: the tutorial's Elman network for bit-by-bit addition.

x_t = (a_t, b_t) -> h_t = sigmoid(x_t W_ih^T + h_{t-1} W_hh^T) -> p_t = sigmoid(h_t W_ho^T),
no biases, every weight U(-1, 1) as the tutorial initialises them (2 * random - 1).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..data import binary
from ..functional import sigmoid
from ..init import make_rng
from ..module import Module
from ..nn import RNN, Linear


class BinaryAdder(Module):
    def __init__(self, hidden_size: int = 16, dtype=np.float32, rng=None):
        super().__init__(dtype)
        rng = make_rng(rng)
        self.rnn = RNN(2, hidden_size, nonlinearity="sigmoid", bias=False, dtype=dtype, rng=rng)
        self.out = Linear(hidden_size, 1, bias=False, dtype=dtype, rng=rng)
        self.config = dict(hidden_size=hidden_size, dtype=self.dtype.name)
        for p in self.parameters():
            p.data[...] = rng.uniform(-1.0, 1.0, size=p.data.shape)

    def forward(self, x):
        """x (bits, B, 2) -> probabilities p (bits, B, 1), hidden states (bits, B, H), cache."""
        h, _, rnn_cache = self.rnn.forward(x)
        z, out_cache = self.out.forward(h)
        p = sigmoid(z)
        return p, h, SimpleNamespace(rnn=rnn_cache, out=out_cache, p=p)

    def __call__(self, x):
        return self.forward(x)[0]

    def backward(self, dp, cache):
        """Gradient of the loss w.r.t. p -> parameter gradients (the input needs none)."""
        dz = dp * cache.p * (1 - cache.p)  # sigmoid' = p (1 - p)
        self.rnn.backward(self.out.backward(dz, cache.out), cache.rnn)


def accuracy(model: BinaryAdder, a_bits, b_bits, chunk: int = 65536) -> float:
    """Exact accuracy: the fraction of operand pairs (``a_bits``, ``b_bits``: (bits, N) arrays of
    0/1, least significant bit first) whose every sum bit is right, ``chunk`` pairs at a time."""
    right = 0
    n = a_bits.shape[1]
    for s in range(0, n, chunk):
        a, b = a_bits[:, s : s + chunk], b_bits[:, s : s + chunk]
        p = model(binary.encode(a, b, model.dtype))[:, :, 0]
        right += int(np.all((p > 0.5) == binary.add_bits(a, b).astype(bool), axis=0).sum())
    return right / max(n, 1)
