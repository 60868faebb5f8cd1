"""MemoryModel: a recurrent layer and a Linear head, for the long-range memory tasks.

x (T, B, I) -> RNN/IRNN/LSTM/GRU -> h (T, B, H) -> Linear -> y, read at each sequence's last
step (adding, order: y (B, O)) or at every step (copy: y (T, B, O)).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import init
from .._check import choice, positive_int
from ..module import Module
from ..nn import GRU, LSTM, RNN, Linear

CELLS = ("rnn", "irnn", "lstm", "gru")


def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                    forget_bias: float | None = None, dtype=np.float32, rng=None, *,
                    bidirectional: bool = False, dropout: float = 0.0):
    """The recurrent layer of each cell name: ``rnn`` tanh RNN; ``irnn`` ReLU RNN with identity
    recurrent weights and zero biases (Le et al. 2015); ``lstm`` (forget-gate biases set to
    ``forget_bias`` unless None: PyTorch's initialisation); ``gru``. All keep PyTorch's layout;
    ``bidirectional`` and ``dropout`` (between layers) are PyTorch's arguments."""
    choice("cell", cell, CELLS)
    if forget_bias is not None and cell != "lstm":
        raise ValueError(f"forget_bias applies to the lstm cell only, got cell={cell!r}")
    if cell in ("rnn", "irnn"):
        layer = RNN(input_size, hidden_size, num_layers, nonlinearity="tanh" if cell == "rnn" else "relu",
                    dropout=dropout, bidirectional=bidirectional, dtype=dtype, rng=rng)
        if cell == "irnn":
            init.identity_recurrent_(layer)
        return layer
    if cell == "gru":
        return GRU(input_size, hidden_size, num_layers, dropout=dropout, bidirectional=bidirectional,
                   dtype=dtype, rng=rng)
    layer = LSTM(input_size, hidden_size, num_layers, dropout=dropout, bidirectional=bidirectional,
                 dtype=dtype, rng=rng)
    if forget_bias is not None:
        init.forget_bias_(layer, forget_bias)
    return layer


class MemoryModel(Module):
    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1,
                 every_step: bool = False, forget_bias: float | None = None, dtype=np.float32, rng=None):
        super().__init__(dtype)
        rng = init.make_rng(rng)
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, forget_bias, dtype, rng)
        self.head = Linear(hidden_size, positive_int("output_size", output_size), dtype=dtype, rng=rng)
        self.every_step = bool(every_step)
        self.config = dict(cell=cell, input_size=input_size, hidden_size=hidden_size, output_size=output_size,
                           num_layers=num_layers, every_step=self.every_step, forget_bias=forget_bias,
                           dtype=self.dtype.name)

    def forward(self, x, lengths=None):
        """x (T, B, I), lengths (B,) or None -> y, cache. y is (T, B, O) with ``every_step``,
        else (B, O) read at step ``lengths - 1`` (or T - 1)."""
        h, _, rnn_cache = self.rnn.forward(x, None, lengths=lengths)      # (T, B, H)
        T, B, _ = h.shape
        last = np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1
        feats = h if self.every_step else h[last, np.arange(B)]          # (T, B, H) or (B, H)
        y, head_cache = self.head.forward(feats)
        return y, SimpleNamespace(rnn=rnn_cache, head=head_cache, last=last, shape=h.shape)

    def __call__(self, x, lengths=None):
        return self.forward(x, lengths)[0]

    def backward(self, dy, cache):
        """Gradient of y -> dx (T, B, I); accumulates every parameter's ``.grad``."""
        dfeats = self.head.backward(dy, cache.head)
        if self.every_step:
            dh = dfeats
        else:
            dh = np.zeros(cache.shape, self.dtype)                         # (T, B, H)
            dh[cache.last, np.arange(cache.shape[1])] = dfeats
        dx, _ = self.rnn.backward(dh, cache.rnn)
        return dx
