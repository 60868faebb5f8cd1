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
the kernels below compute the same numbers for all steps, under the same names and in the same
order, with two tricks explained in ``lstm_forward``: feature-major arrays, and halved i, f, o
rows so that one tanh gives all gates (``RecurrentBase``, ``halve_sigmoid_rows``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .recurrent import RecurrentBase, step_pairs, time_views, zoneout_hold, zoneout_new

# lstm_backward works through the steps in blocks of about this many bytes of gate gradients.
BLOCK_BYTES = 512 << 10


def lstm_forward(xg, states0, w, mask=None, reverse=False, empty=None):
    """Forward of one direction (the kernel contract of ``RecurrentBase``); each step equals
    ``tinyrnn.reference.lstm_step``, whose names it uses.

    xg (T, B, 4H): a transposed view of ``gates`` (T, 4H, B), the input projection of every step
    plus both biases, feature-major, its i, f, o rows halved; overwritten in place with
    [i; f; g; o] and kept for the backward. states0 = (h0 (B, P), c0 (B, H)); w.w_hh (4H, P)
    with its i, f, o rows halved, w.w_hr (P, H) or None. ``empty(name, shape)`` gives the arrays.

    Feature-major: every per-step array is (features, B), the transpose of docs/bptt.md's
    row vectors, so (L1)'s recurrent part is W_hh (4H, P) @ h (P, B) (faster in OpenBLAS than
    h @ W_hh^T at small B) and each gate is a contiguous block of rows.

    Halved rows + one tanh: sigmoid(a) = (1 + tanh(a/2)) / 2. With the i, f, o rows of the
    projection and of W_hh halved, one tanh over the whole (4H, B) block, then * 0.5 + 0.5 on
    the i, f and o rows, gives (L2)'s four gates (reference: ``i = sigmoid(a_i)`` ...
    ``g = tanh(a_g)``).

    Returns y (T, B, P), (h_n, c_n) and the cache, in time order (see ``time_views``):
    h_out (T+1, B, P) the states batch-major (the output and dW_hh read them); cs (T+1, H, B);
    gates; tanh_c (T, H, B) and, with a projection, m (T, H, B).
    """
    gates = xg.transpose(0, 2, 1)  # (T, 4H, B), contiguous
    h0, c0 = states0
    T, G, B = gates.shape
    H, P, dt = G // 4, h0.shape[-1], gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    w_hh, w_hr, drop, keep = w.w_hh, w.w_hr, w.drop, w.keep
    h_out, cs, tanh_c_all = empty("h_out", (T + 1, B, P)), empty("cs", (T + 1, H, B)), empty("tanh_c", (T, H, B))
    m_all = empty("m", (T, H, B)) if w_hr is not None else None
    h_out[T if reverse else 0], cs[T if reverse else 0] = h0, c0.T
    # The states h are stored batch-major (the output and dW_hh read them so) and used through
    # transposed (P, B) views: BLAS reads h^T in place, and (L4) writes h_next^T in place.
    hpairs, cpairs = step_pairs(h_out.transpose(0, 2, 1), reverse), step_pairs(cs, reverse)
    dot, tanh, multiply = np.dot, np.tanh, np.multiply
    half = np.array(0.5, dt)  # 0-d array: a cheaper operand than 0.5 at small B
    rec, ig = np.empty((G, B), dt), np.empty((H, B), dt)
    done = None if mask is None else ~mask.transpose(0, 2, 1)  # (T, 1, B): sequence already finished
    # Regularised (docs/bptt.md): the dropped h~ (R1) and the zoneout keeps (Z1)-(Z2), feature-major
    drop_fm, h_in = (None, None) if drop is None else (np.ascontiguousarray(drop.T), np.empty((P, B), dt))
    hold_s = hold_c_s = k_eval = None
    if keep is not None and isinstance(keep[0], np.ndarray):  # training: where h, c are kept (T, size, B)
        hold_s, hold_c_s = (list(zoneout_hold(k.transpose(0, 2, 1), done)) for k in keep)
        done = None  # folded into the holds
    elif keep is not None:  # evaluation: the numbers p
        k_eval, zone = keep, np.empty((H, B), dt)
    # Per-step views of each gate's rows, made once: a slice costs about five times a list
    # lookup, and the seven slices a step would need cost as much as one or two of its dozen
    # NumPy calls at B = 1 (about 10 % of the step; timeit, H = 100, float32). The same holds
    # for the lists in lstm_backward and gru_forward. Step t of gates is a = [i; f; g; o].
    i_s, f_s, g_s, o_s = (list(gates[:, k * H : (k + 1) * H]) for k in range(4))
    a_s, if_s, tanh_c_s = list(gates), list(gates[:, : 2 * H]), list(tanh_c_all)
    m_s = None if m_all is None else list(m_all)
    for (t, h, h_next), (_, c, c_next) in zip(hpairs, cpairs):
        a, i_f, i, f, g, o, tanh_c = a_s[t], if_s[t], i_s[t], f_s[t], g_s[t], o_s[t], tanh_c_s[t]
        dot(w_hh, h if drop_fm is None else multiply(h, drop_fm, out=h_in), out=rec)  # (R1) h~ = h * drop
        a += rec  # (L1) a = x W_ih^T + b + h W_hh^T (halved i, f, o)
        tanh(a, out=a)  # (L2) g = tanh(a_g); i, f, o: tanh(a/2) so far
        i_f *= half  # the i and f rows, one block
        i_f += half
        o *= half
        o += half  # (L2) i, f, o = (1 + tanh(a/2)) / 2 = sigmoid(a)
        multiply(f, c, out=c_next)
        multiply(i, g, out=ig)
        c_next += ig  # (L3) c_next = f * c + i * g
        tanh(c_next, out=tanh_c)
        if m_s is None:
            multiply(o, tanh_c, out=h_next)  # (L4) h_next = o * tanh_c
        else:
            multiply(o, tanh_c, out=m_s[t])  # (L4) m = o * tanh_c
            dot(m_s[t].T, w_hr.T, out=h_next.T)  # (L5) h_next = m W_hr^T (batch-major out)
        if hold_s is not None:  # zoneout: c_next, h_next hold c^, h^ so far
            np.copyto(c_next, c, where=hold_c_s[t])  # (Z2) c_next = c where k_c, else c^
            np.copyto(h_next, h, where=hold_s[t])  # (Z1) h_next = h where k, else h^ (and past the end)
        elif k_eval is not None:  # evaluation: the expectations
            np.subtract(c, c_next, out=zone)
            zone *= k_eval[1]
            c_next += zone  # (Z2) c_next = c^ + p * (c - c^)
            np.subtract(h, h_next, out=zone[:P])
            zone[:P] *= k_eval[0]
            h_next += zone[:P]  # (Z1) h_next = h^ + p * (h - h^)
        if done is not None:  # finished sequences keep (h, c)
            np.copyto(c_next, c, where=done[t])
            np.copyto(h_next, h, where=done[t])
    h_all, _ = time_views(h_out, reverse)
    y = h_all if mask is None else h_all * mask
    end = 0 if reverse else -1
    kc = SimpleNamespace(
        h_out=h_out, cs=cs, gates=gates, tanh_c=tanh_c_all, m=m_all, mask=mask, reverse=reverse, drop=drop, keep=keep
    )
    return y, (h_out[end], cs[end].T), kc


def _lstm_factors(i, f, g, o, tanh_c, c, fac, fac_c):
    """The factors of (L7)-(L8) that do not depend on the carried gradients, for a block of
    steps (each argument (n, H, B), step after step), into fac (n, 4H, B) =
    [g i(1-i); c f(1-f); i(1-g^2); tanh_c o(1-o)] and fac_c (n, H, B) = o (1 - tanh_c^2), so
    that a step of ``lstm_backward`` is only dc_t = dc_next + dm * fac_c,
    [da_i; da_f; da_g] = dc_t * fac[:3H] and da_o = dm * fac[3H:].

    Why a block: these are fifteen NumPy calls. Made inside the loop they would be most of a
    step's calls, and at small batch the cost of a NumPy call, not the arithmetic, is the time;
    made once for a block of n steps they are fifteen calls for n steps. Why not every step at
    once: the block (``BLOCK_BYTES``, about half a megabyte) is small enough that its factors
    are still in cache when its steps read them; for all T steps they would come back from
    memory. The gates here are the true sigmoid(a) values (the forward's (1 + tanh(a/2)) / 2 IS
    sigmoid(a)), so i(1-i) is sigmoid'(a_i) for the unhalved a_i: the halving of the forward
    never reaches the gradients (docs/bptt.md, "One tanh for all gates").
    """
    H = i.shape[1]
    fi, ff, fg, fo = fac[:, :H], fac[:, H : 2 * H], fac[:, 2 * H : 3 * H], fac[:, 3 * H :]
    np.subtract(1, i, out=fi)
    fi *= i
    fi *= g  # g * i(1-i)
    np.subtract(1, f, out=ff)
    ff *= f
    ff *= c  # c * f(1-f)
    np.multiply(g, g, out=fg)
    np.subtract(1, fg, out=fg)
    fg *= i  # i * (1-g^2)
    np.subtract(1, o, out=fo)
    fo *= o
    fo *= tanh_c  # tanh_c * o(1-o)
    np.multiply(tanh_c, tanh_c, out=fac_c)
    np.subtract(1, fac_c, out=fac_c)
    fac_c *= o  # o * (1 - tanh_c^2), for (L7)


def lstm_backward(dy, dstates_n, w, kc, dxg, empty=None):
    """BPTT of one direction (the kernel contract of ``RecurrentBase``); each step equals
    ``tinyrnn.reference.lstm_step_backward``, with its names in its order.

    dy (T, B, P) or None, dstates_n = (dh_n (B, P), dc_n (B, H)), either None, w the true
    weights, kc from ``lstm_forward``. Writes into dxg (4H, T*B) da = [da_i; da_f; da_g; da_o]
    of every step, feature-major (column t*B + b): the gradient of the unscaled projection.
    Returns (dh0 (B, P), dc0 (B, H)) and {"w_hh": dW_hh (4H, P), "w_hr": dW_hr (P, H)}.

    The steps go in blocks of n, in processing order; ``_lstm_factors`` prepares each block.
    dh_carry, dc_carry hold the gradient carried from the later step; a step reads them as
    the reference's dh_next, dc_next and writes its dh, dc over them.
    """
    gates, tanh_c, m_all, mask, reverse = kc.gates, kc.tanh_c, kc.m, kc.mask, kc.reverse
    T, G, B = gates.shape
    H, P, dt = G // 4, kc.h_out.shape[2], gates.dtype
    if empty is None:
        empty = lambda name, shape: np.empty(shape, dt)  # noqa: E731
    _, c_prev = time_views(kc.cs, reverse)  # (T, H, B): c of each step's (L3)
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    n = max(1, min(T, BLOCK_BYTES // (G * B * gates.itemsize)))
    fac, fac_c = empty("fac", (n, G, B)), empty("fac_c", (n, H, B))
    da_block = empty("da_block", (n, G, B))  # da = [da_i; da_f; da_g; da_o] of the block's steps
    dh_n, dc_n = dstates_n
    dh_carry = np.zeros((P, B), dt) if dh_n is None else np.array(dh_n.T, dtype=dt, order="C")
    dc_carry = np.zeros((H, B), dt) if dc_n is None else np.array(dc_n.T, dtype=dt, order="C")
    dy_block = None if dy is None else empty("dy", (n, P, B))  # the block's dy_t, feature-major
    w_hh_t = w.w_hh.T  # (P, 4H), a view: BLAS reads it transposed
    w_hr_t = None if w.w_hr is None else w.w_hr.T  # (H, P), a view
    dh_all = None if w_hr_t is None else empty("dh", (T, P, B))  # dh_next of every step, for dW_hr
    dm = None if w_hr_t is None else np.empty((H, B), dt)
    dc_t = np.empty((H, B), dt)
    if mask is not None or kc.keep is not None:
        dh_in, dc_in, dh_out, dc_out = (np.empty(s, dt) for s in ((P, B), (H, B), (P, B), (H, B)))
    mask_fm = None if mask is None else mask.transpose(0, 2, 1)  # (T, 1, B) bool
    if mask is not None:
        mask_f = mask_fm.astype(dt)
    drop_fm = None if kc.drop is None else np.ascontiguousarray(kc.drop.T)  # (P, B)
    zone = None
    if kc.keep is not None:  # (Z3)-(Z4), the mask folded in: (T, size, B) each
        zone = [
            zoneout_new(k if not isinstance(k, np.ndarray) else k.transpose(0, 2, 1), mask_fm, (T, s, B), dt)
            for k, s in zip(kc.keep, (P, H))
        ]
        new_h, new_c = zone
    dot, multiply = np.dot, np.multiply
    # Per-step views, made once (they pay at B = 1, see lstm_forward); k is the step's place in
    # its block.
    # fac_ifg_s[k] is (3, H, B), so ONE broadcast product dc_t * fac_ifg_s[k] gives da_i, da_f
    # and da_g (three products would cost two more NumPy calls a step).
    fac_ifg_s, da_ifg_s = list(fac[:, : 3 * H].reshape(n, 3, H, B)), list(da_block[:, : 3 * H].reshape(n, 3, H, B))
    fac_o_s, da_o_s, fac_c_s, da_s = list(fac[:, 3 * H :]), list(da_block[:, 3 * H :]), list(fac_c), list(da_block)
    dy_s, f_s = None if dy is None else list(dy_block), list(f)
    dxg_steps = dxg.reshape(G, T, B)
    starts = range(0, T, n) if reverse else range((T - 1) // n * n, -1, -n)
    for t0 in starts:
        t1 = min(t0 + n, T)
        _lstm_factors(
            i[t0:t1], f[t0:t1], g[t0:t1], o[t0:t1], tanh_c[t0:t1], c_prev[t0:t1], fac[: t1 - t0], fac_c[: t1 - t0]
        )
        if dy is not None:
            np.copyto(dy_block[: t1 - t0], dy[t0:t1].transpose(0, 2, 1))
            if mask is not None:
                dy_block[: t1 - t0] *= mask_f[t0:t1]  # padded outputs are constant zeros
        for t in range(t0, t1) if reverse else range(t1 - 1, t0 - 1, -1):  # the block's steps
            k = t - t0
            if dy_s is not None:
                dh_carry += dy_s[k]  # dh_t = dy_t + dh carried from t+1
            dh_next, dc_next, dh, dc = dh_carry, dc_carry, dh_carry, dc_carry
            if zone is not None:  # (Z3)-(Z4) dh^ = (1 - k) dh, dc^ = (1 - k_c) dc
                dh_next = multiply(dh_carry, new_h[t], out=dh_in)
                dc_next = multiply(dc_carry, new_c[t], out=dc_in)
                dh, dc = dh_out, dc_out
            elif mask is not None:  # a finished sequence: its step gets zeros
                dh_next = multiply(dh_carry, mask_f[t], out=dh_in)
                dc_next = multiply(dc_carry, mask_f[t], out=dc_in)
                dh, dc = dh_out, dc_out
            if w_hr_t is None:
                dm = dh_next  # (L6) dm = dh_next (no projection)
            else:
                dh_all[t] = dh_next
                dot(w_hr_t, dh_next, out=dm)  # (L6) dm = dh_next W_hr
            multiply(dm, fac_c_s[k], out=dc_t)
            dc_t += dc_next  # (L7) dc_t = dc_next + dm * o * (1 - tanh_c^2)
            multiply(
                dc_t, fac_ifg_s[k], out=da_ifg_s[k]
            )  # (L8) da_i, da_f, da_g = dc_t * [g i(1-i), c f(1-f), i(1-g^2)]
            multiply(dm, fac_o_s[k], out=da_o_s[k])  # (L8) da_o = dm * tanh_c * o(1-o)
            multiply(dc_t, f_s[t], out=dc)  # (L9) dc = dc_t * f
            dot(w_hh_t, da_s[k], out=dh)  # (L9) dh = da W_hh
            if drop_fm is not None:
                dh *= drop_fm  # (R2) dh = (da W_hh) * drop
            if zone is not None:  # (Z3)-(Z4) ... + k * dh_t = dh_t - dh^_t, + k_c * dc_t = dc_t - dc^_t
                dh_carry -= dh_next
                dh_carry += dh
                dc_carry -= dc_next
                dc_carry += dc
            elif mask is not None:  # ... and passes the carried ones on
                np.copyto(dh_carry, dh, where=mask_fm[t])
                np.copyto(dc_carry, dc, where=mask_fm[t])
        # The block's da into their columns t*B + b of dxg, while in cache (writing each da
        # straight into its columns, rows T*B apart, was slower).
        np.copyto(dxg_steps[:, t0:t1], da_block[: t1 - t0].transpose(1, 0, 2))
    _, h_prev = time_views(kc.h_out, reverse)  # (T, B, P)
    if drop_fm is not None:
        h_prev = h_prev * kc.drop  # (R3) h~ = h * drop
    dW = {"w_hh": dxg @ h_prev.reshape(T * B, P)}  # (L10) dW_hh = sum_t da^T h
    if w_hr_t is not None:  # (L10) dW_hr = sum_t dh_next^T m
        dW["w_hr"] = dh_all.transpose(1, 0, 2).reshape(P, T * B) @ m_all.transpose(0, 2, 1).reshape(T * B, H)
    return (dh_carry.T, dc_carry.T), dW


class LSTM(RecurrentBase):
    """``torch.nn.LSTM``: gates i, f, g, o; optional ``proj_size`` (``weight_hr_l{k}`` (P, H)).

    ``out, (h_n, c_n), cache = lstm.forward(x, (h0, c0))``; ``h0`` (D*L, B, P or H),
    ``c0`` (D*L, B, H); either may be None (zeros), or pass ``hx=None``.
    ``dx, (dh0, dc0) = lstm.backward(dout, cache, (dh_n, dc_n))``.
    """

    gate_count = 4
    tanh_gate = 2  # g; i, f, o are sigmoids
    state_names = ("h0", "c0")
    feature_major = True
    forward_kernel = staticmethod(lstm_forward)
    backward_kernel = staticmethod(lstm_backward)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype=np.float32,
        rng=None,
        weight_drop: float = 0.0,
        learn_initial_state: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        layer_norm: bool = False,
    ):
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            dtype,
            rng,
            weight_drop,
            learn_initial_state,
            recurrent_dropout,
            zoneout,
            layer_norm,
        )
        self.config["proj_size"] = self.proj_size

    def _state_sizes(self):
        return (self.output_size, self.hidden_size)

    def _unpack_state(self, hx, name="hx"):
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{name} must be a pair (h, c) of arrays (or None), got {type(hx).__name__}")
        return tuple(hx)

    def _pack_state(self, states):
        return tuple(states)

    def forward(self, x, hx=None, lengths=None):
        """``out, (h_n, c_n), cache``; see ``RecurrentBase.forward``."""
        return self._forward_with_options(x, hx, lengths)

    def backward(self, dout, cache, dhx=None):
        """``dx, (dh0, dc0)``; ``dhx`` is ``(dh_n, dc_n)`` (either may be None) or None."""
        return self._backward_with_options(dout, cache, dhx)

    @staticmethod
    def _step_values(kc):
        """{"h", "c", "i", "f", "g", "o"}: (T, B, size) of every step in time order, views of
        ``lstm_forward``'s cache; with ``lengths``, the gates are a copy with 0 past each length."""
        H = kc.cs.shape[1]
        gates = kc.gates if kc.mask is None else kc.gates * kc.mask.transpose(0, 2, 1)  # one contiguous product
        values = {"h": time_views(kc.h_out, kc.reverse)[0], "c": time_views(kc.cs, kc.reverse)[0].transpose(0, 2, 1)}
        for k, name in enumerate("ifgo"):
            values[name] = gates[:, k * H : (k + 1) * H].transpose(0, 2, 1)
        return values
