"""CharLM: Embedding -> RNN | LSTM | GRU (num_layers, dropout) -> Dropout -> Linear.

Time-major: ids (T, B) -> logits (T, B, V). For truncated BPTT the final state of one chunk
is passed as the initial state of the next, and its gradient is dropped at the boundary.

Beside the model: ``train_step`` (one step of stateful truncated BPTT), ``evaluate`` (nats per
character of a held-out text) and ``sample`` (drawing characters one at a time).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import choice
from ..errors import InputError
from ..functional import log_softmax
from ..init import make_rng
from ..losses import cross_entropy
from ..module import Module, prefixed
from ..nn import CELLS, Dropout, Embedding, Linear
from ..nn.recurrent import regularisers
from ..optim import clip_grad_norm_


class CharLM(Module):
    def __init__(
        self,
        vocab_size: int,
        embed_size: int = 64,
        hidden_size: int = 256,
        cell: str = "lstm",
        num_layers: int = 1,
        dropout: float = 0.0,
        dtype=np.float32,
        rng=None,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
        layer_norm: bool = False,
    ):
        super().__init__(dtype)
        self.rng = make_rng(rng)  # shared by every dropout, so its state can be saved
        self.cell = choice("cell", cell, tuple(CELLS))
        self.embed = Embedding(vocab_size, embed_size, dtype=dtype, rng=self.rng)
        self.rnn = CELLS[cell](
            embed_size,
            hidden_size,
            num_layers,
            dropout=dropout,
            dtype=dtype,
            rng=self.rng,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
            layer_norm=layer_norm,
        )
        self.drop = Dropout(dropout, rng=self.rng, dtype=dtype)
        self.head = Linear(hidden_size, vocab_size, dtype=dtype, rng=self.rng)
        self.config = dict(
            vocab_size=vocab_size,
            embed_size=embed_size,
            hidden_size=hidden_size,
            cell=cell,
            num_layers=num_layers,
            dropout=dropout,
            dtype=self.dtype.name,
        )
        self.config.update(regularisers(self.rnn))  # the recurrent layer's options, when on

    @staticmethod
    def param_shapes(config: dict):
        """(name, shape) of every parameter of ``CharLM(**config)``, without allocating."""
        v, e, h = config["vocab_size"], config.get("embed_size", 64), config.get("hidden_size", 256)
        cell = CELLS[choice("cell", config.get("cell", "lstm"), tuple(CELLS))]
        yield from prefixed("embed.", Embedding.param_shapes(dict(num_embeddings=v, embedding_dim=e)))
        yield from prefixed(
            "rnn.",
            cell.param_shapes(
                dict(
                    input_size=e,
                    hidden_size=h,
                    num_layers=config.get("num_layers", 1),
                    layer_norm=config.get("layer_norm", False),
                )
            ),
        )
        yield from prefixed("head.", Linear.param_shapes(dict(in_features=h, out_features=v)))

    def forward(self, ids, state=None):
        """ids (T, B) -> logits (T, B, V), final state, cache."""
        e, ec = self.embed.forward(ids)
        h, state, rc = self.rnn.forward(e, state)
        d, dc = self.drop.forward(h)
        logits, hc = self.head.forward(d)
        return logits, state, SimpleNamespace(embed=ec, rnn=rc, drop=dc, head=hc)

    def __call__(self, ids, state=None):
        logits, state, _ = self.forward(ids, state)
        return logits, state

    def backward(self, dlogits, cache):
        """Accumulate parameter gradients; the gradient of the initial state is dropped
        (truncated BPTT cuts it at the chunk boundary)."""
        dh = self.drop.backward(self.head.backward(dlogits, cache.head), cache.drop)
        dx, _ = self.rnn.backward(dh, cache.rnn)
        self.embed.backward(dx, cache.embed)


def train_step(model: CharLM, opt, x: np.ndarray, y: np.ndarray, state=None, clip: float = 0.0, on_grad=None):
    """One step of stateful truncated BPTT on a chunk ``x`` (T, B) of character ids with
    targets ``y`` (T, B): forward from ``state`` (the previous chunk's final state, or None for
    zeros), cross-entropy, backward through the chunk only (the gradient stops at its start),
    global-norm clipping at ``clip`` (0: none), one optimizer step. Returns ``(loss, state)``,
    the state to carry into the next chunk.

    ``on_grad(loss, grad_norm)``, if given, is called before the optimizer step (the norm before
    clipping); it may raise to stop a diverging run before the weights change."""
    logits, state, cache = model.forward(x, state)
    loss, dlogits = cross_entropy(logits, y)
    model.zero_grad()
    model.backward(dlogits, cache)
    norm = clip_grad_norm_(model.parameters(), clip) if clip else None
    if on_grad is not None:
        if norm is None:
            norm = float(np.sqrt(sum(float(np.dot(p.grad.ravel(), p.grad.ravel())) for p in model.parameters())))
        on_grad(float(loss), norm)
    opt.step()
    return loss, state


def evaluate(model: CharLM, data: np.ndarray, limit: int = 0, streams: int = 64, chunk: int = 256, wrap=None) -> float:
    """Mean cross-entropy (nats per character) of ``data`` (or its first ``limit`` characters),
    read as ``streams`` contiguous streams with the state carried across chunks. ``wrap(it,
    total)``, if given, wraps the loop over chunks (a progress bar). The model's training mode is
    restored afterwards."""
    if limit:
        data = data[:limit]
    if len(data) < 2:
        raise InputError(f"evaluate needs at least 2 characters of text, got {len(data)}")
    streams = max(1, min(streams, (len(data) - 1) // 2))
    length = (len(data) - 1) // streams
    x_all = data[: length * streams].reshape(streams, length)  # (S, L)
    y_all = data[1 : length * streams + 1].reshape(streams, length)  # (S, L)
    starts = range(0, length, chunk)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for s in wrap(starts, len(starts)) if wrap else starts:
            logits, state = model(x_all[:, s : s + chunk].T, state)
            loss, _ = cross_entropy(logits, y_all[:, s : s + chunk].T, reduction="sum")
            total += loss
            count += logits.shape[0] * logits.shape[1]
    finally:
        model.train(was_training)
    return total / count


def sample(
    model: CharLM,
    vocab,
    prime: str,
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    rng=None,
    emit=lambda text: None,
    keep: bool = True,
):
    """Feed ``prime`` through the model, then draw ``length`` characters one at a time, each
    passed to ``emit`` as it is drawn. Logits are divided by ``temperature`` (lower is more
    conservative); ``top_k`` keeps only the k most likely characters (1 = greedy). ``vocab`` is
    a ``data.text.CharVocab``. The model's training mode is restored afterwards.

    Returns the drawn text, or None with ``keep=False``: then memory does not grow with
    ``length`` (only the recurrent state is kept from step to step)."""
    if not (np.isfinite(temperature) and temperature > 0):
        raise InputError(
            f"temperature must be a finite number > 0, got {temperature}; top_k=1 gives the greedy (argmax) sample"
        )
    rng = make_rng(rng)
    was_training = model.training
    model.eval()
    try:
        return _draw(model, vocab, prime, length, temperature, top_k, rng, emit, keep)
    finally:
        model.train(was_training)


def _draw(model, vocab, prime, length, temperature, top_k, rng, emit, keep):
    if not prime:
        prime = "\n" if "\n" in vocab.stoi else vocab.chars[0]
    ids = vocab.encode(prime, "prime")
    state = None
    for s in range(0, len(ids), 4096):  # a long primer in pieces: memory stays flat
        logits, state = model(ids[s : s + 4096, None], state)
    last = logits[-1, 0].astype(np.float64)  # (V,)
    out = []
    for _ in range(length):
        z = last / temperature
        if top_k and top_k < len(z):
            cut = np.partition(z, -top_k)[-top_k]
            z = np.where(z >= cut, z, -np.inf)
        p = np.exp(log_softmax(z))
        c = int(np.argmax(p)) if top_k == 1 else int(rng.choice(len(p), p=p / p.sum()))
        ch = vocab.chars[c]
        emit(ch)
        if keep:
            out.append(ch)
        logits, state = model(np.array([[c]]), state)
        last = logits[0, 0].astype(np.float64)
    return "".join(out) if keep else None
