"""The file a learner fills in: ``template(cell)`` for ``rnn``, ``lstm`` or ``gru``.

Each function has exactly the signature of its twin in ``tinyrnn.reference`` (batch-major,
PyTorch's weight names and gate order), a docstring naming its equations in docs/bptt.md,
and a body that raises ``NotImplementedError`` until it is written.
"""

from __future__ import annotations

from ..errors import InputError

CELLS = ("rnn", "lstm", "gru")

_HEAD = '''"""{title}: one step forward and backward, written by hand.

Fill in the two functions below, then check them:

    tinyrnn check {name}

The equations are in docs/bptt.md; tinyrnn.reference is the worked answer, read it first. Shapes
are batch-major: x (B, I), h and c (B, H); weights in PyTorch's layout: weight_ih (G*H, I),
weight_hh (G*H, H), bias_ih and bias_hh (G*H,) with G = {gates} ({order}).
"""

import numpy as np

'''

_RNN = '''
def rnn_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """h_next = act(x W_ih^T + b_ih + h W_hh^T + b_hh): equations (1) and (2) of docs/bptt.md.

    nonlinearity is "tanh", "relu", "sigmoid" or "identity"; the biases are both given or both
    None. Return (h_next, cache): h_next (B, H), cache anything your backward needs.
    """
    # TODO: (1) the pre-activation a, (2) h_next = act(a)
    raise NotImplementedError("rnn_step: write equations (1) and (2)")


def rnn_step_backward(dh_next, cache):
    """dh_next (B, H), the gradient reaching h_next: equations (3) to (8) of docs/bptt.md.

    Return (dx, dh, grads): dx (B, I), dh (B, H) the gradient of the previous state, grads a
    dict with "weight_ih", "weight_hh" and, when the step had biases, "bias_ih", "bias_hh".
    """
    # TODO: (3) da, (4) dh, (5) dW_hh, (6) dW_ih, (7) the bias gradients, (8) dx
    raise NotImplementedError("rnn_step_backward: write equations (3) to (8)")
'''

_LSTM = '''
def lstm_step(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None):
    """One LSTM step, gates [i | f | g | o]: equations (L1) to (L4) of docs/bptt.md.

    Return (h_next, c_next, cache): h_next and c_next (B, H), cache anything your backward needs.
    weight_hr is the projection of an LSTM with proj_size: the checker leaves it None.
    """
    # TODO: (L1) the four pre-activations, (L2) the gates, (L3) c_next, (L4) h_next
    raise NotImplementedError("lstm_step: write equations (L1) to (L4)")


def lstm_step_backward(dh_next, dc_next, cache):
    """dh_next, dc_next (B, H) reaching h_next and c_next: equations (L6) to (L10) of docs/bptt.md.

    Return (dx, dh, dc, grads): dx (B, I), dh and dc (B, H) the gradients of the previous h and c,
    grads a dict with "weight_ih", "weight_hh" and, when the step had biases, "bias_ih", "bias_hh".
    """
    # TODO: (L6) dm, (L7) dc_t, (L8) the four gate gradients, (L9) dc and dh, (L10) the rest
    raise NotImplementedError("lstm_step_backward: write equations (L6) to (L10)")
'''

_GRU = '''
def gru_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step, gates [r | z | n], b_hn inside r * (W_hn h + b_hn): equations (G1) to (G3)
    of docs/bptt.md.

    Return (h_next, cache): h_next (B, H), cache anything your backward needs.
    """
    # TODO: (G1) r and z, (G2) n, (G3) h_next
    raise NotImplementedError("gru_step: write equations (G1) to (G3)")


def gru_step_backward(dh_next, cache):
    """dh_next (B, H) reaching h_next: equations (G4) to (G8) of docs/bptt.md.

    Return (dx, dh, grads): dx (B, I), dh (B, H) the gradient of the previous state, grads a
    dict with "weight_ih", "weight_hh" and, when the step had biases, "bias_ih", "bias_hh".
    """
    # TODO: (G4) da_n, (G5) da_r and da_z, (G6) dh, (G7) the recurrent side, (G8) the input side
    raise NotImplementedError("gru_step_backward: write equations (G4) to (G8)")
'''

_PARTS = {
    "rnn": ("The Elman RNN", 1, "one block", _RNN),
    "lstm": ("The LSTM", 4, "gates i, f, g, o", _LSTM),
    "gru": ("The GRU", 3, "gates r, z, n", _GRU),
}


def template(cell: str, name: str | None = None) -> str:
    """The exercise file for ``cell`` (``"rnn"``, ``"lstm"`` or ``"gru"``) as text; ``name`` is the
    file name its docstring tells the learner to check (default ``my_<cell>.py``)."""
    if cell not in _PARTS:
        raise InputError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    title, gates, order, body = _PARTS[cell]
    head = _HEAD.format(title=title, name=name or f"my_{cell}.py", gates=gates, order=order)
    return head + body
