"""Time per training step of `charlm train` recipes, alternated in one process.

Each recipe (a CharLM with regularisation options) runs `--steps` training steps in turn, for
`--rounds` rounds, on the same batches of a corpus file; printed: the median CPU ms per step
of each (the process's CPU time, which other processes on a loaded machine disturb less than
the wall clock) and its ratio to the first (unregularised) recipe in the same round, median
and range over the rounds. A step is what `charlm train` runs: forward, cross-entropy,
backward, clip 5, Adam. Run it with one BLAS thread (OPENBLAS_NUM_THREADS=1).

    python bench/charlm_option_cost.py corpus.txt --hidden 512 --batch 32 --rounds 10 --steps 3
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from tinyrnn import Adam  # noqa: E402
from tinyrnn.data.text import CharVocab, Streams, read_text  # noqa: E402
from tinyrnn.models.charlm import CharLM, train_step  # noqa: E402

RECIPES = {
    "unregularised": {},
    "dropout 0.3": dict(dropout=0.3),
    "weight-drop 0.5": dict(weight_drop=0.5),
    "zoneout 0.1": dict(zoneout=0.1),
    "recurrent-dropout 0.25": dict(recurrent_dropout=0.25),
    "weight-drop 0.5, dropout 0.3": dict(weight_drop=0.5, dropout=0.3),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    p.add_argument("--cell", default="lstm")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=15)
    a = p.parse_args()
    text = read_text(a.corpus)
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    runs = {}
    for name, opts in RECIPES.items():
        model = CharLM(len(vocab), 64, a.hidden, a.cell, rng=np.random.default_rng(0), **opts)
        runs[name] = [model, Adam(model.parameters(), lr=4e-3), Streams(ids, a.batch, a.seq_len), None]
    times = {name: [] for name in RECIPES}
    for r in range(a.rounds + 1):  # round 0 warms up and is not counted
        for name, run in runs.items():
            model, opt, streams, state = run
            t0 = time.process_time()
            for _ in range(a.steps):
                x, y, reset = streams.next()
                _, state = train_step(model, opt, x, y, None if reset else state, clip=5.0)
            run[3] = state
            if r:
                times[name].append((time.process_time() - t0) / a.steps * 1e3)
    base = times["unregularised"]
    print(f"{a.cell.upper()} {a.hidden}, batch {a.batch} x {a.seq_len}, {a.rounds} rounds of {a.steps} steps")
    for name, t in times.items():
        ratios = [x / b for x, b in zip(t, base)]
        print(
            f"{name:30s} {statistics.median(t):7.1f} CPU ms/step  x{statistics.median(ratios):.3f} "
            f"(rounds {min(ratios):.3f}-{max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
