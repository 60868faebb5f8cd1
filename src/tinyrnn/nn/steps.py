"""Small helpers of the recurrent kernels: the halved sigmoid rows of "one tanh for all gates",
the per-step views of a (T+1, B, F) array of states, and the factors of zoneout. Their public path is
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


def zoneout_hold(keep, done):
    """Training-mode zoneout, (Z1)-(Z2): where each step copies the previous state instead of
    taking its new value, the keep mask k_t or past a sequence's end: ``keep | done`` (``done``
    the finished steps, None without ``lengths``), in the kernel's layout. Then a step of the
    forward is one ``np.copyto(state_next, state, where=hold[t])`` for zoneout and ``lengths``
    together (the same numbers as h^ + k (h - h^) for k in {0, 1}, exact)."""
    return keep if done is None else keep | done


def zoneout_new(keep, mask, shape, dtype):
    """The factor of (Z3)-(Z4) for every step, with the ``lengths`` mask folded in, in the
    kernel's layout: ``new`` = m_t * (1 - k_t) (float, ``shape``), the share of dh_t (dc_t) that
    reaches the step's new value, dh^_t = new_t * dh_t. The rest, dh_t - dh^_t, passes straight
    to dh_{t-1}: k_t * dh_t within a sequence, all of dh_t past its end (a finished step passes
    its gradient on). keep: a bool mask (training) or the number p (evaluation); mask bool
    (broadcast to ``shape``) or None."""
    new = np.empty(shape, dtype)
    if isinstance(keep, np.ndarray):
        np.logical_not(zoneout_hold(keep, None if mask is None else ~mask), out=new)
        return new
    np.subtract(1, keep, out=new)
    if mask is not None:
        new *= mask
    return new
