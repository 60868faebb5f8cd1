"""``tinyrnn srn``: the simple recurrent network worked example, step by step."""

from __future__ import annotations

from ._args import print_json


def run(args):
    from ..demos import srn

    rows = srn.trace(args.activation)
    theirs = srn.torch_trace(args.activation) if args.torch else None
    if args.torch and theirs is None:
        print("(torch is not installed: showing tinyrnn only)")
    print(f"Simple recurrent network, activation={args.activation}, every weight 1, no biases, h0 = 0")
    for k, r in enumerate(rows):
        line = f"step {r['step']}: input {r['input']}  state {r['state']}  output {r['output']}"
        print(line)
        if theirs:
            print(f"        torch:  state {theirs[k]['state']}  output {theirs[k]['output']}")
    if args.json:
        print_json(dict(activation=args.activation, steps=rows, torch=theirs))
    return 0


def add_parser(sub):
    p = sub.add_parser(
        "srn",
        help="the simple recurrent network worked example, step by step",
        description="2 inputs, 2 hidden units, 2 outputs, every weight 1, inputs [1,1], [1,1], "
        "[2,2]: outputs 4, 12, 32 (identity) or 1.928..., 1.998..., 1.99997... (tanh). "
        "Deterministic: no --seed; nothing to silence: no --quiet.",
    )
    p.add_argument(
        "--activation", choices=["identity", "tanh"], default="identity", help="hidden activation (default %(default)s)"
    )
    p.add_argument("--torch", action="store_true", help="also run torch.nn.RNNCell with the same weights, side by side")
    p.add_argument("--json", action="store_true", help="print the trace as one JSON object on the last line")
    p.set_defaults(run=run)
