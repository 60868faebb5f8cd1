"""SIGINT and SIGTERM during a training run: a first signal sets a flag that the loop checks
between steps; a second one stops at once (``Interrupted``), except inside a step or a save."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import numpy as np

__all__ = ["SIGNAL_NAMES", "Interrupted", "StopFlag", "training"]

SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class Interrupted(KeyboardInterrupt):
    """A second SIGINT or SIGTERM: stop now. ``exit_code`` is 128 + the signal's number."""

    def __init__(self, signum):
        super().__init__(SIGNAL_NAMES.get(signum, str(signum)))
        self.signum, self.exit_code = signum, 128 + int(signum)


class StopFlag:
    """SIGINT and SIGTERM set a flag that the training loop checks between steps; a second
    signal stops at once (Interrupted, exit code 128 + its number), except inside ``held()``
    blocks (a training step, a save), which it lets finish first. ``exit_code`` is 130 for
    SIGINT, 143 for SIGTERM."""

    def __init__(self):
        self.signum = None
        self._old = {}
        self._held = 0
        self._pending = None

    @property
    def stop(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum) if self.signum else 0

    @property
    def name(self) -> str:
        return SIGNAL_NAMES.get(self.signum, str(self.signum))

    def __enter__(self):
        for s in SIGNAL_NAMES:
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        elif self._held:
            self._pending = signum
        else:
            self.signum = signum
            raise Interrupted(signum)

    @contextmanager
    def held(self):
        """A block a second signal does not cut: it stops the run when the block ends."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held and self._pending is not None:
            self.signum, self._pending = self._pending, None
            raise Interrupted(self.signum)

    def __exit__(self, *exc):
        for s, old in self._old.items():
            signal.signal(s, old)
        return False


class training:
    """The context of a training loop: SIGINT/SIGTERM caught between steps (a StopFlag), and
    NumPy's overflow warnings silenced (the divergence guard reports non-finite values)."""

    def __enter__(self) -> StopFlag:
        self._err = np.errstate(over="ignore", invalid="ignore", divide="ignore")
        self._err.__enter__()
        self._flag = StopFlag().__enter__()
        return self._flag

    def __exit__(self, *exc):
        self._flag.__exit__(*exc)
        self._err.__exit__(*exc)
        return False
