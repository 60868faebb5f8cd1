"""The layouts of a recurrent layer's arrays, a part of ``RecurrentBase``.

The user's layouts (``batch_first``, unbatched input) checked and moved to the internal
(T, B, features) one and back, and the input projection of every step written in the layout
its kernels read (``feature_major``, see nn/recurrent.py).
"""

from __future__ import annotations

import numpy as np

from .._check import check_shape, float_array, int_array, shape_str
from ..errors import InputError


class UserLayout:
    """The layout methods of ``RecurrentBase`` (a base class of it; it holds no state)."""

    def _prepare(self, x, hx, lengths):
        """Validate and move to the internal layout: x (T, B, I), states (D*L, B, size)."""
        x = float_array("x", x, self.dtype)
        given_shape = x.shape  # for messages: the user's layout
        if x.ndim not in (2, 3):
            layout = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
            raise InputError(f"x must be 3-D {layout} or 2-D (T, input_size) unbatched, got shape {shape_str(x.shape)}")
        batched = x.ndim == 3
        if x.shape[-1] != self.input_size:
            raise InputError(f"x must have last dimension input_size={self.input_size}, got shape {shape_str(x.shape)}")
        if not batched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        T, B = x.shape[0], x.shape[1]
        if T == 0 or B == 0:
            layout = "(B, T, input_size)" if batched and self.batch_first else "(T, B, input_size)"
            raise InputError(
                f"x must have at least one time step and one batch element {layout}, got shape {shape_str(given_shape)}"
            )
        x = np.ascontiguousarray(x)
        n = self.num_layers * self.num_directions
        given = self._unpack_state(hx, "hx") if hx is not None else (None,) * len(self._state_sizes())
        states = []
        for name, size, s in zip(self.state_names, self._state_sizes(), given):
            if s is None:
                states.append(np.zeros((n, B, size), self.dtype))
                continue
            s = float_array(name, s, self.dtype)
            if batched:
                check_shape(name, s, (n, B, size), " (num_layers * num_directions, batch, size)")
            else:
                check_shape(name, s, (n, size), " (num_layers * num_directions, size) for unbatched x")
                s = s[:, None, :]
            states.append(s)
        mask = None
        if lengths is not None:
            lengths = int_array("lengths", lengths, what="length")
            if lengths.shape != (B,):
                raise InputError(
                    f"lengths must have shape ({B},), one length per batch element, got {shape_str(lengths.shape)}"
                )
            if lengths.min() < 1 or lengths.max() > T:
                raise InputError(f"lengths must be in [1, T={T}], got min {lengths.min()} and max {lengths.max()}")
            if lengths.min() < T:
                mask = (np.arange(T)[:, None] < lengths[None, :])[:, :, None]  # (T, B, 1) bool
        return x, tuple(states), mask, batched

    def _to_user(self, a, batched):
        """(T, B, F) internal -> user layout."""
        if not batched:
            return a[:, 0, :]
        return a.transpose(1, 0, 2) if self.batch_first else a

    def _from_user(self, name, a, shape_internal, batched):
        """User layout -> (T, B, F) internal, with a shape check naming ``name``."""
        a = float_array(name, a, self.dtype)
        T, B, F = shape_internal
        if not batched:
            check_shape(name, a, (T, F))
            return a[:, None, :]
        if self.batch_first:
            check_shape(name, a, (B, T, F), " (batch_first)")
            return a.transpose(1, 0, 2)
        check_shape(name, a, (T, B, F))
        return a

    def _project(self, inp, ps, empty):
        """Input projection of every step, all gates and directions: ONE matrix product.
        Returns xg_all, logically (T, B, D*G*H) (see the module docstring for the layout).

        Batch-major kernels: (T*B, I) @ W^T, then the bias. Feature-major kernels: one batched
        product W (D*G*H, I+1) @ inp^T (T, I+1, B) that writes the (T, D*G*H, B) layout directly,
        the bias riding as an extra input column of ones (adding a (rows, 1) bias to (rows, B)
        blocks is slow in NumPy for small B).

        Also returns, for batch-major kernels (whose projection weight is W_ih itself), the
        stacked W_ih in column-major order for dx = dxg @ W_ih in ``backward``; else None.
        """
        T, B, I = inp.shape
        # with layer_norm: the centred product u - μ = x (W_ih - mean row)^T (no bias, no halving),
        # normalised by the kernel (N1) (nn/layernorm.py)
        halved = (lambda w: w - w.mean(axis=0, keepdims=True)) if self.layer_norm else self._halved  # noqa: E731
        bias = self.bias and not self.layer_norm
        weights = [halved(p.w_ih.data) for p in ps]
        if not self.feature_major:
            # One column-major copy serves both products: w.T is then a contiguous (I, rows)
            # operand here (~2x faster than the strided view at small I in OpenBLAS) and w the
            # faster operand of dx = dxg @ W_ih (~1.5x at small I).
            w = np.asfortranarray(weights[0] if len(ps) == 1 else np.concatenate(weights))
            xg = np.matmul(inp.reshape(T * B, I), w.T, out=empty("xg", (T * B, w.shape[0])))
            if bias:
                bias = [self._halved(self._input_bias(p)) for p in ps]
                xg += bias[0] if len(ps) == 1 else np.concatenate(bias)
            return xg.reshape(T, B, -1), w
        if bias:
            weights = [
                np.concatenate([w, self._halved(self._input_bias(p))[:, None]], axis=1) for w, p in zip(weights, ps)
            ]
            aug = empty("inp_ones", (T, B, I + 1))
            aug[:, :, :I] = inp
            aug[:, :, I] = 1
            inp = aug
        w = weights[0] if len(ps) == 1 else np.concatenate(weights)
        xgT = empty("xg", (T, w.shape[0], B))
        if B == 1:  # (T, rows, 1) is (T, rows) in memory: one 2-D product, faster than T small ones
            np.matmul(inp.reshape(T, -1), w.T, out=xgT.reshape(T, -1))
        else:
            np.matmul(w, inp.transpose(0, 2, 1), out=xgT)
        return xgT.transpose(0, 2, 1), None
