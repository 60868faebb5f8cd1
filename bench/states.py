"""What ``tinyrnn.states`` costs beside a plain forward: the time of ``tinyrnn.states(layer, x)``
over the time of ``layer(x)`` (target: <= 1.25), float32, in this one process with default
settings, the two alternated in blocks for --rounds rounds. Prints per configuration the
median time of each and the ratio, with its range over the rounds.

    python bench/states.py [--rounds 7] [--reps 20]
"""

import argparse
import os
import sys
from functools import partial

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import tinyrnn as tr  # noqa: E402
from _timing import median_ms  # noqa: E402

CONFIGS = [  # (kind, T, B, I, H, keywords)
    ("LSTM", 64, 32, 64, 256, {}),
    ("LSTM", 25, 1, 65, 100, {}),
    ("LSTM", 64, 32, 64, 256, {"num_layers": 2, "bidirectional": True}),
    ("GRU", 64, 32, 64, 256, {}),
    ("GRU", 25, 1, 65, 100, {}),
    ("RNN", 64, 32, 64, 256, {}),
    ("RNN", 25, 1, 65, 100, {}),
    ("LSTM", 64, 32, 64, 256, {"lengths": True}),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    print(f"tinyrnn.states(layer, x) vs layer(x), float32; {args.rounds} rounds x {args.reps} calls, alternated")
    print(f"{'layer':<44} {'layer(x) ms':>11} {'states ms':>10} {'ratio':>6}  range")
    rng = np.random.default_rng(0)
    for kind, T, B, I, H, kw in CONFIGS:
        kw = dict(kw)
        lengths = None
        if kw.pop("lengths", False):
            lengths = np.full(B, T)
            lengths[: B // 2] = T // 2
        layer = getattr(tr, kind)(I, H, rng=rng, **kw)
        x = rng.standard_normal((T, B, I)).astype(np.float32)
        plain_call, states_call = partial(layer, x, lengths=lengths), partial(tr.states, layer, x, lengths=lengths)
        plain, values = [], []
        for _ in range(args.rounds):
            plain.append(median_ms(plain_call, args.reps, warmup=1))
            values.append(median_ms(states_call, args.reps, warmup=1))
        ratios = [b / a for a, b in zip(plain, values)]
        extra = "".join(f" {k}={v}" for k, v in kw.items()) + (" lengths" if lengths is not None else "")
        label = f"{kind} T={T} B={B} I={I} H={H}{extra}"
        print(
            f"{label:<44} {np.median(plain):11.3f} {np.median(values):10.3f} "
            f"{np.median(ratios):6.2f}  {min(ratios):.2f}-{max(ratios):.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
