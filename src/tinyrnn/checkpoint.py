"""Checkpoints: one ``.npz`` file holding arrays and one JSON string, written atomically.

Layout inside the archive:
    ``__tinyrnn__``           0-d unicode array: JSON {format, class, config, meta, versions,
                              optimizer: {type, defaults, step, n_params, state_keys}}
    ``model/<name>``          every parameter under its state_dict name
    ``optim/<i>/<key>``       optimizer state arrays, parameter i in the optimizer's order
    ``extra/<name>``          any other arrays the caller saves (e.g. a carried hidden state)

Loading is one validation pass that builds a complete *plan* (every array read, cast to the
model's dtype and checked), then one commit step that only assigns; so a refused file leaves
the model and the optimizer exactly as they were. The pass never trusts the file: the zip
directory and each ``.npy`` header are checked against the shapes the model expects and
against a size bound *before* any member is inflated, only plain numeric arrays are read
(never pickles: a file cannot run code), and every zip, zlib or format error becomes
``CheckpointError``. The archive reader (``_Archive``) is at the bottom of this file.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import socket
import threading
import zipfile
from contextlib import contextmanager

import numpy as np

from ._version import __version__
from .errors import CheckpointError  # re-exported: tinyrnn.checkpoint.CheckpointError
from .module import Module

FORMAT = 1
META_KEY = "__tinyrnn__"
HEADER_LIMIT = 64 * 2 ** 20          # bytes: the JSON header member
EXTRA_LIMIT = 64 * 2 ** 20           # bytes allowed beyond what the model and optimizer can need
STALE_SECONDS = 600                  # a temporary file untouched this long is debris
_MAX_NPY_HEADER = 10_000



# =========================================================================== save
def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def save(path, model: Module, optimizer=None, meta: dict | None = None, extra: dict | None = None) -> None:
    """Write ``model`` (and ``optimizer``'s state, ``meta`` and the ``extra`` arrays) to ``path``
    atomically: everything is checked first, then written to a temporary file in the same folder
    (named after this process), fsynced and ``os.replace``d. The temporary file is removed on any
    exception and on SIGTERM/SIGHUP; stale ones left by killed processes are removed here too.
    The file gets the usual permissions (0666 minus the umask). A model or optimizer holding
    NaN/inf is refused (it could not be loaded back) and the old file stays."""
    arrays = _arrays_to_save(model, optimizer, meta, extra)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CheckpointError(f"cannot save checkpoint {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise CheckpointError(f"cannot save checkpoint {path}: it is a directory; give a file name")
    _remove_stale_temporaries(folder)
    try:
        _write_atomically(path, folder, arrays)
    except OSError as e:
        raise CheckpointError(f"cannot save checkpoint {path}: {e.strerror or e}") from None


def _arrays_to_save(model, optimizer, meta, extra) -> dict:
    """Every member of the archive, checked (finite parameters, numeric extras, JSON meta)."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a tinyrnn Module, got {type(model).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of name -> array, got {type(extra).__name__}")
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"extra keys must be non-empty strings, got {k!r}")
        v = np.asarray(v)
        if v.dtype.kind not in "fiub":
            raise TypeError(f"extra[{k!r}] must be a numeric array, got dtype {v.dtype}")
        arrays[f"extra/{k}"] = v
    header = {"format": FORMAT, "class": type(model).__name__, "config": model.config,
              "meta": meta or {}, "versions": {"tinyrnn": __version__, "numpy": np.__version__}}
    if optimizer is not None:
        sd = optimizer.state_dict()
        keys = []
        for i, st in enumerate(sd["state"]):
            for k, v in st.items():
                arrays[f"optim/{i}/{k}"] = v
                keys.append([i, k])
        header["optimizer"] = {"type": sd["type"], "defaults": sd["defaults"], "step": sd["step"],
                               "n_params": len(sd["state"]), "state_keys": keys}
    nonfinite = [k for k, v in arrays.items() if not k.startswith("extra/") and not np.isfinite(v).all()]
    if nonfinite:
        raise ValueError(f"cannot save a checkpoint holding NaN or inf (in {', '.join(nonfinite)}): "
                         "the training diverged; the previous file, if any, is unchanged")
    try:
        text = json.dumps(_jsonable(header))
    except (TypeError, ValueError) as e:
        raise TypeError(f"meta must hold only JSON values (numbers, strings, lists, dicts): {e}") from None
    arrays[META_KEY] = np.array(text)
    return arrays


