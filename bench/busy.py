"""Training commands on a quiet and on a busy machine: steps per second of --threads auto,
1 and all cores, measured alternately in one run.

"Busy" means one CPU-bound process per available core beside the training (started here,
each ending by itself after --busy-seconds and killed by PID at the end), the situation of a
laptop or a shared box with other work going on. For each command and condition the settings
run in turn, the order rotating every round, so a drift of the machine's speed reaches all of
them alike. Printed: steps/s of each run, then per command and condition the median steps/s
and the ratio of auto to the better of 1 and all threads (targets: >= 0.9 busy, >= 0.97 quiet).

    python bench/busy.py                      # all three commands, quiet and busy, 3 rounds
    python bench/busy.py --only memory --rounds 2 --seconds 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "charlm": ["charlm", "train"],
    "seq2seq": ["seq2seq", "train", "--task", "reverse"],
    "memory": ["memory", "adding"],
}

BURNER = "import time, sys\nend = time.time() + float(sys.argv[1])\nx = 0\nwhile time.time() < end:\n    x += 1\n"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def start_burners(n: int, seconds: float) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BURNER, str(seconds)]) for _ in range(n)]


def stop(burners: list[subprocess.Popen]) -> None:
    for p in burners:
        p.kill()
    for p in burners:
        p.wait()


def run(command: str, threads: str, seconds: float) -> dict:
    argv = [
        sys.executable,
        "-c",
        "import sys; from tinyrnn.cli import main; sys.exit(main(sys.argv[1:]))",
        *COMMANDS[command],
        "--time-budget",
        str(seconds),
        "--threads",
        threads,
        "--json",
        "--quiet",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 6 + 120)
    if done.returncode != 0:
        shown = " ".join(argv[3:])
        raise SystemExit(f"{shown} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    return {"steps_per_s": metrics["steps"] / metrics["train_seconds"], "threads": metrics.get("threads")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated commands: charlm, seq2seq, memory")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0, help="--time-budget of each training run")
    ap.add_argument("--conditions", default="quiet,busy")
    args = ap.parse_args()
    n = cores()
    names = [c for c in (args.only.split(",") if args.only else COMMANDS)]
    settings = ["auto", "1", str(n)]
    results: dict = {}
    print(
        f"{n} cores available; runs of {args.seconds:g} s; python bench/busy.py "
        f"--only {','.join(names)} --rounds {args.rounds} --seconds {args.seconds:g}",
        flush=True,
    )
    for condition in args.conditions.split(","):
        for command in names:
            burners = (
                start_burners(n, args.rounds * len(settings) * (args.seconds * 3 + 30)) if condition == "busy" else []
            )
            try:
                if burners:
                    time.sleep(2.0)
                for r in range(args.rounds):
                    order = settings[r % 3 :] + settings[: r % 3]
                    for s in order:
                        m = run(command, s, args.seconds)
                        results.setdefault((condition, command, s), []).append(m["steps_per_s"])
                        print(
                            f"{condition:5s} {command:8s} --threads {s:4s} {m['steps_per_s']:8.1f} steps/s"
                            f"  (ran on {m['threads']})",
                            flush=True,
                        )
            finally:
                stop(burners)
    print("\n| condition | command | auto | 1 thread | all | auto / better |")
    print("|---|---|---|---|---|---|")
    for condition in args.conditions.split(","):
        for command in names:
            med = {s: statistics.median(results[(condition, command, s)]) for s in settings}
            ratio = med["auto"] / max(med["1"], med[str(n)])
            print(f"| {condition} | {command} | {med['auto']:.1f} | {med['1']:.1f} | {med[str(n)]:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
