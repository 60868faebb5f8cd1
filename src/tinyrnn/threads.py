"""BLAS threads: a helper for Python users, and the choice a command makes for its own run.

A recurrent loop makes many small matrix products, one per step. OpenBLAS runs each on all
cores by default, and its threads spin while they wait for the next product. On a quiet
machine that is about as fast as one thread (sometimes faster); on a machine whose cores are
already busy, the spinning threads fight the other work at every step and a training can run
several times slower than on one thread (docs/performance.md, "Threads").

The layers never change the thread count: that is a process-wide switch, and a library must
not flip those behind its caller's back. Two ways to choose it:

- From Python, :func:`blas_threads` limits the BLAS threads inside a ``with`` block::

      with tinyrnn.blas_threads(1):
          out, h_n, cache = rnn.forward(x)

- A ``tinyrnn`` training command owns its process, so it chooses for the whole run
  (``--threads N`` or ``--threads auto``, the default) through :class:`ThreadChoice`, and says
  what it chose in its startup lines. ``auto``: one thread when only one core is available or
  the cores are already busy (the processes running at start reach the core count); otherwise
  it times the first training steps on one thread and on all available cores, and keeps the
  faster (one thread on a tie within 3 %, the kinder choice on a shared machine). A gap of
  15 % after one phase each decides; a closer one is timed a second time. A setting 1.5
  times slower or faster than the other decides at once, so a probe on a machine that became
  busy costs a step or two, not seconds.

Both need the ``threadpoolctl`` package (part of the ``cli`` extra).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

from .errors import InputError

__all__ = ["blas_threads", "available_cores", "parse_threads", "ThreadChoice"]

TIE = 0.03  # auto keeps one thread unless all cores are this much faster
PHASE_SECONDS = 0.25  # each probe phase lasts at least this long (of step time) ...
PHASE_STEPS = 3  # ... and at least this many steps, unless they took 4 x PHASE_SECONDS
ROUNDS = 2  # phases alternate 1, n, 1, n: each setting is timed twice ...
CLEAR = 1.15  # ... unless the first two phases are this far apart
WARMUP_STEPS = 2  # steps before the probe starts (first calls allocate and warm caches)
DECISIVE = 1.5  # a setting this much slower (or faster) than the other ends the probe at once


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        raise ModuleNotFoundError(
            "choosing BLAS threads needs the threadpoolctl package: pip install threadpoolctl "
            "(or pip install 'tinyrnn[cli]')"
        ) from None
    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run the ``with`` block with at most ``n`` BLAS threads, then restore what was there.

    Only the BLAS libraries loaded in this process (NumPy's OpenBLAS, MKL, ...) are limited;
    ``n`` must be a positive integer.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"blas_threads: n must be a positive integer, got {n!r}")
    with _controller().limit(limits=n, user_api="blas"):
        yield


def parse_threads(text: str) -> int | str:
    """``--threads``: ``auto`` or a positive integer (at most the available cores)."""
    text = str(text).strip().lower()
    if text == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        raise InputError(f"--threads: expected 'auto' or a positive integer, got {text!r}") from None
    cores = available_cores()
    if not 1 <= n <= cores:
        raise InputError(
            f"--threads: expected 'auto' or an integer from 1 to {cores} (the cores this process may use), got {n}"
        )
    return n


class ThreadChoice:
    """The BLAS thread count of one command's run.

    ``with ThreadChoice(setting, emit) as threads:`` applies the choice for the whole run and
    restores the previous count at the end; ``emit`` receives the startup line (and, for a
    probe, the line that says what it found). The training loop calls
    ``threads.step_done(seconds)`` after each training step with the step's own duration
    (evaluation and saving left out): while ``auto`` is probing, that adds up the time of the
    setting in force and moves to the next one; afterwards it costs one comparison.
    """

    def __init__(
        self,
        setting: int | str = "auto",
        emit: Callable[[str], None] = print,
        cores: int | None = None,
        load: float | None = None,
    ):
        self.setting = setting
        self.emit = emit
        self.cores = available_cores() if cores is None else cores
        self.load = _running_now() if load is None else load
        self.threads: int | None = None  # the count in force (None: left to the BLAS library)
        self.reason = ""
        self.probing = False
        self._controller = None
        self._limit = None
        self._phases: list[int] = []  # the settings still to time, in order
        self._times: dict[int, list[float]] = {}
        self._warm = 0
        self._seconds = 0.0
        self._steps = 0

    # ------------------------------------------------------------------ the run
    def __enter__(self) -> ThreadChoice:
        try:
            self._controller = _controller()
        except ModuleNotFoundError:
            self.reason = "left to the BLAS library: threadpoolctl is not installed (pip install threadpoolctl)"
            self.emit(f"threads: {self.reason}")
            return self
        if self.setting != "auto":
            self._apply(int(self.setting))
            self.reason = "--threads"
        elif self.cores == 1:
            self._apply(1)
            self.reason = "auto: one core available"
        elif self.load >= self.cores:
            self._apply(1)
            self.reason = f"auto: the cores are busy, {self.load:g} processes running on {self.cores} cores"
        else:
            self.probing = True
            self._phases = [1, self.cores] * ROUNDS
            self._times = {1: [], self.cores: []}
            self._apply(1)
            self.emit(
                f"threads: auto: timing the first steps on 1 and on {self.cores} BLAS threads "
                f"({self.load:g} other processes running on {self.cores} cores)"
            )
            return self
        self.emit(f"threads: {_count(self.threads)} ({self.reason})")
        return self

    def __exit__(self, *exc) -> None:
        if self.probing:  # the run ended before the probe did: say what it ran on
            self.probing = False
            self.reason = "auto: the run ended while the first steps were being timed"
            self.emit(f"threads: {_count(self.threads)} at the end ({self.reason})")
        if self._limit is not None:
            self._limit.restore_original_limits()
            self._limit = None

    def step_done(self, seconds: float) -> None:
        """Call after each training step with its duration (cheap once the choice is made)."""
        if not self.probing:
            return
        if self._warm < WARMUP_STEPS:
            self._warm += 1
            return
        self._steps += 1
        self._seconds += seconds
        other = self._times[1 if self.threads != 1 else self.cores]
        if other:
            mine = self._seconds / self._steps
            if mine > DECISIVE * min(other) or mine * DECISIVE < min(other):
                self._times[self.threads].append(mine)
                self._decide()
                return
        if self._seconds < PHASE_SECONDS or (self._steps < PHASE_STEPS and self._seconds < 4 * PHASE_SECONDS):
            return
        self._times[self.threads].append(self._seconds / self._steps)
        self._seconds, self._steps = 0.0, 0
        self._phases.pop(0)
        one, all_ = self._times[1], self._times[self.cores]
        clear = len(one) == len(all_) == 1 and max(one[0], all_[0]) >= CLEAR * min(one[0], all_[0])
        if self._phases and not clear:
            self._apply(self._phases[0])
        else:
            self._decide()

    # ------------------------------------------------------------------ inside
    def _decide(self) -> None:
        self.probing = False
        one = min(self._times[1])
        all_ = min(self._times[self.cores])
        best = self.cores if all_ < one * (1 - TIE) else 1
        self._apply(best)
        self.reason = f"auto: {one * 1e3:.3g} ms/step on 1 thread, {all_ * 1e3:.3g} ms/step on {self.cores}"
        self.emit(f"threads: {_count(best)} ({self.reason})")

    def _apply(self, n: int) -> None:
        if self._controller is None:
            return
        if self._limit is not None:
            self._limit.restore_original_limits()
        self._limit = self._controller.limit(limits=n, user_api="blas")
        self.threads = n

    def summary(self) -> dict:
        """For ``--json``: the count in force and why."""
        return {"threads": self.threads, "threads_reason": self.reason}


def _count(n: int | None) -> str:
    return "left to the BLAS library" if n is None else f"{n} BLAS thread" + ("s" if n != 1 else "")


def _running_now() -> float:
    """The processes running now beside this one: the median of five looks at /proc/loadavg
    over 40 ms (0 where it cannot be read). Not the load average: it lags a minute behind, and
    a run started just after other work ended would take one thread on a quiet machine."""
    looks = []
    for i in range(5):
        try:
            with open("/proc/loadavg") as fh:
                running = int(fh.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        looks.append(running - 1)  # this process is running too
        if i < 4:
            time.sleep(0.01)
    return float(sorted(looks)[2])
