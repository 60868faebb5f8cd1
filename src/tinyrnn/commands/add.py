"""``tinyrnn add``: binary addition learned bit by bit.

Binary addition, as the classic tutorial teaches it, on the library's layers.

Defaults are the tutorial's: 8 bits, 16 sigmoid hidden units, sigmoid output, no biases,
U(-1, 1) weights, loss 1/2 (y - p)^2 summed over the bits, SGD lr 0.1, one pair per step,
10,000 steps. ``batch`` pairs per step are vectorised (the loss is averaged over pairs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import save as save_checkpoint
from ..data import binary
from ..models import BinaryAdder
from ..models.adder import accuracy
from ..optim import OPTIMIZERS, clip_grad_norm_, grad_norm
from ..train import Plan, Run, guarded_step
from ._args import (
    _float_in,
    _int_in,
    _zero_or,
    add_common,
    add_config_flags,
    add_threads,
    flag,
    given,
    positive,
    positive_float,
    print_json,
    report_stop,
    times,
)
from ._common import check_memory, check_output

EVAL_LIMIT = 1 << 20  # all-pairs evaluation up to this many pairs, else a sample


@dataclass
class AddConfig:
    bits: int = field(
        default=8,
        metadata=flag(
            "operand width in bits, 2 to 64; operands are below 2^(bits-1) so the sum fits (default %(default)s)",
            type=_int_in(2, 64),
        ),
    )
    hidden: int = field(default=16, metadata=flag("hidden units (default %(default)s)", type=positive))
    lr: float = field(default=0.1, metadata=flag("learning rate (default %(default)s)", type=positive_float))
    steps: int = field(default=10_000, metadata=flag("training steps (default %(default)s)", type=positive))
    batch: int = field(
        default=1, metadata=flag("operand pairs per step, vectorised (default %(default)s)", type=positive)
    )
    optimizer: str = field(default="sgd", metadata=flag("optimizer (default %(default)s)", choices=["sgd", "adam"]))
    seed: int = 0
    print_every: int = field(
        default=1000, metadata=flag("steps between progress blocks (default %(default)s)", type=positive)
    )
    eval_every: int = field(
        default=50,
        metadata=flag(  # all-pairs accuracy (and a curve point)
            "steps between all-pairs evaluations, to find the first 100%% (default %(default)s)", type=positive
        ),
    )
    test_bits: int = field(
        default=0,
        metadata=flag(
            "after training, exact accuracy on N-bit operands, 2 to 1024 (a random sample and edge cases); 0 = off",
            type=_zero_or(_int_in(2, 1024), "an integer from 2 to 1024"),
            metavar="N",
        ),
    )
    clip: float = field(
        default=0.0, metadata=flag("global gradient-norm clip, 0 = off (default %(default)s)", type=_float_in(0.0))
    )
    quiet: bool = False


def memory_estimate(hidden: int, batch: int, bits: int) -> int:
    """Bytes for parameters, gradients and optimizer state, one training step's activations
    and one evaluation chunk (float32)."""
    params = hidden * hidden + 3 * hidden
    chunk = min(65536, 4 ** (bits - 1) if bits <= 11 else 100_000)
    return 4 * (4 * params + bits * batch * (4 * hidden + 8) + chunk * bits * (3 * hidden + 4))


def _bits_str(col) -> str:
    return "".join(str(int(v)) for v in col[::-1])  # most significant bit first


def eval_pairs(bits: int, rng: np.random.Generator):
    """All operand pairs when there are at most EVAL_LIMIT of them, else a random sample."""
    if 4 ** (bits - 1) <= EVAL_LIMIT:
        return binary.all_operands(bits) + (True,)
    return binary.random_operands(rng, bits, 100_000) + (False,)


def train(
    cfg: AddConfig,
    emit=lambda line: None,
    save: str | None = None,
    plot_to: str | None = None,
    threads: int | str | None = None,
):
    """Train, evaluate, save to ``save`` if given (also at evaluations, at most every
    ``train.CHECKPOINT_SECONDS``), draw to ``plot_to`` after the save, and return (model,
    metrics). ``emit`` receives the progress blocks. SIGINT/SIGTERM stop between steps
    (``metrics["signal"]``); a non-finite loss or gradient raises Diverged."""
    check_memory(memory_estimate, {"--hidden": cfg.hidden, "--batch": cfg.batch, "--bits": cfg.bits})
    rng = np.random.default_rng(cfg.seed)
    model = BinaryAdder(cfg.hidden, rng=rng)
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    eval_a, eval_b, exhaustive = eval_pairs(cfg.bits, np.random.default_rng(cfg.seed + 1))
    curve_steps, curve_errors = [], []
    first_perfect = seconds_to_perfect = None
    best = (-1.0, 0, None)  # (all-pairs accuracy, step, weights): the model kept
    window_errors = window_pairs = 0
    kept = dict(step=0, accuracy=None, final=False)  # the evaluated step whose weights the model holds

    def checkpoint():
        known = kept["final"] or kept["step"] == run.step  # else: weights of a step not evaluated (a signal)
        save_checkpoint(
            save,
            model,
            meta=dict(
                kind="add",
                bits=cfg.bits,
                accuracy=kept["accuracy"] if known else None,
                steps=run.step,
                kept_step=kept["step"] if known else run.step,
            ),
        )

    run = Run(
        Plan(cfg.steps),
        emit,
        quiet=cfg.quiet,
        desc="add",
        lr=cfg.lr,
        clip=cfg.clip,
        save=save and checkpoint,
        threads=threads,
    )
    with run:
        for step in run.steps():
            with run.training(step):
                a, b = binary.random_operands(rng, cfg.bits, cfg.batch)
                y = binary.add_bits(a, b)[:, :, None].astype(np.float32)  # (bits, B, 1)
                p, _, cache = model.forward(binary.encode(a, b))
                model.zero_grad()
                model.backward((p - y) / cfg.batch, cache)  # d/dp of 1/2 sum_bits (y - p)^2, mean over pairs
                norm = clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip else grad_norm(model.parameters())
                loss = 0.5 * float(((p - y) ** 2).sum()) / cfg.batch
                guarded_step(opt, model, step, loss, norm, cfg.lr, cfg.clip)
            run.log(loss)
            window_errors += int(((p > 0.5) != (y > 0.5)).sum())
            window_pairs += cfg.batch
            if step % cfg.print_every == 0 or step == cfg.steps:
                run.say(_block(a, b, p, y))
            if step % cfg.eval_every == 0 or step == cfg.steps:
                curve_steps.append(step)
                curve_errors.append(window_errors / window_pairs)
                window_errors = window_pairs = 0
                with run.evaluating():
                    acc = accuracy(model, eval_a, eval_b)
                if acc == 1.0 and first_perfect is None:
                    first_perfect, seconds_to_perfect = step, run.timer.seconds
                if acc > best[0]:
                    best = (acc, step, model.state_dict())
                kept.update(step=step, accuracy=acc)
                if save and run.checkpoint_due():
                    run.save_now()
        step = run.step
        with run.evaluating():
            final_accuracy = accuracy(model, eval_a, eval_b)
        kept.update(step=step, accuracy=final_accuracy, final=True)
        if best[0] > final_accuracy:  # keep the best evaluated weights (reported as kept_step)
            model.load_state_dict(best[2])
            kept.update(step=best[1], accuracy=best[0])
        metrics = dict(
            config=asdict(cfg),
            **run.metrics(),
            accuracy=max(best[0], final_accuracy),
            final_step_accuracy=final_accuracy,
            kept_step=kept["step"],
            eval_pairs=int(eval_a.shape[1]),
            eval_exhaustive=exhaustive,
            first_perfect_step=first_perfect,
            train_seconds_to_first_perfect=None if seconds_to_perfect is None else round(seconds_to_perfect, 4),
            curve={"steps": curve_steps, "wrong_bits_per_pair": curve_errors},
        )
        if cfg.test_bits and not run.stop:
            metrics["generalisation"] = generalisation(model, cfg.test_bits, np.random.default_rng(cfg.seed + 2))
        run.save_now()  # first: a plot that fails must not cost the model
        if plot_to:
            plot(plot_to, model, metrics, cfg.bits)
        metrics.update(run.metrics())  # a signal during the save or the plot counts
        return model, metrics


def _block(a, b, p, y) -> str:
    """The tutorial's progress block for the first pair of the batch."""
    av, bv = binary.from_bits(a[:, :1])[0], binary.from_bits(b[:, :1])[0]
    pred = (p[:, 0, 0] > 0.5).astype(np.uint8)
    return (
        f"Error:{float(np.abs(y[:, 0, 0] - p[:, 0, 0]).sum())!r}\n"
        f"Pred:{_bits_str(pred)}\nTrue:{_bits_str(y[:, 0, 0].astype(np.uint8))}\n"
        f"{av} + {bv} = {binary.from_bits(pred[:, None])[0]}\n------------"
    )


