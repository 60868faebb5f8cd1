"""MemoryModel: a recurrent layer and a Linear head, for the long-range memory tasks.

x (T, B, I) -> RNN/IRNN/LSTM/GRU -> h (T, B, H) -> Linear -> y, read at each sequence's last
step (adding, order: y (B, O)) or at every step (copy: y (T, B, O)).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import init
from .._check import choice, positive_int
from ..errors import InputError
from ..module import Module, evaluation
from ..nn import CELLS as LAYERS
from ..nn import GRU, LSTM, RNN, Linear
from ..nn.recurrent import regularisers

# The cells of nn.CELLS, and irnn: a ReLU RNN with identity recurrent weights (Le et al. 2015).
CELLS = ("rnn", "irnn", *(c for c in LAYERS if c != "rnn"))


def recurrent_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    forget_bias: float | None = None,
    dtype=np.float32,
    rng=None,
    *,
    bidirectional: bool = False,
    dropout: float = 0.0,
    **options,
):
    """The recurrent layer of each cell name: ``rnn`` tanh RNN; ``irnn`` ReLU RNN with identity
    recurrent weights and zero biases (Le et al. 2015); ``lstm`` (forget-gate biases set to
    ``forget_bias`` unless None: PyTorch's initialisation); ``gru``. All keep PyTorch's layout;
    ``bidirectional`` and ``dropout`` (between layers) are PyTorch's arguments; ``options`` the
    layers' regularising options (``recurrent_dropout``, ``weight_drop``, ``zoneout``, ``layer_norm``)."""
    choice("cell", cell, CELLS)
    if forget_bias is not None and cell != "lstm":
        raise InputError(f"forget_bias applies to the lstm cell only, got cell={cell!r}")
    kw = dict(dropout=dropout, bidirectional=bidirectional, dtype=dtype, rng=rng, **options)
    if cell in ("rnn", "irnn"):
        layer = RNN(input_size, hidden_size, num_layers, nonlinearity="tanh" if cell == "rnn" else "relu", **kw)
        if cell == "irnn":
            init.identity_recurrent_(layer)
        return layer
    if cell == "gru":
        return GRU(input_size, hidden_size, num_layers, **kw)
    layer = LSTM(input_size, hidden_size, num_layers, **kw)
    if forget_bias is not None:
        init.forget_bias_(layer, forget_bias)
    return layer


class MemoryModel(Module):
    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
        every_step: bool = False,
        forget_bias: float | None = None,
        dtype=np.float32,
        rng=None,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
        layer_norm: bool = False,
    ):
        super().__init__(dtype)
        rng = init.make_rng(rng)
        self.rnn = recurrent_layer(
            cell,
            input_size,
            hidden_size,
            num_layers,
            forget_bias,
            dtype,
            rng,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
            layer_norm=layer_norm,
        )
        self.head = Linear(hidden_size, positive_int("output_size", output_size), dtype=dtype, rng=rng)
        self.every_step = bool(every_step)
        self.config = dict(
            cell=cell,
            input_size=input_size,
            hidden_size=hidden_size,
            output_size=output_size,
            num_layers=num_layers,
            every_step=self.every_step,
            forget_bias=forget_bias,
            dtype=self.dtype.name,
        )
        self.config.update(regularisers(self.rnn))

    def forward(self, x, lengths=None):
        """x (T, B, I), lengths (B,) or None -> y, cache. y is (T, B, O) with ``every_step``,
        else (B, O) read at step ``lengths - 1`` (or T - 1)."""
        h, _, rnn_cache = self.rnn.forward(x, None, lengths=lengths)  # (T, B, H)
        T, B, _ = h.shape
        last = np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1
        feats = h if self.every_step else h[last, np.arange(B)]  # (T, B, H) or (B, H)
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
            dh = np.zeros(cache.shape, self.dtype)  # (T, B, H)
            dh[cache.last, np.arange(cache.shape[1])] = dfeats
        dx, _ = self.rnn.backward(dh, cache.rnn)
        return dx


EVAL_CHUNK = 500  # test sequences per forward pass


def evaluate(model: MemoryModel, task, test, chunk: int = EVAL_CHUNK) -> dict:
    """``task``'s held-out metrics (a ``data.memory.MemoryTask``) of ``model`` on the batch
    ``test``, run ``chunk`` sequences at a time, in evaluation mode (the model's training mode
    is restored afterwards)."""
    outs = []
    with evaluation(model):
        for s in range(0, test.x.shape[1], chunk):
            lengths = None if test.lengths is None else test.lengths[s : s + chunk]
            outs.append(model(test.x[:, s : s + chunk], lengths))
    return task.metrics(np.concatenate(outs, axis=1 if model.every_step else 0), test)


def input_gradient_norms(model: MemoryModel, batch) -> np.ndarray:
    """||dL_b/dx_t|| averaged over the batch (a ``data.memory.Batch`` of a task answered at the
    last step), (T,) for t = 1 .. T, with L_b = (y_b - target_b)^2 (the sum over the batch, so
    each sequence's gradient is its own): how much of the loss's gradient reaches each input."""
    y, cache = model.forward(batch.x, batch.lengths)  # (B, 1)
    model.zero_grad()
    dx = model.backward(2 * (y - batch.y), cache)  # (T, B, I)
    return np.linalg.norm(dx.astype(np.float64), axis=2).mean(axis=1)
