"""``tinyrnn memory TASK``: train a cell on a long-range memory task, evaluate on held-out data.

Randomness: the training batches, the test set and the weights come from three Generators
seeded by (seed, 0), (seed, 1) and (seed, 2), so a run is reproduced exactly by its config
(with ``--steps``; a ``--time-budget`` run stops where the clock says).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import save as save_checkpoint
from ..data import memory as tasks
from ..errors import UsageError
from ..models.memory import CELLS, EVAL_CHUNK, MemoryModel, evaluate
from ..nn.recurrent import REGULARISERS
from ..optim import OPTIMIZERS, clip_grad_norm_, grad_norm
from ..schedule import lr_schedule
from ..train import Plan, Run, ce_ceiling, guarded_step
from ._args import _float_in, flag, positive, positive_float, regulariser
from ._common import check_memory

# Defaults that depend on the task (None in MemoryConfig means "the task's value"). Without
# --steps a run trains for TIME_BUDGET seconds (the targets are "within 300 s of training").
TASK_DEFAULTS = {  # forget_bias: lstm only (order: 5, see docs/memory.md; 1 does not learn it)
    "adding": dict(hidden=32, batch=32, lr=1e-2, forget_bias=1.0),
    "copy": dict(hidden=128, batch=32, lr=6e-3, forget_bias=1.0),
    "order": dict(hidden=32, batch=32, lr=1e-2, forget_bias=5.0),
}
TIME_BUDGET = 280.0


def _per_task(key: str) -> str:
    return ", ".join(f"{t} {v[key]}" for t, v in TASK_DEFAULTS.items())


@dataclass
class MemoryConfig:
    task: str = "adding"  # the command's positional TASK
    variant: str = field(
        default="le",
        metadata=flag(
            "adding: le (Le et al. 2015, fixed length T) or hochreiter (1997, lengths T to 1.1 T) (default %(default)s)",
            choices=list(tasks.ADDING_VARIANTS),
        ),
    )
    cell: str = field(
        default="lstm",
        metadata=flag("rnn (tanh), irnn (ReLU, identity init), lstm, gru (default %(default)s)", choices=list(CELLS)),
    )
    T: int = field(
        default=100,
        metadata=flag(
            "sequence length (order, hochreiter: the minimum length; copy: the blanks) (default %(default)s)",
            type=positive,
        ),
    )
    hidden: int | None = field(
        default=None,
        metadata=flag(  # None: TASK_DEFAULTS
            "hidden size (default: %(default)s)", type=positive, default_text=_per_task("hidden")
        ),
    )
    layers: int = field(default=1, metadata=flag("recurrent layers (default %(default)s)", type=positive))
    # The recurrent layer's regularising options (docs/bptt.md, "Regularised recurrences")
    recurrent_dropout: float = regulariser("recurrent_dropout")
    weight_drop: float = regulariser("weight_drop")
    zoneout: float = regulariser("zoneout")
    layer_norm: bool = regulariser("layer_norm")
    batch: int | None = field(
        default=None,
        metadata=flag("sequences per step (default: %(default)s)", type=positive, default_text=_per_task("batch")),
    )
    optimizer: str = field(
        default="adam", metadata=flag("optimizer (default %(default)s)", choices=["adam", "sgd", "adagrad"])
    )
    lr: float | None = field(
        default=None,
        metadata=flag("learning rate (default: %(default)s)", type=positive_float, default_text=_per_task("lr")),
    )
    clip: float = field(
        default=1.0, metadata=flag("global gradient-norm clip, 0 = off (default %(default)s)", type=_float_in(0.0))
    )
    lr_decay: bool = field(
        default=True,
        metadata=flag(  # cosine decay of lr to 5 % over the steps (or the budget)
            "keep --lr constant (default: cosine decay to 5%% of --lr over the run)", name="--no-lr-decay"
        ),
    )
    forget_bias: float | None = field(
        default=None,
        metadata=flag(  # lstm only; None: TASK_DEFAULTS
            "lstm only: forget-gate biases start at B (default: %(default)s)",
            type=_float_in(-1e6, 1e6),
            metavar="B",
            default_text=_per_task("forget_bias"),
        ),
    )
    steps: int | None = field(
        default=None,
        metadata=flag(  # None: train for time_budget seconds
            "training steps (default: train for --time-budget seconds)", type=positive
        ),
    )
    time_budget: float | None = field(
        default=None,
        metadata=flag(  # None: TIME_BUDGET unless steps is given
            f"seconds of training, evaluations excluded (default {TIME_BUDGET:g} unless --steps is given)",
            type=positive_float,
            metavar="SECONDS",
        ),
    )
    eval_every: int = field(
        default=200, metadata=flag("steps between held-out evaluations (default %(default)s)", type=positive)
    )
    test_size: int = field(default=1000, metadata=flag("held-out sequences (default %(default)s)", type=positive))
    stop_when_solved: bool = field(
        default=False, metadata=flag("stop at the first evaluation that meets the task's criterion")
    )
    seed: int = 0
    quiet: bool = False

    def resolved(self) -> MemoryConfig:
        """A copy with the task's defaults filled in and every field checked."""
        values = asdict(self)
        if values["forget_bias"] is not None and values["cell"] != "lstm":
            raise UsageError(f"--forget-bias sets the lstm's forget gates; --cell {values['cell']} has none")
        for k, v in TASK_DEFAULTS[_task(self)].items():
            if values[k] is None and (k != "forget_bias" or values["cell"] == "lstm"):
                values[k] = v
        if values["steps"] is not None and values["time_budget"]:
            raise UsageError("give --steps or --time-budget, not both")
        if values["time_budget"] is None:
            values["time_budget"] = 0.0 if values["steps"] is not None else TIME_BUDGET
        cfg = MemoryConfig(**values)
        check_config(cfg)
        return cfg