def generalisation(model: BinaryAdder, bits: int, rng, n: int = 10_000) -> dict:
    """Exact accuracy on ``bits``-bit operands never seen in training (weights are shared over
    time, so the same network runs for any length): a random sample and carry-heavy edge cases."""
    a, b = binary.random_operands(rng, bits, n)
    ea, eb = binary.edge_operands(bits)
    p = model(binary.encode(ea, eb))[:, :, 0] > 0.5
    examples = [
        f"{x} + {y} = {z}"
        for x, y, z in zip(binary.from_bits(ea), binary.from_bits(eb), binary.from_bits(p.astype(np.uint8)))
    ]
    return dict(
        bits=bits,
        sample_pairs=n,
        sample_accuracy=accuracy(model, a, b),
        edge_accuracy=accuracy(model, ea, eb),
        edge_examples=examples,
    )


def hidden_trace(model: BinaryAdder, a: int, b: int, bits: int):
    """Hidden activations (H, bits) for one example, for the plot."""
    x = binary.encode(binary.to_bits([a], bits), binary.to_bits([b], bits))
    _, h, _ = model.forward(x)
    return h[:, 0, :].T


def plot(path: str, model: BinaryAdder, metrics: dict, bits: int) -> None:
    from ._common import pyplot, save_figure

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


