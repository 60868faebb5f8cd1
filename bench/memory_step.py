"""Peak resident memory of training steps of the (64, 32, 64, 256) layers, float32.

For each layer and mode, a fresh process builds the layer and runs forward+backward steps
the way a training loop does (the previous step's cache still referenced while the next
forward runs). Reported: resident memory (ru_maxrss) after building the inputs, its peak after
1 step and after 30 steps, and the peak of NumPy's traced allocations (tracemalloc) during one
steady-state step. Modes: default, and with _retain.retain_memory() (bench/_retain.py) called first.

    python bench/memory_step.py
"""

import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
T, B, I, H = 64, 32, 64, 256


def child(cls_name, retain):
    import tracemalloc

    import numpy as np

    sys.path.insert(0, os.path.join(HERE, "..", "src"))
    import tinyrnn as tr

    if retain:
        sys.path.insert(0, HERE)
        from _retain import retain_memory

        retain_memory()
    rng = np.random.default_rng(0)
    layer = getattr(tr, cls_name)(I, H, rng=rng)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    G = rng.standard_normal((T, B, H)).astype(np.float32)
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    base = rss()
    out = cache = None

    def step():
        nonlocal out, cache
        out, _, cache = layer.forward(x)  # the previous out and cache are still referenced here
        layer.backward(G, cache)

    step()
    one = rss()
    for _ in range(29):
        step()
    thirty = rss()
    tracemalloc.start()
    step()
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps([base, one, thirty, traced]))


def main():
    print(f"(T, B, I, H) = ({T}, {B}, {I}, {H}), float32; MiB\n")
    print("| layer | mode | RSS before | peak RSS, 1 step | peak RSS, 30 steps | traced peak of one step |")
    print("|---|---|---|---|---|---|")
    for cls_name in ("RNN", "LSTM", "GRU"):
        for retain in (False, True):
            res = subprocess.run(
                [sys.executable, __file__, cls_name, str(int(retain))], check=True, capture_output=True, text=True
            )
            base, one, thirty, traced = json.loads(res.stdout.strip().splitlines()[-1])
            mode = "retain_memory()" if retain else "default"
            print(f"| {cls_name} | {mode} | {base:.0f} | {one:.0f} | {thirty:.0f} | {traced:.1f} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        child(sys.argv[1], bool(int(sys.argv[2])))
    else:
        main()
