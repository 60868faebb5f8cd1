"""``tinyrnn.states``: every step's state and gate values of an RNN, LSTM or GRU layer.

The fused kernels keep every step's values for their backward anyway (the states h and c, and
the gates, which the forward writes over the input projection), so ``states`` runs the layer's
own forward once and hands out views of what its cache holds (each class's ``_step_values``):
no second pass, no copy of the step values (a copy is made only of the gates when ``lengths``
is given, to zero the steps past each sequence's length).
"""

from __future__ import annotations

from .recurrent import RecurrentBase


def states(layer, x, hx=None, lengths=None) -> list[dict]:
    """The value of every step of ``layer`` (an ``RNN``, ``LSTM`` or ``GRU``) on ``x``.

    x, hx, lengths: as for ``layer.forward`` (``hx`` is ``(h0, c0)`` for an LSTM). Returns a
    list with one dict per layer and direction, in PyTorch's parameter order (``l0``,
    ``l0_reverse``, ``l1``, ...), each mapping a name to an array of shape (T, B, size), or
    (B, T, size) with ``batch_first``, or (T, size) for unbatched ``x``:

    - ``"h"``: the hidden state after each step (``proj_size`` wide for a projected LSTM);
    - LSTM: also ``"c"`` (the cell state, ``hidden_size``) and the gates ``"i"``, ``"f"``,
      ``"g"``, ``"o"``; GRU: also the gates ``"r"``, ``"z"``, ``"n"``.

    Past a sequence's length, ``h`` and ``c`` hold the state it carries (the last one within
    its length, or the initial state for the reverse direction's first steps) and the gates
    are 0. The arrays are views of the forward's results (no copy): they stay valid, and the
    layer never writes to them again.

    >>> lstm = tinyrnn.LSTM(3, 4, num_layers=2, rng=0)
    >>> values = tinyrnn.states(lstm, np.zeros((5, 2, 3), np.float32))
    >>> len(values), sorted(values[0]), values[0]["c"].shape
    (2, ['c', 'f', 'g', 'h', 'i', 'o'], (5, 2, 4))
    """
    if not isinstance(layer, RecurrentBase):
        raise TypeError(f"layer must be a tinyrnn RNN, LSTM or GRU, got {type(layer).__name__}")
    _, _, cache = layer.forward(x, hx, lengths=lengths)
    return [
        {
            name: layer._to_user(a, cache.batched)  # (T, B, size) time order -> user layout
            for name, a in layer._step_values(kc).items()
        }
        for layer_cache in cache.layers
        for kc in layer_cache.kcaches
    ]