def run(args):

    save = check_output("--save", args.save, outputs={"--plot": args.plot})
    png = check_output("--plot", args.plot, image=True, outputs={"--save": save})
    cfg = AddConfig(**given(args, AddConfig), quiet=args.quiet)
    model, metrics = train(
        cfg, (lambda line: None) if args.quiet else print, save=save, plot_to=png, threads=args.threads
    )
    first = metrics["first_perfect_step"]
    print(
        f"Exact accuracy on {'all' if metrics['eval_exhaustive'] else 'a sample of'} "
        f"{metrics['eval_pairs']} operand pairs: {100 * metrics['accuracy']:.2f}%"
    )
    print(
        "First evaluated step at 100%: "
        + (f"{first} ({metrics['train_seconds_to_first_perfect']:.3f} s of training)" if first else "never")
    )
    print(f"Time: {times(metrics)} (all-pairs accuracy every {cfg.eval_every} steps) for {metrics['steps']} steps")
    if metrics["kept_step"] != metrics["steps"]:
        print(
            f"Kept the weights of step {metrics['kept_step']} (the best evaluation); the last step "
            f"scored {100 * metrics['final_step_accuracy']:.2f}%"
        )
    g = metrics.get("generalisation")
    if g:
        print(
            f"{g['bits']}-bit operands (never trained on): {100 * g['sample_accuracy']:.2f}% of "
            f"{g['sample_pairs']} random pairs, {100 * g['edge_accuracy']:.0f}% of edge cases"
        )
        for line in g["edge_examples"][:3]:
            print("  " + line)
    if save:
        print(f"Checkpoint written to {save}")
    if png:
        print(f"Plot written to {png}")
    code = report_stop(metrics, save)
    if args.json:
        metrics.pop("curve")
        print_json(metrics)
    return code


def add_parser(sub):

    p = sub.add_parser(
        "add",
        help="binary addition learned bit by bit (the classic tutorial)",
        description="Train an Elman RNN with sigmoid units to add binary numbers, least "
        "significant bit first, by BPTT. Defaults are the tutorial's.",
    )
    add_config_flags(p, AddConfig)
    p.add_argument("--plot", metavar="PNG", help="write the error curve and the hidden activations of one example")
    p.add_argument("--save", metavar="CKPT", help="save the trained model (.npz); also on Ctrl-C/SIGTERM")
    add_common(p, AddConfig.seed)
    add_threads(p)
    p.set_defaults(run=run)
