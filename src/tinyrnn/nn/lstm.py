"""LSTM: ``LSTM`` (fused BPTT; ``LSTMCell`` is in cell.py; PyTorch's gate order i, f, g, o, optional projection).

Equations (docs/bptt.md, section "LSTM"), per layer and direction, gates stacked as
[i | f | g | o] in the rows of W_ih (4H, I) and W_hh (4H, P):

    [a_i, a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh     (L1)
    i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)  (L2)
    c_t = f * c_{t-1} + i * g                                            (L3)
    m_t = o * tanh(c_t)                                                   (L4)
    h_t = m_t W_hr^T   (proj_size > 0)   or   h_t = m_t                   (L5)

Backward, with dh_t = dy_t + dh carried from t+1 and dc carried from t+1:

    dm_t = dh_t W_hr (proj) or dh_t                                       (L6)
    dc_t += dm_t * o * (1 - tanh(c_t)^2)                                  (L7)
    da_i = dc_t * g * i(1-i)    da_f = dc_t * c_{t-1} * f(1-f)
    da_g = dc_t * i * (1-g^2)   da_o = dm_t * tanh(c_t) * o(1-o)          (L8)
    dc_{t-1} = dc_t * f         dh_{t-1} = da_t W_hh                      (L9)
    dW_hh = sum_t da_t^T h_{t-1}    dW_hr = sum_t dh_t^T m_t              (L10)

The readable form of one step is ``tinyrnn.reference.lstm_step`` (and ``lstm_step_backward``);
the kernels below compute the same numbers for all steps, with two tricks explained in
``lstm_forward``: feature-major arrays, and halved i, f, o rows so that one tanh gives all gates.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ._types import ArrayLike, Cache, StateIn
from .recurrent import RecurrentBase, halve_sigmoid_rows, step_pairs, time_views

# lstm_backward works through the steps in blocks of about this many bytes of gate gradients.
BLOCK_BYTES = 512 << 10


def _halve_ifo(w):
    """w (4H, ...) with the i, f, o rows halved and the g rows as they are (``halve_sigmoid_rows``)."""
    H = w.shape[0] // 4
    return halve_sigmoid_rows(w, slice(2 * H, 3 * H))


def lstm_forward(gates, h0, c0, w_hh, w_hr=None, mask=None, reverse=False, empty=None):
    """Forward of one direction; each step equals ``tinyrnn.reference.lstm_step``.

    gates (T, 4H, B): the input projection of every step plus both biases, feature-major, the
    i, f, o rows halved (``LSTM._input_weight``); overwritten in place with [i; f; g; o] and
    kept for the backward. h0 (B, P), c0 (B, H). ``empty(name, shape)`` gives the arrays.

    Feature-major: every per-step array is (features, B), the transpose of docs/bptt.md's
    row vectors, so (L1)'s recurrent part is W_hh (4H, P) @ h_{t-1} (P, B) (faster in OpenBLAS
    than h @ W_hh^T at small B) and each gate is a contiguous block of rows.

    Halved rows + one tanh: sigmoid(a) = (1 + tanh(a/2)) / 2. The i, f, o rows of the projection
    and of W_hh are halved once, so one tanh over the whole (4H, B) block, then * 0.5 + 0.5 on
    the i, f and o rows, gives (L2)'s four gates (reference: ``i = sigmoid(a_i)`` ...
    ``g = tanh(a_g)`` in ``lstm_step``).

    Returns the cache, in time order (see ``time_views``): h_out (T+1, B, P) the states
    batch-major (the output and dW_hh read it); cs (T+1, H, B); gates;
    tanh_c (T, H, B) and, with a projection, m (T, H, B).
    """
    T, G, B = gates.shape
    H, P, dt = G // 4, h0.shape[-1], gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    w_hh_half = _halve_ifo(w_hh)                            # (4H, P), i/f/o rows halved
    h_out, cs, tanh_c = empty("h_out", (T + 1, B, P)), empty("cs", (T + 1, H, B)), empty("tanh_c", (T, H, B))
    m_all = empty("m", (T, H, B)) if w_hr is not None else None
    h_out[T if reverse else 0], cs[T if reverse else 0] = h0, c0.T
    # The states h are stored batch-major (the output and dW_hh read them so) and used through
    # transposed (P, B) views: BLAS reads h_{t-1}^T in place, and (L4) writes h_t^T in place.
    hpairs, cpairs = step_pairs(h_out.transpose(0, 2, 1), reverse), step_pairs(cs, reverse)
    dot, tanh, multiply = np.dot, np.tanh, np.multiply
    half = np.array(0.5, dt)                                # 0-d array: a cheaper operand than 0.5 at small B
    ig, rec = np.empty((H, B), dt), np.empty((G, B), dt)
    if mask is not None:
        mask_fm = mask.transpose(0, 2, 1)                   # (T, 1, B)
        c_new, h_new = np.empty((H, B), dt), np.empty((B, P), dt).T
    # Per-step views of each gate's rows, made once: at B = 1 slicing inside the loop costs
    # about as much as the arithmetic. Step t of gates is a = [i; f; g; o] (4H, B).
    i_s, f_s, g_s, o_s = (list(gates[:, k * H:(k + 1) * H]) for k in range(4))
    a_s, sig_if_s, tanh_c_s = list(gates), list(gates[:, :2 * H]), list(tanh_c)
    for (t, h_prev, h), (_, c_prev, c) in zip(hpairs, cpairs):
        a, sig_if, i, f, g, o = a_s[t], sig_if_s[t], i_s[t], f_s[t], g_s[t], o_s[t]
        dot(w_hh_half, h_prev, out=rec)
        a += rec                                            # (L1), halved on the i, f, o rows
        tanh(a, out=a)
        sig_if *= half
        sig_if += half
        o *= half
        o += half                                           # (L2): a = [i; f; g; o]
        c_t = c if mask is None else c_new
        multiply(f, c_prev, out=c_t)
        multiply(i, g, out=ig)
        c_t += ig                                           # (L3) c_t = f * c_{t-1} + i * g
        tc = tanh_c_s[t]
        tanh(c_t, out=tc)
        h_t = h if mask is None else h_new
        if m_all is None:
            multiply(o, tc, out=h_t)                        # (L4) m_t = o * tanh(c_t) = h_t
        else:
            multiply(o, tc, out=m_all[t])                   # (L4)
            dot(m_all[t].T, w_hr.T, out=h_t.T)              # (L5) h_t = W_hr m_t (batch-major out)
        if mask is not None:                                # finished sequences keep (h, c)
            np.copyto(c, c_prev)
            np.copyto(c, c_t, where=mask_fm[t])
            np.copyto(h, h_prev)
            np.copyto(h, h_t, where=mask_fm[t])
    return SimpleNamespace(h_out=h_out, cs=cs, gates=gates, tanh_c=tanh_c, m=m_all,
                           mask=mask, reverse=reverse)


def lstm_backward(dy, dh_n, dc_n, w_hh, w_hr, kc, gate_grad_out, empty=None):
    """BPTT of one direction; each step equals ``tinyrnn.reference.lstm_step_backward``.

    dy (T, B, P) or None, dh_n (B, P) or None, dc_n (B, H) or None, kc from ``lstm_forward``.
    Writes into gate_grad_out (4H, T*B) [da_i; da_f; da_g; da_o] of every step, feature-major
    (column t*B + b): the gradient of the unscaled input projection. Returns dh0 (B, P),
    dc0 (B, H), dW_hh (4H, P), dW_hr (P, H) or None.
    """
    gates, tanh_c, m_all, mask, reverse = kc.gates, kc.tanh_c, kc.m, kc.mask, kc.reverse
    T, G, B = gates.shape
    H, P, dt = G // 4, kc.h_out.shape[2], gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    _, c_prev = time_views(kc.cs, reverse)                  # (T, H, B)
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    # The steps go in blocks of n, in processing order. For a block, the factors of (L7)-(L8)
    # that do not depend on the carried gradients are computed for all its steps at once (few
    # NumPy calls), into arrays small enough to stay in cache until the steps use them:
    # da_i = dc_t * fac_i, da_f = dc_t * fac_f, da_g = dc_t * fac_g, da_o = dm_t * fac_o.
    n = max(1, min(T, BLOCK_BYTES // (G * B * gates.itemsize)))
    factor, dc_factor = empty("factor", (n, G, B)), empty("dc_factor", (n, H, B))
    gate_grad = empty("gate_grad", (n, G, B))              # [da_i; da_f; da_g; da_o] of the block's steps
    dh = np.zeros((P, B), dt) if dh_n is None else np.array(dh_n.T, dtype=dt, order="C")
    dc = np.zeros((H, B), dt) if dc_n is None else np.array(dc_n.T, dtype=dt, order="C")
    dy_fm = None if dy is None else empty("dy", (n, P, B))  # the block's dy_t, feature-major
    w_hh_t = w_hh.T                                         # (P, 4H), a view: BLAS reads it transposed
    dh_all = empty("dh", (T, P, B)) if w_hr is not None else None
    w_hr_t = None if w_hr is None else w_hr.T               # (H, P), a view
    dm = np.empty((H, B), dt) if w_hr is not None else None
    tmp = np.empty((H, B), dt)
    if mask is not None:
        mask_fm = mask.transpose(0, 2, 1).astype(dt)        # (T, 1, B)
        keep = 1 - mask_fm
        dh_in, dc_in, tmp_h = np.empty((P, B), dt), np.empty((H, B), dt), np.empty((P, B), dt)
    dot, multiply = np.dot, np.multiply
    # Per-step views, made once (as in lstm_forward); k is the step's place in its block (the
    # block arrays are reused by every block).
    # fac_ifg[k] is (3, H, B), the fac_i, fac_f, fac_g rows, so that one broadcast product
    # dc_t * fac_ifg[k] gives da_i, da_f and da_g together.
    fac_ifg = list(factor[:, :3 * H].reshape(n, 3, H, B))
    da_ifg = list(gate_grad[:, :3 * H].reshape(n, 3, H, B))
    fac_o, da_o, dc_fac, da_s = list(factor[:, 3 * H:]), list(gate_grad[:, 3 * H:]), list(dc_factor), list(gate_grad)
    dy_s, f_s = None if dy is None else list(dy_fm), list(f)
    dxg = gate_grad_out.reshape(G, T, B)
    starts = range(0, T, n) if reverse else range((T - 1) // n * n, -1, -n)
    for t0 in starts:
        t1 = min(t0 + n, T)
        b = slice(0, t1 - t0)
        fi, ff, fg, fo = factor[b, :H], factor[b, H:2 * H], factor[b, 2 * H:3 * H], factor[b, 3 * H:]
        ib, fb, gb, ob, tcb = i[t0:t1], f[t0:t1], g[t0:t1], o[t0:t1], tanh_c[t0:t1]
        np.subtract(1, ib, out=fi)
        fi *= ib
        fi *= gb                                            # g * i(1-i)
        np.subtract(1, fb, out=ff)
        ff *= fb
        ff *= c_prev[t0:t1]                                 # c_{t-1} * f(1-f)
        np.multiply(gb, gb, out=fg)
        np.subtract(1, fg, out=fg)
        fg *= ib                                            # i * (1-g^2)
        np.subtract(1, ob, out=fo)
        fo *= ob
        fo *= tcb                                           # tanh(c_t) * o(1-o)
        dcf = np.multiply(tcb, tcb, out=dc_factor[b])
        np.subtract(1, dcf, out=dcf)
        dcf *= ob                                           # o * (1 - tanh(c_t)^2), for (L7)
        if dy_s is not None:
            np.copyto(dy_fm[b], dy[t0:t1].transpose(0, 2, 1))
            if mask is not None:
                dy_fm[b] *= mask_fm[t0:t1]
        for t in (range(t0, t1) if reverse else range(t1 - 1, t0 - 1, -1)):   # the block's steps, (L6)-(L9)
            k = t - t0
            if dy_s is not None:
                dh += dy_s[k]                               # dh_t = dy_t + dh carried from t+1
            dh_t = dh if mask is None else multiply(dh, mask_fm[t], out=dh_in)
            if w_hr is None:
                dm_t = dh_t                                 # (L6) without projection
            else:
                dh_all[t] = dh_t
                dm_t = dot(w_hr_t, dh_t, out=dm)            # (L6) dm_t = W_hr^T dh_t
            dc_t = dc if mask is None else multiply(dc, mask_fm[t], out=dc_in)
            multiply(dm_t, dc_fac[k], out=tmp)
            dc_t += tmp                                     # (L7)
            multiply(fac_ifg[k], dc_t, out=da_ifg[k])       # (L8) da_i, da_f, da_g = dc_t * fac_i, fac_f, fac_g
            multiply(dm_t, fac_o[k], out=da_o[k])           #      da_o = dm_t * tanh(c_t) * o(1-o)
            if mask is None:
                dc *= f_s[t]                                # (L9) dc_{t-1} = dc_t * f
                dot(w_hh_t, da_s[k], out=dh)                # (L9) dh_{t-1} = W_hh^T da_t
            else:
                dc *= keep[t]
                multiply(dc_t, f_s[t], out=tmp)
                dc += tmp
                dh *= keep[t]
                dot(w_hh_t, da_s[k], out=tmp_h)
                dh += tmp_h
        # The block's da_t into their columns t*B + b of the (4H, T*B) layout of dxg, while in cache
        # (writing each da_t straight into its columns, rows T*B apart, was slower).
        np.copyto(dxg[:, t0:t1], gate_grad[b].transpose(1, 0, 2))
    _, h_prev = time_views(kc.h_out, reverse)               # (T, B, P)
    dw_hh = gate_grad_out @ h_prev.reshape(T * B, P)        # (L10)
    dw_hr = None
    if w_hr is not None:                                    # (L10) dW_hr = sum_t dh_t^T m_t
        dw_hr = dh_all.transpose(1, 0, 2).reshape(P, T * B) @ m_all.transpose(0, 2, 1).reshape(T * B, H)
    return dh.T, dc.T, dw_hh, dw_hr


class LSTM(RecurrentBase):
    """``torch.nn.LSTM``: gates i, f, g, o; optional ``proj_size`` (``weight_hr_l{k}`` (P, H)).

    ``out, (h_n, c_n), cache = lstm.forward(x, (h0, c0))``; ``h0`` (D*L, B, P or H),
    ``c0`` (D*L, B, H); either may be None (zeros), or pass ``hx=None``.
    ``dx, (dh0, dc0) = lstm.backward(dout, cache, (dh_n, dc_n))``.
    """

    gate_count = 4
    state_names = ("h0", "c0")
    feature_major = True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype, rng)
        self.config["proj_size"] = self.proj_size

    def _state_sizes(self):
        return (self.output_size, self.hidden_size)

    def _input_weight(self, p):
        return _halve_ifo(p.w_ih.data)                      # see lstm_forward

    def _input_bias(self, p):
        return _halve_ifo(p.b_ih.data + p.b_hh.data)

    def _unpack_state(self, hx, name="hx"):
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{name} must be a pair (h, c) of arrays (or None), got {type(hx).__name__}")
        return tuple(hx)

    def _pack_state(self, states):
        return tuple(states)

    def forward(self, x: ArrayLike, hx: StateIn = None,
                lengths: ArrayLike | None = None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], Cache]:
        """``out, (h_n, c_n), cache``; see ``RecurrentBase.forward``."""
        return super().forward(x, hx, lengths=lengths)

    def backward(self, dout: ArrayLike | None, cache: Cache,
                 dhx: StateIn = None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """``dx, (dh0, dc0)``; ``dhx`` is ``(dh_n, dc_n)`` (either may be None) or None."""
        return super().backward(dout, cache, dhx)

    def _kernel_forward(self, xg, states0, p, mask, reverse, empty):
        """Forward of one direction: ``lstm_forward`` (step: ``tinyrnn.reference.lstm_step``)."""
        kc = lstm_forward(xg.transpose(0, 2, 1), states0[0], states0[1], p.w_hh.data,
                          None if p.w_hr is None else p.w_hr.data, mask, reverse, empty)
        h_all, _ = time_views(kc.h_out, reverse)
        y = h_all if mask is None else h_all * mask
        end = 0 if reverse else -1
        return y, (kc.h_out[end], kc.cs[end].T), kc

    def _kernel_backward(self, dy, dstates_n, p, kc, dxg, empty):
        """BPTT of one direction: ``lstm_backward`` (``tinyrnn.reference.lstm_step_backward``)."""
        dh0, dc0, dw_hh, dw_hr = lstm_backward(dy, dstates_n[0], dstates_n[1], p.w_hh.data,
                                               None if p.w_hr is None else p.w_hr.data, kc, dxg.T, empty)
        p.w_hh.grad += dw_hh
        if dw_hr is not None:
            p.w_hr.grad += dw_hr
        return dh0, dc0

