"""Layers: each with ``forward -> (outputs..., cache)``, ``backward``, and ``__call__`` for inference."""

from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .recurrent import RecurrentBase
from .rnn import RNN, RNNCell

__all__ = ["Dropout", "Embedding", "Linear", "RecurrentBase", "RNN", "RNNCell"]
