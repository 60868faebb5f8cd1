"""How strongly each earlier character influenced a CharLM's prediction of each character,
by tinyrnn's own BPTT (after Distill's "Visualizing memorization in RNNs", Madsen 2019).

For the character at step j the model's prediction comes from its output after reading steps
0 .. j-1. The influence of the character read at step t (t < j, at most ``window`` steps back) is

    ‖∂ log p(x_j | x_{<j}) / ∂ e_t‖,

the norm of the gradient of the log-probability the model gives the actual character with
respect to the embedding vector e_t it read at step t, with the state at the window's start
(after step j - window - 1, from the run over the whole text) held fixed. The gradients come
from the layers' own forward and backward: the head's backward of dlogits = onehot(x_j) -
softmax (the gradient of log p(x_j) with respect to the logits), then the recurrent layer's
backward, which returns the gradient of its input, the embeddings. All windows run as one
batch (``batch`` windows at a time), of ``window`` steps each (fewer at the text's start,
through ``lengths``).
"""

from __future__ import annotations

import numpy as np

from ..functional import softmax
from ..models.charlm import CharLM
from ..nn.states import states

WINDOW = 64


def influence(model: CharLM, ids: np.ndarray, window: int = WINDOW, batch: int = 256) -> np.ndarray:
    """(n, window) float64 for ids (n,): entry [j, d - 1] is the influence of the character at
    step j - d on the prediction of the character at step j (d = 1 .. window); 0 where j - d < 0
    (and the whole of row 0, which no character precedes). The parameters' gradients are left
    as they were."""
    out = np.zeros((len(ids), window))
    for js, rows in influence_rows(model, ids, window, batch):
        out[js] = rows
    return out


def influence_rows(model: CharLM, ids: np.ndarray, window: int = WINDOW, batch: int = 256):
    """``influence`` ``batch`` rows at a time: yields (steps js (B,), rows (B, window) float64).
    Working memory does not grow with the text: the state at each window's start comes from a
    run over the text carried from one batch to the next."""
    ids = np.asarray(ids, np.int64)
    n, lstm = len(ids), model.cell == "lstm"
    model.eval()
    saved = [p.grad.copy() for p in model.parameters()]
    zeros = np.zeros((model.rnn.num_layers, 1, model.rnn.hidden_size), model.rnn.dtype)
    pos, carry = 0, ((zeros, zeros) if lstm else zeros)  # the state before step pos
    try:
        for first in range(1, n, batch):
            js = np.arange(first, min(first + batch, n))  # the predicted steps
            starts = np.maximum(js - window, 0)  # non-decreasing
            before, pos, carry = _states_before(model, ids, pos, carry, int(starts[-1]), lstm)
            pick = starts - (pos - len(before) + 1)  # index into before
            hx: tuple | np.ndarray = (
                tuple(np.concatenate([b[k] for b in before], axis=1)[:, pick] for k in range(2))
                if lstm
                else np.concatenate(before, axis=1)[:, pick]
            )  # (L, B, H)
            yield js, _rows(model, ids, js, starts, hx, window)
    finally:
        for p, g in zip(model.parameters(), saved):
            p.grad[...] = g


def _states_before(model, ids, pos, carry, stop, lstm):
    """Run from the state ``carry`` before step ``pos`` up to step ``stop``: (the states before
    steps pos .. stop, each (L, 1, H) or an LSTM's pair, stop, the state before step stop)."""
    before = [carry]
    if stop > pos:
        run = states(model.rnn, model.embed(ids[pos:stop, None]), carry)  # per layer: (k, 1, H)
        h = np.stack([v["h"][:, 0] for v in run], 1)  # (k, L, H)
        c = np.stack([v["c"][:, 0] for v in run], 1) if lstm else None
        before += [(h[i][:, None], c[i][:, None]) if lstm else h[i][:, None] for i in range(stop - pos)]
    return before, stop, before[-1]


def _rows(model, ids, js, starts, hx, window):
    """The influence rows (B, window) of the predicted steps js, windows from ``starts``."""
    lengths = js - starts  # (B,) in [1, window]
    T, B = int(lengths.max()), len(js)
    steps = np.minimum(starts[None, :] + np.arange(T)[:, None], len(ids) - 1)  # (T, B); past a length: ignored
    x = model.embed(ids[steps])  # (T, B, E)
    y, _, cache = model.rnn.forward(x, hx, lengths=lengths)  # (T, B, H)
    last = y[lengths - 1, np.arange(B)]  # (B, H) the output after step j-1
    logits, head_cache = model.head.forward(last)  # (B, V)
    dlogits = -softmax(logits.astype(np.float64))
    dlogits[np.arange(B), ids[js]] += 1.0  # d log p(x_j) / d logits
    dlast = model.head.backward(dlogits.astype(y.dtype), head_cache)  # (B, H)
    dy = np.zeros_like(y)
    dy[lengths - 1, np.arange(B)] = dlast
    dx, _ = model.rnn.backward(dy, cache)  # (T, B, E) = d/d e_t
    norms = np.linalg.norm(dx.astype(np.float64), axis=2)  # (T, B)
    rows = np.zeros((B, window))
    for b, length in enumerate(lengths):
        rows[b, :length] = norms[length - 1 :: -1, b]  # d = 1 .. length
    return rows
