"""Every cell's activation and the next-character prediction of a CharLM, a chunk at a time.

The values of every step come from ``tinyrnn.states`` on the model's own recurrent layer: the
fused kernels' forward, in the same pass, hands out h of every layer, and for an LSTM c and the
gates i, f, g, o, for a GRU the gates r, z, n. The carried state (h, c) is each layer's last
step, fed back as the next chunk's ``hx``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..functional import log_softmax
from ..models.charlm import CharLM
from ..nn.states import states

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}


class Tracer:
    """Feeds a CharLM one stretch of character ids after another, the state carried over.

    ``groups`` names the blocks of cells in the activation columns, in order: for each layer
    (from 1), (layer, "c") and (layer, "h") for an LSTM ("c" holds tanh(c)), (layer, "h")
    otherwise, then with ``gates`` the layer's gates ((layer, "i"), ... for an LSTM, (layer,
    "r"), ... for a GRU); each block has ``hidden_size`` columns.
    """

    def __init__(self, model: CharLM, gates: bool = False):
        if model.rnn.bidirectional or getattr(model.rnn, "proj_size", 0):
            raise InputError("show needs a one-directional recurrent layer without projection")
        self.model = model
        self.model.eval()
        self.lstm = model.cell == "lstm"
        self.num_layers = model.rnn.num_layers
        self.hidden = model.rnn.hidden_size
        names = (("c", "h") if self.lstm else ("h",)) + (GATES[model.cell] if gates else ())
        self.groups = [(k + 1, s) for k in range(self.num_layers) for s in names]
        self.state: tuple | np.ndarray | None = None

    def __call__(self, ids: np.ndarray, predict: bool = True):
        """ids (T,) -> (activations (T, len(groups) * hidden) float32, log-probabilities of the
        next character (T, V) float64, or None without ``predict``)."""
        x = self.model.embed(np.asarray(ids)[:, None])  # (T, 1, E)
        values = states(self.model.rnn, x, self.state)  # per layer: name -> (T, 1, H)
        h_n = np.stack([v["h"][-1] for v in values])  # (L, 1, H)
        self.state = (h_n, np.stack([v["c"][-1] for v in values])) if self.lstm else h_n
        blocks = [np.tanh(values[k - 1]["c"][:, 0]) if s == "c" else values[k - 1][s][:, 0] for k, s in self.groups]
        acts = np.concatenate(blocks, axis=1)
        if not predict:
            return acts, None
        logits = self.model.head(values[-1]["h"])[:, 0].astype(np.float64)  # (T, V)
        return acts, log_softmax(logits)
