"""``tinyrnn memory TASK``: long-range memory tasks, one run or a ``--sweep``."""

from __future__ import annotations

from ..errors import UsageError
from ._args import add_common, add_config_flags, add_threads, given, positive, print_json
from ._common import check_output


def run(args):
    from . import _memory_train as memory

    args._prog = prog = f"tinyrnn memory {args.task}"  # errors name the task
    cfg = memory.MemoryConfig(task=args.task, quiet=args.quiet, **given(args, memory.MemoryConfig)).resolved()
    args.plot = check_output("--plot", args.plot, image=True, outputs={"--save": args.save})  # before any training
    args.save = check_output("--save", args.save, outputs={"--plot": args.plot})
    if args.sweep:
        return _memory_sweep(args, cfg, prog)
    if args.scheduler:
        raise UsageError("--scheduler sends --sweep runs to a cluster; give --sweep too")
    model, metrics = memory.train(
        cfg, (lambda line: None) if args.quiet else print, save=args.save, plot_to=args.plot, threads=args.threads
    )
    what = f"{cfg.task} (--variant {cfg.variant})" if cfg.task == "adding" else cfg.task
    print(
        f"memory {what}, cell {cfg.cell}, T = {cfg.T}: {metrics['steps']} steps, {metrics['sequences_seen']} "
        f"sequences, {metrics['seconds']:.1f} s of training"
    )
    print(
        f"Held-out ({cfg.test_size} sequences): {memory.headline(cfg, metrics)}; baseline {metrics['baseline']:.4g}; "
        + (f"solved after {metrics['solved_at']['sequences']} sequences" if metrics["solved_at"] else "not solved")
    )
    if args.save:
        print(f"Checkpoint written to {args.save}")
    if args.plot:
        print(f"Plot written to {args.plot}")
    if metrics["interrupted"]:
        print(
            f"Stopped by {metrics['signal'] or 'Ctrl-C (SIGINT)'} at step {metrics['steps']}: the metrics above "
            "are those of the model at that point" + (f", saved in {args.save}" if args.save else "")
        )
    if args.json:
        metrics.pop("curve")
        print_json(metrics)
    return metrics["exit_code"]


def _memory_sweep(args, cfg, prog):
    from ..sweep import SweepError
    from . import _memory_sweep as memory_sweep

    if args.save:
        raise UsageError("--save saves one run; it cannot be used with --sweep")
    results = check_output("--results", args.results or f"sweep-{args.task}.jsonl", outputs={"--plot": args.plot})
    try:
        configs = memory_sweep.expand(cfg, memory_sweep.parse_grid(args.sweep))
        records, ran, interrupted = memory_sweep.run_sweep(
            configs, results, args.scheduler, args.workers, (lambda line: None) if args.quiet else print
        )
    except SweepError as e:
        raise UsageError(str(e)) from None
    if records:
        print(memory_sweep.table(records))
    print(f"{len(records)} of {len(configs)} runs finished ({ran} run now); results in {results}")
    if args.plot and records:
        memory_sweep.plot(args.plot, records)
        print(f"Plot written to {args.plot}")
    if interrupted:
        print(f"Interrupted by Ctrl-C: the finished runs are kept in {results}; run the same command to finish")
    if args.json:
        for r in records:
            if r["metrics"]:
                r["metrics"].pop("curve", None)
        print_json(dict(task=cfg.task, results=results, runs=records))
    return 130 if interrupted else 0


def add_parser(sub):
    from ._memory_train import MemoryConfig

    p = sub.add_parser(
        "memory",
        help="long-range memory: the adding, copy and temporal-order tasks",
        description="Train a cell on a synthetic long-range memory task of the LSTM papers and "
        "evaluate it on a held-out set fixed by --seed (docs/memory.md).",
    )
    p.add_argument(
        "task",
        choices=["adding", "copy", "order"],
        metavar="TASK",
        help="adding: the adding problem; copy: the copy-memory task; order: temporal order",
    )
    add_config_flags(p, MemoryConfig)
    p.add_argument(
        "--plot", metavar="PNG", help="learning curve against the baseline (with --sweep: the score against T per cell)"
    )
    p.add_argument("--save", metavar="CKPT", help="save the trained model (.npz)")
    p.add_argument(
        "--sweep",
        nargs="+",
        metavar="KEY=V1,V2",
        help="run every combination on Dask, e.g. cell=rnn,lstm T=100,200 seed=0,1 zoneout=0,0.1 "
        "layer_norm=false,true (keys: the flags' names)",
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:8786",
        help="--sweep on this existing Dask cluster (default: a local cluster)",
    )
    p.add_argument("--workers", type=positive, help="--sweep local cluster: worker processes (default: one per core)")
    p.add_argument(
        "--results", metavar="JSONL", help="--sweep results file, extended by later sweeps (default sweep-TASK.jsonl)"
    )
    add_common(p)
    add_threads(p)
    p.set_defaults(run=run)
