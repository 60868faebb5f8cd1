"""``tinyrnn memory TASK --sweep key=v1,v2 ...``: the grid, the results file, the table, the figure.

The distributed part is ``tinyrnn.sweep`` (Dask). Here: expand ``cell=rnn,lstm T=100,200`` into
configurations, skip those already in the results file (JSON lines, one finished run a line,
appended as each finishes), and summarise every run of the grid as one table and one figure.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import asdict, replace

from ..errors import Diverged, UsageError
from . import _memory_train as memory


def boolean(text: str) -> bool:
    """A sweep value that is a switch: true or false (also on/off, yes/no, 1/0)."""
    value = {"true": True, "on": True, "yes": True, "1": True, "false": False, "off": False, "no": False, "0": False}
    try:
        return value[text.lower()]
    except KeyError:
        raise ValueError(text) from None


# Sweep keys and how their values are read; the names are MemoryConfig's fields.
SWEEP_KEYS = {
    "cell": str,
    "variant": str,
    "optimizer": str,
    "T": int,
    "seed": int,
    "hidden": int,
    "layers": int,
    "batch": int,
    "steps": int,
    "lr": float,
    "clip": float,
    "forget_bias": float,
    "time_budget": float,
    "recurrent_dropout": float,
    "weight_drop": float,
    "zoneout": float,
    "layer_norm": boolean,
}
# Fields that do not change a run's result, left out of its identity in the results file.
NOT_IDENTITY = ("quiet",)


def parse_grid(specs: list[str]) -> dict[str, list]:
    """["cell=rnn,lstm", "T=100,200"] -> {"cell": ["rnn", "lstm"], "T": [100, 200]}."""
    grid = {}
    for spec in specs:
        key, eq, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not values.strip():
            raise UsageError(f"--sweep expects KEY=V1,V2,... items, got {spec!r}")
        if key not in SWEEP_KEYS:
            raise UsageError(f"--sweep: unknown key {key!r}; use one of {', '.join(SWEEP_KEYS)}")
        if key in grid:
            raise UsageError(f"--sweep: key {key!r} given twice")
        kind = SWEEP_KEYS[key]
        try:
            grid[key] = [kind(v.strip()) for v in values.split(",")]
        except ValueError:
            raise UsageError(f"--sweep {key}: expected {kind.__name__} values, got {values!r}") from None
    return grid


def expand(base: memory.MemoryConfig, grid: dict[str, list]) -> list[memory.MemoryConfig]:
    """Every combination of the grid over ``base``, each resolved and checked (UsageError)."""
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        cfg = replace(base, quiet=True, **dict(zip(keys, combo)))
        if cfg.cell != "lstm":
            cfg = replace(cfg, forget_bias=None)  # the lstm's only
        out.append(cfg.resolved())
    return out


def identity(cfg: memory.MemoryConfig) -> str:
    """The key of a run in the results file: its resolved configuration."""
    d = {k: v for k, v in asdict(cfg).items() if k not in NOT_IDENTITY}
    return json.dumps(d, sort_keys=True)


def load_results(path: str) -> dict[str, dict]:
    """identity -> record, from a results file (missing file: empty). A last line cut short by a
    crash (no newline) is ignored: that run is simply done again (``repair_results`` removes
    it). A line that a cut line was glued onto (files appended by tinyrnn <= 0.3) counts by the
    whole record at its end."""
    done = {}
    if not os.path.exists(path):
        return done
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.endswith("\n"):
                break  # the cut last line
            rec = _record(line)
            if rec is None:
                raise UsageError(f"{path} line {n} is not a sweep result; give another --results file")
            done[identity(memory.MemoryConfig(**rec["config"]))] = rec
    return done


def _record(line: str) -> dict | None:
    """The record on a line, or at its end after a cut one; None if there is none."""
    for start in [0] + [i for i in range(len(line)) if line.startswith('{"config"', i)][::-1]:
        try:
            rec = json.loads(line[start:])
            memory.MemoryConfig(**rec["config"])
            return rec
        except (ValueError, KeyError, TypeError):
            continue
    return None


def repair_results(path: str) -> bool:
    """Cut off a last line left without its newline by a crash, so the next record starts on a
    line of its own; True if there was one."""
    try:
        with open(path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return False
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return False
            keep, pos, block = 0, size, 1 << 16
            while pos > 0:  # the last newline, read backwards
                start = max(0, pos - block)
                fh.seek(start)
                i = fh.read(pos - start).rfind(b"\n")
                if i >= 0:
                    keep = start + i + 1
                    break
                pos = start
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    except FileNotFoundError:
        return False
    except OSError as e:
        raise OSError(e.errno, f"cannot repair the results file {path}: {e.strerror}") from None
    return True


def append_result(path: str, record: dict) -> None:
    """Append one record as one whole line: a single write (O_APPEND) of the full line, then
    fsync, so a crash can cut only the last line, which the next run repairs."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(28, "No space left on device (the line was cut)")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise OSError(e.errno, f"cannot append to the results file {path}: {e.strerror}") from None


def describe(cfg_dict: dict) -> str:
    """A run of the grid in a few words."""
    return f"cell={cfg_dict['cell']} T={cfg_dict['T']} seed={cfg_dict['seed']}"


