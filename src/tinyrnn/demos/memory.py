"""``tinyrnn memory TASK``: train a cell on a long-range memory task, evaluate on held-out data.

Randomness: the training batches, the test set and the weights come from three Generators
seeded by (seed, 0), (seed, 1) and (seed, 2), so a run is reproduced exactly by its config
(with ``--steps``; a ``--time-budget`` run stops where the clock says).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..data import memory as tasks
from ..losses import cross_entropy, mse_loss
from ..models.memory import CELLS, MemoryModel
from ..optim import OPTIMIZERS, clip_grad_norm_
from .common import Timer, progress, training

# Defaults that depend on the task (None in MemoryConfig means "the task's value"). Without
# --steps a run trains for TIME_BUDGET seconds (the targets are "within 300 s of training").
TASK_DEFAULTS = {           # forget_bias: lstm only (order: 5, see docs/memory.md; 1 does not learn it)
    "adding": dict(hidden=32, batch=32, lr=1e-2, forget_bias=1.0),
    "copy": dict(hidden=128, batch=32, lr=6e-3, forget_bias=1.0),
    "order": dict(hidden=32, batch=32, lr=1e-2, forget_bias=5.0),
}
TIME_BUDGET = 280.0
EVAL_CHUNK = 500                      # test sequences per forward pass


class TrainingDiverged(Exception):
    """The loss became non-finite; the message says what to change."""


@dataclass
class MemoryConfig:
    task: str = "adding"
    variant: str = "le"               # adding only: le | hochreiter
    cell: str = "lstm"
    T: int = 100
    hidden: int | None = None         # None: TASK_DEFAULTS
    layers: int = 1
    batch: int | None = None
    optimizer: str = "adam"
    lr: float | None = None
    clip: float = 1.0                 # global gradient-norm clip, 0 = off
    lr_decay: bool = True             # cosine decay of lr to 5 % over the steps (or the time budget)
    forget_bias: float | None = None  # lstm only; None: TASK_DEFAULTS
    steps: int | None = None          # training steps; None: train for time_budget seconds
    time_budget: float | None = None  # seconds of training; None: TIME_BUDGET unless steps is given
    eval_every: int = 200
    test_size: int = 1000
    stop_when_solved: bool = False
    seed: int = 0
    quiet: bool = False

    def resolved(self) -> MemoryConfig:
        """A copy with the task's defaults filled in and every field checked."""
        values = asdict(self)
        if values["forget_bias"] is not None and values["cell"] != "lstm":
            raise ValueError(f"--forget-bias sets the lstm's forget gates; --cell {values['cell']} has none")
        for k, v in TASK_DEFAULTS[_task(self)].items():
            if values[k] is None and (k != "forget_bias" or values["cell"] == "lstm"):
                values[k] = v
        if values["steps"] is not None and values["time_budget"]:
            raise ValueError("give --steps or --time-budget, not both")
        if values["time_budget"] is None:
            values["time_budget"] = 0.0 if values["steps"] is not None else TIME_BUDGET
        cfg = MemoryConfig(**values)
        check_config(cfg)
        return cfg


def _task(cfg) -> str:
    if cfg.task not in tasks.TASKS:
        raise ValueError(f"task must be one of {', '.join(tasks.TASKS)}, got {cfg.task!r}")
    return cfg.task


def check_config(cfg: MemoryConfig) -> None:
    """One clear ValueError per bad value, before any work starts."""
    if cfg.variant not in tasks.ADDING_VARIANTS:
        raise ValueError(f"--variant must be one of {', '.join(tasks.ADDING_VARIANTS)}, got {cfg.variant!r}")
    if cfg.cell not in CELLS:
        raise ValueError(f"--cell must be one of {', '.join(CELLS)}, got {cfg.cell!r}")
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg.optimizer!r}")
    low = tasks.min_T(cfg.task, cfg.variant)
    if not isinstance(cfg.T, int) or cfg.T < low:
        what = f"{cfg.task} --variant {cfg.variant}" if cfg.task == "adding" else cfg.task
        raise ValueError(f"--T must be an integer >= {low} for {what}, got {cfg.T}")
    for name in ("hidden", "layers", "batch", "steps", "eval_every", "test_size"):
        v = getattr(cfg, name)
        if name == "steps" and v is None and cfg.time_budget:
            continue
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be an integer >= 1, got {v}")
    for name, low_open in (("lr", True), ("clip", False), ("time_budget", False)):
        v = getattr(cfg, name)
        if not math.isfinite(v) or v < 0 or (low_open and v == 0):
            raise ValueError(f"--{name.replace('_', '-')} must be a number {'>' if low_open else '>='} 0, got {v}")
    if cfg.forget_bias is not None and not math.isfinite(cfg.forget_bias):
        raise ValueError(f"--forget-bias must be a finite number, got {cfg.forget_bias}")


