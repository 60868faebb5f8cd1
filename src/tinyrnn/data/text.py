"""Text corpora for the character language model, and the character vocabulary.

The default corpus is on every machine that runs Python: every ``*.py`` file directly inside
the running interpreter's standard-library folder (``sysconfig.get_paths()["stdlib"]``, no
sub-folders), sorted by file name, joined with a newline. On CPython 3.11 that is 168 files,
about 4.7 MB. Nothing is downloaded and no text is copied into the repository.
"""

from __future__ import annotations

import glob
import os
import sysconfig

import numpy as np

from ..errors import CorpusError, InputError  # noqa: E402,F401  (CorpusError re-exported: tinyrnn.data.text.CorpusError)


def stdlib_files() -> list[str]:
    folder = sysconfig.get_paths()["stdlib"]
    return sorted(glob.glob(os.path.join(folder, "*.py")), key=os.path.basename)


PREFIX_BYTES = 1 << 16  # read and checked before the rest of a file


def read_text(path: str) -> str:
    """A UTF-8 text file, refusing missing, empty and binary files with a clear message. The
    first 64 KiB are checked before the rest is read, so a large binary file (a disk image, a
    sparse file of zeros) is refused without being read whole."""
    if os.path.isdir(path):
        raise CorpusError(f"corpus file {path} is a directory; name the text files inside it")
    if not os.path.isfile(path):
        raise CorpusError(f"corpus file {path} does not exist")
    with open(path, "rb") as fh:
        head = fh.read(PREFIX_BYTES)
        _check_binary(path, head, final=False)
        try:
            raw = head + fh.read()
        except MemoryError:
            raise CorpusError(
                f"corpus file {path} ({os.path.getsize(path) / 2**20:.0f} MiB) does not fit in "
                "memory; give a smaller file"
            ) from None
    if not raw.strip():
        raise CorpusError(f"corpus file {path} is empty")
    _check_binary(path, raw, final=True)
    return raw.decode("utf-8")


def _check_binary(path: str, raw: bytes, final: bool) -> None:
    """NUL bytes or bytes that are not UTF-8 (in a prefix: but for a character cut at its end)."""
    if b"\x00" in raw:
        raise CorpusError(f"corpus file {path} looks binary (it contains NUL bytes); give a text file")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if final or e.start < len(raw) - 3:
            raise CorpusError(f"corpus file {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None


def load_corpus(files=None) -> tuple[str, str]:
    """(text, description) of the given files, or of the default standard-library corpus."""
    if files:
        return "\n".join(read_text(f) for f in files), ", ".join(files)
    paths = stdlib_files()
    if not paths:
        raise CorpusError("no default corpus: the standard-library folder holds no .py files")
    texts = []
    for p in paths:
        try:
            texts.append(read_text(p))
        except CorpusError:
            continue
    return "\n".join(texts), f"{len(texts)} .py files of {os.path.dirname(paths[0])}"


class CharVocab:
    """The characters of a corpus, sorted; ids are positions."""

    def __init__(self, chars):
        self.chars = "".join(sorted(set(chars)))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text: str, what: str = "text") -> np.ndarray:
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            raise InputError(
                f"{what} has characters outside the model's vocabulary: "
                + ", ".join(repr(c) for c in unknown[:20])
                + (" ..." if len(unknown) > 20 else "")
            )
        dtype = np.uint8 if len(self.chars) <= 256 else np.uint16 if len(self.chars) <= 65536 else np.uint32
        return np.array([self.stoi[c] for c in text], dtype=dtype)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


class Streams:
    """``batch`` contiguous streams over ``data`` (a view, no copy), read ``seq_len`` at a time,
    for stateful truncated BPTT."""

    def __init__(self, data: np.ndarray, batch: int, seq_len: int):
        length = len(data) // batch
        if length < seq_len + 1:
            raise CorpusError(
                f"the training text ({len(data)} characters) is too short for --batch {batch} "
                f"streams of --seq-len {seq_len} + 1 characters"
            )
        self.streams = data[: length * batch].reshape(batch, length)  # (B, L)
        self.seq_len = seq_len
        self.pos = 0

    def next(self):
        """(x (S, B), y (S, B), reset): y is x shifted by one; reset when the streams wrap."""
        S = self.seq_len
        reset = self.pos == 0
        if self.pos + S + 1 > self.streams.shape[1]:
            self.pos, reset = 0, True
        chunk = self.streams[:, self.pos : self.pos + S + 1].T  # (S+1, B)
        self.pos += S
        return chunk[:-1], chunk[1:], reset


def fingerprint(text: str) -> dict:
    """What identifies a corpus: its length in characters and the SHA-256 of its UTF-8 bytes."""
    import hashlib

    return dict(chars=len(text), sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


def split(ids: np.ndarray, valid_fraction: float = 0.1):
    """(train, valid): the last ``valid_fraction`` of the corpus is held out."""
    cut = int(len(ids) * (1 - valid_fraction))
    return ids[:cut], ids[cut:]
