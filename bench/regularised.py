"""What each regularising option of ``LSTM`` and ``GRU`` costs per training step: the time of
one forward + backward of the layer with ``recurrent_dropout``, ``weight_drop`` or ``zoneout``
at p > 0 (target: <= 1.10) or ``layer_norm=True`` (target: <= 1.5) over the time of the plain
layer, float32, in training mode, the two alternated call by call in this one process. Prints per layer and
option the median time of each and the median ratio of the rounds, with its range.

    python bench/regularised.py [--rounds 15] [--reps 10] [--shape 64,32,256,256]
                                [--layers LSTM,GRU] [--options recurrent_dropout,weight_drop,zoneout,layer_norm]
                                [--blas-threads N]

--shape is T,B,I,H; --layers and --options choose among the defaults; --blas-threads sets
OpenBLAS's threads for the run (default: as they are; a busy machine times one thread more
steadily). Figures in docs/charlm.md ("Regularised layers: cost per step"), run 2026-12-04 as
``python bench/regularised.py --rounds 9 --reps 8 --blas-threads 1``.
"""

import argparse
import os
import sys
import time
from functools import partial

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import tinyrnn as tr  # noqa: E402
from _openblas import FUNCS  # noqa: E402

OPTIONS = [("recurrent_dropout", 0.25), ("weight_drop", 0.5), ("zoneout", 0.1), ("layer_norm", True)]


def step(layer, x, G):
    """One training step of the layer alone: forward, backward of a fixed output gradient."""
    _, _, cache = layer.forward(x)
    layer.backward(G, cache)


def alternated(a, b, reps):
    """Median seconds of ``a()`` and of ``b()`` over ``reps`` calls of each, alternated call by
    call (a, b, b, a, ...: each call has as many predecessors of either kind)."""
    ta, tb = [], []
    for r in range(reps):
        for fn, ts in ((a, ta), (b, tb)) if r % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return float(np.median(ta)), float(np.median(tb))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--shape", default="64,32,256,256", help="T,B,I,H")
    ap.add_argument("--layers", default="LSTM,GRU")
    ap.add_argument("--options", default=",".join(name for name, _ in OPTIONS))
    ap.add_argument("--blas-threads", type=int, default=0, help="OpenBLAS threads (0: as it is)")
    args = ap.parse_args()
    if args.blas_threads:
        FUNCS[0](args.blas_threads)
    options = [(name, p) for name, p in OPTIONS if name in args.options.split(",")]
    T, B, I, H = (int(v) for v in args.shape.split(","))
    threads = FUNCS[1]() if FUNCS else "?"
    print(
        f"option vs plain layer, forward + backward, train(), float32, T={T} B={B} I={I} H={H}, {threads} BLAS threads"
    )
    print(f"{args.rounds} rounds x {args.reps} calls of each, alternated call by call")
    print(f"{'layer':<6} {'option':<22} {'plain ms':>9} {'option ms':>10} {'ratio':>6}  range")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    for kind in args.layers.split(","):
        plain = getattr(tr, kind)(I, H, rng=np.random.default_rng(1))
        G = rng.standard_normal((T, B, H)).astype(np.float32)
        for name, p in options:
            layer = getattr(tr, kind)(I, H, rng=np.random.default_rng(1), **{name: p})
            step(plain, x, G), step(layer, x, G)  # warm up: buffers, BLAS
            times = [
                alternated(partial(step, plain, x, G), partial(step, layer, x, G), args.reps)
                for _ in range(args.rounds)
            ]
            ratios = [b / a for a, b in times]
            print(
                f"{kind:<6} {name + '=' + str(p):<22} {1e3 * np.median([a for a, _ in times]):9.2f} "
                f"{1e3 * np.median([b for _, b in times]):10.2f} {np.median(ratios):6.3f}  "
                f"{min(ratios):.3f}-{max(ratios):.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
