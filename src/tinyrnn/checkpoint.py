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
against a size bound *before* any member is inflated (the reader is ``_archive.Archive``).
A program that builds its model from a header's config calls ``check_config`` first: the
config is compared with the shapes the archive declares before anything is allocated.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ._archive import META_KEY, Archive
from ._version import __version__
from .errors import CheckpointError, InputError, NonFiniteError, UsageError
from .module import Module, ModuleDict
from .paths import STALE_SECONDS, atomic_write

__all__ = [
    "save",
    "load",
    "read_header",
    "check_config",
    "check_meta",
    "read_for",
    "CheckpointError",
    "FORMAT",
    "STALE_SECONDS",
]

FORMAT = 1
HEADER_LIMIT = 64 * 2**20  # bytes: the JSON header member
EXTRA_LIMIT = 64 * 2**20  # bytes allowed beyond what the model and optimizer can need


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


def save(path, model, optimizer=None, meta: dict | None = None, extra: dict | None = None) -> None:
    """Write ``model`` (and ``optimizer``'s state, ``meta`` and the ``extra`` arrays) to ``path``
    atomically (``paths.atomic_write``: a locked temporary file in the same folder, fsynced and
    ``os.replace``d; removed on any exception and on SIGTERM/SIGHUP). The file gets the usual
    permissions (0666 minus the umask).

    ``model`` is a Module, or a dict of named Modules (``{"rnn": rnn, "head": head}``) saved
    together; an optimizer that trains a parameter outside them is refused (the file would lose
    part of the model). A target that is not a regular file is refused, and so is a model or
    optimizer holding NaN/inf (it could not be loaded back); the old file then stays."""
    model = as_module(model)
    arrays = _arrays_to_save(model, optimizer, meta, extra)
    path = os.fspath(path)
    try:
        atomic_write(path, lambda fh: np.savez(fh, **arrays), "checkpoint")
    except UsageError as e:
        raise CheckpointError(str(e)) from None
    except OSError as e:
        raise CheckpointError(e.strerror or str(e)) from None


def as_module(model) -> Module:
    """A Module, or a dict of named Modules wrapped in one ``ModuleDict``."""
    if isinstance(model, dict):
        return ModuleDict(model)
    if not isinstance(model, Module):
        raise TypeError(f"model must be a tinyrnn Module or a dict of named Modules, got {type(model).__name__}")
    return model


def _check_optimizer_covered(model: Module, optimizer, verb: str) -> None:
    """Every parameter the optimizer trains is in ``model``, or the model is not whole."""
    if optimizer is None or not hasattr(optimizer, "params"):
        return
    own = {id(p) for p in model.parameters()}
    outside = sum(id(p) not in own for p in optimizer.params)
    if outside:
        raise InputError(
            f"cannot {verb} a model of {len(own)} parameters with an optimizer of "
            f"{len(optimizer.params)}: {outside} of the optimizer's parameters are not in the model, "
            f"so part of the model would be lost; pass every module the optimizer trains, as a dict "
            "({'rnn': rnn, 'head': head}) or one Module subclass holding them (docs/api.md)"
        )


def _arrays_to_save(model, optimizer, meta, extra) -> dict:
    """Every member of the archive, checked (finite parameters, numeric extras, JSON meta)."""
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of name -> array, got {type(extra).__name__}")
    _check_optimizer_covered(model, optimizer, "save")
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"extra keys must be non-empty strings, got {k!r}")
        v = np.asarray(v)
        if v.dtype.kind not in "fiub":
            raise TypeError(f"extra[{k!r}] must be a numeric array, got dtype {v.dtype}")
        arrays[f"extra/{k}"] = v
    header = {
        "format": FORMAT,
        "class": type(model).__name__,
        "config": model.config,
        "meta": meta or {},
        "versions": {"tinyrnn": __version__, "numpy": np.__version__},
    }
    if optimizer is not None:
        sd = optimizer.state_dict()
        keys = []
        for i, st in enumerate(sd["state"]):
            for k, v in st.items():
                arrays[f"optim/{i}/{k}"] = v
                keys.append([i, k])
        header["optimizer"] = {
            "type": sd["type"],
            "defaults": sd["defaults"],
            "step": sd["step"],
            "n_params": len(sd["state"]),
            "state_keys": keys,
        }
    nonfinite = [k for k, v in arrays.items() if not k.startswith("extra/") and not np.isfinite(v).all()]
    if nonfinite:
        raise NonFiniteError(
            f"cannot save a checkpoint holding NaN or inf (in {', '.join(nonfinite)}): "
            "the training diverged; the previous file, if any, is unchanged"
        )
    try:
        text = json.dumps(_jsonable(header))
    except (TypeError, ValueError) as e:
        raise TypeError(f"meta must hold only JSON values (numbers, strings, lists, dicts): {e}") from None
    arrays[META_KEY] = np.array(text)
    return arrays


