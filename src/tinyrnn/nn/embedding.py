"""Embedding: a lookup table of vectors, indexed by integer token ids."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import check_cache, check_shape, float_array, int_array, integer, positive_int
from ..errors import InputError
from ..init import make_rng
from ..module import Module, Parameter


class Embedding(Module):
    """``torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=None)``.

    weight (num_embeddings, embedding_dim) ~ N(0, 1), with the ``padding_idx`` row zero
    and never receiving gradient. Indices (...) of any integer dtype -> (..., embedding_dim).
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype=np.float32, rng=None
    ):
        super().__init__(dtype)
        num_embeddings = positive_int("num_embeddings", num_embeddings)
        embedding_dim = positive_int("embedding_dim", embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= integer("padding_idx", padding_idx) < num_embeddings:
                raise InputError(f"padding_idx must be in [-{num_embeddings}, {num_embeddings}), got {padding_idx}")
            padding_idx = int(padding_idx) % num_embeddings
        self.config = dict(
            num_embeddings=num_embeddings, embedding_dim=embedding_dim, padding_idx=padding_idx, dtype=self.dtype.name
        )
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        weight = make_rng(rng).standard_normal((num_embeddings, embedding_dim)).astype(self.dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    @staticmethod
    def param_shapes(config: dict):
        """(name, shape) of each parameter, without allocating (see ``RecurrentBase.param_shapes``)."""
        yield (
            "weight",
            (
                positive_int("num_embeddings", config["num_embeddings"]),
                positive_int("embedding_dim", config["embedding_dim"]),
            ),
        )

    def forward(self, idx):
        idx = int_array("idx", idx, low=0, high=self.num_embeddings)
        return self.weight.data[idx], SimpleNamespace(idx=idx, owner=self)

    def __call__(self, idx):
        return self.forward(idx)[0]

    def backward(self, dy, cache):
        """Scatter-add dy into the rows that were looked up (no input gradient: indices)."""
        check_cache(cache, self, ("idx",))
        dy = float_array("dy", dy, self.dtype)
        check_shape("dy", dy, cache.idx.shape + (self.embedding_dim,))
        dy = dy.reshape(-1, self.embedding_dim)  # (N, embedding_dim)
        idx = cache.idx.reshape(-1)
        if self.padding_idx is not None:
            keep = idx != self.padding_idx
            idx, dy = idx[keep], dy[keep]
        if idx.size:
            # Sum the rows of each index (sorted, then one reduceat), ~7x faster than np.add.at.
            order = np.argsort(idx, kind="stable")
            sidx = idx[order]
            starts = np.flatnonzero(np.concatenate(([True], sidx[1:] != sidx[:-1])))
            self.weight.grad[sidx[starts]] += np.add.reduceat(dy[order], starts, axis=0)
        return None
