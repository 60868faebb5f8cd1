"""A `tinyrnn memory` run with a recurrent-layer option the command has no flag for.

Trains exactly what `tinyrnn memory TASK` trains (the same tasks, batches, test set, initial
weights, optimizer and schedule from `--seed`), but with the recurrent layer rebuilt with layer
options (`zoneout=`, `recurrent_dropout=`, `weight_drop=`, and any other keyword the layer
takes) and the same weights. Evaluation runs in evaluation mode (zoneout at its expectation,
dropout off) and training in training mode. With no option the run is the plain command's.

    python bench/memory_options.py adding --cell rnn --T 200 --steps 10000 --eval-every 1000 --zoneout 0.1
    python bench/memory_options.py adding --cell irnn --T 200 --steps 10000 --eval-every 1000 --option layer_norm=True

A run that diverges prints one line and exits 3. `--json` prints the final metrics as one
JSON object on the last line (the curve included).
"""

import argparse
import ast
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from tinyrnn.demos import memory  # noqa: E402
from tinyrnn.errors import Diverged  # noqa: E402
from tinyrnn.models.memory import evaluate  # noqa: E402


def with_options(build, options):
    """``build`` (cfg, rng) -> MemoryModel, whose recurrent layer is rebuilt with ``options``
    and the plain layer's weights; the options' masks come from the generator [seed, 3]."""

    def build_with(cfg, rng):
        model = build(cfg, rng)
        if options:
            plain = model.rnn
            layer = type(plain)(**plain.config, **options, rng=np.random.default_rng([cfg.seed, 3]))
            layer.load_state_dict(plain.state_dict(), strict=False)
            model.rnn = layer
        return model

    return build_with


def evaluate_in_eval_mode(model, task, test):
    model.eval()
    try:
        return evaluate(model, task, test)
    finally:
        model.train()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=["adding", "copy", "order"])
    p.add_argument("--cell", default="rnn")
    p.add_argument("--T", type=int, default=100)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--zoneout", type=float, default=0.0)
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="another layer option")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    options = {"zoneout": a.zoneout} if a.zoneout else {}
    for o in a.option:
        name, _, value = o.partition("=")
        options[name] = ast.literal_eval(value)
    cfg = memory.MemoryConfig(
        task=a.task, cell=a.cell, T=a.T, steps=a.steps, eval_every=a.eval_every, lr=a.lr, seed=a.seed, quiet=True
    )
    memory.build_model = with_options(memory.build_model, options)
    memory.evaluate = evaluate_in_eval_mode
    try:
        model, m = memory.train(cfg, print, threads=1)
    except Diverged as e:
        print(f"{a.task} {a.cell} T={a.T} {options or 'plain'}: {e}")
        return 3
    print(
        f"{a.task} {a.cell} T={a.T} {options or 'plain'}: {m['steps']} steps, {m['seconds']:.1f} s; "
        f"{memory.headline(cfg, m)}; baseline {m['baseline']:.4g}; solved_at {m['solved_at']}"
    )
    if a.json:
        print(json.dumps(dict(m, options=options, config=None), default=str))


if __name__ == "__main__":
    sys.exit(main())
