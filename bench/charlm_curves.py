"""Held-out (solid) and training (dashed) bits/char against steps of several `charlm train` runs.

Each RUN.json is the last line `tinyrnn charlm train ... --json` printed; the legend names the
run's recurrent-layer size and its regularisation flags.

    python bench/charlm_curves.py docs/charlm_regularised.png plain.json awd.json ...
"""

import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FLAGS = ("dropout", "recurrent_dropout", "weight_drop", "zoneout")


def label(run: dict) -> str:
    c = run["config"]
    opts = [f"{k.replace('_', '-')} {c[k]:g}" for k in FLAGS if c.get(k)]
    return f"{c['cell'].upper()} {c['hidden']}, {run['steps']} steps: " + (", ".join(opts) or "unregularised")


def main(out: str, paths: list[str]) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, path in enumerate(paths):
        with open(path, encoding="utf-8") as fh:
            run = json.loads(fh.read().strip().splitlines()[-1])
        h, color = run["history"], f"C{i}"
        bpc = [v / math.log(2) for v in h["valid_loss"]]
        ax.plot(h["step"], bpc, color=color, label=f"{label(run)} (best {run['best_valid_bpc']:.3f})")
        ax.plot(h["step"], [v / math.log(2) for v in h["train_loss"]], color=color, ls="--", lw=0.8)
    ax.set_xlabel("training step (32 streams x 64 characters)")
    ax.set_ylabel("bits per character")
    ax.set_ylim(top=2.4)
    ax.set_title("held-out (solid) and training (dashed, mean since the last validation)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
