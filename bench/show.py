"""Time and memory of `tinyrnn charlm show`: an LSTM 256 (embedding 64, the default charlm model)
over the first N characters of the standard-library corpus, each run in its own process as a
user runs it. Prints the wall time (median and range), the page's size, and the peak memory
at N and 10 N characters (it should not grow with the text beyond what the page stores).

    python bench/show.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from tinyrnn.checkpoint import save
from tinyrnn.data.text import CharVocab, load_corpus
from tinyrnn.models.charlm import CharLM

CHILD = (
    "import resource, sys; from tinyrnn.cli import main; rc = main(sys.argv[1:]); "
    "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)"
)


def run(ck, text_file, chars, out):
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "charlm", "show", ck, text_file, "--chars", str(chars), "--html", out],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - t
    rss = int(done.stdout.split("maxrss_kb")[-1])
    return seconds, rss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    text, desc = load_corpus([])
    vocab = CharVocab(text)
    model = CharLM(len(vocab), 64, 256, "lstm", rng=np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "lstm256.npz")
        save(ck, model, meta={"kind": "charlm", "chars": vocab.chars})
        text_file = os.path.join(tmp, "text.py")
        with open(text_file, "w", encoding="utf-8") as fh:
            fh.write(text[: 10 * args.chars])
        out = os.path.join(tmp, "page.html")
        times = [run(ck, text_file, args.chars, out)[0] for _ in range(args.repeat)]
        size = os.path.getsize(out)
        _, rss_small = run(ck, text_file, args.chars, out)
        _, rss_large = run(ck, text_file, 10 * args.chars, out)
        size_large = os.path.getsize(out)
    print(f"load average {os.getloadavg()[0]:.1f}; corpus: {desc}")
    print(
        f"charlm show, LSTM 256, {args.chars} characters, top 10 cells: median {statistics.median(times):.2f} s "
        f"(range {min(times):.2f}-{max(times):.2f} s, {args.repeat} runs, each a new process)"
    )
    print(f"page: {size / 1e6:.2f} MB at {args.chars} characters, {size_large / 1e6:.2f} MB at {10 * args.chars}")
    print(
        f"peak memory: {rss_small:.0f} MB at {args.chars} characters, {rss_large:.0f} MB at {10 * args.chars} "
        f"(ratio {rss_large / rss_small:.2f})"
    )


if __name__ == "__main__":
    main()
