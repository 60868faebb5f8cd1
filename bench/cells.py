"""One step of RNNCell, GRUCell and LSTMCell (forward + backward, B = 1, H = 100, float32)
against a plain NumPy cell of the same equations written here in a few lines, side by side in
one process with default settings. Prints, per cell, the median time of each and the ratio
tinyrnn / plain (target: <= 1.5), with the range over the rounds.

    python bench/cells.py [--rounds 5] [--reps 2000] [--batch 1] [--hidden 100]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import tinyrnn as tr  # noqa: E402


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


# ---- the plain cells: forward and backward of one step, the equations of docs/bptt.md, the
# weight gradients accumulated with += as min-char-rnn does (the cells accumulate into .grad)
def rnn_plain(x, h, Wih, Whh, bih, bhh, dh1, g):
    h1 = np.tanh(x @ Wih.T + bih + h @ Whh.T + bhh)
    da = dh1 * (1 - h1 * h1)
    g[0] += da.T @ x
    g[1] += da.T @ h
    g[2] += da.sum(0)
    g[3] += da.sum(0)
    return h1, da @ Wih, da @ Whh


def lstm_plain(x, h, c, Wih, Whh, bih, bhh, dh1, dc1, g):
    a = x @ Wih.T + bih + h @ Whh.T + bhh
    H = h.shape[1]
    i, f, g_, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H]), sigmoid(a[:, 3 * H :])
    c1 = f * c + i * g_
    tc = np.tanh(c1)
    h1 = o * tc
    dc = dc1 + dh1 * o * (1 - tc * tc)
    da = np.concatenate(
        [dc * g_ * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g_ * g_), dh1 * tc * o * (1 - o)], 1
    )
    g[0] += da.T @ x
    g[1] += da.T @ h
    g[2] += da.sum(0)
    g[3] += da.sum(0)
    return h1, c1, da @ Wih, da @ Whh, dc * f


def gru_plain(x, h, Wih, Whh, bih, bhh, dh1, g):
    ax, ah = x @ Wih.T + bih, h @ Whh.T + bhh
    H = h.shape[1]
    r, z = sigmoid(ax[:, :H] + ah[:, :H]), sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
    n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])
    h1 = (1 - z) * n + z * h
    dn = dh1 * (1 - z) * (1 - n * n)
    dr, dz = dn * ah[:, 2 * H :] * r * (1 - r), dh1 * (h - n) * z * (1 - z)
    dax, dah = np.concatenate([dr, dz, dn], 1), np.concatenate([dr, dz, dn * r], 1)
    g[0] += dax.T @ x
    g[1] += dah.T @ h
    g[2] += dax.sum(0)
    g[3] += dah.sum(0)
    return h1, dax @ Wih, dh1 * z + dah @ Whh


def timed(fn, reps):
    """Seconds per call, mean over ``reps`` back-to-back calls (one call is a few microseconds)."""
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def cases(B, H, I, rng):
    x = rng.standard_normal((B, I)).astype(np.float32)
    h, c, dh1, dc1 = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(4))
    out = {}
    for name, cls in (("RNNCell", tr.RNNCell), ("GRUCell", tr.GRUCell), ("LSTMCell", tr.LSTMCell)):
        cell = cls(I, H, rng=rng)
        w = [p.data for p in cell.parameters()]
        g = [np.zeros_like(a) for a in w]
        if name == "LSTMCell":

            def lib(cell=cell):
                _, cache = cell.forward(x, (h, c))
                cell.backward((dh1, dc1), cache)

            def plain(w=w, g=g):
                lstm_plain(x, h, c, *w, dh1, dc1, g)
        else:

            def lib(cell=cell):
                _, cache = cell.forward(x, h)
                cell.backward(dh1, cache)

            fn = rnn_plain if name == "RNNCell" else gru_plain

            def plain(w=w, g=g, fn=fn):
                fn(x, h, *w, dh1, g)

        out[name] = (lib, plain)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--input", type=int, default=65)
    args = ap.parse_args()
    B, H, I = args.batch, args.hidden, args.input
    print(
        f"cells, forward+backward of one step, B={B}, I={I}, H={H}, float32; "
        f"{args.rounds} rounds x {args.reps} calls, alternated"
    )
    print(f"{'cell':<9} {'tinyrnn us':>11} {'plain us':>9} {'ratio':>6}  range")
    for name, (lib, plain) in cases(B, H, I, np.random.default_rng(0)).items():
        t_lib, t_plain, ratios = [], [], []
        for _ in range(args.rounds):
            a, b = timed(lib, args.reps), timed(plain, args.reps)
            t_lib.append(a)
            t_plain.append(b)
            ratios.append(a / b)
        print(
            f"{name:<9} {1e6 * np.median(t_lib):11.1f} {1e6 * np.median(t_plain):9.1f} "
            f"{np.median(ratios):6.2f}  {min(ratios):.2f}-{max(ratios):.2f}"
        )


if __name__ == "__main__":
    main()
