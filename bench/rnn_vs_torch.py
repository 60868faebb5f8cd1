"""Forward+backward time of tinyrnn vs torch.nn (CPU, float32), ratio tinyrnn/torch.

Default method: each library in a process of its own, started fresh for every measurement,
with default settings (nothing here sets thread counts or the allocator), alternated
tinyrnn, torch, tinyrnn, torch, ... for --rounds rounds (default 3). In each process: one
untimed warm-up call, then at least --reps timed calls and at least --block seconds; the
process reports its median. Printed: the median over rounds of each library's median, the
ratio of those, and the range of the per-round ratios.

--one-process: the earlier method, both libraries in this process in alternating blocks with
the same thread count (--threads) and a --settle pause before each block (each library's
idle worker threads spin for a while and would starve the other's on 2 cores).
--retain: the tinyrnn processes call _retain.retain_memory() (bench/_retain.py) first (for comparison only;
the layers reuse their own arrays and do not need it).

    python bench/rnn_vs_torch.py                 # all configurations
    python bench/rnn_vs_torch.py --only rnn      # just the RNN rows
"""

import argparse
import json
import os
import subprocess
import sys
import time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--reps", type=int, default=15, help="timed calls per process (at least)")
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--only", default="", help="comma-separated kinds: rnn, lstm, gru, lengths")
ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
ap.add_argument(
    "--retain", action="store_true", help="tinyrnn processes call _retain.retain_memory() (bench/_retain.py)"
)
ap.add_argument("--one-process", action="store_true", help="both libraries in this process (older method)")
ap.add_argument(
    "--threads", type=int, default=None, help="--one-process only: thread count for both (default: all cores)"
)
ap.add_argument("--block", type=float, default=0.25, help="timed calls last at least this many seconds")
ap.add_argument("--settle", type=float, default=0.15, help="--one-process: untimed pause before each block")
ap.add_argument(
    "--busy",
    action="store_true",
    help="one CPU-bound process per core runs beside the measurement (started and ended here)",
)
ap.add_argument(
    "--thread-settings",
    action="store_true",
    help="time tinyrnn under --threads auto, 1 and all cores (tinyrnn.threads.ThreadChoice), "
    "alternated, and print auto / the better of the two",
)
ap.add_argument("--tinyrnn-threads", default=None, help=argparse.SUPPRESS)
ap.add_argument("--lib", choices=["tinyrnn", "torch"], help=argparse.SUPPRESS)
ap.add_argument("--config", help=argparse.SUPPRESS)
args = ap.parse_args()

if args.one_process:
    threads = str(args.threads or os.cpu_count())
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import tinyrnn as tr  # noqa: E402

if args.retain and args.lib == "tinyrnn":
    sys.path.insert(0, os.path.dirname(__file__))
    from _retain import retain_memory

    retain_memory()

CONFIGS = [  # (kind, T, B, I, H)
    ("rnn", 64, 32, 64, 64),
    ("rnn", 64, 32, 64, 128),
    ("rnn", 64, 32, 64, 256),
    ("rnn", 64, 32, 64, 512),
    ("rnn", 25, 1, 65, 100),
    ("rnn", 8, 256, 2, 16),
    ("lstm", 64, 32, 64, 256),
    ("lstm", 25, 1, 65, 100),
    ("gru", 64, 32, 64, 256),
    ("gru", 25, 1, 65, 100),
    ("lengths", 64, 32, 64, 128),
]
CLASS = {"rnn": "RNN", "lengths": "RNN", "lstm": "LSTM", "gru": "GRU"}


def inputs(T, B, I, H):
    rng = np.random.default_rng(1)
    return rng.standard_normal((T, B, I)).astype(np.float32), rng.standard_normal((T, B, H)).astype(np.float32)


def lengths_of(kind, T, B):
    if kind != "lengths":
        return None
    lengths = np.full(B, T)
    lengths[: B // 2] = T // 2
    return lengths


def tinyrnn_call(kind, T, B, I, H):
    ours = getattr(tr, CLASS[kind])(I, H, rng=np.random.default_rng(0))
    x, G = inputs(T, B, I, H)
    lengths = lengths_of(kind, T, B)

    def run():
        out, _, cache = ours.forward(x, lengths=lengths)
        ours.backward(G, cache)

    return run, ours.state_dict()


def torch_call(kind, T, B, I, H):
    import torch

    theirs = getattr(torch.nn, CLASS[kind])(I, H)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in tinyrnn_call(kind, T, B, I, H)[1].items()})
    x, G = (torch.from_numpy(a) for a in inputs(T, B, I, H))
    lengths = lengths_of(kind, T, B)

    def run():
        xr = x.clone().requires_grad_(True)
        if lengths is None:
            out, _ = theirs(xr)
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(xr, torch.from_numpy(lengths), enforce_sorted=False)
            out, _ = theirs(packed)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
        (out * G).sum().backward()

    return run


def timed(fn, reps, warm=True):
    """Per-call seconds: one untimed warm-up call, then at least reps calls and --block seconds."""
    if warm:
        fn()
    times, start = [], time.perf_counter()
    while len(times) < reps or time.perf_counter() - start < args.block:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def child(kind, T, B, I, H, reps):
    """In a fresh process: the median seconds of one library."""
    fn = tinyrnn_call(kind, T, B, I, H)[0] if args.lib == "tinyrnn" else torch_call(kind, T, B, I, H)
    if args.tinyrnn_threads is None:
        print(json.dumps(float(np.median(timed(fn, reps)))))
        return
    from tinyrnn.threads import ThreadChoice, parse_threads  # as a command applies --threads

    with ThreadChoice(parse_threads(args.tinyrnn_threads), emit=lambda line: None) as choice:
        while choice.probing:  # auto: the probe runs on the first calls
            t0 = time.perf_counter()
            fn()
            choice.step_done(time.perf_counter() - t0)
        print(json.dumps(float(np.median(timed(fn, reps)))))


