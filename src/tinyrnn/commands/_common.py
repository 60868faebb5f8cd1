"""Helpers shared by the commands: the plotting back-end, output paths checked before work,
the memory estimate of a run, and the settings of a resumed run."""

from __future__ import annotations

import contextvars
import dataclasses
import os

import numpy as np

from .. import paths
from ..errors import UsageError


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg back-end, or a clear error."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'tinyrnn[cli]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def smooth(values: np.ndarray, span: int = 0) -> np.ndarray:
    """Exponential moving average with bias correction (span ~ 2% of the run, at least 5)."""
    span = span or max(5, len(values) // 50)
    a = 2.0 / (span + 1)
    out, m = np.empty(len(values)), 0.0
    for i, v in enumerate(values):
        m = (1 - a) * m + a * v
        out[i] = m / (1 - (1 - a) ** (i + 1))
    return out


# ---------------------------------------------------------------- output paths
def check_output(flag: str, path: str | None, image: bool = False, inputs=(), outputs=()) -> str | None:
    """The output rule (``tinyrnn.paths.check_output``: a regular file or nothing, none of the
    command's ``inputs`` nor its other ``outputs``, proven writable), before any work starts.
    Returns the path that will be written: for an image without an extension,
    ``path + ".png"``; an image format matplotlib cannot write is refused."""
    if path is None:
        return None
    if image and path and not path.endswith(os.sep) and not os.path.isdir(path):
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if not ext:
            path += ".png"
            ext = "png"
    path = paths.check_output(flag, path, inputs, outputs)
    if image:
        plt = pyplot()
        supported = sorted(plt.gcf().canvas.get_supported_filetypes())
        plt.close("all")
        if ext not in supported:
            raise UsageError(
                f"{flag} {path}: matplotlib cannot write .{ext} images; use one of "
                + ", ".join("." + e for e in supported)
            )
    return path


def save_figure(fig, path: str, **kwargs) -> None:
    """``fig.savefig`` through the atomic writer (the format from ``path``'s extension)."""
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    paths.atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, **kwargs), "plot")


# ---------------------------------------------------------------- memory
def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**28 else f"{n / 2**20:.0f} MB"


# The sizes of the run in progress (set by check_memory), so that a MemoryError raised later
# (the estimate was low, or other programs took the memory) can name what costs the most.
RUN_SIZES: contextvars.ContextVar = contextvars.ContextVar("tinyrnn_run_sizes", default=None)


def _kwargs(sizes: dict, names: dict, smaller: str | None = None) -> dict:
    return {names.get(k, k.lstrip("-").replace("-", "_")): (1 if k == smaller else v) for k, v in sizes.items()}


def costliest(estimate, sizes: dict, names: dict | None = None) -> tuple[int, str]:
    """(bytes ``estimate`` gives for ``sizes``, the label whose value costs the most)."""
    names = names or {}
    need = estimate(**_kwargs(sizes, names))
    saved = {label: need - estimate(**_kwargs(sizes, names, label)) for label in sizes}
    return need, max(saved, key=saved.get)


def _lower(label: str, value) -> str:
    return f"lower {label} (now {value})" if label.startswith("--") else f"the largest cost is {label} ({value})"


def check_memory(estimate, sizes: dict, what: str = "this configuration", names: dict | None = None) -> None:
    """Refuse a configuration whose estimated memory (``estimate(**sizes)`` bytes: parameters,
    optimizer state, the activations of one step) exceeds the memory available, naming the
    flag whose value costs the most. ``sizes`` maps flag names (``"--hidden"``) or other labels
    (``"the vocabulary"``, with its keyword in ``names``) to values. The sizes are kept for
    ``out_of_memory`` (a MemoryError later in the run)."""
    RUN_SIZES.set((estimate, dict(sizes), what, names))
    available = available_memory()
    if available is None:
        return
    need, label = costliest(estimate, sizes, names)
    if need <= available:
        return
    raise UsageError(
        f"{what} needs about {_gb(need)} of memory (parameters, optimizer state and the "
        f"activations of one step) but {_gb(available)} is available; {_lower(label, sizes[label])}"
    )


def out_of_memory(e: MemoryError) -> str:
    """The one line for a MemoryError: the size of the run that costs the most (from the last
    check_memory), or else what NumPy could not allocate."""
    run = RUN_SIZES.get()
    detail = " ".join(str(e).split())
    if run is None:
        return "not enough memory" + (f" ({detail})" if detail else "") + "; give smaller inputs or sizes"
    estimate, sizes, what, names = run
    need, label = costliest(estimate, sizes, names)
    return (
        f"ran out of memory (estimated need of {what}: about {_gb(need)}"
        + (f"; {detail}" if detail else "")
        + f"); {_lower(label, sizes[label])}"
    )


# ---------------------------------------------------------------- resume
def resume_settings(
    path: str, header: dict, kind: str, given: dict, fixed: tuple, free: tuple, step: int, seconds: float
) -> dict:
    """The settings that continue the run saved in ``path`` (``header`` read from it, ``step``
    steps and ``seconds`` of training done): ``fixed`` keys are the checkpoint's (a different
    value given is refused), ``free`` keys the run's own unless given; ``steps`` or
    ``time_budget`` given mean that much MORE training, none finishes the saved plan; a seed
    is refused (the saved random state continues)."""
    meta = header.get("meta", {})
    saved = meta.get("train_config")
    if meta.get("kind") != kind or not isinstance(saved, dict):
        raise UsageError(f"--resume {path} is not a {kind} checkpoint (it holds a {header.get('class')})")
    if given.get("seed") is not None:
        raise UsageError(
            f"--seed cannot be given with --resume: the run continues with its saved random state "
            f"(it started from seed {saved.get('seed')})"
        )
    clash = [
        f"--{k.replace('_', '-')} {v} (checkpoint: {saved.get(k)})"
        for k, v in given.items()
        if k in fixed and v is not None and saved.get(k) != v
    ]
    if clash:
        raise UsageError("--resume continues the checkpoint's run; these flags differ from it: " + "; ".join(clash))
    out = {k: saved[k] for k in fixed if k in saved}
    out.update({k: given[k] if given.get(k) is not None else saved[k] for k in free if k in saved or k in given})
    if given.get("steps") is not None:
        out.update(steps=step + given["steps"], time_budget=0.0)
    elif given.get("time_budget") is not None:
        out.update(steps=step, time_budget=seconds + given["time_budget"])
    else:
        out.update(steps=saved.get("steps", step), time_budget=saved.get("time_budget", 0.0))
    out["quiet"] = bool(given.get("quiet"))
    return out


def settings_types(config_cls, skip=()) -> dict:
    """{field: type} of a config dataclass's fields (for ``checkpoint.check_meta`` of a saved
    ``train_config``), ``skip`` left out (settings added later, or not part of a run)."""
    kinds = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
    return {f.name: kinds[str(f.type)] for f in dataclasses.fields(config_cls) if f.name not in skip}
