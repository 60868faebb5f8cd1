"""Two versions of tinyrnn side by side: what a user sees, before and after a change.

Checks out ``--before`` (a commit, default the one given) into a temporary git worktree and
times the same things with each version's ``src/`` on ``PYTHONPATH``, alternating the two
in fresh processes, the order swapped every round, so a drift of the machine's speed reaches
both alike:

- the layers: forward + backward of RNN, GRU and LSTM at (T, B, I, H) = (64, 32, 64, 256),
  float32, default settings (median of 15 calls after 3 warm-up calls, in ms);
- the commands as a user runs them, defaults plus a fixed number of steps: the wall-clock
  seconds of the whole process (start-up, data, training, report).

Printed: each measurement, then per case the median of each version and the ratio
after / before with the range of the per-round ratios (above 1 = slower after the change).

    python bench/versions.py --before dc25426              # 3 rounds, all cases
    python bench/versions.py --before dc25426 --only layers --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LAYER = """
import sys, time
import numpy as np
import tinyrnn.nn as nn
kind = sys.argv[1]
T, B, I, H = 64, 32, 64, 256
rng = np.random.default_rng(0)
layer = getattr(nn, kind)(I, H, rng=np.random.default_rng(0), dtype=np.float32)
x = rng.standard_normal((T, B, I)).astype(np.float32)
dy = rng.standard_normal((T, B, H)).astype(np.float32)
def call():
    out, h, cache = layer.forward(x)
    layer.backward(dy, cache)
for _ in range(3):
    call()
ts = []
for _ in range(15):
    t0 = time.perf_counter(); call(); ts.append(time.perf_counter() - t0)
print(1e3 * float(np.median(ts)))
"""

COMMANDS = {
    "charlm train --steps 40": ["charlm", "train", "--steps", "40", "--quiet"],
    "seq2seq train --task reverse --steps 150": ["seq2seq", "train", "--task", "reverse", "--steps", "150"],
    "memory adding --steps 400": ["memory", "adding", "--steps", "400"],
    "add --steps 1500": ["add", "--steps", "1500"],
}
MAIN = "import sys; from tinyrnn.cli import main; sys.exit(main(sys.argv[1:]))"


def measure(src: str, case: str, cwd: str) -> float:
    env = dict(os.environ, PYTHONPATH=src, MPLBACKEND="Agg")
    if case in COMMANDS:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", MAIN, *COMMANDS[case]], env=env, cwd=cwd, check=True, capture_output=True)
        return time.perf_counter() - t0
    out = subprocess.run([sys.executable, "-c", LAYER, case], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the commit to compare with (the working tree is 'after')")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=["layers", "commands"], default=None)
    args = ap.parse_args()
    cases = [] if args.only == "commands" else ["RNN", "GRU", "LSTM"]
    cases += [] if args.only == "layers" else list(COMMANDS)
    with tempfile.TemporaryDirectory() as tmp:
        before = os.path.join(tmp, "before")
        subprocess.run(["git", "-C", HERE, "worktree", "add", "-q", "--detach", before, args.before], check=True)
        try:
            trees = {"before": os.path.join(before, "src"), "after": os.path.join(HERE, "src")}
            print(f"python bench/versions.py --before {args.before} --rounds {args.rounds}", flush=True)
            res: dict = {}
            for r in range(args.rounds):
                for case in cases:
                    for name in ("before", "after") if r % 2 == 0 else ("after", "before"):
                        v = measure(trees[name], case, tmp)
                        res.setdefault((case, name), []).append(v)
                        unit = "s" if case in COMMANDS else "ms"
                        print(f"round {r + 1}  {case:42s} {name:6s} {v:9.2f} {unit}", flush=True)
        finally:
            subprocess.run(["git", "-C", HERE, "worktree", "remove", "--force", before], check=False)
    print("\n| case | before | after | after / before (range) |")
    print("|---|---|---|---|")
    for case in cases:
        b, a = res[(case, "before")], res[(case, "after")]
        ratios = [x / y for x, y in zip(a, b)]
        unit = " s" if case in COMMANDS else " ms"
        print(
            f"| {case} | {statistics.median(b):.2f}{unit} | {statistics.median(a):.2f}{unit} | "
            f"{statistics.median(a) / statistics.median(b):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |"
        )


if __name__ == "__main__":
    main()