def thread_settings(cfg, reps):
    """tinyrnn alone under auto, 1 and all threads, alternated --rounds times."""
    settings = ["auto", "1", str(len(os.sched_getaffinity(0)))]
    out = {s: [] for s in settings}
    for _ in range(args.rounds):
        for s in settings:
            cmd = [
                sys.executable,
                __file__,
                "--lib",
                "tinyrnn",
                "--config",
                json.dumps(list(cfg) + [reps]),
                "--block",
                str(args.block),
                "--tinyrnn-threads",
                s,
            ]
            res = subprocess.run(cmd, check=True, capture_output=True, text=True)
            out[s].append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def separate(cfg, reps):
    """Alternate a tinyrnn process and a torch process, --rounds times. Returns per-round medians."""
    out = {"tinyrnn": [], "torch": []}
    for _ in range(args.rounds):
        for lib in ("tinyrnn", "torch"):
            cmd = [sys.executable, __file__, "--lib", lib, "--config", json.dumps(list(cfg) + [reps])]
            cmd += ["--block", str(args.block)] + (["--retain"] if args.retain else [])
            res = subprocess.run(cmd, check=True, capture_output=True, text=True)
            out[lib].append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out["tinyrnn"], out["torch"]


def one_process(cfg, reps):
    """Both libraries here, alternating blocks, --rounds rounds. Returns per-round medians."""
    import torch

    torch.set_num_threads(int(args.threads or os.cpu_count()))
    fns = (tinyrnn_call(*cfg)[0], torch_call(*cfg))
    out = ([], [])
    for _ in range(args.rounds):
        for k, fn in enumerate(fns):
            time.sleep(args.settle)  # the other library's workers go to sleep
            out[k].append(float(np.median(timed(fn, -(-reps // args.rounds)))))
    return out


def burners():
    """One CPU-bound process per core, each ending by itself within an hour; killed by PID."""
    code = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(len(os.sched_getaffinity(0)))]


def main():
    if args.lib:
        child(*json.loads(args.config))
        return
    busy = burners() if args.busy else []
    try:
        if busy:
            print(f"busy: {len(busy)} CPU-bound processes beside the measurement", flush=True)
            time.sleep(2.0)
        settings_table() if args.thread_settings else compare()
    finally:
        for p in busy:
            p.kill()
            p.wait()


def settings_table():
    print("| layer | T | B | I | H | auto ms | 1 thread ms | all ms | auto / better |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, T, B, I, H in CONFIGS:
        if args.only and kind not in args.only.split(","):
            continue
        reps = args.reps if T * B * H * H < 64 * 32 * 256 * 256 else max(5, args.reps // 2)
        out = thread_settings((kind, T, B, I, H), reps)
        auto, one, every = (float(np.median(v)) for v in out.values())
        print(
            f"| {kind.upper()} | {T} | {B} | {I} | {H} | {auto * 1e3:.2f} | {one * 1e3:.2f} | {every * 1e3:.2f} "
            f"| {min(one, every) / auto:.2f} |",
            flush=True,
        )


def compare():
    import torch

    only = set(filter(None, args.only.split(",")))
    rows = []
    for kind, T, B, I, H in CONFIGS:
        if only and kind not in only:
            continue
        reps = args.reps if T * B * H * H < 64 * 32 * 256 * 256 else max(5, args.reps // 2)
        ours, theirs = (one_process if args.one_process else separate)((kind, T, B, I, H), reps)
        a, b = float(np.median(ours)), float(np.median(theirs))
        ratios = [x / y for x, y in zip(ours, theirs)]
        rows.append((kind, T, B, I, H, a, b, min(ratios), max(ratios)))
        label = kind if kind != "lengths" else "rnn+lengths"
        if not args.markdown:
            print(
                f"{label:12s} T={T:3d} B={B:3d} I={I:3d} H={H:3d}  tinyrnn {a * 1e3:8.2f} ms  "
                f"torch {b * 1e3:8.2f} ms  ratio {a / b:5.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                flush=True,
            )
    if args.markdown:
        method = (
            "one process, alternated blocks, threads=" + str(args.threads or os.cpu_count())
            if args.one_process
            else "each library in its own process, default settings, alternated"
        )
        print(
            f"{method}, {args.rounds} rounds, retain_memory={args.retain}, torch {torch.__version__}, "
            f"numpy {np.__version__}, {os.cpu_count()} cores\n"
        )
        print("| layer | T | B | I | H | tinyrnn ms | torch ms | ratio (range over rounds) |")
        print("|---|---|---|---|---|---|---|---|")
        for kind, T, B, I, H, a, b, lo, hi in rows:
            label = kind.upper() if kind != "lengths" else "RNN, lengths (half at T/2)"
            print(
                f"| {label} | {T} | {B} | {I} | {H} | {a * 1e3:.2f} | {b * 1e3:.2f} | {a / b:.2f} ({lo:.2f}–{hi:.2f}) |"
            )


if __name__ == "__main__":
    main()
