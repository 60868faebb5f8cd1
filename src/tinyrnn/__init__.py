"""tinyrnn: recurrent networks in plain NumPy, with hand-derived BPTT and PyTorch's semantics."""

from . import functional, init
from ._version import __version__
from .checkpoint import CheckpointError, load, read_header, save
from .gradcheck import GradcheckReport, gradcheck
from .losses import bce_loss, bce_with_logits, cross_entropy, mse_loss
from .module import Module, Parameter
from .nn import GRU, LSTM, RNN, Attention, Dropout, Embedding, GRUCell, Linear, LSTMCell, RNNCell
from .optim import SGD, Adagrad, Adam, clip_grad_norm_, clip_grad_value_

__all__ = [
    "__version__", "functional", "init",
    "Module", "Parameter", "Linear", "Embedding", "Dropout", "RNNCell", "RNN",
    "LSTMCell", "LSTM", "GRUCell", "GRU", "Attention",
    "mse_loss", "bce_loss", "bce_with_logits", "cross_entropy",
    "SGD", "Adam", "Adagrad", "clip_grad_norm_", "clip_grad_value_",
    "gradcheck", "GradcheckReport", "save", "load", "read_header", "CheckpointError",
]
