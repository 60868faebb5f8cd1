"""Small helpers of the recurrent kernels: the halved sigmoid rows of "one tanh for all gates",
and the per-step views of a (T+1, B, F) array of states. Their public path is
``tinyrnn.nn.recurrent``, which imports them from here.
"""

from __future__ import annotations

import numpy as np


def halve_sigmoid_rows(w, gate_count: int, tanh_gate: int | None):
    """w (G*H, ...) with the rows of every gate but ``tanh_gate`` halved (a new array), or w
    itself when ``tanh_gate`` is None (the RNN). Then ONE tanh over all of a step's gates gives
    them, since sigmoid(a) = (1 + tanh(a/2)) / 2 (docs/bptt.md, "One tanh for all gates").
    One scalar multiply over all rows and a copy of the tanh rows back: faster than a broadcast
    product with a (G*H, 1) column of scales, same numbers."""
    if tanh_gate is None:
        return w
    H = w.shape[0] // gate_count
    half = np.multiply(w, np.array(0.5, w.dtype))
    rows = slice(tanh_gate * H, (tanh_gate + 1) * H)
    half[rows] = w[rows]
    return half


def time_views(S: np.ndarray, reverse: bool):
    """S (T+1, B, F) holds the initial state and every step's state. Returns the views
    (state after step t, state before step t), each (T, B, F), in time order.

    Forward: S = [s0, s_1 .. s_T]. Reverse: S = [s_1 .. s_T, s0] in time order, since the reverse
    direction's "previous" state of step t is the state of step t+1.
    """
    return (S[:-1], S[1:]) if reverse else (S[1:], S[:-1])


def step_pairs(S: np.ndarray, reverse: bool):
    """[(t, state before step t, state after step t)] in processing order, as views of S."""
    views = list(S)
    T = len(views) - 1
    if reverse:
        return [(t, views[t + 1], views[t]) for t in range(T - 1, -1, -1)]
    return [(t, views[t], views[t + 1]) for t in range(T)]