# =========================================================================== load
def read_header(path, max_bytes: int | None = None) -> dict:
    """The JSON header of a checkpoint (class, config, meta, versions), checked, without the
    model: only the header member is read (at most ``max_bytes``, default 64 MiB)."""
    with Archive(path) as ar:
        return _check_header(ar.read_header(max_bytes or HEADER_LIMIT), ar)


def load(path, model, optimizer=None, max_bytes: int | None = None) -> dict:
    """Load ``path`` into ``model`` (and ``optimizer``); returns the header (meta under "meta",
    the extra arrays under "extra"). ``model`` is what was saved: a Module, or a dict of named
    Modules; an optimizer training a parameter outside it is refused.

    Everything is checked before anything is changed: the header's schema, the model class
    and its construction config (all but ``dtype`` and ``dropout``; every difference listed),
    parameter names, shapes and dtypes, values finite after the cast to the model's dtype,
    and the optimizer's type, hyper-parameters (the constructor's rules), step and state.
    The arrays may declare at most ``max_bytes`` in all (default: what this model and
    optimizer can need in float64, plus 64 MiB), checked before anything is inflated.
    On any failure: ``CheckpointError``, and the model and optimizer are unchanged.
    """
    model = as_module(model)
    if optimizer is not None and not hasattr(optimizer, "_plan_load"):
        raise TypeError(f"optimizer must be a tinyrnn optimizer, got {type(optimizer).__name__}")
    _check_optimizer_covered(model, optimizer, "load")
    if max_bytes is None:
        slots = 1 + (len(optimizer.state_keys) if optimizer is not None else 0)
        max_bytes = 8 * model.num_parameters() * slots + EXTRA_LIMIT
    with Archive(path, max_file_bytes=max_bytes + HEADER_LIMIT) as ar:
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
        raise CheckpointError(
            f"checkpoint {path} declares {total / 2**20:.1f} MiB of arrays, more than the "
            f"{max_bytes / 2**20:.1f} MiB this model can need; refused before reading "
            "(pass max_bytes= to load() if the file is trusted)"
        )
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
            state = [dict() for _ in range(len(optimizer.params))]  # n_params checked above
            for i, k in opt["state_keys"]:
                state[i][k] = arrays[f"optim/{i}/{k}"]
            opt_plan = optimizer._plan_load(
                {"type": opt["type"], "defaults": opt["defaults"], "step": opt["step"], "state": state}
            )
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model: {e}") from None
    extra = {k: np.array(arrays[f"extra/{k}"]) for k in groups["extra"]}  # writable copies
    return model_plan, opt_plan, extra


def _check_optimizer_header(opt, optimizer) -> None:
    if opt["type"] != type(optimizer).__name__:
        raise InputError(f"optimizer state is for {opt['type']}, not {type(optimizer).__name__}")
    if opt["n_params"] != len(optimizer.params):
        raise InputError(
            f"optimizer state has {opt['n_params']} parameters, this optimizer has {len(optimizer.params)}"
        )


def check_config(path, cls, config: dict | None = None) -> dict:
    """Check, before anything is allocated, that ``cls(**config)`` (default: the header's
    config) has exactly the parameters the archive at ``path`` declares: names and shapes from
    ``cls.param_shapes`` against the zip directory and the ``.npy`` headers. So a header whose
    config claims a huge model is refused from the header alone. Returns the header."""
    with Archive(path) as ar:
        header = _check_header(ar.read_header(HEADER_LIMIT), ar)
        if header["class"] != cls.__name__:
            raise CheckpointError(f"checkpoint {ar.path} holds a {header['class']}, not a {cls.__name__}")
        config = header["config"] if config is None else config
        declared = {m[len("model/") :]: m for m in ar.members if m.startswith("model/")}
        seen = 0
        try:
            for name, shape in cls.param_shapes(config):
                if name not in declared:
                    raise CheckpointError(
                        f"checkpoint {ar.path} does not match its config: a {cls.__name__} "
                        f"built with it has a parameter {name} {_shape(shape)} that the file "
                        "lacks; refused before building the model"
                    )
                got = ar.declared(declared[name])[0]
                if tuple(got) != tuple(shape):
                    raise CheckpointError(
                        f"checkpoint {ar.path} does not match its config: {name} is "
                        f"{_shape(got)} in the file, {_shape(shape)} for the config "
                        f"{_brief(config)}; refused before building the model"
                    )
                seen += 1
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(
                f"checkpoint {ar.path} has an unusable config for a {cls.__name__} ({type(e).__name__}: {e})"
            ) from None
        if seen != len(declared):
            raise CheckpointError(
                f"checkpoint {ar.path} does not match its config: the file has {len(declared)} "
                f"parameters, a {cls.__name__} built with it has {seen}"
            )
    return header