def build_model(cfg: MemoryConfig, rng: np.random.Generator) -> MemoryModel:
    n_in, n_out = tasks.io_sizes(cfg.task)
    return MemoryModel(cfg.cell, n_in, cfg.hidden, n_out, cfg.layers, every_step=cfg.task == "copy",
                       forget_bias=cfg.forget_bias, rng=rng)


def loss_and_grad(task: str, y, batch: tasks.Batch):
    """The task's training loss and its gradient w.r.t. the model output."""
    if task == "adding":
        return mse_loss(y, batch.y)
    return cross_entropy(y, batch.y)


def evaluate(model: MemoryModel, cfg: MemoryConfig, test: tasks.Batch) -> dict:
    """The task's pinned test metrics on the held-out set."""
    n = test.x.shape[1]
    outs = []
    for s in range(0, n, EVAL_CHUNK):
        lengths = None if test.lengths is None else test.lengths[s:s + EVAL_CHUNK]
        outs.append(model(test.x[:, s:s + EVAL_CHUNK], lengths))
    y = np.concatenate(outs, axis=1 if cfg.task == "copy" else 0)
    if cfg.task == "adding":
        err = np.abs(y[:, 0] - test.y[:, 0])
        return dict(test_mse=float(np.mean(err ** 2)),
                    solved_fraction=float(np.mean(err < tasks.HOCHREITER_TOLERANCE)))
    if cfg.task == "copy":
        ce, _ = cross_entropy(y, test.y)
        recall = slice(cfg.T + tasks.COPY_LENGTH, None)
        right = y[recall].argmax(-1) == test.y[recall]
        return dict(test_ce=float(ce), recall_accuracy=float(right.mean()))
    ce, _ = cross_entropy(y, test.y)
    return dict(test_ce=float(ce), test_accuracy=float(np.mean(y.argmax(-1) == test.y)))


def solved(cfg: MemoryConfig, m: dict) -> bool:
    """The success criterion: adding 99 % of test sequences within 0.04; copy cross-entropy
    below 10 % of the baseline; order 99 % accuracy."""
    if cfg.task == "adding":
        return m["solved_fraction"] >= 0.99
    if cfg.task == "copy":
        return m["test_ce"] < 0.1 * tasks.baseline("copy", cfg.T)
    return m["test_accuracy"] >= 0.99


def headline(cfg: MemoryConfig, m: dict) -> str:
    """The task's main metric as one short string."""
    if cfg.task == "adding":
        return f"test MSE {m['test_mse']:.5f}, solved {100 * m['solved_fraction']:.1f}%"
    if cfg.task == "copy":
        return f"test CE {m['test_ce']:.5f}, recall {100 * m['recall_accuracy']:.1f}%"
    return f"test accuracy {100 * m['test_accuracy']:.1f}%"


def _diverged(step: int, loss: float, cfg: MemoryConfig) -> TrainingDiverged:
    fix = f"lower --clip (now {cfg.clip:g})" if cfg.clip else "set --clip"
    return TrainingDiverged(f"training diverged at step {step} (loss={loss}); lower --lr (now {cfg.lr:g}) or {fix}")