def _task(cfg) -> str:
    if cfg.task not in tasks.TASKS:
        raise UsageError(f"task must be one of {', '.join(tasks.TASKS)}, got {cfg.task!r}")
    return cfg.task


def check_config(cfg: MemoryConfig) -> None:
    """One clear UsageError per bad value, before any work starts."""
    if cfg.variant not in tasks.ADDING_VARIANTS:
        raise UsageError(f"--variant must be one of {', '.join(tasks.ADDING_VARIANTS)}, got {cfg.variant!r}")
    if cfg.cell not in CELLS:
        raise UsageError(f"--cell must be one of {', '.join(CELLS)}, got {cfg.cell!r}")
    if cfg.optimizer not in OPTIMIZERS:
        raise UsageError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg.optimizer!r}")
    low = tasks.TASK_CLASSES[cfg.task].lowest_T(cfg.variant)
    if not isinstance(cfg.T, int) or cfg.T < low:
        what = f"{cfg.task} --variant {cfg.variant}" if cfg.task == "adding" else cfg.task
        raise UsageError(f"--T must be an integer >= {low} for {what}, got {cfg.T}")
    for name in ("hidden", "layers", "batch", "steps", "eval_every", "test_size"):
        v = getattr(cfg, name)
        if name == "steps" and v is None and cfg.time_budget:
            continue
        if not isinstance(v, int) or v < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be an integer >= 1, got {v}")
    for name, low_open in (("lr", True), ("clip", False), ("time_budget", False)):
        v = getattr(cfg, name)
        if not math.isfinite(v) or v < 0 or (low_open and v == 0):
            raise UsageError(f"--{name.replace('_', '-')} must be a number {'>' if low_open else '>='} 0, got {v}")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or not 0 <= cfg.seed < 2**63:
        raise UsageError(f"--seed must be an integer from 0 to 2**63 - 1, got {cfg.seed}")
    if not isinstance(cfg.layer_norm, bool):
        raise UsageError(f"--layer-norm is a switch (True or False), got {cfg.layer_norm!r}")
    for name in REGULARISERS:
        v = getattr(cfg, name)
        if name == "layer_norm":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 0.99:
            raise UsageError(f"--{name.replace('_', '-')} must be a number from 0 to 0.99, got {v}")
    if cfg.forget_bias is not None and not math.isfinite(cfg.forget_bias):
        raise UsageError(f"--forget-bias must be a finite number, got {cfg.forget_bias}")


