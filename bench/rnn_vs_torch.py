"""Forward+backward time of tinyrnn vs torch.nn (CPU, float32), ratio tinyrnn/torch.

Default: both libraries run in this one process, in alternating blocks (3 rounds; a block is
one untimed warm-up call, then at least reps/3 timed calls and at least --block seconds), with
the same thread count (--threads, default: all cores) for NumPy's OpenBLAS and for torch.
Each library's worker threads spin for a while after its calls (OpenBLAS about 0.1 s, torch's
OpenMP pool likewise) and would starve the other library's threads on a 2-core machine, so
each block starts after an untimed pause of --settle seconds (default 0.15) in which they go
to sleep. (An earlier version set OPENBLAS_THREAD_TIMEOUT to its minimum instead; that makes
every multi-threaded OpenBLAS call wake its workers and slowed tinyrnn's LSTM by ~40 %.)

--separate: each library is timed in a process of its own, one configuration at a time, with
default thread settings, so neither library's idle threads can disturb the other. The process calls
tinyrnn.perf.retain_memory() (as the tinyrnn command does), which both libraries share;
--no-retain measures without it.

    python bench/rnn_vs_torch.py                 # all configurations
    python bench/rnn_vs_torch.py --only rnn      # just the RNN rows
"""

import argparse
import os
import sys

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--reps", type=int, default=15)
ap.add_argument("--only", default="", help="comma-separated kinds: rnn, lstm, gru, lengths")
ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
ap.add_argument("--no-retain", action="store_true", help="do not call tinyrnn.perf.retain_memory()")
ap.add_argument("--separate", action="store_true", help="time each library in its own process")
ap.add_argument("--block", type=float, default=0.25, help="each block runs at least this many seconds")
ap.add_argument("--settle", type=float, default=0.15, help="untimed pause before each block of timed calls (one process)")
ap.add_argument("--lib", choices=["tinyrnn", "torch"], help=argparse.SUPPRESS)
ap.add_argument("--config", help=argparse.SUPPRESS)
args = ap.parse_args()

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import tinyrnn as tr  # noqa: E402

torch.set_num_threads(args.threads)
if not args.no_retain:
    from tinyrnn.perf import retain_memory
    retain_memory()

CONFIGS = [  # (kind, T, B, I, H)
    ("rnn", 64, 32, 64, 64), ("rnn", 64, 32, 64, 128), ("rnn", 64, 32, 64, 256),
    ("rnn", 64, 32, 64, 512), ("rnn", 25, 1, 65, 100), ("rnn", 8, 256, 2, 16),
    ("lstm", 64, 32, 64, 256), ("lstm", 25, 1, 65, 100),
    ("gru", 64, 32, 64, 256), ("gru", 25, 1, 65, 100),
    ("lengths", 64, 32, 64, 128),
]


def make(kind, I, H):
    cls = {"rnn": "RNN", "lengths": "RNN", "lstm": "LSTM", "gru": "GRU"}[kind]
    ours = getattr(tr, cls)(I, H, rng=np.random.default_rng(0))
    theirs = getattr(torch.nn, cls)(I, H)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def bench(kind, T, B, I, H, reps):
    ours, theirs = make(kind, I, H)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    G = rng.standard_normal((T, B, H)).astype(np.float32)
    lengths = None
    if kind == "lengths":
        lengths = np.full(B, T)
        lengths[: B // 2] = T // 2
    xt, Gt = torch.from_numpy(x), torch.from_numpy(G)

    def run_ours():
        out, _, cache = ours.forward(x, lengths=lengths)
        ours.backward(G, cache)

    def run_torch():
        xr = xt.clone().requires_grad_(True)
        if lengths is None:
            out, _ = theirs(xr)
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(xr, torch.from_numpy(lengths), enforce_sorted=False)
            out, _ = theirs(packed)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
        (out * Gt).sum().backward()

    fns = (("ours", run_ours), ("torch", run_torch))
    if args.lib:
        fns = fns[:1] if args.lib == "tinyrnn" else fns[1:]
    times = {"ours": [float("nan")], "torch": [float("nan")]}
    for name, _ in fns:
        times[name] = []
    rounds = 3 if len(fns) > 1 else 1
    for r in range(rounds):
        for name, fn in fns:
            if len(fns) > 1:
                time.sleep(args.settle)      # the other library's workers go to sleep
            fn()                             # untimed warm-up: this library's threads and caches
            n, start = 0, time.perf_counter()
            while n < -(-reps // rounds) or time.perf_counter() - start < args.block:
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                n += 1
    return float(np.median(times["ours"])), float(np.median(times["torch"]))


def bench_separate(kind, T, B, I, H, reps):
    """Time each library in a fresh process of its own."""
    import json
    import subprocess
    out = {}
    for lib in ("tinyrnn", "torch"):
        cmd = [sys.executable, __file__, "--lib", lib, "--config", json.dumps([kind, T, B, I, H, reps]),
               "--threads", str(args.threads)] + (["--no-retain"] if args.no_retain else [])
        res = subprocess.run(cmd, check=True, capture_output=True, text=True)
        out[lib] = json.loads(res.stdout.strip().splitlines()[-1])
    return out["tinyrnn"][0], out["torch"][1]


def main():
    if args.lib:
        import json
        print(json.dumps(bench(*json.loads(args.config))))
        return
    only = set(filter(None, args.only.split(",")))
    rows = []
    for kind, T, B, I, H in CONFIGS:
        if only and kind not in only:
            continue
        if kind in ("lstm", "gru") and not hasattr(tr, kind.upper()):
            continue
        reps = args.reps if T * B * H * H < 64 * 32 * 256 * 256 else max(5, args.reps // 2)
        a, b = (bench_separate if args.separate else bench)(kind, T, B, I, H, reps)
        rows.append((kind, T, B, I, H, a, b))
        label = kind if kind != "lengths" else "rnn+lengths"
        if not args.markdown:
            print(f"{label:12s} T={T:3d} B={B:3d} I={I:3d} H={H:3d}  tinyrnn {a*1e3:8.2f} ms  "
                  f"torch {b*1e3:8.2f} ms  ratio {a/b:5.2f}", flush=True)
    if args.markdown:
        print(f"threads={args.threads}, retain_memory={not args.no_retain}, "
              f"{'separate processes' if args.separate else 'one process, alternated'}, torch {torch.__version__}, "
              f"numpy {np.__version__}\n")
        print("| layer | T | B | I | H | tinyrnn ms | torch ms | ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for kind, T, B, I, H, a, b in rows:
            label = kind.upper() if kind != "lengths" else "RNN, lengths (half at T/2)"
            print(f"| {label} | {T} | {B} | {I} | {H} | {a*1e3:.2f} | {b*1e3:.2f} | {a/b:.2f} |")


if __name__ == "__main__":
    main()
