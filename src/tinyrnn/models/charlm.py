"""CharLM: Embedding -> RNN | LSTM | GRU (num_layers, dropout) -> Dropout -> Linear.

Time-major: ids (T, B) -> logits (T, B, V). For truncated BPTT the final state of one chunk
is passed as the initial state of the next, and its gradient is dropped at the boundary.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import choice
from ..init import make_rng
from ..module import Module
from ..nn import GRU, LSTM, RNN, Dropout, Embedding, Linear

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class CharLM(Module):
    def __init__(self, vocab_size: int, embed_size: int = 64, hidden_size: int = 256, cell: str = "lstm",
                 num_layers: int = 1, dropout: float = 0.0, dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.rng = make_rng(rng)                # shared by every dropout, so its state can be saved
        self.cell = choice("cell", cell, tuple(CELLS))
        self.embed = Embedding(vocab_size, embed_size, dtype=dtype, rng=self.rng)
        self.rnn = CELLS[cell](embed_size, hidden_size, num_layers, dropout=dropout, dtype=dtype, rng=self.rng)
        self.drop = Dropout(dropout, rng=self.rng, dtype=dtype)
        self.head = Linear(hidden_size, vocab_size, dtype=dtype, rng=self.rng)
        self.config = dict(vocab_size=vocab_size, embed_size=embed_size, hidden_size=hidden_size, cell=cell,
                           num_layers=num_layers, dropout=dropout, dtype=self.dtype.name)

    def forward(self, ids, state=None):
        """ids (T, B) -> logits (T, B, V), final state, cache."""
        e, ec = self.embed.forward(ids)
        h, state, rc = self.rnn.forward(e, state)
        d, dc = self.drop.forward(h)
        logits, hc = self.head.forward(d)
        return logits, state, SimpleNamespace(embed=ec, rnn=rc, drop=dc, head=hc)

    def __call__(self, ids, state=None):
        logits, state, _ = self.forward(ids, state)
        return logits, state

    def backward(self, dlogits, cache):
        """Accumulate parameter gradients; the gradient of the initial state is dropped
        (truncated BPTT cuts it at the chunk boundary)."""
        dh = self.drop.backward(self.head.backward(dlogits, cache.head), cache.drop)
        dx, _ = self.rnn.backward(dh, cache.rnn)
        self.embed.backward(dx, cache.embed)
