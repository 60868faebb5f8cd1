"""tinyrnn: recurrent networks in plain NumPy, with hand-derived BPTT and PyTorch's semantics."""

__version__ = "0.1.0"

from . import functional, init  # noqa: E402
from .checkpoint import CheckpointError, load, read_header, save  # noqa: E402
from .gradcheck import GradcheckReport, gradcheck  # noqa: E402
from .losses import bce_loss, bce_with_logits, cross_entropy, mse_loss  # noqa: E402
from .module import Module, Parameter  # noqa: E402
from .nn import GRU, LSTM, RNN, Attention, Dropout, Embedding, GRUCell, Linear, LSTMCell, RNNCell  # noqa: E402
from .nn.states import states  # noqa: E402
from .optim import SGD, Adagrad, Adam, clip_grad_norm_, clip_grad_value_  # noqa: E402

__all__ = [
    "__version__", "functional", "init",
    "Module", "Parameter", "Linear", "Embedding", "Dropout", "RNNCell", "RNN",
    "LSTMCell", "LSTM", "GRUCell", "GRU", "Attention", "states",
    "mse_loss", "bce_loss", "bce_with_logits", "cross_entropy",
    "SGD", "Adam", "Adagrad", "clip_grad_norm_", "clip_grad_value_",
    "gradcheck", "GradcheckReport", "save", "load", "read_header", "CheckpointError",
]
