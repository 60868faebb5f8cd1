"""tinyrnn: recurrent networks in plain NumPy, with hand-derived BPTT and PyTorch's semantics."""

from . import functional, init, reference
from ._version import __version__
from .checkpoint import CheckpointError, load, read_header, save
from .errors import Diverged, InputError
from .gradcheck import GradcheckReport, gradcheck
from .losses import bce_loss, bce_with_logits, cross_entropy, mse_loss
from .module import Module, ModuleDict, Parameter
from .nn import GRU, LSTM, RNN, Attention, Dropout, Embedding, GRUCell, Linear, LSTMCell, RNNCell
from .nn.states import states
from .optim import SGD, Adagrad, Adam, clip_grad_norm_, clip_grad_value_, grad_norm
from .threads import blas_threads

__all__ = [
    "__version__",
    "functional",
    "init",
    "reference",
    "Module",
    "ModuleDict",
    "Parameter",
    "Linear",
    "Embedding",
    "Dropout",
    "RNNCell",
    "RNN",
    "LSTMCell",
    "LSTM",
    "GRUCell",
    "GRU",
    "Attention",
    "states",
    "mse_loss",
    "bce_loss",
    "bce_with_logits",
    "cross_entropy",
    "SGD",
    "Adam",
    "Adagrad",
    "clip_grad_norm_",
    "clip_grad_value_",
    "grad_norm",
    "gradcheck",
    "GradcheckReport",
    "save",
    "load",
    "read_header",
    "CheckpointError",
    "InputError",
    "Diverged",
    "blas_threads",
]
