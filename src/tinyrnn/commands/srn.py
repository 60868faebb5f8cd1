"""``tinyrnn srn``: the simple recurrent network worked example, step by step.

The simple recurrent network worked example, computed by RNNCell and Linear.

2 inputs, 2 hidden units, 2 outputs, every weight 1, no biases, zero initial state, inputs
[1, 1], [1, 1], [2, 2]. With the identity activation the outputs are 4, 12, 32; with tanh
they are 2 tanh(2), 2 tanh(2 + 2 tanh(2)), ... = 1.928..., 1.998..., 1.99997...
"""

from __future__ import annotations

import numpy as np

from ..nn import Linear, RNNCell
from ._args import print_json

INPUTS = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])


def build(activation: str):
    cell = RNNCell(2, 2, bias=False, nonlinearity=activation, dtype=np.float64)
    out = Linear(2, 2, bias=False, dtype=np.float64)
    for p in cell.parameters() + out.parameters():
        p.data[...] = 1.0
    return cell, out


def trace(activation: str = "identity"):
    """[{step, input, state, output}] for the three steps (float64)."""
    cell, out = build(activation)
    h = np.zeros(2)
    rows = []
    for t, x in enumerate(INPUTS, 1):
        h = cell(x, h)
        rows.append(dict(step=t, input=x.tolist(), state=h.tolist(), output=out(h).tolist()))
    return rows


def torch_trace(activation: str):
    """The same with torch.nn.RNNCell and torch.nn.Linear (None if torch is not installed).
    torch's RNNCell has tanh and relu only; identity is relu here since every value is positive."""
    try:
        import torch
    except ImportError:
        return None
    nl = "tanh" if activation == "tanh" else "relu"
    cell = torch.nn.RNNCell(2, 2, bias=False, nonlinearity=nl, dtype=torch.float64)
    lin = torch.nn.Linear(2, 2, bias=False, dtype=torch.float64)
    with torch.no_grad():
        for p in list(cell.parameters()) + list(lin.parameters()):
            p.fill_(1.0)
        h = torch.zeros(2, dtype=torch.float64)
        rows = []
        for t, x in enumerate(INPUTS, 1):
            h = cell(torch.from_numpy(x), h)
            rows.append(dict(step=t, state=h.tolist(), output=lin(h).tolist()))
    return rows


def run(args):

    rows = trace(args.activation)
    theirs = torch_trace(args.activation) if args.torch else None
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
