"""``tinyrnn gradflow``: the vanishing gradient, per cell.

``tinyrnn gradflow``: the vanishing gradient, measured by the library's own BPTT.

For each cell, on a batch of the adding problem: the loss L_b = (y_b - target_b)^2 of each
sequence's prediction at its last step, and the norm of its gradient with respect to each
input, ||dL_b/dx_t||, averaged over the batch, for t = 1 .. T. At initialisation and, with
``train_steps``, after that many steps of ``tinyrnn memory adding`` training (same seed, so the
same initial weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..data import memory as tasks
from ..errors import UsageError
from ..models.memory import CELLS, input_gradient_norms
from . import _memory_train as memory
from ._args import add_common, add_config_flags, flag, float_list, given, name_list, nonneg, positive, print_json
from ._common import RUN_SIZES, check_memory, check_output


@dataclass
class GradflowConfig:
    cells: tuple = field(
        default=CELLS,
        metadata=flag(
            "comma-separated cells (default %(default)s)",
            type=name_list(CELLS),
            metavar="CELLS",
            name="--cell",
            default_text=",".join(CELLS),
        ),
    )
    forget_biases: tuple = field(
        default=(0.0, 1.0),
        metadata=flag(  # one lstm curve per value
            "lstm: one curve per forget-gate bias (default %(default)s)",
            type=float_list,
            metavar="B1,B2",
            name="--forget-bias",
            default_text="0,1",
        ),
    )
    T: int = field(default=100, metadata=flag("sequence length (default %(default)s)", type=positive))
    hidden: int = field(
        default=memory.TASK_DEFAULTS["adding"]["hidden"],
        metadata=flag("hidden size (default %(default)s)", type=positive),
    )
    batch: int = field(
        default=100,
        metadata=flag(  # the norms are averaged over these (and trained models tested on)
            "sequences averaged over (default %(default)s)", type=positive
        ),
    )
    train_steps: int = field(
        default=0,
        metadata=flag(  # 0: at initialisation only
            "also measure after N steps of 'tinyrnn memory adding' training (default %(default)s: initialisation only)",
            type=nonneg,
            metavar="N",
        ),
    )
    seed: int = 0
    quiet: bool = False


def variants(cfg: GradflowConfig) -> list[tuple[str, str, float | None]]:
    """(label, cell, forget bias) of each curve: the lstm once per forget bias."""
    out = []
    for cell in cfg.cells:
        if cell == "lstm":
            out += [(f"lstm (forget bias {b:g})", "lstm", float(b)) for b in cfg.forget_biases]
        else:
            out.append((cell, cell, None))
    return out


def memory_config(cfg: GradflowConfig, cell: str, forget_bias: float | None) -> memory.MemoryConfig:
    base = memory.MemoryConfig(
        task="adding",
        cell=cell,
        T=cfg.T,
        hidden=cfg.hidden,
        seed=cfg.seed,
        quiet=True,
        steps=max(cfg.train_steps, 1),
        eval_every=max(cfg.train_steps, 1),
        test_size=cfg.batch,
    )
    return base if forget_bias is None else replace(base, forget_bias=forget_bias)


def measure(cfg: GradflowConfig, emit=lambda line: None) -> dict:
    """{"T", "norms": {label: [..T]}, "ratio": {label: ||dL/dx_1|| / ||dL/dx_T||}} at
    initialisation, and the same under "trained" when ``train_steps`` > 0."""
    train_batch = memory_config(cfg, "lstm", None).resolved().batch if cfg.train_steps else 0
    check_memory(
        lambda hidden, batch, T: memory.memory_estimate(hidden, max(batch, train_batch), T, 1, batch),
        {"--hidden": cfg.hidden, "--batch": cfg.batch, "--T": cfg.T},
    )
    probe = tasks.adding_le(np.random.default_rng([cfg.seed, 3]), cfg.T, cfg.batch)
    result = dict(T=cfg.T, train_steps=cfg.train_steps, init=dict(norms={}, ratio={}))
    if cfg.train_steps:
        result["trained"] = dict(norms={}, ratio={}, test_mse={})
    for label, cell, fb in variants(cfg):
        mcfg = memory_config(cfg, cell, fb).resolved()
        parts = [("init", memory.build_model(mcfg, np.random.default_rng([cfg.seed, 2])))]
        if cfg.train_steps:
            sizes = RUN_SIZES.get()
            try:
                model, metrics = memory.train(mcfg)
            finally:  # a MemoryError names gradflow's flags, not memory's
                RUN_SIZES.set(sizes)
            if metrics["interrupted"]:  # Ctrl-C stops the whole measurement
                raise KeyboardInterrupt
            parts.append(("trained", model))
            result["trained"]["test_mse"][label] = metrics["test_mse"]
        for when, model in parts:
            norms = input_gradient_norms(model, probe)
            result[when]["norms"][label] = norms.tolist()
            result[when]["ratio"][label] = float(norms[0] / norms[-1])
            emit(f"{label:>22} {when:>7}: |dL/dx_1| / |dL/dx_T| = {norms[0] / norms[-1]:.3g}")
    return result


def plot(path: str, result: dict) -> None:
    """Log-scale ||dL/dx_t|| against t, one line per cell; a second panel after training."""
    from ._common import pyplot, save_figure

    plt = pyplot()
    whens = [w for w in ("init", "trained") if w in result]
    fig, axes = plt.subplots(1, len(whens), figsize=(6.5 * len(whens), 4.2), squeeze=False, sharey=True)
    t = np.arange(1, result["T"] + 1)
    for ax, when in zip(axes[0], whens):
        for label, norms in result[when]["norms"].items():
            ax.plot(t, norms, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("input step t (the loss is on the output at step T)")
        ax.set_title("at initialisation" if when == "init" else f"after {result['train_steps']} training steps")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("||dL/dx_t||, mean over the batch")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"Gradient reaching each input of the adding problem, T = {result['T']}")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def run(args):

    if args.T is not None and args.T < 2:
        raise UsageError("argument --T: expected an integer >= 2 (the adding problem)")
    args.plot = check_output("--plot", args.plot, image=True)  # checked before any training
    cfg = GradflowConfig(**given(args, GradflowConfig), quiet=args.quiet)
    result = measure(cfg, (lambda line: None) if args.quiet else print)
    if args.plot:
        plot(args.plot, result)
        print(f"Plot written to {args.plot}")
    if args.json:
        out = dict(T=result["T"], train_steps=result["train_steps"], ratio=result["init"]["ratio"])
        if "trained" in result:
            out["ratio_trained"] = result["trained"]["ratio"]
            out["test_mse_trained"] = result["trained"]["test_mse"]
        print_json(out)
    return 0


def add_parser(sub):

    p = sub.add_parser(
        "gradflow",
        help="the vanishing gradient: |dL/dx_t| for each input step, per cell",
        description="On a batch of the adding problem, the norm of the gradient of the loss at the "
        "last step with respect to each input x_t, averaged over the batch, computed by "
        "the library's BPTT, at initialisation and (--train-steps) after training.",
    )
    add_config_flags(p, GradflowConfig)
    p.add_argument("--plot", metavar="PNG", help="log-scale plot of |dL/dx_t| against t, the cells side by side")
    add_common(p)
    p.set_defaults(run=run)