def read_for(path, cls, kind: str, required: dict) -> dict:
    """The header of a checkpoint that a program rebuilds a ``cls`` from, checked before
    anything is built: the class, ``meta.kind``, the ``required`` meta entries and their types
    (``check_meta``) and the config against the declared shapes (``check_config``)."""
    header = read_header(path)
    if header["class"] != cls.__name__ or header["meta"].get("kind") != kind:
        raise CheckpointError(f"{os.fspath(path)} is not a {kind} checkpoint (it holds a {header['class']})")
    check_meta(path, header["meta"], required)
    check_config(path, cls)
    return header


_TYPES = {int: "an int", float: "a number", str: "a string", dict: "an object", list: "a list", bool: "a boolean"}


def check_meta(path, meta: dict, required: dict, where: str = "meta") -> None:
    """The keys a program needs from a checkpoint's ``meta`` (``{key: type}``, ``int``, ``float``,
    ``str``, ``dict``, ``list`` or ``bool``) are present with those types (an int is a float, a
    bool is neither); else ``CheckpointError`` naming the first wrong key."""
    for key, kind in required.items():
        if key not in meta:
            raise CheckpointError(
                f"checkpoint {os.fspath(path)}: {where} has no {key!r} entry; the file was not "
                "written by this program or was altered"
            )
        v = meta[key]
        ok = (
            isinstance(v, bool)
            if kind is bool
            else not isinstance(v, bool) and isinstance(v, (int, float) if kind is float else kind)
        )
        if not ok:
            raise CheckpointError(
                f"checkpoint {os.fspath(path)}: {where}.{key} must be {_TYPES[kind]}, got "
                f"{type(v).__name__} {str(v)[:40]!r}"
            )


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def _brief(config: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in config.items() if k not in _FREE_CONFIG)


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
    optim_members = {m[len("optim/") :] for m in ar.members if m.startswith("optim/")}
    opt = h.get("optimizer")
    if opt is None:
        need(not optim_members, "optim/ arrays without an optimizer entry")
        return h
    need(isinstance(opt, dict), f"optimizer must be an object, got {opt!r}")
    need(isinstance(opt.get("type"), str), f"optimizer.type must be a string, got {opt.get('type')!r}")
    need(isinstance(opt.get("defaults"), dict), f"optimizer.defaults must be an object, got {opt.get('defaults')!r}")
    need(_is_int(opt.get("step")) and opt["step"] >= 0, f"optimizer.step must be an int >= 0, got {opt.get('step')!r}")
    n = opt.get("n_params")
    need(
        _is_int(n) and 0 <= n <= len(ar.members),
        f"optimizer.n_params must be an int in [0, {len(ar.members)}], got {n!r}",
    )
    keys = opt.get("state_keys")
    need(isinstance(keys, list), f"optimizer.state_keys must be a list, got {type(keys).__name__}")
    seen = set()
    for entry in keys:
        need(
            isinstance(entry, list)
            and len(entry) == 2
            and _is_int(entry[0])
            and 0 <= entry[0] < n
            and isinstance(entry[1], str)
            and "/" not in entry[1],
            f"optimizer.state_keys entries must be [index < n_params, name], got {entry!r}",
        )
        key = f"{entry[0]}/{entry[1]}"
        need(key not in seen, f"optimizer.state_keys lists {entry!r} twice")
        seen.add(key)
    need(
        seen == optim_members,
        "optimizer.state_keys does not match the optim/ arrays "
        f"(missing arrays: {sorted(seen - optim_members)}, unlisted arrays: {sorted(optim_members - seen)})",
    )
    return h


# Construction arguments that do not change what the parameters mean: arrays are cast to the
# model's dtype, and dropout acts only in training.
_FREE_CONFIG = ("dtype", "dropout")


def _free(config):
    """``config`` without the keys that do not change the parameters (nested ones too)."""
    if isinstance(config, dict):
        return {k: _free(v) for k, v in config.items() if k not in _FREE_CONFIG}
    return config


def _check_class_and_config(header, model, path) -> None:
    if header["class"] != type(model).__name__:
        raise CheckpointError(f"checkpoint {path} holds a {header['class']}, not a {type(model).__name__}")
    mine, theirs = _free(_jsonable(model.config)), _free(header["config"])
    diffs = [
        f"{k}: file {theirs[k]!r}, model {mine[k]!r}"
        if k in mine
        else f"{k}: file {theirs[k]!r}, the model has it off or unset"
        for k in theirs
        if theirs[k] != mine.get(k, _Missing)
    ]
    # A key the file lacks was written by an older tinyrnn: its shapes are still checked.
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} was saved from a {header['class']} built differently: "
            + "; ".join(diffs)
            + " (build the model with the file's config: "
            "read_header(path)['config'])"
        )


class _Missing:
    """Sentinel: a config key absent from the model."""