def make_task(cfg: MemoryConfig) -> tasks.MemoryTask:
    return tasks.make_task(cfg.task, cfg.T, cfg.variant)


def memory_estimate(
    hidden: int, batch: int, T: int, layers: int, test_size: int, task: str = "adding", variant: str = "le"
) -> int:
    """Bytes for parameters with gradients and two optimizer arrays, the activations of one
    training step, the held-out set and one evaluation chunk (float32; LSTM, 4 gates, the
    largest cell)."""
    cls = tasks.TASK_CLASSES[task]  # sizes only: T need not be valid here
    n_in, n_out = cls.inputs, cls.outputs
    length = (
        T + 2 * tasks.COPY_LENGTH if task == "copy" else T if task == "adding" and variant == "le" else T + T // 10
    )  # as each task's max_length()
    every = length if cls.every_step else 1  # outputs kept per sequence
    params = layers * 4 * hidden * (max(n_in, hidden) + hidden + 2) + (hidden + 1) * n_out
    step = length * batch * (n_in + layers * hidden * 12) + every * batch * n_out * 3
    test = length * test_size * n_in + every * test_size * n_out * 3
    evaluation = length * min(EVAL_CHUNK, test_size) * layers * hidden * 6
    return 4 * (4 * params + step + test + evaluation)


def size_flags(cfg: MemoryConfig) -> dict:
    """The sizes of a run that cost memory, by flag (for check_memory)."""
    return {
        "--hidden": cfg.hidden,
        "--batch": cfg.batch,
        "--T": cfg.T,
        "--layers": cfg.layers,
        "--test-size": cfg.test_size,
    }


def build_model(cfg: MemoryConfig, rng: np.random.Generator) -> MemoryModel:
    task = make_task(cfg)
    return MemoryModel(
        cfg.cell,
        task.inputs,
        cfg.hidden,
        task.outputs,
        cfg.layers,
        every_step=task.every_step,
        forget_bias=cfg.forget_bias,
        rng=rng,
        recurrent_dropout=cfg.recurrent_dropout,
        weight_drop=cfg.weight_drop,
        zoneout=cfg.zoneout,
        layer_norm=cfg.layer_norm,
    )


def headline(cfg: MemoryConfig, m: dict) -> str:
    """The task's main metric as one short string."""
    return make_task(cfg).headline(m)


def _checkpoint(path, model, cfg, step) -> None:
    save_checkpoint(path, model, meta=dict(kind="memory", task=cfg.task, variant=cfg.variant, T=cfg.T, steps=step))


