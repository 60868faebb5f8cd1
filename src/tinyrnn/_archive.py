"""The hostile-archive reader of checkpoints: a zip of ``.npy`` members, read defensively.

Nothing in the file is trusted: the zip directory and each ``.npy`` header are checked (and
bounded) before any member is inflated, only plain numeric arrays are read (never pickles: a
file cannot run code), and every zip, zlib, format or I/O error becomes ``CheckpointError``.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zipfile
import zlib
from contextlib import contextmanager

import numpy as np

from .errors import CheckpointError

META_KEY = "__tinyrnn__"
_MAX_NPY_HEADER = 10_000

_DATA_KINDS = "biuf"
# What zipfile, zlib and numpy.lib.format raise on damaged or hostile bytes: a bad zip directory
# or member, an unknown compression method, a cut stream, a bad .npy header (ValueError, or the
# SyntaxError / RecursionError of its literal parser), and I/O errors reading the file.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    struct.error,
    NotImplementedError,
    ValueError,
    SyntaxError,
    RecursionError,
    OverflowError,
    OSError,
)


class Archive:
    """A zip archive of .npy members, read defensively. Every zip, zlib, npy format or I/O error
    raised while reading it becomes CheckpointError; sizes come from the zip directory and the
    .npy headers, and are checked before a member's data is inflated."""

    def __init__(self, path, max_file_bytes: int | None = None):
        self.path = os.fspath(path)
        self._max_file_bytes = max_file_bytes
        self._zip = None
        self.members: dict[str, zipfile.ZipInfo] = {}

    def __enter__(self):
        path = self.path
        if not os.path.isfile(path):
            raise CheckpointError(
                f"checkpoint {path} does not exist"
                if not os.path.exists(path)
                else f"checkpoint {path} is not a regular file"
            )
        with self._reading("cannot be read"):
            with open(path, "rb") as fh:
                magic = fh.read(4)
            size = os.path.getsize(path)
        if magic != b"PK\x03\x04":
            what = (
                "an empty file"
                if not magic
                else "a single .npy array"
                if magic.startswith(b"\x93NUM")
                else "not a .npz (zip) archive"
            )
            raise CheckpointError(f"checkpoint {path} is not a tinyrnn checkpoint: {what}")
        if self._max_file_bytes is not None and size > self._max_file_bytes + 2**20:
            raise CheckpointError(
                f"checkpoint {path} is {size / 2**20:.1f} MiB, more than this model can need "
                f"({self._max_file_bytes / 2**20:.1f} MiB); refused "
                "(pass max_bytes= to load() if the file is trusted)"
            )
        with self._reading("is not a readable .npz file"):
            self._zip = zipfile.ZipFile(path)
        try:
            self._index()
        except BaseException:
            self._zip.close()
            raise
        return self

    def __exit__(self, *exc):
        self._zip.close()

    @contextmanager
    def _reading(self, what: str):
        # Only zipfile / numpy.lib.format / I/O calls on the untrusted bytes run in here. The
        # errors they raise for a damaged or hostile file become CheckpointError; anything else
        # (a TypeError from a numpy whose header reader lacks a keyword, say) is a bug and passes.
        try:
            yield
        except CheckpointError:
            raise
        except _ARCHIVE_ERRORS as e:
            raise CheckpointError(f"checkpoint {self.path} {what} ({type(e).__name__}: {e})") from None

    def _index(self) -> None:
        """members: stripped name -> ZipInfo, after checking what the zip directory says."""
        for info in self._zip.infolist():
            name = info.filename
            bad = (
                "is encrypted"
                if info.flag_bits & 0x1
                else f"uses compression method {info.compress_type}, not stored or deflate"
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
                else "is not a .npy array"
                if not name.endswith(".npy")
                else None
            )
            if bad:
                raise CheckpointError(f"checkpoint {self.path} is not a tinyrnn checkpoint: member {name!r} {bad}")
            key = name[: -len(".npy")]
            if key in self.members:
                raise CheckpointError(f"checkpoint {self.path} is corrupt: member {name!r} appears twice")
            kind = key.partition("/")[0]
            ok = (
                key == META_KEY
                or (kind in ("model", "extra") and "/" in key and key[len(kind) + 1 :])
                or (kind == "optim" and re.fullmatch(r"optim/\d{1,9}/[^/]+", key))
            )
            if not ok:
                raise CheckpointError(f"checkpoint {self.path} is not a tinyrnn checkpoint: unexpected member {name!r}")
            self.members[key] = info
        if META_KEY not in self.members:
            raise CheckpointError(f"{self.path} is not a tinyrnn checkpoint (no {META_KEY} entry)")

    def declared(self, key: str) -> tuple:
        """(shape, dtype, nbytes, data offset) from the member's .npy header, checked against
        the member's size in the zip directory. Inflates only the header's few bytes."""
        info = self.members[key]
        with self._reading(f"has a corrupt member {info.filename!r}"):
            with self._zip.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=_MAX_NPY_HEADER)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=_MAX_NPY_HEADER)
                else:
                    raise ValueError(f".npy format version {version} is not supported")
                offset = fh.tell()
        where = f"checkpoint {self.path}: member {info.filename!r}"
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise CheckpointError(f"{where} holds a pickled object array or a structured dtype ({dtype}), refused")
        kind_ok = dtype.kind == "U" if key == META_KEY else dtype.kind in _DATA_KINDS and dtype.itemsize <= 8
        if not kind_ok or any(not isinstance(s, int) or s < 0 for s in shape):
            raise CheckpointError(f"{where} has an unsupported dtype {dtype} or shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != offset + nbytes:
            raise CheckpointError(
                f"{where} is corrupt: its header declares {shape} {dtype} ({nbytes} bytes) "
                f"but the member holds {info.file_size - offset} bytes"
            )
        return tuple(shape), dtype, nbytes, offset, fortran

    def read_array(self, key: str, declared: tuple) -> np.ndarray:
        """The member's values, as declared (a read-only array over the inflated bytes)."""
        shape, dtype, nbytes, offset, fortran = declared
        info = self.members[key]
        with self._reading(f"is corrupt or truncated in member {info.filename!r}"):
            with self._zip.open(info) as fh:
                fh.read(offset)
                data = fh.read(nbytes)
                if len(data) != nbytes or fh.read(1):  # reading to the end also checks the CRC
                    raise EOFError(f"expected {nbytes} bytes of data, got {len(data)}")
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")

    def read_header(self, limit: int) -> dict:
        declared = self.declared(META_KEY)
        if declared[2] > limit:
            raise CheckpointError(
                f"checkpoint {self.path} has a {declared[2] / 2**20:.1f} MiB header, more than "
                f"the {limit / 2**20:.0f} MiB allowed; refused"
            )
        if declared[0] != ():
            raise CheckpointError(f"checkpoint {self.path} has a malformed header: not a single string")
        text = str(self.read_array(META_KEY, declared)[()])
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as e:
            raise CheckpointError(f"checkpoint {self.path} has a corrupt header ({type(e).__name__}: {e})") from None
