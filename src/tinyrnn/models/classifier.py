"""SequenceClassifier: a recurrent encoder, a pooling over the valid steps, a Linear head.

x (B, T, F) batch-first -> RNN/LSTM/GRU -> out (T, B, D*H) -> pool over each sequence's own
steps (``last``: the state after its last step, and for a reverse direction the state after
step 0; ``mean``; ``max``) -> (B, D*H) -> [Dropout] -> Linear -> logits (B, C). Padding never
reaches the result: the encoder stops at each length, and the pools read only steps < length.

``fit_classifier`` is the training loop (Adam, a schedule, batches by length, early stopping on
a validation split, keep-best), inside a ``tinyrnn.train.Run``; ``evaluate`` gives accuracy, per-class accuracy and the
confusion matrix.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .. import init
from .._check import choice, positive_int
from ..data.sequences import length_batches
from ..losses import cross_entropy
from ..module import Module
from ..nn import Dropout, Linear
from ..optim import Adam, clip_grad_norm_, grad_norm
from ..schedule import CosineLR, EarlyStopping
from ..train import Plan, Run, ce_ceiling, check_finite
from .memory import CELLS, recurrent_layer

POOLS = ("last", "mean", "max")


class SequenceModel(Module):
    """``SequenceModel(cell, input_size, hidden_size, output_size, num_layers=1,
    bidirectional=False, pool="last", dropout=0.0, forget_bias=None)``: x (B, T, F) -> (B, O).

    Sub-modules ``rnn`` (PyTorch's RNN/LSTM/GRU layout) and ``head`` (Linear); ``drop`` when
    ``dropout > 0`` (on the pooled features, and between recurrent layers). The classifier reads
    its output as logits; the forecaster as the next ``O`` values.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        pool: str = "last",
        dropout: float = 0.0,
        forget_bias: float | None = None,
        dtype=np.float32,
        rng=None,
    ):
        super().__init__(dtype)
        rng = init.make_rng(rng)
        self.pool = choice("pool", pool, POOLS)
        self.rnn = recurrent_layer(
            choice("cell", cell, CELLS),
            input_size,
            hidden_size,
            num_layers,
            forget_bias,
            dtype,
            rng,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        D = 2 if bidirectional else 1
        self.head = Linear(D * hidden_size, positive_int("output_size", output_size), dtype=dtype, rng=rng)
        self.drop = Dropout(dropout, rng=rng, dtype=dtype) if dropout > 0 else None
        self.config = {
            "cell": cell,
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "num_layers": num_layers,
            "bidirectional": bool(bidirectional),
            "pool": pool,
            "dropout": float(dropout),
            "forget_bias": forget_bias,
            "dtype": self.dtype.name,
        }

    def forward(self, x, lengths=None):
        """x (B, T, F), lengths (B,) ints in [1, T] or None -> y (B, O), cache."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"x must have shape (B, T, F), got {x.shape}")
        B, T, _ = x.shape
        L = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
        out, _, rnn_cache = self.rnn.forward(np.ascontiguousarray(x.transpose(1, 0, 2)), None, lengths=lengths)
        D, rows = self.rnn.num_directions, np.arange(B)  # out (T, B, D*H)
        H = out.shape[2] // D
        valid = np.arange(T)[:, None] < L[None, :]  # (T, B)
        arg = None
        if self.pool == "last":
            feats = out[L - 1, rows]  # (B, D*H)
            if D == 2:
                feats[:, H:] = out[0, :, H:]  # the reverse direction ends at step 0
        elif self.pool == "mean":
            feats = out.sum(axis=0) / L[:, None].astype(out.dtype)  # out is 0 past each length
        else:
            arg = np.where(valid[:, :, None], out, -np.inf).argmax(axis=0)  # (B, D*H) step of each maximum
            feats = np.take_along_axis(out, arg[None], axis=0)[0]
        cache = SimpleNamespace(rnn=rnn_cache, L=L, valid=valid, arg=arg, shape=out.shape, drop=None)
        if self.drop is not None:
            feats, cache.drop = self.drop.forward(feats)
        logits, cache.head = self.head.forward(feats)
        return logits, cache

    def __call__(self, x, lengths=None):
        return self.forward(x, lengths)[0]

    def backward(self, dlogits, cache):
        """Gradient of y -> dx (B, T, F); accumulates every parameter's ``.grad``."""
        dfeats = self.head.backward(dlogits, cache.head)  # (B, D*H)
        if cache.drop is not None:
            dfeats = self.drop.backward(dfeats, cache.drop)
        _, B, DH = cache.shape
        D, rows = self.rnn.num_directions, np.arange(B)
        dout = np.zeros(cache.shape, self.dtype)  # (T, B, D*H)
        if self.pool == "last":
            H = DH // D
            dout[cache.L - 1, rows, :H] = dfeats[:, :H]
            if D == 2:
                dout[0, :, H:] += dfeats[:, H:]
        elif self.pool == "mean":
            dout[...] = dfeats / cache.L[:, None].astype(self.dtype)
            dout *= cache.valid[:, :, None]
        else:
            np.put_along_axis(dout, cache.arg[None], dfeats[None], axis=0)
        dx, _ = self.rnn.backward(dout, cache.rnn)
        return dx.transpose(1, 0, 2)

    def predict_batches(self, x, lengths=None, batch: int = 256) -> np.ndarray:
        """y (N, O) in eval mode, computed in batches of similar length."""
        x = np.asarray(x)
        N, T = x.shape[:2]
        lengths = np.full(N, T, np.int64) if lengths is None else np.asarray(lengths)
        was = self.training
        self.eval()
        y = np.zeros((N, self.head.out_features), self.dtype)
        for idx in length_batches(lengths, batch, shuffle=False):
            y[idx] = self(x[idx, : int(lengths[idx].max())], lengths[idx])
        self.train(was)
        return y


class SequenceClassifier(SequenceModel):
    """``SequenceClassifier(cell, input_size, hidden_size, num_classes, ...)``: a
    :class:`SequenceModel` whose ``num_classes`` outputs are logits."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        pool: str = "last",
        dropout: float = 0.0,
        forget_bias: float | None = None,
        dtype=np.float32,
        rng=None,
    ):
        super().__init__(
            cell,
            input_size,
            hidden_size,
            num_classes,
            num_layers,
            bidirectional,
            pool,
            dropout,
            forget_bias,
            dtype,
            rng,
        )
        self.config["num_classes"] = self.config.pop("output_size")

    def predict(self, x, lengths=None, batch: int = 256) -> np.ndarray:
        """Class indices (N,), in eval mode."""
        return self.predict_batches(x, lengths, batch).argmax(axis=1)


def evaluate(model: SequenceClassifier, x, lengths, y) -> dict:
    """``accuracy`` (0-1), ``loss`` (mean cross-entropy), ``per_class`` accuracy (C,) (NaN for a
    class absent from ``y``), ``confusion`` (C, C): row = true class, column = predicted."""
    logits = model.predict_batches(x, lengths)
    loss, _ = cross_entropy(logits.astype(np.float64), y)
    pred = logits.argmax(axis=1)
    C = logits.shape[1]
    confusion = np.zeros((C, C), np.int64)
    np.add.at(confusion, (y, pred), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / confusion.sum(axis=1)
    return {
        "accuracy": float((pred == y).mean()),
        "loss": float(loss),
        "per_class": per_class,
        "confusion": confusion,
        "pred": pred,
    }


@dataclass
class ClassifierConfig:
    """The model's settings (``tinyrnn classify train`` takes its flag defaults here)."""

    cell: str = "gru"
    hidden: int = 64
    layers: int = 1
    bidirectional: bool = True
    pool: str = "max"
    dropout: float = 0.3


@dataclass
class FitConfig:
    """The training loop's settings (``tinyrnn classify train`` takes its flag defaults here)."""

    epochs: int = 300  # passes over the training split (at most)
    batch: int = 16  # sequences per step
    lr: float = 1e-2  # Adam's peak learning rate (cosine decay to 0 over all epochs)
    weight_decay: float = 0.0
    clip: float = 1.0  # global gradient-norm clipping (0: none)
    patience: int = 40  # epochs without a better validation loss before stopping (0: never)
    warmup: int = 0  # steps of linear warm-up


def gradient_step(
    model: SequenceModel,
    opt,
    lr: float,
    loss_fn,
    x,
    target,
    lengths=None,
    clip: float = 0.0,
    step: int = 0,
    on_grad=None,
) -> float:
    """One update: forward, ``loss, dy = loss_fn(y, target)``, backward, clip the global gradient
    norm to ``clip`` (0: none), set the learning rate, step. Returns the loss.

    ``on_grad(loss, grad_norm)`` is called before the optimizer step (the norm before clipping)
    and may raise to stop a diverging run before the weights change (a training loop passes its
    ``Run.check``); by default a non-finite loss or gradient raises :class:`Diverged`
    (``tinyrnn.train.check_finite``)."""
    model.zero_grad()
    y, cache = model.forward(x, lengths)
    loss, dy = loss_fn(y, target)
    loss, norm = float(loss), math.nan  # a non-finite loss has no gradient: the guard stops it
    if math.isfinite(loss):
        model.backward(dy, cache)
        norm = clip_grad_norm_(opt.params, clip) if clip else grad_norm(opt.params)
    if on_grad is None:
        check_finite(step, loss, norm, lr, clip or None)
    else:
        on_grad(loss, norm)
    opt.lr = lr
    opt.step()
    return loss


def classifier_plan(config: FitConfig, n: int) -> Plan:
    """The plan of ``fit_classifier`` on ``n`` training sequences: every step of every epoch."""
    return Plan(config.epochs * -(-n // config.batch))


def fit_classifier(
    model: SequenceClassifier,
    train,
    val=None,
    config: FitConfig | None = None,
    rng=None,
    on_epoch=None,
    run: Run | None = None,
) -> dict:
    """Train ``model`` on ``train = (x, lengths, y)``; with ``val = (x, lengths, y)``, evaluate it
    after every epoch, stop early after ``config.patience`` epochs without a lower validation loss
    and end with the weights of the best epoch (keep-best). ``on_epoch(record)`` is called with
    each epoch's record.

    The loop runs inside a :class:`tinyrnn.train.Run`: ``run``, one the caller has entered (its
    plan ``classifier_plan(config, len(y))``; it brings the progress display, the checkpoint, the BLAS
    threads), or else a quiet one made here. A SIGINT/SIGTERM ends the training between steps
    (``run.stop``; the epoch under way is evaluated as the last one) and the model still ends
    with the best epoch's weights, also when a second signal stops it at once. A non-finite
    loss, or a loss above ``ce_ceiling(num_classes)``, raises :class:`Diverged`.

    Returns ``{"history": [records], "best_epoch", "kept_step", "epochs", "steps", "train_seconds",
    "eval_seconds"}``, a record being ``{"epoch", "step", "lr", "train_loss", "val_loss", "val_accuracy"}``.
    """
    cfg = config or FitConfig()
    rng = init.make_rng(rng)
    x, lengths, y = train
    opt = Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    plan = classifier_plan(cfg, len(y))
    schedule = CosineLR(cfg.lr, plan.steps, floor=0.0, warmup=min(cfg.warmup, plan.steps - 1))
    stopper = EarlyStopping(cfg.patience, mode="min")
    frame = (
        nullcontext(run)
        if run is not None
        else Run(plan, quiet=True, lr=cfg.lr, clip=cfg.clip or None, ceiling=ce_ceiling(model.head.out_features))
    )
    best_state, history = model.state_dict(), []
    model.train()
    with frame as loop:
        steps = loop.steps()
        try:
            for epoch in range(1, cfg.epochs + 1):
                losses = []
                for idx in length_batches(lengths, cfg.batch, rng):
                    step = next(steps, None)
                    if step is None:  # the plan is done, or a signal stopped the run
                        break
                    t = int(lengths[idx].max())
                    with loop.training(step):
                        loss = gradient_step(
                            model,
                            opt,
                            schedule.lr_at(step - 1),
                            cross_entropy,
                            x[idx, :t],
                            y[idx],
                            lengths[idx],
                            cfg.clip,
                            step,
                            on_grad=lambda loss, norm, step=step: loop.check(loss, step, norm),
                        )
                    loop.log(loss)
                    losses.append(loss)
                if not losses:
                    break
                record = {
                    "epoch": epoch,
                    "step": loop.step,
                    "lr": opt.lr,
                    "train_loss": float(np.mean(losses)),
                    "val_loss": None,
                    "val_accuracy": None,
                }
                if val is not None:
                    with loop.evaluating():
                        ev = evaluate(model, *val)
                    loop.check(ev["loss"])
                    record["val_loss"], record["val_accuracy"] = ev["loss"], ev["accuracy"]
                    if stopper.update(ev["loss"]):
                        best_state = model.state_dict()
                history.append(record)
                if on_epoch is not None:
                    on_epoch(record)
                if stopper.should_stop or loop.stop:
                    break
        finally:  # also on a second signal: the file saved holds the best epoch
            steps.close()
            if val is not None and history:
                model.load_state_dict(best_state)
            model.eval()
    best_epoch = stopper.best_index + 1 if val is not None else len(history)
    return {
        "history": history,
        "best_epoch": best_epoch,
        "kept_step": history[best_epoch - 1]["step"] if history else 0,
        "epochs": len(history),
        "steps": loop.step,
        "train_seconds": loop.timer.seconds,
        "eval_seconds": loop.eval_timer.seconds,
    }


def save_classifier(path, model: SequenceClassifier, standardizer, classes, meta: dict | None = None) -> None:
    """One checkpoint holding the model, the standardisation fitted on its training data
    (``extra/mean``, ``extra/std``) and the class names (``meta["classes"]``). For a model trained
    on a .csv, ``meta["csv"]`` holds how it was read: ``{"id_column", "label_column",
    "feature_columns"}`` (load_csv's arguments), so that new data is read the same way."""
    from .. import checkpoint

    checkpoint.save(
        path, model, meta={**(meta or {}), "task": "classify", "classes": list(classes)}, extra=standardizer.state()
    )


def load_classifier(path):
    """``(model, standardizer, classes, meta)`` from a checkpoint written by ``save_classifier``."""
    from .. import checkpoint
    from ..data.sequences import Standardizer
    from ..errors import CheckpointError

    header = checkpoint.read_header(path)
    meta = header.get("meta", {})
    if header.get("class") != "SequenceClassifier" or meta.get("task") != "classify":
        raise CheckpointError(
            f"{path} is not a sequence-classifier checkpoint (it holds a "
            f"{header.get('class')}); give one written by 'tinyrnn classify train --save'"
        )
    try:
        model = SequenceClassifier(**header["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its model configuration cannot be built ({e})") from None
    loaded = checkpoint.load(path, model)
    extra = loaded["extra"]
    if set(extra) != {"mean", "std"} or extra["mean"].shape != (model.rnn.input_size,):
        raise CheckpointError(
            f"{path}: the standardisation arrays extra/mean and extra/std are missing "
            "or do not match the model's input size"
        )
    csv = meta.get("csv")  # absent in a checkpoint of a model trained on a .npz, or saved before it was kept
    if csv is not None and not _csv_reading_ok(csv, model.rnn.input_size):
        raise CheckpointError(
            f"{path}: meta csv must be {{id_column, label_column, feature_columns}} with "
            f"{model.rnn.input_size} feature columns, got {csv!r:.200}"
        )
    model.eval()
    return model, Standardizer.from_state(extra), list(meta["classes"]), meta


def _csv_reading_ok(csv, input_size: int) -> bool:
    if not isinstance(csv, dict) or set(csv) != {"id_column", "label_column", "feature_columns"}:
        return False
    columns = csv["feature_columns"]
    return (
        isinstance(csv["id_column"], str)
        and isinstance(csv["label_column"], str)
        and isinstance(columns, list)
        and len(columns) == input_size
        and all(isinstance(c, str) for c in columns)
    )
