"""Rank cells by how strongly they track features of the text (Pearson correlation), from
sums gathered a chunk at a time (memory independent of the text's length)."""

from __future__ import annotations

import numpy as np


class Correlator:
    """Pearson correlation of every activation column with every feature column, accumulated
    over chunks of rows: ``update(a (n, N), f (n, F))``, then ``result()`` (N, F)."""

    def __init__(self, n_cells: int, n_features: int):
        self.n = 0
        self.sa, self.saa = np.zeros(n_cells), np.zeros(n_cells)
        self.sf, self.sff = np.zeros(n_features), np.zeros(n_features)
        self.saf = np.zeros((n_cells, n_features))

    def update(self, a: np.ndarray, f: np.ndarray) -> None:
        a, f = a.astype(np.float64), f.astype(np.float64)
        self.n += len(a)
        self.sa += a.sum(0)
        self.saa += (a * a).sum(0)
        self.sf += f.sum(0)
        self.sff += (f * f).sum(0)
        self.saf += a.T @ f

    def result(self) -> np.ndarray:
        """(N, F) correlations; NaN where a cell or a feature does not vary."""
        n = max(self.n, 1)
        cov = self.saf / n - np.outer(self.sa / n, self.sf / n)
        var_a = self.saa / n - (self.sa / n) ** 2
        var_f = self.sff / n - (self.sf / n) ** 2
        scale = np.sqrt(np.outer(np.maximum(var_a, 0), np.maximum(var_f, 0)))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(scale > 1e-12, cov / scale, np.nan)
        return np.clip(r, -1.0, 1.0)


def rank_cells(r: np.ndarray, allowed: np.ndarray, top: int, units: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Up to ``top`` columns of r (N, F) among ``allowed`` (N,) bools, each with the feature it
    is listed for: a list of (column, feature column), strongest |r| first.

    First, for each feature, the strongest of the columns that track that feature more than any
    other (so a quote cell is listed even where many cells track the position in the line more
    strongly; a feature that no column tracks most gets none), then the columns with the strongest
    |r| on any feature. Columns that share a ``units`` (N,) id (an LSTM unit's tanh(c) and h)
    are listed once."""
    strength = np.where(np.isnan(r) | ~allowed[:, None], -1.0, np.abs(r))  # (N, F), -1: never
    units = np.arange(len(r)) if units is None else units
    best = strength.argmax(1)  # (N,)
    champions, seen = [], set()
    for f in np.argsort(-strength.max(0), kind="stable"):  # features, best-tracked first
        for c in np.argsort(-strength[:, f], kind="stable"):
            if best[c] == f and strength[c, f] >= 0 and units[c] not in seen:  # a cell that tracks f most
                seen.add(units[c])
                champions.append((int(c), int(f)))
                break
    chosen = sorted(champions, key=lambda cf: -strength[cf])[:top]
    seen = {units[c] for c, _ in chosen}
    for c in np.argsort(-strength.max(1), kind="stable"):
        if len(chosen) == top or strength[c, best[c]] < 0:
            break
        if units[c] not in seen:
            seen.add(units[c])
            chosen.append((int(c), int(best[c])))
    return sorted(chosen, key=lambda cf: -strength[cf])