def train(cfg: MemoryConfig, emit=lambda line: None):
    """Train and evaluate; returns (model, metrics). Ctrl-C stops training and keeps the run
    (``interrupted`` is then true). Raises TrainingDiverged on a non-finite loss."""
    cfg = cfg.resolved()
    data_rng = np.random.default_rng([cfg.seed, 0])
    test = tasks.generate(cfg.task, cfg.variant, np.random.default_rng([cfg.seed, 1]), cfg.T, cfg.test_size)
    model = build_model(cfg, np.random.default_rng([cfg.seed, 2]))
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    timer, step, losses, interrupted, last, cpu = Timer(), 0, [], False, None, 0.0
    curve = dict(steps=[], sequences=[], seconds=[], train_loss=[], test=[])
    solved_at = None
    budget = cfg.time_budget
    flag, hard_stop = None, False
    try:
        with training() as flag:                      # SIGINT/SIGTERM stop between steps
            for step in progress(range(1, 10**12), 0 if budget else cfg.steps, not cfg.quiet, f"memory {cfg.task}"):
                if flag.stop or (budget and timer.seconds >= budget) or (not budget and step > cfg.steps):
                    step -= 1
                    break
                if cfg.lr_decay:
                    opt.lr = cfg.lr * cosine(timer.seconds / budget if budget else (step - 1) / cfg.steps)
                cpu0 = time.process_time()
                with timer, np.errstate(over="ignore", invalid="ignore"):    # a divergence is reported below
                    batch = tasks.generate(cfg.task, cfg.variant, data_rng, cfg.T, cfg.batch)
                    y, cache = model.forward(batch.x, batch.lengths)
                    loss, dy = loss_and_grad(cfg.task, y, batch)
                    if not math.isfinite(loss):
                        raise _diverged(step, loss, cfg)
                    model.zero_grad()
                    model.backward(dy, cache)
                    if cfg.clip:
                        clip_grad_norm_(model.parameters(), cfg.clip)
                    opt.step()
                cpu += time.process_time() - cpu0
                losses.append(loss)
                if step % cfg.eval_every == 0:
                    m = last = evaluate(model, cfg, test)
                    _record(curve, step, step * cfg.batch, timer.seconds, float(np.mean(losses[-cfg.eval_every:])), m, cfg)
                    emit(f"step {step} ({timer.seconds:.1f} s): train loss {curve['train_loss'][-1]:.5f}, {headline(cfg, m)}")
                    if solved_at is None and solved(cfg, m):
                        solved_at = dict(step=step, sequences=step * cfg.batch, seconds=round(timer.seconds, 2))
                        if cfg.stop_when_solved:
                            break
    except KeyboardInterrupt:                         # a second signal: stop at once
        step, hard_stop = len(losses), True
    interrupted = hard_stop or (flag is not None and flag.stop)
    final = last if last is not None and curve["steps"][-1] == step else evaluate(model, cfg, test)
    metrics = dict(task=cfg.task, cell=cfg.cell, T=cfg.T, steps=step, sequences_seen=step * cfg.batch,
                   seconds=round(timer.seconds, 2), cpu_seconds=round(cpu, 2), baseline=tasks.baseline(cfg.task, cfg.T, cfg.variant),
                   **final, solved=solved(cfg, final), solved_at=solved_at, interrupted=interrupted,
                   signal=flag.name if interrupted and flag.stop else None,
                   exit_code=(flag.exit_code or 130) if interrupted else 0,
                   config=asdict(cfg), curve=curve)
    if cfg.task == "adding":
        metrics["variant"] = cfg.variant
    return model, metrics


def cosine(done: float) -> float:
    """Learning-rate factor after the fraction ``done`` of the run: 1 down to 0.05."""
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))


def _record(curve, step, seqs, seconds, train_loss, m, cfg):
    curve["steps"].append(step)
    curve["sequences"].append(seqs)
    curve["seconds"].append(round(seconds, 3))
    curve["train_loss"].append(train_loss)
    curve["test"].append(m["test_mse"] if cfg.task == "adding" else m["test_ce"])


def plot(path: str, metrics: dict) -> None:
    """Learning curve: the held-out loss against training sequences, with the baseline."""
    from .common import pyplot
    plt = pyplot()
    c = metrics["curve"]
    fig, ax = plt.subplots(figsize=(7, 4))
    what = "MSE" if metrics["task"] == "adding" else "cross-entropy"
    ax.plot(c["sequences"], c["test"], label=f"{metrics['cell']}: held-out {what}")
    ax.axhline(metrics["baseline"], color="grey", linestyle="--", label="baseline (input-blind answer)")
    ax.set_yscale("log")
    ax.set_xlabel("training sequences seen")
    ax.set_ylabel(f"held-out {what}")
    ax.set_title(f"memory {metrics['task']}, T = {metrics['T']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
