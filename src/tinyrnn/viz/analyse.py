"""Run a CharLM over a text and gather what the page shows: the cells that track features of
the text best, their activations (quantised), and the next-character predictions.

Two streaming passes, ``chunk`` characters at a time with the state carried over: the first
gathers the correlation sums of every cell, the second keeps only the chosen cells. Working
memory does not grow with the text; what is kept is what the page stores (one byte per
character per listed cell, the top-5 predictions and the surprise of every character).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..data.text import CharVocab
from ..errors import InputError
from ..models.charlm import CharLM
from .features import FEATURES, FeatureScanner
from .influence import WINDOW, influence_rows
from .rank import Correlator, rank_cells
from .trace import Tracer

TOP_PREDICTIONS = 5
STATE_NAMES = {
    "c": "tanh(c)",
    "h": "h",
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
}
HELD_BYTES = 4_000_000  # held states up to this many values: one byte each; beyond, 4 bits


@dataclass
class Analysis:
    text: str
    kept: np.ndarray  # (len(text),) bool: fed to the model (in the vocabulary)
    skipped: list  # the characters outside the vocabulary, sorted
    cells: list  # ranked: dicts layer, state, index, feature, r, correlations
    acts: np.ndarray  # (K, steps) int8: activation * 127 / scale of each listed cell
    scales: np.ndarray  # (K,) the scale of each row (1 unless a cell leaves [-1, 1])
    top_ids: np.ndarray  # (steps, 5) ids of the most likely next characters
    top_p: np.ndarray  # (steps, 5) their probabilities
    surprise: np.ndarray  # (steps,) bits of each character given the ones before; NaN first
    vocab: str
    model: dict = field(default_factory=dict)  # cell, layers, hidden
    features: list = field(default_factory=list)  # the features that occur (vary) in the text
    held: list = field(default_factory=list)  # the states the page holds for select and match: (layer, name)
    held_q: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.uint8))
    # (G, steps, H) uint8 levels: value = (q / Q - 1) * scale
    held_scales: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (G,) the scale of each held state
    held_levels: int = 127  # Q: 127 (one byte a value) or 7 (4 bits)
    influence_q: np.ndarray | None = None  # (steps, window) uint8: influence / its row's largest * 255
    influence_max: np.ndarray | None = None  # (steps,) float32: each row's largest influence

    @property
    def steps(self) -> int:
        return int(self.kept.sum())

    @property
    def bits_per_char(self) -> float:
        return float(np.nanmean(self.surprise)) if self.steps > 1 else float("nan")


def _stretches(text: str, vocab: CharVocab, chunk: int):
    """(features (n, F) of the kept characters, their ids (n,), kept mask (m,)) of each stretch
    of ``chunk`` characters of the text."""
    scanner = FeatureScanner(text)
    stoi = vocab.stoi
    for start in range(0, len(text), chunk):
        piece = text[start : start + chunk]
        feats = scanner.advance(start + len(piece))
        kept = np.fromiter((c in stoi for c in piece), bool, len(piece))
        ids = np.fromiter((stoi[c] for c in piece if c in stoi), np.int64)
        yield feats[kept], ids, kept


def _allowed(tracer: Tracer, layer: int, state: str) -> np.ndarray:
    """(N,) which activation columns may be ranked (``layer`` 0 = all, ``state`` "both")."""
    return np.repeat([(layer in (0, k)) and state in ("both", s) for k, s in tracer.groups], tracer.hidden)


def analyse(
    model: CharLM,
    vocab: CharVocab,
    text: str,
    top: int = 10,
    layer: int = 0,
    state: str = "both",
    chunk: int = 256,
    window: int = WINDOW,
) -> Analysis:
    """Rank the cells of ``model`` over ``text`` and keep what a page of the ``top`` cells needs.
    Characters outside the vocabulary are skipped (the model never sees them). ``layer`` (from
    1; 0 = all) and ``state`` ("c", "h" or "both", LSTM only) choose the cells ranked.
    ``window``: how far back the influence on each prediction is computed (0: not at all)."""
    tracer = Tracer(model)
    _check(tracer, vocab, text, layer, state, window)
    r, peak = _rank_pass(Tracer(model), vocab, text, chunk)  # (N, F), (N,)
    units = np.array([(k, j) for k, _ in tracer.groups for j in range(tracer.hidden)]) @ [tracer.hidden, 1]
    chosen = rank_cells(r, _allowed(tracer, layer, state), top, units)
    columns = [c for c, _ in chosen]
    scales = np.maximum(peak[columns], 1.0)
    second = Tracer(model, gates=True)
    shown = layer or tracer.num_layers
    held = [(k, s) for k, s in second.groups if s in ("c", "h") or k == shown]
    H = tracer.hidden
    columns = [second.groups.index(tracer.groups[c // H]) * H + c % H for c in columns]
    held_cols = np.concatenate([np.arange(H) + second.groups.index(g) * H for g in held])
    held_peak = np.maximum(peak.reshape(-1, H).max(1), 1.0)  # scales of the c/h blocks
    held_scales = np.array([held_peak[tracer.groups.index(g)] if g in tracer.groups else 1.0 for g in held])
    Q = 127 if len(held) * H * _steps(text, vocab) <= HELD_BYTES else 7
    kept, acts, top_ids, top_p, surprise, held_q = _record_pass(
        second, vocab, text, chunk, columns, scales, held_cols, np.repeat(held_scales, H), Q
    )
    names = list(FEATURES)
    inf_q, inf_max = _influence(model, vocab, text, window)

    def describe(rank, c, f):
        layer_of, state_of = tracer.groups[c // tracer.hidden]
        return dict(
            rank=rank,
            layer=layer_of,
            state=state_of,
            index=c % tracer.hidden,
            feature=names[f],
            r=round(float(r[c, f]), 4),
            correlations={n: None if np.isnan(v) else round(float(v), 4) for n, v in zip(names, r[c])},
        )

    return Analysis(
        text=text,
        kept=kept,
        skipped=sorted({c for c in text if c not in vocab.stoi}),
        cells=[describe(k + 1, c, f) for k, (c, f) in enumerate(chosen)],
        acts=acts,
        scales=scales,
        top_ids=top_ids,
        top_p=top_p,
        surprise=surprise,
        vocab=vocab.chars,
        model=dict(cell=model.cell, layers=tracer.num_layers, hidden=tracer.hidden),
        features=[n for f, n in enumerate(names) if not np.isnan(r[:, f]).all()],
        held=held,
        held_q=held_q.reshape(-1, len(held), H).transpose(1, 0, 2),
        held_scales=held_scales,
        held_levels=Q,
        influence_q=inf_q,
        influence_max=inf_max,
    )


def _influence(model: CharLM, vocab: CharVocab, text: str, window: int):
    """The influence (``viz.influence``) on each kept character's prediction, each row scaled
    to its largest value: (levels (steps, window) uint8, largest (steps,) float32)."""
    if not window:
        return None, None
    ids = np.fromiter((vocab.stoi[c] for c in text if c in vocab.stoi), np.int64)
    q, top = np.zeros((len(ids), window), np.uint8), np.zeros(len(ids), np.float32)
    for js, v in influence_rows(model, ids, window):
        peak = v.max(1)
        q[js] = np.floor(v / np.where(peak > 0, peak, 1.0)[:, None] * 255 + 0.5)
        top[js] = peak
    return q, top


def _steps(text: str, vocab: CharVocab) -> int:
    return sum(c in vocab.stoi for c in text)


def quantise_held(values: np.ndarray, scales: np.ndarray, Q: int) -> np.ndarray:
    """Levels 0 .. 2Q of ``values`` in [-scales, scales]: q = round((v / scale + 1) Q)."""
    return np.clip(np.floor((values / scales + 1) * Q + 0.5), 0, 2 * Q).astype(np.uint8)


def _check(tracer: Tracer, vocab: CharVocab, text: str, layer: int, state: str, window: int) -> None:
    if not any(c in vocab.stoi for c in text):
        raise InputError("no character of the text is in the model's vocabulary")
    if not 0 <= layer <= tracer.num_layers:
        raise InputError(f"--layer must be between 1 and {tracer.num_layers} (the model's layers), got {layer}")
    if window < 0:
        raise InputError(f"--influence must be 0 or more characters, got {window}")
    if state not in ("both", "c", "h"):
        raise InputError(f"--state must be c, h or both, got {state}")
    if state == "c" and not tracer.lstm:
        raise InputError(f"--state must be h or both for a {tracer.model.cell.upper()} (c is an LSTM's), got c")


def _rank_pass(tracer: Tracer, vocab: CharVocab, text: str, chunk: int):
    """The first pass: correlations (N, F) of every cell with every feature, and each cell's
    largest |activation| (N,)."""
    corr = Correlator(len(tracer.groups) * tracer.hidden, len(FEATURES))
    peak = np.zeros(len(tracer.groups) * tracer.hidden)
    for feats, ids, _ in _stretches(text, vocab, chunk):
        if len(ids):
            acts, _ = tracer(ids, predict=False)
            corr.update(acts, feats)
            peak = np.maximum(peak, np.abs(acts).max(0))
    return corr.result(), peak


def _record_pass(
    tracer: Tracer,
    vocab: CharVocab,
    text: str,
    chunk: int,
    columns: list,
    scales: np.ndarray,
    held_cols: np.ndarray,
    held_scales: np.ndarray,
    Q: int,
):
    """The second pass: (kept (len(text),), acts (K, steps) int8, top ids (steps, 5), their
    probabilities (steps, 5), surprise in bits (steps,), NaN for the first character, the held
    states' levels (steps, len(held_cols)) uint8)."""
    kept_all, rows, tops, probs, surprise = [], [], [], [], []
    held, done = np.empty((_steps(text, vocab), len(held_cols)), np.uint8), 0  # filled in place
    last = None  # (V,) log p before this stretch
    for _, ids, kept in _stretches(text, vocab, chunk):
        kept_all.append(kept)
        if not len(ids):
            continue
        acts, logp = tracer(ids)  # (n, N), (n, V)
        rows.append(np.floor(acts[:, columns] / scales * 127 + 0.5).astype(np.int8).T)  # (K, n)
        held[done : done + len(ids)] = quantise_held(acts[:, held_cols], held_scales, Q)  # (n, G * H)
        done += len(ids)
        before = logp[:-1] if last is None else np.concatenate([last[None], logp[:-1]])
        s = -before[np.arange(len(before)), ids[len(ids) - len(before) :]] / math.log(2)
        surprise.append((np.concatenate([[np.nan], s]) if last is None else s).astype(np.float32))
        last = logp[-1]
        top_ids = np.argsort(-logp, axis=1, kind="stable")[:, :TOP_PREDICTIONS].astype(np.int32)  # (n, 5), a copy
        tops.append(top_ids)
        probs.append(np.exp(np.take_along_axis(logp, top_ids, 1)).astype(np.float32))
    return (
        np.concatenate(kept_all),
        np.concatenate(rows, axis=1),
        np.concatenate(tops),
        np.concatenate(probs),
        np.concatenate(surprise),
        held,
    )
