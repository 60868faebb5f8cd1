"""Character LM quality for the same wall-clock budget: tinyrnn vs torch.

Both train the same architecture (Embedding 64 -> 1-layer LSTM 256 -> Linear, seq 64, batch 32,
Adam 2e-3, global-norm clip 5) on the same corpus split (default: the stdlib corpus, last 10%
held out) with the same stateful truncated-BPTT streams, each library in its own process (so
neither disturbs the other's timing), with default thread settings. A third process trains
tinyrnn's own default recipe (the defaults of ``tinyrnn charlm train``: ``CharLMConfig``), which
may differ in cell, sizes, sequence length, batch and learning rate. Steps per second are
reported for each. At each budget point the
validation loss is measured on the same held-out characters; evaluation time is not counted as
training time.

    python bench/charlm_vs_torch.py                       # 600 s each, checkpoints below
    python bench/charlm_vs_torch.py --budget 300 --points 30,60,120,300
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=600.0, help="training seconds per library")
    ap.add_argument("--points", default="30,60,120,180,300,600", help="training seconds at which to validate")
    ap.add_argument("--eval-chars", type=int, default=200_000, help="held-out characters per validation (0 = all)")
    ap.add_argument("--files", nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--lib",
        choices=["all", "tinyrnn", "torch", "recipe"],
        default="all",
        help="all: the three runs one after the other; or one of them",
    )
    ap.add_argument("--plot", default="", help="write the two curves to this PNG")
    ap.add_argument("--json-out", default="", help=argparse.SUPPRESS)
    return ap.parse_args()


def run_one(args):
    """Train one library for args.budget seconds; return [(seconds, valid nats)]."""
    import numpy as np

    sys.path.insert(0, os.path.join(HERE, "..", "src"))
    from tinyrnn.commands._charlm_run import CharLMConfig, lr_at, prepare
    from tinyrnn.data.text import Streams
    from tinyrnn.models.charlm import evaluate

    cfg = CharLMConfig(files=args.files, time_budget=args.budget)
    vocab, train_ids, valid_ids, _ = prepare(cfg)
    valid = valid_ids[: args.eval_chars] if args.eval_chars else valid_ids
    streams = Streams(train_ids, cfg.batch, cfg.seq_len) if args.lib == "recipe" else Streams(train_ids, 32, 64)
    points = sorted(float(p) for p in args.points.split(",") if float(p) <= args.budget)
    V = len(vocab)
    if args.lib in ("tinyrnn", "recipe"):
        from tinyrnn import Adam
        from tinyrnn.models.charlm import CharLM, train_step
        from tinyrnn.optim import OPTIMIZERS

        rng = np.random.default_rng(args.seed)
        if args.lib == "recipe":  # tinyrnn's own defaults (tinyrnn charlm train)
            model = CharLM(V, cfg.embed, cfg.hidden, cfg.cell, cfg.layers, cfg.dropout, rng=rng)
            opt, clip = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr), cfg.clip
        else:  # the same architecture and recipe as torch below
            model = CharLM(V, 64, 256, "lstm", 1, 0.0, rng=rng)
            opt, clip = Adam(model.parameters(), lr=2e-3), 5.0

        def step(x, y, state):
            if args.lib == "recipe" and cfg.lr_decay:  # the recipe's schedule over the budget
                opt.lr = lr_at(cfg, steps, trained)
            return train_step(model, opt, x, y, state, clip=clip)[1]

        def valid_nats():
            return evaluate(model, valid)
    else:
        import torch

        torch.manual_seed(args.seed)

        class TorchLM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = torch.nn.Embedding(V, 64)
                self.rnn = torch.nn.LSTM(64, 256)
                self.head = torch.nn.Linear(256, V)

            def forward(self, x, state=None):
                out, state = self.rnn(self.embed(x), state)
                return self.head(out), state

        model = TorchLM()
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        lossf = torch.nn.CrossEntropyLoss()

        def step(x, y, state):
            logits, state = model(torch.from_numpy(x.astype(np.int64)), state)
            loss = lossf(logits.reshape(-1, V), torch.from_numpy(y.astype(np.int64)).reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            return tuple(s.detach() for s in state)

        @torch.no_grad()
        def valid_nats():
            streams_v = 64
            length = (len(valid) - 1) // streams_v
            xs = valid[: length * streams_v].reshape(streams_v, length)
            ys = valid[1 : length * streams_v + 1].reshape(streams_v, length)
            total, count, state = 0.0, 0, None
            for s in range(0, length, 256):
                logits, state = model(torch.from_numpy(xs[:, s : s + 256].T.astype(np.int64)), state)
                y = torch.from_numpy(ys[:, s : s + 256].T.astype(np.int64)).reshape(-1)
                total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, V), y, reduction="sum"))
                count += y.numel()
            return total / count

    results, trained, state, steps = [], 0.0, None, 0
    for p in points:
        while trained < p:
            x, y, reset = streams.next()
            t0 = time.perf_counter()
            state = step(x, y, None if reset else state)
            trained += time.perf_counter() - t0
            steps += 1
        results.append(dict(seconds=round(trained, 1), steps=steps, valid_nats=valid_nats()))
        print(
            f"  {args.lib}: {trained:6.1f} s, {steps} steps ({steps / trained:.2f}/s), "
            f"valid {results[-1]['valid_nats'] / math.log(2):.3f} bits/char",
            flush=True,
        )
    return results


def main():
    args = parse()
    if args.lib != "all":
        res = run_one(args)
        if args.json_out:
            with open(args.json_out, "w") as fh:
                json.dump(res, fh)
        return
    out = {}
    for lib in ("tinyrnn", "torch", "recipe"):
        path = os.path.join(HERE, f".charlm_{lib}.json")
        cmd = [
            sys.executable,
            __file__,
            "--lib",
            lib,
            "--json-out",
            path,
            "--budget",
            str(args.budget),
            "--points",
            args.points,
            "--eval-chars",
            str(args.eval_chars),
            "--seed",
            str(args.seed),
        ] + (["--files", *args.files] if args.files else [])
        print(f"training {lib} ...", flush=True)
        subprocess.run(cmd, check=True)
        with open(path) as fh:
            out[lib] = json.load(fh)
        os.unlink(path)
    print(f"\ndefault thread settings, validation on {args.eval_chars or 'all'} held-out characters\n")
    print(
        "| training budget (s) | tinyrnn LSTM 256: steps (steps/s), bits/char | torch LSTM 256: steps (steps/s), "
        "bits/char | tinyrnn default recipe: steps (steps/s), bits/char |"
    )
    print("|---|---|---|---|")
    for rows in zip(out["tinyrnn"], out["torch"], out["recipe"]):
        cells = [f"{r['steps']} ({r['steps'] / r['seconds']:.2f}), {r['valid_nats'] / math.log(2):.3f}" for r in rows]
        print(f"| {rows[0]['seconds']:.0f} | " + " | ".join(cells) + " |")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for lib in ("tinyrnn", "torch", "recipe"):
            ax.plot(
                [r["seconds"] for r in out[lib]],
                [r["valid_nats"] / math.log(2) for r in out[lib]],
                marker="o",
                label={"recipe": "tinyrnn default recipe"}.get(lib, lib + " LSTM 256"),
            )
        ax.set_xlabel("training seconds (2 cores)")
        ax.set_ylabel("validation bits per character")
        ax.set_title("Character LM on the same data and wall-clock budget")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)


if __name__ == "__main__":
    main()
