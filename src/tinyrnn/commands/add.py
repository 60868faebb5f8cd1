"""``tinyrnn add``: binary addition learned bit by bit."""

from __future__ import annotations

from ..demos.common import check_output
from ._args import add_common, add_config_flags, add_threads, given, print_json, report_stop, times


def run(args):
    from ..demos import add

    save = check_output("--save", args.save, outputs={"--plot": args.plot})
    png = check_output("--plot", args.plot, image=True, outputs={"--save": save})
    cfg = add.AddConfig(**given(args, add.AddConfig), quiet=args.quiet)
    model, metrics = add.train(
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
    code = report_stop(metrics, save, resume_hint=False)
    if args.json:
        metrics.pop("curve")
        print_json(metrics)
    return code


def add_parser(sub):
    from ..demos.add import AddConfig

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