def run_one(cfg_dict: dict) -> dict:
    """One run of the grid (what a Dask worker executes): its config and metrics. Nothing
    process-wide is changed: the layers reuse their own arrays between steps (``nn/buffers.py``),
    so Dask's low MALLOC_TRIM_THRESHOLD_ in its workers costs no page faults on the large ones."""
    cfg = memory.MemoryConfig(**cfg_dict)
    try:
        _, metrics = memory.train(cfg)
    except Diverged as e:
        return dict(config=cfg_dict, metrics=None, error=str(e))
    metrics.pop("config")
    return dict(config=cfg_dict, metrics=metrics)


def run_sweep(
    configs: list[memory.MemoryConfig],
    results: str,
    scheduler: str | None = None,
    workers: int | None = None,
    emit=lambda line: None,
):
    """Run the configurations not yet in ``results`` on Dask, appending each as it finishes.
    Returns (records of every configuration finished so far, in grid order; computed now;
    interrupted by Ctrl-C)."""
    from .. import sweep

    sweep.check_available()
    if repair_results(results):
        emit(f"{results}: removed a last line cut short by a crash (that run is done again)")
    done = load_results(results)
    keys = [identity(c) for c in configs]
    todo = [asdict(c) for c, k in zip(configs, keys) if k not in done]
    emit(f"{len(configs)} runs in the grid, {len(configs) - len(todo)} already in {results}, {len(todo)} to run")

    def finished(cfg_dict, record):
        append_result(results, record)
        m = record["metrics"]
        emit(
            f"done: {describe(cfg_dict)}: "
            + (memory.headline(memory.MemoryConfig(**cfg_dict), m) if m else record["error"])
        )

    interrupted = False
    if todo:
        client = sweep.connect(scheduler, workers)
        try:
            sweep.run(client, run_one, todo, finished, describe)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sweep.close(client)
    found = load_results(results)  # the file is the record of what finished
    return [found[k] for k in keys if k in found], len(todo), interrupted


def score_name(task: str) -> str:
    return {"adding": "solved_fraction", "copy": "recall_accuracy", "order": "test_accuracy"}[task]


def table(records: list[dict]) -> str:
    """Markdown table of the runs, sorted by cell, T, seed."""
    task = records[0]["config"]["task"]
    loss = "test_mse" if task == "adding" else "test_ce"
    score = score_name(task)
    varies = varying(records)
    head = ["cell", "T", "seed", *varies, "steps", "sequences", "seconds", loss, "baseline", score]
    head.append("solved at (sequences)")
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = lambda r: (
        tuple(str(r["config"].get(k)) for k in ("cell", *varies)) + (r["config"]["T"], r["config"]["seed"])
    )  # noqa: E731
    for r in sorted(records, key=order):
        c, m = r["config"], r["metrics"]
        first = f"| {c['cell']} | {c['T']} | {c['seed']} | " + "".join(f"{c.get(k)} | " for k in varies)
        if m is None:
            rows.append(f"{first}diverged: {r['error']} |" + " |" * 6)
            continue
        at = m["solved_at"]["sequences"] if m["solved_at"] else "not solved"
        rows.append(
            f"{first}{m['steps']} | {m['sequences_seen']} | "
            f"{m['seconds']:.0f} | {m[loss]:.4g} | {m['baseline']:.4g} | {m[score]:.3f} | {at} |"
        )
    return "\n".join(rows)


def varying(records: list[dict]) -> list[str]:
    """The settings other than cell, T and seed whose values differ between the runs (a column
    each in the table, part of each line's label in the plot)."""
    keys = [k for k in SWEEP_KEYS if k not in ("cell", "T", "seed")]
    return [k for k in keys if len({json.dumps(r["config"].get(k)) for r in records}) > 1]


def plot(path: str, records: list[dict]) -> None:
    """The task's score against T, one line per cell (and per setting that varies; mean over seeds, every seed as a dot)."""
    from ._common import pyplot, save_figure

    plt = pyplot()
    task = records[0]["config"]["task"]
    score = score_name(task)
    fig, ax = plt.subplots(figsize=(7, 4))
    varies = varying(records)
    label = lambda c: ", ".join([c["cell"]] + [f"{k} {c.get(k)}" for k in varies])  # noqa: E731
    for name in sorted({label(r["config"]) for r in records}):
        runs = [r for r in records if label(r["config"]) == name and r["metrics"]]
        Ts = sorted({r["config"]["T"] for r in runs})
        means = [
            sum(r["metrics"][score] for r in runs if r["config"]["T"] == T)
            / sum(1 for r in runs if r["config"]["T"] == T)
            for T in Ts
        ]
        (line,) = ax.plot(Ts, means, marker="o", label=name)
        ax.scatter(
            [r["config"]["T"] for r in runs],
            [r["metrics"][score] for r in runs],
            color=line.get_color(),
            alpha=0.4,
            s=14,
        )
    ax.set_xlabel("T (sequence length)")
    ax.set_ylabel(score.replace("_", " "))
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"memory {task}: mean over seeds; dots: single runs")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
