"""Attention over a source sequence: scores, masked softmax, context (docs/bptt.md, "Attention").

For a query q (a decoder state) and keys k_1 .. k_S (the encoder's outputs):

    e_s = score(q, k_s)                                  (A1)  one of three kinds:
          dot       q . k_s                                   (Luong, needs Hq = Hk)
          general   (q W) . k_s          W (Hq, Hk)           (Luong)
          additive  v . tanh(W_q q + W_k k_s)   W_q (A, Hq), W_k (A, Hk), v (A,)   (Bahdanau)
    a = softmax(e) over s < length, a_s = 0 beyond it    (A2)
    c = sum_s a_s k_s                                    (A3)

``forward`` is one decoder step (query (B, Hq)). ``forward_steps`` takes the queries of T
decoder steps at once (T, B, Hq): when they are all known in advance (teacher forcing
without input feeding), every score of every step is ONE batched product, the softmax
one vectorised call and the contexts one more product; that is how Seq2Seq trains.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from .._check import check_shape, choice, float_array, int_array, positive_int, shape_str
from ..errors import InputError
from ..init import make_rng, uniform
from ..module import Module, Parameter
from ._types import ArrayLike, Cache

KINDS = ("dot", "general", "additive")


class Attention(Module):
    """``Attention(query_size, key_size, kind="additive", attn_size=None, batch_first=False)``.

    Parameters (names are the state_dict keys), U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as a Linear:
        general:  ``weight`` (query_size, key_size)
        additive: ``weight_query`` (attn_size, query_size), ``weight_key`` (attn_size, key_size),
                  ``v`` (attn_size,); attn_size defaults to query_size
    Shapes: query (B, Hq); keys (S, B, Hk), or (B, S, Hk) with batch_first; lengths (B,) ints
    in [1, S] (None: all S). Returns context (B, Hk) and weights (B, S), zero past each length.
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        kind: str = "additive",
        attn_size: int | None = None,
        batch_first: bool = False,
        dtype=np.float32,
        rng=None,
    ):
        super().__init__(dtype)
        self.query_size = positive_int("query_size", query_size)
        self.key_size = positive_int("key_size", key_size)
        self.kind = choice("kind", kind, KINDS)
        if kind != "additive" and attn_size is not None:
            raise InputError(f"attn_size is used only by kind='additive', got attn_size={attn_size} with kind={kind!r}")
        if kind == "dot" and query_size != key_size:
            raise InputError(
                f"kind='dot' needs query_size == key_size, got query_size={query_size} and "
                f"key_size={key_size} (use kind='general' or 'additive')"
            )
        self.attn_size = positive_int("attn_size", attn_size) if attn_size is not None else query_size
        self.batch_first = bool(batch_first)
        rng = make_rng(rng)
        if kind == "general":
            self.weight = Parameter(uniform(rng, (query_size, key_size), 1 / math.sqrt(key_size), self.dtype))
        elif kind == "additive":
            A = self.attn_size
            self.weight_query = Parameter(uniform(rng, (A, query_size), 1 / math.sqrt(query_size), self.dtype))
            self.weight_key = Parameter(uniform(rng, (A, key_size), 1 / math.sqrt(key_size), self.dtype))
            self.v = Parameter(uniform(rng, (A,), 1 / math.sqrt(A), self.dtype))
        self.config = dict(
            query_size=self.query_size,
            key_size=self.key_size,
            kind=self.kind,
            attn_size=attn_size,
            batch_first=self.batch_first,
            dtype=self.dtype.name,
        )

    @staticmethod
    def param_shapes(config: dict):
        """(name, shape) of each parameter, without allocating (see ``RecurrentBase.param_shapes``)."""
        q = positive_int("query_size", config["query_size"])
        k = positive_int("key_size", config["key_size"])
        kind = choice("kind", config.get("kind", "additive"), KINDS)
        if kind == "general":
            yield "weight", (q, k)
        elif kind == "additive":
            a = positive_int("attn_size", config["attn_size"]) if config.get("attn_size") is not None else q
            yield "weight_query", (a, q)
            yield "weight_key", (a, k)
            yield "v", (a,)

    # ------------------------------------------------------------------ validation
    def _keys(self, keys, lengths, B=None):
        """keys in the user's layout -> (B, S, Hk) batch-major, and the (B, 1, S) validity mask."""
        keys = float_array("keys", keys, self.dtype)
        layout = "(B, S, key_size)" if self.batch_first else "(S, B, key_size)"
        if keys.ndim != 3 or keys.shape[2] != self.key_size:
            raise InputError(
                f"keys must have shape {layout} with key_size={self.key_size}, got {shape_str(keys.shape)}"
            )
        kb = keys if self.batch_first else keys.transpose(1, 0, 2)  # (B, S, Hk)
        if B is not None and kb.shape[0] != B:
            raise InputError(f"keys must have batch size {B} (the query's), got {shape_str(keys.shape)} {layout}")
        S = kb.shape[1]
        if S == 0:
            raise InputError("keys must have at least one source position, got S=0")
        if lengths is None:
            return kb, None
        lengths = int_array("lengths", lengths, what="length")
        if lengths.shape != (kb.shape[0],):
            raise InputError(
                f"lengths must have shape ({kb.shape[0]},), one length per batch element, "
                f"got {shape_str(lengths.shape)}"
            )
        if lengths.min() < 1 or lengths.max() > S:
            raise InputError(f"lengths must be in [1, S={S}], got min {lengths.min()} and max {lengths.max()}")
        valid = (np.arange(S)[None, :] < lengths[:, None])[:, None, :]  # (B, 1, S)
        return kb, (None if valid.all() else valid)

    def _queries(self, queries, steps: bool):
        """(T, B, Hq) time-major queries (a single step is T = 1)."""
        q = float_array("query" if not steps else "queries", queries, self.dtype)
        if not steps:
            check_shape("query", q, (None, self.query_size), f" (B, query_size={self.query_size})")
            return q[None]
        layout = "(B, T, query_size)" if self.batch_first else "(T, B, query_size)"
        if q.ndim != 3 or q.shape[2] != self.query_size:
            raise InputError(
                f"queries must have shape {layout} with query_size={self.query_size}, got {shape_str(q.shape)}"
            )
        return q.transpose(1, 0, 2) if self.batch_first else q

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        query: ArrayLike,
        keys: ArrayLike,
        lengths: ArrayLike | None = None,
        projected_keys: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, Cache]:
        """One decoder step: ``context (B, Hk), weights (B, S), cache``.

        ``projected_keys``: optional ``project_keys(keys)``, for decoding many steps against the
        same keys (additive only): W_k k_s is then computed once per source, not once per step."""
        q = self._queries(query, steps=False)  # (1, B, Hq)
        context, weights, cache = self._forward(q, keys, lengths, projected_keys)
        cache.single = True
        return context[0], weights[:, 0], cache

    def forward_steps(
        self, queries: ArrayLike, keys: ArrayLike, lengths: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray, Cache]:
        """All decoder steps at once: queries (T, B, Hq) (batch_first: (B, T, Hq)) ->
        ``contexts (T, B, Hk), weights (T, B, S), cache`` (batch_first: (B, T, ...))."""
        q = self._queries(queries, steps=True)  # (T, B, Hq)
        context, weights, cache = self._forward(q, keys, lengths)
        cache.single = False
        if self.batch_first:
            return context.transpose(1, 0, 2), weights, cache
        return context, weights.transpose(1, 0, 2), cache

    def __call__(
        self,
        query: ArrayLike,
        keys: ArrayLike,
        lengths: ArrayLike | None = None,
        projected_keys: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        context, weights, _ = self.forward(query, keys, lengths, projected_keys)
        return context, weights

    def project_keys(self, keys):
        """W_k k_s for every key, (B, S, attn_size) (kind='additive'), to pass as ``projected_keys``."""
        if self.kind != "additive":
            raise InputError(f"project_keys is for kind='additive', this attention is kind={self.kind!r}")
        kb, _ = self._keys(keys, None)
        return kb @ self.weight_key.data.T

    def _forward(self, q, keys, lengths, pk=None):
        """q (T, B, Hq) -> contexts (T, B, Hk), weights (B, T, S), cache."""
        kb, valid = self._keys(keys, lengths, q.shape[1])  # (B, S, Hk), (B, 1, S)
        if pk is not None:
            if self.kind != "additive":
                raise InputError(f"projected_keys is for kind='additive', this attention is kind={self.kind!r}")
            pk = float_array("projected_keys", pk, self.dtype)
            check_shape("projected_keys", pk, kb.shape[:2] + (self.attn_size,), " (from project_keys(keys))")
        qb = q.transpose(1, 0, 2)  # (B, T, Hq)
        e, score_cache = self._scores(qb, kb, pk)  # (B, T, S)        (A1)
        if valid is not None:
            e = np.where(valid, e, -np.inf)  # masked: exp(-inf) = 0 exactly
        a = np.exp(e - e.max(axis=-1, keepdims=True))  # (A2)
        a /= a.sum(axis=-1, keepdims=True)
        c = a @ kb  # (B, T, Hk)       (A3)
        cache = SimpleNamespace(qb=qb, kb=kb, a=a, score=score_cache)
        return c.transpose(1, 0, 2), a, cache

    def _scores(self, qb, kb, pk=None):
        """(A1) for every step and position: qb (B, T, Hq), kb (B, S, Hk) -> e (B, T, S)."""
        if self.kind == "dot":
            return qb @ kb.transpose(0, 2, 1), None
        if self.kind == "general":
            u = qb @ self.weight.data  # (B, T, Hk)  u = q W
            return u @ kb.transpose(0, 2, 1), u
        pq = qb @ self.weight_query.data.T  # (B, T, A)   W_q q
        if pk is None:
            pk = kb @ self.weight_key.data.T  # (B, S, A)   W_k k_s
        z = np.tanh(pq[:, :, None, :] + pk[:, None, :, :])  # (B, T, S, A)
        return z @ self.v.data, z  # e = v . z

    # ------------------------------------------------------------------ backward
    def backward(
        self, dcontext: ArrayLike, cache: Cache, dweights: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``dquery (B, Hq), dkeys`` (keys' layout) for one step; accumulates parameter ``.grad``.
        ``dweights`` (B, S), the gradient of the returned weights, is optional."""
        self._check_cache(cache, single=True)
        B, T, S = cache.a.shape
        dc = float_array("dcontext", dcontext, self.dtype, finite=False)
        check_shape("dcontext", dc, (B, self.key_size))
        dw = None
        if dweights is not None:
            dw = float_array("dweights", dweights, self.dtype, finite=False)
            check_shape("dweights", dw, (B, S))
            dw = dw[:, None]
        dq, dkeys = self._backward(dc[:, None], dw, cache)
        return dq[:, 0], dkeys

    def backward_steps(
        self, dcontexts: ArrayLike, cache: Cache, dweights: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``dqueries, dkeys`` for ``forward_steps``; dcontexts (and dweights) in its output layout."""
        self._check_cache(cache, single=False)
        B, T, S = cache.a.shape
        dc = float_array("dcontexts", dcontexts, self.dtype, finite=False)
        check_shape("dcontexts", dc, (B, T, self.key_size) if self.batch_first else (T, B, self.key_size))
        dc = dc if self.batch_first else dc.transpose(1, 0, 2)
        dw = None
        if dweights is not None:
            dw = float_array("dweights", dweights, self.dtype, finite=False)
            check_shape("dweights", dw, (B, T, S) if self.batch_first else (T, B, S))
            dw = dw if self.batch_first else dw.transpose(1, 0, 2)
        dq, dkeys = self._backward(dc, dw, cache)
        return (dq if self.batch_first else dq.transpose(1, 0, 2)), dkeys

    @staticmethod
    def _check_cache(cache, single):
        if not isinstance(cache, SimpleNamespace) or not hasattr(cache, "score"):
            raise TypeError("cache must be the third value returned by forward() or forward_steps()")
        if cache.single != single:
            raise TypeError("a cache from forward() goes to backward(), one from forward_steps() to backward_steps()")

    def _backward(self, dc, dw, cache):
        """dc (B, T, Hk), dw (B, T, S) or None -> dq (B, T, Hq), dkeys in the keys' layout."""
        a, kb = cache.a, cache.kb
        da = dc @ kb.transpose(0, 2, 1)  # (B, T, S)  from (A3)
        if dw is not None:
            da = da + dw
        de = a * (da - (a * da).sum(axis=-1, keepdims=True))  # (A4) softmax Jacobian; 0 where a = 0
        dkb = a.transpose(0, 2, 1) @ dc  # (B, S, Hk) from (A3)
        dq = self._scores_backward(de, cache, dkb)  # (A5)-(A7), adds to dkb
        return dq, (dkb if self.batch_first else dkb.transpose(1, 0, 2))

    def _scores_backward(self, de, cache, dkb):
        """Gradient of (A1): de (B, T, S) -> dq (B, T, Hq); adds the keys' part into dkb."""
        qb, kb = cache.qb, cache.kb
        if self.kind == "dot":  # (A5)
            dkb += de.transpose(0, 2, 1) @ qb
            return de @ kb
        if self.kind == "general":  # (A6)
            u = cache.score
            du = de @ kb  # (B, T, Hk)
            dkb += de.transpose(0, 2, 1) @ u
            self.weight.grad += qb.reshape(-1, self.query_size).T @ du.reshape(-1, self.key_size)
            return du @ self.weight.data.T
        z = cache.score  # (A7)  (B, T, S, A)
        A = self.attn_size
        self.v.grad += de.reshape(-1) @ z.reshape(-1, A)
        dpre = de[..., None] * self.v.data  # d(W_q q + W_k k_s) = de v (1 - z^2)
        dpre *= 1 - z * z
        dpq = dpre.sum(axis=2)  # (B, T, A)
        dpk = dpre.sum(axis=1)  # (B, S, A)
        self.weight_query.grad += dpq.reshape(-1, A).T @ qb.reshape(-1, self.query_size)
        self.weight_key.grad += dpk.reshape(-1, A).T @ kb.reshape(-1, self.key_size)
        dkb += dpk @ self.weight_key.data
        return dpq @ self.weight_query.data
