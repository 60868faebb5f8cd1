"""A training step (forward + backward, float32) of a recurrent layer with ``layer_norm=True``
against the same layer without it, A/B alternated in one process (the order flipped every
pair). Prints the median time of each and the ratio layer_norm / plain per pair: its
median and range (target at LSTM (T, B, I, H) = (64, 32, 256, 256): <= 1.5).

    python bench/layer_norm.py [--cell lstm] [--pairs 40] [--threads N]

``--threads`` sets OpenBLAS's thread count for the run (default: OpenBLAS's own choice).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import tinyrnn as tr  # noqa: E402
from _openblas import FUNCS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--shape", type=int, nargs=4, default=(64, 32, 256, 256), metavar=("T", "B", "I", "H"))
    args = ap.parse_args()
    if args.threads:
        if FUNCS is None:
            sys.exit("--threads: OpenBLAS's thread functions were not found")
        FUNCS[0](args.threads)
    T, B, I, H = args.shape
    cls = tr.nn.CELLS[args.cell]
    x = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
    dout = np.random.default_rng(1).standard_normal((T, B, H)).astype(np.float32)
    layers = {ln: cls(I, H, rng=np.random.default_rng(0), layer_norm=ln) for ln in (False, True)}

    def step(layer):
        out, _, cache = layer.forward(x)
        layer.backward(dout, cache)

    for layer in layers.values():
        for _ in range(3):
            step(layer)
    times, ratios = {False: [], True: []}, []
    for k in range(args.pairs):
        t = {}
        for ln in (False, True) if k % 2 == 0 else (True, False):
            t0 = time.perf_counter()
            step(layers[ln])
            t[ln] = time.perf_counter() - t0
            times[ln].append(t[ln])
        ratios.append(t[True] / t[False])
    r = np.array(ratios)
    print(
        f"{args.cell.upper()} (T, B, I, H) = {tuple(args.shape)}, float32, {args.pairs} pairs: "
        f"plain {1e3 * np.median(times[False]):.1f} ms, layer_norm {1e3 * np.median(times[True]):.1f} ms (medians); "
        f"ratio per pair median {np.median(r):.2f} (range {r.min():.2f}-{r.max():.2f})"
    )


if __name__ == "__main__":
    main()
