"""``tinyrnn gradflow``: the vanishing gradient, per cell."""

from __future__ import annotations

from ..demos.common import check_output
from ..errors import UsageError
from ._args import add_common, add_config_flags, given, print_json


def run(args):
    from ..demos import gradflow

    if args.T is not None and args.T < 2:
        raise UsageError("argument --T: expected an integer >= 2 (the adding problem)")
    args.plot = check_output("--plot", args.plot, image=True)  # checked before any training
    cfg = gradflow.GradflowConfig(**given(args, gradflow.GradflowConfig), quiet=args.quiet)
    result = gradflow.run(cfg, (lambda line: None) if args.quiet else print)
    if args.plot:
        gradflow.plot(args.plot, result)
        print(f"Plot written to {args.plot}")
    if args.json:
        out = dict(T=result["T"], train_steps=result["train_steps"], ratio=result["init"]["ratio"])
        if "trained" in result:
            out["ratio_trained"] = result["trained"]["ratio"]
            out["test_mse_trained"] = result["trained"]["test_mse"]
        print_json(out)
    return 0


def add_parser(sub):
    from ..demos.gradflow import GradflowConfig

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
