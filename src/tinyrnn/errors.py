"""The error contract: what the ``tinyrnn`` command's exit codes are made of.

- :class:`InputError` (a ``ValueError``): the caller got something wrong — a value, a shape, a
  dtype, a file, a flag. Its message names the argument or file, what was expected and what
  to do. The command reports it in one line and exits 2. Its kinds are subclasses, so code
  that catches ``ValueError`` keeps working.
- :class:`Diverged`: a training produced a non-finite loss, gradient or evaluation. Exit 3;
  the last good checkpoint is kept.
- Anything else raised inside tinyrnn — a plain ``ValueError`` or ``TypeError`` included — is a
  bug in tinyrnn: exit 1, with the traceback under ``TINYRNN_DEBUG=1``.

Divergence is recognised by type, never by the text of a message.
"""

from __future__ import annotations

__all__ = ["InputError", "UsageError", "CheckpointError", "CorpusError", "NonFiniteError", "Diverged"]


class InputError(ValueError):
    """Something the caller can fix: a bad value, shape, dtype, file or flag (exit code 2)."""


class UsageError(InputError):
    """A command-line mistake: a flag, a combination of flags, a path or a size."""


class CheckpointError(InputError):
    """A checkpoint that cannot be loaded into this model: corrupt, hostile or mismatched."""


class CorpusError(InputError):
    """A text corpus that cannot be used: missing, empty, binary or too small."""


class NonFiniteError(InputError):
    """An input array holds NaN or infinity."""


class Diverged(Exception):
    """Training blew up: a non-finite (or absurdly large) loss, gradient or evaluation.

    ``step`` and ``loss`` say where; the message says what to change.
    """

    def __init__(
        self, step: int, loss: float, lr: float | None = None, clip: float | None = None, hint: str | None = None
    ):
        if hint is None:
            hint = "lower --lr" + (f" (now {lr:g})" if lr is not None else "")
            hint += " or set --clip" + (f" below {clip:g}" if clip else "")
        super().__init__(f"training diverged at step {step} (loss={loss:.6g}); {hint}")
        self.step, self.loss = step, loss
