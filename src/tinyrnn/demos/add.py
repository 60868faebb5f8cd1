"""Binary addition, as the classic tutorial teaches it, on the library's layers.

Defaults are the tutorial's: 8 bits, 16 sigmoid hidden units, sigmoid output, no biases,
U(-1, 1) weights, loss 1/2 (y - p)^2 summed over the bits, SGD lr 0.1, one pair per step,
10,000 steps. ``batch`` pairs per step are vectorised (the loss is averaged over pairs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..checkpoint import save as save_checkpoint
from ..data import binary
from ..models import BinaryAdder
from ..optim import OPTIMIZERS, clip_grad_norm_
from .common import Timer, check_memory, close, diverging, grad_norm, guarded_step, progress, through, training

EVAL_LIMIT = 1 << 20          # all-pairs evaluation up to this many pairs, else a sample


@dataclass
class AddConfig:
    bits: int = 8
    hidden: int = 16
    lr: float = 0.1
    steps: int = 10_000
    batch: int = 1
    optimizer: str = "sgd"
    seed: int = 0
    print_every: int = 1000
    eval_every: int = 50       # all-pairs accuracy (and a curve point) every this many steps
    test_bits: int = 0
    clip: float = 0.0          # global gradient-norm clip, 0 = off
    quiet: bool = False


def memory_estimate(hidden: int, batch: int, bits: int) -> int:
    """Bytes for parameters, gradients and optimizer state, one training step's activations
    and one evaluation chunk (float32)."""
    params = hidden * hidden + 3 * hidden
    chunk = min(65536, 4 ** (bits - 1) if bits <= 11 else 100_000)
    return 4 * (4 * params + bits * batch * (4 * hidden + 8) + chunk * bits * (3 * hidden + 4))


def _bits_str(col) -> str:
    return "".join(str(int(v)) for v in col[::-1])      # most significant bit first


def accuracy(model: BinaryAdder, a_bits, b_bits, chunk: int = 65536) -> float:
    """Fraction of pairs whose every sum bit is right."""
    right = 0
    n = a_bits.shape[1]
    for s in range(0, n, chunk):
        a, b = a_bits[:, s:s + chunk], b_bits[:, s:s + chunk]
        p = model(binary.encode(a, b, model.dtype))[:, :, 0]
        right += int(np.all((p > 0.5) == binary.add_bits(a, b).astype(bool), axis=0).sum())
    return right / max(n, 1)


def eval_pairs(bits: int, rng: np.random.Generator):
    """All operand pairs when there are at most EVAL_LIMIT of them, else a random sample."""
    if 4 ** (bits - 1) <= EVAL_LIMIT:
        return binary.all_operands(bits) + (True,)
    return binary.random_operands(rng, bits, 100_000) + (False,)


def train(cfg: AddConfig, emit=lambda line: None, save: str | None = None):
    """Train, evaluate, save to ``save`` if given, and return (model, metrics). ``emit``
    receives the progress blocks.
    SIGINT/SIGTERM stop between steps (``metrics["signal"]``); a non-finite loss or gradient
    raises Diverged."""
    check_memory(memory_estimate, {"--hidden": cfg.hidden, "--batch": cfg.batch, "--bits": cfg.bits})
    rng = np.random.default_rng(cfg.seed)
    model = BinaryAdder(cfg.hidden, rng=rng)
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    eval_a, eval_b, exhaustive = eval_pairs(cfg.bits, np.random.default_rng(cfg.seed + 1))
    timer, eval_timer = Timer(), Timer()
    curve_steps, curve_errors = [], []
    first_perfect = seconds_to_perfect = None
    best = (-1.0, 0, None)                  # (all-pairs accuracy, step, weights): the model kept
    window_errors = window_pairs = 0
    bar = progress(range(1, cfg.steps + 1), cfg.steps, not cfg.quiet, "add")
    say = through(bar, emit)
    step = 0
    with training() as flag:
        for step in bar:
            if flag.stop:
                step -= 1
                break
            with timer, diverging(step, cfg.lr, cfg.clip):
                a, b = binary.random_operands(rng, cfg.bits, cfg.batch)
                y = binary.add_bits(a, b)[:, :, None].astype(np.float32)     # (bits, B, 1)
                p, _, cache = model.forward(binary.encode(a, b))
                model.zero_grad()
                model.backward((p - y) / cfg.batch, cache)   # d/dp of 1/2 sum_bits (y - p)^2, mean over pairs
                norm = clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip else grad_norm(model.parameters())
                loss = 0.5 * float(((p - y) ** 2).sum()) / cfg.batch
                guarded_step(opt, model, step, loss, norm, cfg.lr, cfg.clip)
            window_errors += int(((p > 0.5) != (y > 0.5)).sum())
            window_pairs += cfg.batch
            if step % cfg.print_every == 0 or step == cfg.steps:
                say(_block(a, b, p, y))
            if step % cfg.eval_every == 0 or step == cfg.steps:
                curve_steps.append(step)
                curve_errors.append(window_errors / window_pairs)
                window_errors = window_pairs = 0
                with eval_timer:
                    acc = accuracy(model, eval_a, eval_b)
                if acc == 1.0 and first_perfect is None:
                    first_perfect, seconds_to_perfect = step, timer.seconds
                if acc > best[0]:
                    best = (acc, step, model.state_dict())
        close(bar)
        with eval_timer:
            final_accuracy = accuracy(model, eval_a, eval_b)
        if best[0] > final_accuracy:             # keep the best evaluated weights (reported as kept_step)
            model.load_state_dict(best[2])
        metrics = dict(config=asdict(cfg), steps=step, train_seconds=round(timer.seconds, 4),
                       eval_seconds=round(eval_timer.seconds, 4),
                       accuracy=max(best[0], final_accuracy), final_step_accuracy=final_accuracy,
                       kept_step=best[1] if best[0] > final_accuracy else step,
                       eval_pairs=int(eval_a.shape[1]), eval_exhaustive=exhaustive,
                       first_perfect_step=first_perfect,
                       train_seconds_to_first_perfect=None if seconds_to_perfect is None else round(seconds_to_perfect, 4),
                       signal=flag.signum and flag.name, exit_code=flag.exit_code,
                       curve={"steps": curve_steps, "wrong_bits_per_pair": curve_errors})
        if cfg.test_bits and not flag.stop:
            metrics["generalisation"] = generalisation(model, cfg.test_bits, np.random.default_rng(cfg.seed + 2))
        if save:                             # inside the signal guard: a signal now waits for the file
            save_checkpoint(save, model, meta=dict(kind="add", bits=cfg.bits, accuracy=metrics["accuracy"],
                                                   steps=step, kept_step=metrics["kept_step"]))
        metrics.update(signal=flag.signum and flag.name, exit_code=flag.exit_code)   # one during the save counts
        return model, metrics


def _block(a, b, p, y) -> str:
    """The tutorial's progress block for the first pair of the batch."""
    av, bv = binary.from_bits(a[:, :1])[0], binary.from_bits(b[:, :1])[0]
    pred = (p[:, 0, 0] > 0.5).astype(np.uint8)
    return (f"Error:{float(np.abs(y[:, 0, 0] - p[:, 0, 0]).sum())!r}\n"
            f"Pred:{_bits_str(pred)}\nTrue:{_bits_str(y[:, 0, 0].astype(np.uint8))}\n"
            f"{av} + {bv} = {binary.from_bits(pred[:, None])[0]}\n------------")