_HOST = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:32]
_TEMP = re.compile(r"^\.tmp-(\d+)\.([A-Za-z0-9-]*)\.[0-9a-f]+\.npz$")   # .tmp-<pid>.<host>.<random>.npz
_LEGACY_TEMP = re.compile(r"^\.tmp-[A-Za-z0-9_]{8}\.npz$")               # tempfile.mkstemp, tinyrnn <= 0.1.0


def _write_atomically(path: str, folder: str, arrays: dict) -> None:
    tmp = os.path.join(folder, f".tmp-{os.getpid()}.{_HOST}.{secrets.token_hex(6)}.npz")
    done = False
    with _signals_raise():
        try:
            # O_EXCL: never another file; mode 0o666: the kernel applies the umask.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            done = True
        finally:
            if not done:
                _unlink_quietly(tmp)
    _fsync_folder(folder)


class _Terminated(BaseException):
    """Raised by the temporary handler of a terminating signal, so cleanup runs."""


@contextmanager
def _signals_raise():
    """While a save runs in the main thread, SIGTERM and SIGHUP (when they have their default,
    killing action) raise instead, so the temporary file is removed; then the signal is sent
    again with its default action, and the process ends as it was asked to. Handlers the
    program installed itself are left alone."""
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []

    def handler(signum, frame):
        caught.append(signum)
        raise _Terminated(signum)

    previous = {}
    try:
        for n in names:
            s = getattr(signal, n)
            if signal.getsignal(s) == signal.SIG_DFL:
                previous[s] = signal.signal(s, handler)
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if caught:
            os.kill(os.getpid(), caught[0])


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_folder(folder: str) -> None:
    """Make the rename durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True          # exists but is not ours, or cannot tell: keep its file
    return True


def _remove_stale_temporaries(folder: str) -> None:
    """Remove the temporary files of saves that cannot finish: their writer (this host) is
    dead, or they have not been touched for STALE_SECONDS. A live writer's file is kept."""
    import time

    now = time.time()
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".tmp-") and e.name.endswith(".npz")]
    except OSError:
        return
    for e in entries:
        m = _TEMP.match(e.name)
        if not m and not _LEGACY_TEMP.match(e.name):
            continue
        try:
            old = now - e.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
        except OSError:
            continue
        dead = bool(m) and m.group(2) == _HOST and int(m.group(1)) != os.getpid() \
            and not _pid_alive(int(m.group(1)))
        if (old or dead) and e.is_file(follow_symlinks=False):
            _unlink_quietly(e.path)


# =========================================================================== load
def read_header(path, max_bytes: int | None = None) -> dict:
    """The JSON header of a checkpoint (class, config, meta, versions), checked, without the
    model: only the header member is read (at most ``max_bytes``, default 64 MiB)."""
    with _Archive(path) as ar:
        return _check_header(ar.read_header(max_bytes or HEADER_LIMIT), ar)


