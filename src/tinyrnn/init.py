"""PyTorch-matching initialisers. Randomness comes from a ``numpy.random.Generator``."""

from __future__ import annotations

import math

import numpy as np

from .errors import InputError


def make_rng(rng) -> np.random.Generator:
    """``None`` -> a fresh unseeded Generator; an int -> a seeded one; a Generator as is."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def uniform(rng: np.random.Generator, shape, bound: float, dtype) -> np.ndarray:
    """U(-bound, bound), as ``torch.nn.init.uniform_(-bound, bound)``."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def rnn_bound(hidden_size: int) -> float:
    """PyTorch's RNN/LSTM/GRU initialisation: every weight U(-1/sqrt(H), 1/sqrt(H))."""
    return 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0


def identity_recurrent_(layer) -> None:
    """IRNN initialisation (Le, Jaitly & Hinton 2015), in place: every ``weight_hh`` becomes the
    identity and every bias zero; input weights keep their initialisation. Meant for an
    ``RNN(nonlinearity="relu")``; the layer stays a plain, torch-compatible RNN."""
    for name, p in layer.named_parameters():
        if name.startswith("weight_hh"):
            if p.data.shape[0] != p.data.shape[1]:
                raise InputError(f"identity_recurrent_ needs square recurrent weights, {name} is {p.data.shape}")
            p.data[...] = np.eye(p.data.shape[0], dtype=p.data.dtype)
        elif name.startswith("bias"):
            p.data[...] = 0


def forget_bias_(lstm, value: float) -> None:
    """Forget-gate bias initialisation (Jozefowicz, Zaremba & Sutskever 2015), in place: the
    forget rows [H, 2H) of every ``bias_ih`` become ``value`` and those of ``bias_hh`` zero, so
    the gate's total bias is exactly ``value``. Every other element is left as it was."""
    if not getattr(lstm, "bias", False):
        raise InputError("forget_bias_ needs an LSTM built with bias=True")
    H = lstm.hidden_size
    for name, p in lstm.named_parameters():
        if name.startswith("bias_ih") or name.startswith("bias_hh"):
            if p.data.shape != (4 * H,):
                raise InputError(f"forget_bias_ needs an LSTM's (4H,) biases, {name} is {p.data.shape}")
            p.data[H : 2 * H] = value if name.startswith("bias_ih") else 0
