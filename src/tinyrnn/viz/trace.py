"""Every cell's activation and the next-character prediction of a CharLM, a chunk at a time.

The model's recurrent layer is split into one single-layer layer per layer (the same weights,
loaded under ``_l0`` names), so the output of each layer, h at every step, comes from the
library's own fused forward. An LSTM's memory cell c of every step is not an output of the
layer; it is recomputed from the layer's inputs and its h of the previous step with the
textbook step ``tinyrnn.reference.lstm_step`` (equations (L1)-(L3) of docs/bptt.md), all steps
of the chunk in one call, then the elementwise recurrence c_t = f * c_{t-1} + i * g. The
carried state (h, c) is the layer's own.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..functional import log_softmax
from ..models.charlm import CharLM
from ..reference import layer_weights, lstm_step


def split_layers(rnn) -> list:
    """One single-layer copy of each layer of ``rnn`` (RNN, LSTM or GRU), sharing nothing, in
    ``rnn``'s mode (evaluation: no regularising masks, zoneout as its expectation)."""
    layers = []
    for k in range(rnn.num_layers):
        cfg = {**rnn.config, "input_size": rnn.input_size if k == 0 else rnn.output_size,
               "num_layers": 1, "dropout": 0.0}
        one = type(rnn)(**cfg).train(rnn.training)
        one.load_state_dict({name.replace(f"_l{k}", "_l0"): value for name, value in rnn.state_dict().items()
                             if name.endswith(f"_l{k}") or f"_l{k}_" in name})
        layers.append(one)
    return layers


def lstm_cell_states(layer, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, out: np.ndarray) -> np.ndarray:
    """c of every step of a one-layer LSTM that read x (T, B, I) from (h0, c0) (B, H) and
    produced out (T, B, H). Returns c (T, B, H).

    The gates of all steps at once: ``reference.lstm_step`` with the T*B (input, previous h)
    pairs as its batch and c = 0, so its c_next is i * g (L1)-(L3); then the recurrence
    c_t = f_t * c_{t-1} + i_t * g_t (L3) step by step, elementwise; with ``zoneout=p`` (an
    evaluation-mode layer) c_t = p c_{t-1} + (1 - p) (f_t * c_{t-1} + i_t * g_t) (Z2)."""
    T, B, I = x.shape
    H = h0.shape[-1]
    h_prev = np.concatenate([h0[None], out[:-1]]).reshape(T * B, H)     # (T*B, H)
    _, ig, gates = lstm_step(x.reshape(T * B, I), h_prev, np.zeros_like(h_prev), **layer_weights(layer))
    f, ig = gates["f"].reshape(T, B, H), ig.reshape(T, B, H)
    c = np.empty_like(ig)                                                # (T, B, H)
    c_prev, p = c0, getattr(layer, "zoneout", 0.0)
    for t in range(T):
        np.multiply(f[t], c_prev, out=c[t])
        c[t] += ig[t]                                                    # (L3) c_t = f c_{t-1} + i g
        if p:
            c[t] += p * (c_prev - c[t])                                  # (Z2), evaluation: k = p
        c_prev = c[t]
    return c


class Tracer:
    """Feeds a CharLM one stretch of character ids after another, the state carried over.

    ``groups`` names the blocks of cells in the activation columns, in order: (layer, "c") and
    (layer, "h") for an LSTM (layers from 1; "c" holds tanh(c)), (layer, "h") otherwise; each
    block has ``hidden_size`` columns. ``skip_c``: layers (from 1) whose c is not wanted: their
    "c" block is left at zero (saves recomputing the gates).
    """

    def __init__(self, model: CharLM, skip_c=()):
        if model.rnn.bidirectional or getattr(model.rnn, "proj_size", 0):
            raise InputError("show needs a one-directional recurrent layer without projection")
        self.model = model
        self.model.eval()
        self.lstm = model.cell == "lstm"
        self.layers = split_layers(model.rnn)
        self.hidden = model.rnn.hidden_size
        states = ("c", "h") if self.lstm else ("h",)
        self.groups = [(k + 1, s) for k in range(len(self.layers)) for s in states]
        self.skip_c = set(skip_c)
        self.states = [None] * len(self.layers)

    def __call__(self, ids: np.ndarray, predict: bool = True):
        """ids (T,) -> (activations (T, len(groups) * hidden) float32, log-probabilities of the
        next character (T, V) float64, or None without ``predict``)."""
        x = self.model.embed(np.asarray(ids)[:, None])                    # (T, 1, E)
        blocks = []
        for k, layer in enumerate(self.layers):
            state = self.states[k]
            out, self.states[k] = layer(x, state)                         # (T, 1, H)
            if self.lstm and k + 1 in self.skip_c:
                blocks.append(np.zeros_like(out[:, 0]))
            elif self.lstm:
                zeros = np.zeros((1, self.hidden), out.dtype)
                h0, c0 = (zeros, zeros) if state is None else (state[0][0], state[1][0])
                blocks.append(np.tanh(lstm_cell_states(layer, x, h0, c0, out))[:, 0])
            blocks.append(out[:, 0])
            x = out
        if not predict:
            return np.concatenate(blocks, axis=1), None
        logits = self.model.head(x)[:, 0].astype(np.float64)             # (T, V)
        return np.concatenate(blocks, axis=1), log_softmax(logits)