def generalisation(model: BinaryAdder, bits: int, rng, n: int = 10_000) -> dict:
    """Exact accuracy on ``bits``-bit operands never seen in training (weights are shared over
    time, so the same network runs for any length): a random sample and carry-heavy edge cases."""
    a, b = binary.random_operands(rng, bits, n)
    ea, eb = binary.edge_operands(bits)
    p = model(binary.encode(ea, eb))[:, :, 0] > 0.5
    examples = [f"{x} + {y} = {z}" for x, y, z in zip(binary.from_bits(ea), binary.from_bits(eb),
                                                       binary.from_bits(p.astype(np.uint8)))]
    return dict(bits=bits, sample_pairs=n, sample_accuracy=accuracy(model, a, b),
                edge_accuracy=accuracy(model, ea, eb), edge_examples=examples)


def hidden_trace(model: BinaryAdder, a: int, b: int, bits: int):
    """Hidden activations (H, bits) for one example, for the plot."""
    x = binary.encode(binary.to_bits([a], bits), binary.to_bits([b], bits))
    _, h, _ = model.forward(x)
    return h[:, 0, :].T


def plot(path: str, model: BinaryAdder, metrics: dict, bits: int) -> None:
    from .common import pyplot, save_figure
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    c = metrics["curve"]
    ax1.plot(c["steps"], c["wrong_bits_per_pair"])
    ax1.set_xlabel("training step")
    ax1.set_ylabel("wrong output bits per training pair")
    ax1.set_title("Binary addition: error count")
    half = 1 << (bits - 1)
    a, b = half - 1, (half // 3) | 1
    h = hidden_trace(model, a, b, bits)
    im = ax2.imshow(h, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax2.set_xlabel("bit position (least significant first)")
    ax2.set_ylabel("hidden unit")
    ax2.set_title(f"hidden activations for {a} + {b}")
    fig.colorbar(im, ax=ax2)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
