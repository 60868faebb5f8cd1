"""Layers: each with ``forward -> (outputs..., cache)``, ``backward``, and ``__call__`` for inference."""

from .cell import CellBase, GRUCell, LSTMCell, RNNCell
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU
from .linear import Linear
from .lstm import LSTM
from .recurrent import RecurrentBase
from .rnn import RNN

__all__ = ["CellBase", "Dropout", "Embedding", "GRU", "GRUCell", "Linear", "LSTM", "LSTMCell",
           "RecurrentBase", "RNN", "RNNCell"]
