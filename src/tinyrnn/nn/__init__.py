"""Layers: each with ``forward -> (outputs..., cache)``, ``backward``, and ``__call__`` for inference."""

from .attention import Attention
from .cell import CellBase, GRUCell, LSTMCell, RNNCell
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU
from .linear import Linear
from .lstm import LSTM
from .recurrent import RecurrentBase
from .rnn import RNN

# The recurrent layers by the cell names the models and the command line use.
CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}

__all__ = [
    "CELLS",
    "Attention",
    "CellBase",
    "Dropout",
    "Embedding",
    "GRU",
    "GRUCell",
    "Linear",
    "LSTM",
    "LSTMCell",
    "RecurrentBase",
    "RNN",
    "RNNCell",
]