def train(
    cfg: MemoryConfig,
    emit=lambda line: None,
    save: str | None = None,
    plot_to: str | None = None,
    threads: int | str | None = None,
):
    """Train and evaluate; returns (model, metrics). SIGINT/SIGTERM stop training between steps
    and the run is kept (``interrupted``). With ``save``, the model is written at evaluations
    (at most every ``CHECKPOINT_SECONDS``) and at the end, then the curve is drawn to
    ``plot_to``: both inside the signal guard, the checkpoint first. A non-finite loss or
    gradient, or a held-out loss above the divergence ceiling, raises Diverged."""
    cfg = cfg.resolved()
    check_memory(lambda **k: memory_estimate(**k, task=cfg.task, variant=cfg.variant), size_flags(cfg))
    task = make_task(cfg)
    data_rng = np.random.default_rng([cfg.seed, 0])
    test = task.batch(np.random.default_rng([cfg.seed, 1]), cfg.test_size)
    model = build_model(cfg, np.random.default_rng([cfg.seed, 2]))
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    schedule = lr_schedule(cfg.lr, cfg.lr_decay, cfg.steps or 0, cfg.time_budget)
    ceiling = ce_ceiling(task.outputs) if task.score == "test_ce" else math.inf
    losses, last, cpu, solved_at = [], None, 0.0, None
    curve = dict(steps=[], sequences=[], seconds=[], train_loss=[], test=[])
    run = Run(
        Plan(cfg.steps or 0, cfg.time_budget),
        emit,
        quiet=cfg.quiet,
        desc=f"memory {cfg.task}",
        lr=cfg.lr,
        clip=cfg.clip,
        ceiling=ceiling,
        save=save and (lambda: _checkpoint(save, model, cfg, run.step)),
        threads=threads,
    )
    with run:
        for step in run.steps():
            opt.lr = schedule.lr_at(step - 1, run.timer.seconds)
            cpu0 = time.process_time()
            with run.training(step):
                batch = task.batch(data_rng, cfg.batch)
                y, cache = model.forward(batch.x, batch.lengths)
                loss, dy = task.loss(y, batch)
                model.zero_grad()
                model.backward(dy, cache)
                norm = clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip else grad_norm(model.parameters())
                guarded_step(opt, model, step, float(loss), norm, cfg.lr, cfg.clip, ceiling)
            cpu += time.process_time() - cpu0
            losses.append(float(loss))
            run.log(loss)
            if step % cfg.eval_every == 0:
                with run.evaluating():
                    m = last = evaluate(model, task, test)
                run.check(m[task.score], step)
                _record(
                    curve,
                    step,
                    step * cfg.batch,
                    run.timer.seconds,
                    float(np.mean(losses[-cfg.eval_every :])),
                    m[task.score],
                )
                run.say(
                    f"step {step} ({run.timer.seconds:.1f} s): train loss {curve['train_loss'][-1]:.5f}, "
                    f"{task.headline(m)}"
                )
                if save and run.checkpoint_due():
                    run.save_now()
                if solved_at is None and task.solved(m):
                    solved_at = dict(step=step, sequences=step * cfg.batch, seconds=round(run.timer.seconds, 2))
                    if cfg.stop_when_solved:
                        break
        step = run.step
        if last is None or curve["steps"][-1] != step:
            with run.evaluating():
                last = evaluate(model, task, test)
            run.check(last[task.score], step)
        interrupted = run.stop
        metrics = dict(
            task=cfg.task,
            cell=cfg.cell,
            T=cfg.T,
            sequences_seen=step * cfg.batch,
            seconds=round(run.timer.seconds, 2),
            cpu_seconds=round(cpu, 2),
            baseline=task.baseline,
            **last,
            solved=task.solved(last),
            solved_at=solved_at,
            interrupted=interrupted,
            config=asdict(cfg),
            curve=curve,
            **run.metrics(),
        )
        if cfg.task == "adding":
            metrics["variant"] = cfg.variant
        run.save_now()  # first: a plot that fails must not cost the model
        if plot_to:
            plot(plot_to, metrics)
        metrics.update(run.metrics())  # a signal during the save or the plot counts
        metrics["interrupted"] = run.stop
        return model, metrics


def _record(curve, step, seqs, seconds, train_loss, score):
    curve["steps"].append(step)
    curve["sequences"].append(seqs)
    curve["seconds"].append(round(seconds, 3))
    curve["train_loss"].append(train_loss)
    curve["test"].append(score)


def plot(path: str, metrics: dict) -> None:
    """Learning curve: the held-out loss against training sequences, with the baseline."""
    from ._common import pyplot, save_figure

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
    save_figure(fig, path, dpi=100)
    plt.close(fig)
