"""Checkpoints: one ``.npz`` file holding arrays and one JSON string, written atomically.

Layout inside the archive:
    ``__tinyrnn__``           0-d unicode array: JSON {format, class, config, meta, versions,
                              optimizer: {type, defaults, step, state_keys}}
    ``model/<name>``          every parameter under its state_dict name
    ``optim/<i>/<key>``       optimizer state arrays, parameter i in ``model.parameters()`` order
    ``extra/<name>``          any other arrays the caller saves (e.g. a carried hidden state)

Loading uses ``allow_pickle=False``, so a file can never run code.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from . import __version__
from .module import Module

FORMAT = 1
META_KEY = "__tinyrnn__"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, truncated, or does not fit the model."""


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
    atomically: a temporary file in the same folder, fsynced, then ``os.replace``."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a tinyrnn Module, got {type(model).__name__}")
    path = os.fspath(path)
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
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
    try:
        text = json.dumps(_jsonable(header))
    except TypeError as e:
        raise TypeError(f"meta must hold only JSON values (numbers, strings, lists, dicts): {e}") from None
    arrays[META_KEY] = np.array(text)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CheckpointError(f"cannot save checkpoint: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _open(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path} does not exist")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        what = "an empty file" if not magic else "a single .npy array" if magic.startswith(b"\x93NUM") \
            else "not a .npz (zip) archive"
        raise CheckpointError(f"checkpoint {path} is not a tinyrnn checkpoint: {what}")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is not a readable .npz file ({e})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise CheckpointError(f"checkpoint {path} is a single array, not a tinyrnn .npz archive")
    return data


def _read_all(data, path) -> dict:
    try:
        return {k: data[k] for k in data.files}
    except ValueError as e:   # object arrays refused by allow_pickle=False
        raise CheckpointError(f"checkpoint {path} holds a pickled object array, refused ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({e})") from None


def read_header(path) -> dict:
    """The JSON header of a checkpoint (class, config, meta, versions), without the model."""
    with _open(path) as data:
        arrays = _read_all(data, path)
    return _header(arrays, path)


def _header(arrays, path) -> dict:
    if META_KEY not in arrays:
        raise CheckpointError(f"{path} is not a tinyrnn checkpoint (no {META_KEY} entry)")
    try:
        header = json.loads(str(arrays[META_KEY]))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint {path} has a corrupt header ({e})") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} has format {header.get('format')}, this tinyrnn reads {FORMAT}")
    return header


def load(path, model: Module, optimizer=None) -> dict:
    """Load ``path`` into ``model`` (and ``optimizer``); returns the header (meta under "meta",
    the extra arrays under "extra").

    Everything is checked before anything is changed: the model class, the parameter names
    and shapes, and the optimizer's type and state.
    """
    with _open(path) as data:
        arrays = _read_all(data, path)
    header = _header(arrays, path)
    if header.get("class") != type(model).__name__:
        raise CheckpointError(f"checkpoint {path} holds a {header.get('class')}, not a {type(model).__name__}")
    params = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    backup = model.state_dict()
    try:
        model.load_state_dict(params, strict=True)
    except ValueError as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model: {e}") from None
    if optimizer is not None:
        opt = header.get("optimizer")
        try:
            if opt is None:
                raise ValueError("the checkpoint holds no optimizer state")
            state = [dict() for _ in range(int(opt["n_params"]))]
            for i, k in opt["state_keys"]:
                state[i][k] = arrays[f"optim/{i}/{k}"]
            optimizer.load_state_dict({"type": opt["type"], "defaults": opt["defaults"],
                                       "step": opt["step"], "state": state})
        except (ValueError, KeyError) as e:
            model.load_state_dict(backup)
            raise CheckpointError(f"checkpoint {path}: optimizer state does not fit ({e})") from None
    header["extra"] = {k[len("extra/"):]: v for k, v in arrays.items() if k.startswith("extra/")}
    return header
