"""``tinyrnn hello``: the smallest character model, "hello" -> "ohlol".

The smallest character language model: "hello" -> "ohlol".

Embedding(4, 10) -> 2-layer RNN (hidden 8, batch_first) -> Linear(8, 4), cross-entropy,
Adam lr 0.05, 15 epochs, as in the classic PyTorch tutorial.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..losses import cross_entropy
from ..module import Module
from ..nn import RNN, Embedding, Linear
from ..optim import Adam, clip_grad_norm_, grad_norm
from ..train import Plan, Run, ce_ceiling, guarded_step
from ._args import _float_in, add_common, add_config_flags, flag, given, positive, positive_float, print_json

VOCAB = ["e", "h", "l", "o"]


@dataclass
class HelloConfig:
    source: str = "hello"
    target: str = "ohlol"
    epochs: int = field(default=15, metadata=flag("training epochs (default %(default)s)", type=positive))
    lr: float = field(default=0.05, metadata=flag("Adam learning rate (default %(default)s)", type=positive_float))
    embed: int = 10
    hidden: int = 8
    layers: int = 2
    clip: float = field(
        default=0.0, metadata=flag("global gradient-norm clip, 0 = off (default %(default)s)", type=_float_in(0.0))
    )
    seed: int = 0


class TinyCharModel(Module):
    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, rng):
        super().__init__()
        self.embed = Embedding(vocab, embed, rng=rng)
        self.rnn = RNN(embed, hidden, num_layers=layers, batch_first=True, rng=rng)
        self.head = Linear(hidden, vocab, rng=rng)
        self.config = dict(vocab=vocab, embed=embed, hidden=hidden, layers=layers)

    def forward(self, idx):
        """idx (B, T) -> logits (B, T, V), cache."""
        e, ec = self.embed.forward(idx)
        h, _, rc = self.rnn.forward(e)
        logits, hc = self.head.forward(h)
        return logits, (ec, rc, hc)

    def backward(self, dlogits, cache):
        ec, rc, hc = cache
        dx, _ = self.rnn.backward(self.head.backward(dlogits, hc), rc)
        self.embed.backward(dx, ec)


def encode(text: str) -> np.ndarray:
    return np.array([[VOCAB.index(c) for c in text]])


def train(cfg: HelloConfig, emit=lambda line: None) -> dict:
    rng = np.random.default_rng(cfg.seed)
    model = TinyCharModel(len(VOCAB), cfg.embed, cfg.hidden, cfg.layers, rng)
    opt = Adam(model.parameters(), lr=cfg.lr)
    x, y = encode(cfg.source), encode(cfg.target)
    history = []
    # A few milliseconds: quiet (no bar, no progress line, no word about saving: hello keeps no model).
    with Run(Plan(cfg.epochs), quiet=True, lr=cfg.lr, clip=cfg.clip) as run:
        for epoch in run.steps():
            with run.training(epoch):
                history.append(_epoch(model, opt, x, y, epoch, cfg))
            emit(f"Epoch {epoch}/{cfg.epochs} loss={history[-1]['loss']:.4f} predicted={history[-1]['predicted']}")
        final = "".join(VOCAB[i] for i in model.forward(x)[0][0].argmax(-1))
    return dict(
        config=asdict(cfg), final_loss=history[-1]["loss"], predicted=final, solved=final == cfg.target, history=history
    )


def _epoch(model, opt, x, y, epoch, cfg) -> dict:
    """One epoch (one step on the single pair), guarded against divergence."""
    logits, cache = model.forward(x)
    loss, dlogits = cross_entropy(logits, y)
    model.zero_grad()
    model.backward(dlogits, cache)
    norm = clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip else grad_norm(model.parameters())
    guarded_step(opt, model, epoch, loss, norm, cfg.lr, cfg.clip, ce_ceiling(len(VOCAB)))
    predicted = "".join(VOCAB[i] for i in logits[0].argmax(-1))
    return dict(epoch=epoch, loss=round(loss, 4), predicted=predicted)


def run(args):

    cfg = HelloConfig(**given(args, HelloConfig))
    metrics = train(cfg, (lambda line: None) if args.quiet else print)
    print(f"Final prediction: {metrics['predicted']} (target {cfg.target})")
    if args.json:
        metrics.pop("history")
        print_json(metrics)
    return 0


def add_parser(sub):

    p = sub.add_parser(
        "hello",
        help='the smallest character model: "hello" -> "ohlol"',
        description="Embedding(4, 10) -> 2-layer RNN (hidden 8) -> Linear(8, 4), cross-entropy, "
        'Adam, learning to map "hello" to "ohlol".',
    )
    add_config_flags(p, HelloConfig)
    add_common(p, HelloConfig.seed)
    p.set_defaults(run=run)