def load(path, model: Module, optimizer=None, max_bytes: int | None = None) -> dict:
    """Load ``path`` into ``model`` (and ``optimizer``); returns the header (meta under "meta",
    the extra arrays under "extra").

    Everything is checked before anything is changed: the header's schema, the model class
    and its construction config (all but ``dtype`` and ``dropout``; every difference listed),
    parameter names, shapes and dtypes, values finite after the cast to the model's dtype,
    and the optimizer's type, hyper-parameters (the constructor's rules), step and state.
    The arrays may declare at most ``max_bytes`` in all (default: what this model and
    optimizer can need in float64, plus 64 MiB), checked before anything is inflated.
    On any failure: ``CheckpointError``, and the model and optimizer are unchanged.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a tinyrnn Module, got {type(model).__name__}")
    if optimizer is not None and not hasattr(optimizer, "_plan_load"):
        raise TypeError(f"optimizer must be a tinyrnn optimizer, got {type(optimizer).__name__}")
    if max_bytes is None:
        slots = 1 + (len(optimizer.state_keys) if optimizer is not None else 0)
        max_bytes = 8 * model.num_parameters() * slots + EXTRA_LIMIT
    with _Archive(path, max_file_bytes=max_bytes + HEADER_LIMIT) as ar:
        header = _check_header(ar.read_header(HEADER_LIMIT), ar)
        _check_class_and_config(header, model, ar.path)
        model_plan, opt_plan, extra = _plan(ar, header, model, optimizer, max_bytes)
    # ---- commit: assignments only, nothing here can fail
    for p, arr in model_plan:
        p.data[...] = arr
    if opt_plan is not None:
        optimizer._commit(opt_plan)
    header["extra"] = extra
    return header


def _plan(ar, header, model, optimizer, max_bytes):
    """Read and check every array that will be used -> (model plan, optimizer plan, extras)."""
    path = ar.path
    groups = {"model": {}, "optim": {}, "extra": {}}
    for name in ar.members:
        if name != META_KEY:
            kind, _, rest = name.partition("/")
            groups[kind][rest] = name
    opt = header.get("optimizer")
    if optimizer is not None and opt is None:
        raise CheckpointError(f"checkpoint {path} holds no optimizer state (saved without an optimizer)")
    wanted = dict(groups["model"])
    wanted.update({f"extra/{k}": v for k, v in groups["extra"].items()})
    if optimizer is not None:
        wanted.update({f"optim/{k}": v for k, v in groups["optim"].items()})
    # 1. declared dtypes and shapes, from the .npy headers only; bounded total size
    declared = {key: ar.declared(member) for key, member in wanted.items()}
    total = sum(d[2] for d in declared.values())
    if total > max_bytes:
        raise CheckpointError(f"checkpoint {path} declares {total / 2**20:.1f} MiB of arrays, more than the "
                              f"{max_bytes / 2**20:.1f} MiB this model can need; refused before reading "
                              "(pass max_bytes= to load() if the file is trusted)")
    try:
        model._check_entries({k: declared[k][:2] for k in groups["model"]}, strict=True)
        if optimizer is not None:
            _check_optimizer_header(opt, optimizer)
            for key in groups["optim"]:
                i, k = key.split("/", 1)
                optimizer._check_state_entry(int(i), k, *declared[f"optim/{key}"][:2])
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model: {e}") from None
    # 2. the values: read, cast and checked
    arrays = {key: ar.read_array(member, declared[key]) for key, member in wanted.items()}
    try:
        model_plan, _ = model._plan_load({k: arrays[k] for k in groups["model"]}, strict=True)
        opt_plan = None
        if optimizer is not None:
            state = [dict() for _ in range(len(optimizer.params))]     # n_params checked above
            for i, k in opt["state_keys"]:
                state[i][k] = arrays[f"optim/{i}/{k}"]
            opt_plan = optimizer._plan_load({"type": opt["type"], "defaults": opt["defaults"],
                                             "step": opt["step"], "state": state})
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model: {e}") from None
    extra = {k: np.array(arrays[f"extra/{k}"]) for k in groups["extra"]}    # writable copies
    return model_plan, opt_plan, extra


def _check_optimizer_header(opt, optimizer) -> None:
    if opt["type"] != type(optimizer).__name__:
        raise ValueError(f"optimizer state is for {opt['type']}, not {type(optimizer).__name__}")
    if opt["n_params"] != len(optimizer.params):
        raise ValueError(f"optimizer state has {opt['n_params']} parameters, this optimizer has "
                         f"{len(optimizer.params)}")


# --------------------------------------------------------------------------- header schema
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_header(h, ar) -> dict:
    """The header's schema: types, ranges and counts of every field, and that the optimizer's
    ``state_keys`` name exactly the ``optim/`` members."""
    path = ar.path

    def need(ok, what):
        if not ok:
            raise CheckpointError(f"checkpoint {path} has a malformed header: {what}")

    need(isinstance(h, dict), f"expected a JSON object, got a JSON {type(h).__name__}")
    fmt = h.get("format")
    if fmt != FORMAT or not _is_int(fmt):
        raise CheckpointError(f"checkpoint {path} has format {fmt!r}, this tinyrnn reads {FORMAT}")
    need(isinstance(h.get("class"), str), f"class must be a string, got {h.get('class')!r}")
    need(isinstance(h.get("config"), dict), "config must be an object")
    h.setdefault("meta", {})
    need(isinstance(h["meta"], dict), "meta must be an object")
    need(isinstance(h.get("versions", {}), dict), "versions must be an object")
    optim_members = {m[len("optim/"):] for m in ar.members if m.startswith("optim/")}
    opt = h.get("optimizer")
    if opt is None:
        need(not optim_members, "optim/ arrays without an optimizer entry")
        return h
    need(isinstance(opt, dict), f"optimizer must be an object, got {opt!r}")
    need(isinstance(opt.get("type"), str), f"optimizer.type must be a string, got {opt.get('type')!r}")
    need(isinstance(opt.get("defaults"), dict), f"optimizer.defaults must be an object, got {opt.get('defaults')!r}")
    need(_is_int(opt.get("step")) and opt["step"] >= 0, f"optimizer.step must be an int >= 0, got {opt.get('step')!r}")
    n = opt.get("n_params")
    need(_is_int(n) and 0 <= n <= len(ar.members), f"optimizer.n_params must be an int in "
         f"[0, {len(ar.members)}], got {n!r}")
    keys = opt.get("state_keys")
    need(isinstance(keys, list), f"optimizer.state_keys must be a list, got {type(keys).__name__}")
    seen = set()
    for entry in keys:
        need(isinstance(entry, list) and len(entry) == 2 and _is_int(entry[0]) and 0 <= entry[0] < n
             and isinstance(entry[1], str) and "/" not in entry[1],
             f"optimizer.state_keys entries must be [index < n_params, name], got {entry!r}")
        key = f"{entry[0]}/{entry[1]}"
        need(key not in seen, f"optimizer.state_keys lists {entry!r} twice")
        seen.add(key)
    need(seen == optim_members, "optimizer.state_keys does not match the optim/ arrays "
         f"(missing arrays: {sorted(seen - optim_members)}, unlisted arrays: {sorted(optim_members - seen)})")
    return h


# Construction arguments that do not change what the parameters mean: arrays are cast to the
# model's dtype, and dropout acts only in training.
_FREE_CONFIG = ("dtype", "dropout")


def _check_class_and_config(header, model, path) -> None:
    if header["class"] != type(model).__name__:
        raise CheckpointError(f"checkpoint {path} holds a {header['class']}, not a {type(model).__name__}")
    mine, theirs = _jsonable(model.config), header["config"]
    diffs = [f"{k}: file {theirs[k]!r}, model {mine[k]!r}" if k in mine else
             f"{k}: file {theirs[k]!r}, model has no such argument"
             for k in theirs if k not in _FREE_CONFIG and theirs[k] != mine.get(k, _Missing)]
    # A key the file lacks was written by an older tinyrnn: its shapes are still checked.
    if diffs:
        raise CheckpointError(f"checkpoint {path} was saved from a {header['class']} built differently: "
                              + "; ".join(diffs) + " (build the model with the file's config: "
                              "read_header(path)['config'])")


class _Missing:
    """Sentinel: a config key absent from the model."""


# --------------------------------------------------------------------------- the archive
_DATA_KINDS = "biuf"


class _Archive:
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
            raise CheckpointError(f"checkpoint {path} does not exist" if not os.path.exists(path)
                                  else f"checkpoint {path} is not a regular file")
        with self._reading("cannot be read"):
            with open(path, "rb") as fh:
                magic = fh.read(4)
            size = os.path.getsize(path)
        if magic != b"PK\x03\x04":
            what = "an empty file" if not magic else "a single .npy array" if magic.startswith(b"\x93NUM") \
                else "not a .npz (zip) archive"
            raise CheckpointError(f"checkpoint {path} is not a tinyrnn checkpoint: {what}")
        if self._max_file_bytes is not None and size > self._max_file_bytes + 2 ** 20:
            raise CheckpointError(f"checkpoint {path} is {size / 2**20:.1f} MiB, more than this model can need "
                                  f"({self._max_file_bytes / 2**20:.1f} MiB); refused "
                                  "(pass max_bytes= to load() if the file is trusted)")
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
        # Only zipfile / numpy.lib.format / I/O calls on the untrusted bytes run in here, so any
        # error they raise means a damaged or hostile file (zlib.error, BadZipFile, EOFError,
        # NotImplementedError for an unknown compression, ValueError from a bad .npy header, ...).
        try:
            yield
        except CheckpointError:
            raise
        except Exception as e:  # noqa: BLE001 - see above
            raise CheckpointError(f"checkpoint {self.path} {what} ({type(e).__name__}: {e})") from None

    def _index(self) -> None:
        """members: stripped name -> ZipInfo, after checking what the zip directory says."""
        for info in self._zip.infolist():
            name = info.filename
            bad = ("is encrypted" if info.flag_bits & 0x1 else
                   f"uses compression method {info.compress_type}, not stored or deflate"
                   if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) else
                   "is not a .npy array" if not name.endswith(".npy") else None)
            if bad:
                raise CheckpointError(f"checkpoint {self.path} is not a tinyrnn checkpoint: member {name!r} {bad}")
            key = name[:-len(".npy")]
            if key in self.members:
                raise CheckpointError(f"checkpoint {self.path} is corrupt: member {name!r} appears twice")
            kind = key.partition("/")[0]
            ok = key == META_KEY or (kind in ("model", "extra") and "/" in key and key[len(kind) + 1:]) or \
                (kind == "optim" and re.fullmatch(r"optim/\d{1,9}/[^/]+", key))
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
            raise CheckpointError(f"{where} is corrupt: its header declares {shape} {dtype} ({nbytes} bytes) "
                                  f"but the member holds {info.file_size - offset} bytes")
        return tuple(shape), dtype, nbytes, offset, fortran

    def read_array(self, key: str, declared: tuple) -> np.ndarray:
        """The member's values, as declared (a read-only array over the inflated bytes)."""
        shape, dtype, nbytes, offset, fortran = declared
        info = self.members[key]
        with self._reading(f"is corrupt or truncated in member {info.filename!r}"):
            with self._zip.open(info) as fh:
                fh.read(offset)
                data = fh.read(nbytes)
                if len(data) != nbytes or fh.read(1):    # reading to the end also checks the CRC
                    raise EOFError(f"expected {nbytes} bytes of data, got {len(data)}")
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")

    def read_header(self, limit: int) -> dict:
        declared = self.declared(META_KEY)
        if declared[2] > limit:
            raise CheckpointError(f"checkpoint {self.path} has a {declared[2] / 2**20:.1f} MiB header, more than "
                                  f"the {limit / 2**20:.0f} MiB allowed; refused")
        if declared[0] != ():
            raise CheckpointError(f"checkpoint {self.path} has a malformed header: not a single string")
        text = str(self.read_array(META_KEY, declared)[()])
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as e:
            raise CheckpointError(f"checkpoint {self.path} has a corrupt header ({type(e).__name__}: {e})") from None
