"""Parameter and Module: named arrays with gradients, state_dict, train/eval, dtype.

Attribute names are the state_dict keys (``rnn.weight_ih_l0``), exactly as in PyTorch,
so a state_dict moves between the two libraries unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ._check import check_dtype_arg, shape_str, to_numpy
from .errors import InputError, NonFiniteError


class Parameter:
    """A trainable array: ``.data`` holds the values, ``.grad`` accumulates with ``+=``."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={shape_str(self.data.shape)}, dtype={self.data.dtype})"


def prefixed(prefix: str, shapes):
    """``param_shapes`` of a sub-module, under its attribute name."""
    for name, shape in shapes:
        yield prefix + name, shape


@contextmanager
def evaluation(model: Module):
    """``model`` in evaluation mode inside the block (no dropout, zoneout's expectation), its
    training mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class Module:
    """Base class: registers Parameters and sub-Modules assigned as attributes.

    Subclasses store their constructor arguments in ``self.config`` (a dict of plain
    values) so that a checkpoint can describe, and rebuild, the model.
    """

    _params: dict[str, Parameter]
    _modules: dict[str, Module]
    training: bool
    dtype: np.dtype
    config: dict

    def __init__(self, dtype=np.float32):
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "dtype", check_dtype_arg(dtype))
        object.__setattr__(self, "config", {})

    def __setattr__(self, name, value):
        params = self.__dict__.get("_params")
        if params is None:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        params.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    @classmethod
    def param_shapes(cls, config: dict):
        """(name, shape) of every parameter of ``cls(**config)``, without allocating anything;
        layers and the bundled models define it, so a checkpoint's header can be checked
        against its arrays before a model is built. Raises ValueError/TypeError for a config
        that the constructor would refuse."""
        raise NotImplementedError(f"{cls.__name__} does not declare its parameter shapes")

    # ----------------------------------------------------------------- parameters
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._params.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix.rstrip("."), self
        for name, m in self._modules.items():
            yield from m.named_modules(prefix + name + ".")

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad.fill(0)

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())

    # ----------------------------------------------------------------- modes, dtype
    def train(self, mode: bool = True) -> Module:
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, dtype) -> Module:
        """Convert every parameter (values and gradients) to ``dtype`` in place; returns self."""
        dt = check_dtype_arg(dtype)
        for _, m in self.named_modules():
            object.__setattr__(m, "dtype", dt)
            if "dtype" in m.config:
                m.config["dtype"] = dt.name
        for p in self.parameters():
            p.data = p.data.astype(dt)
            p.grad = p.grad.astype(dt)
        return self

    # ----------------------------------------------------------------- state_dict
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter under its PyTorch name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict, strict: bool = True) -> dict[str, list[str]]:
        """Copy arrays (or torch tensors) into the parameters, cast to this module's dtype.

        Everything is checked before anything is assigned: with ``strict=True`` any missing
        key, unexpected key, shape mismatch, non-numeric dtype or value that is NaN/inf after
        the cast is an error listing all of them, and nothing is changed. Returns
        ``{"missing_keys": [...], "unexpected_keys": [...]}``.
        """
        plan, report = self._plan_load(state_dict, strict)
        for p, arr in plan:
            p.data[...] = arr
        return report

    def _check_entries(self, declared: dict, strict: bool = True) -> dict[str, list[str]]:
        """Check names, shapes and dtypes ``{name: (shape, dtype)}`` against the parameters,
        without any values (a checkpoint calls it before reading the arrays)."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in declared]
        unexpected = [k for k in declared if k not in own]
        mismatched = [
            f"{k}: expected {shape_str(own[k].shape)}, got {shape_str(declared[k][0])}"
            for k in own
            if k in declared and tuple(declared[k][0]) != own[k].shape
        ]
        bad_dtype = [
            f"{k}: dtype {declared[k][1]}" for k in own if k in declared and np.dtype(declared[k][1]).kind not in "fiu"
        ]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if bad_dtype:
            problems.append("non-numeric arrays: " + "; ".join(bad_dtype))
        if problems:
            raise InputError(f"load_state_dict into {type(self).__name__} failed: " + " | ".join(problems))
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    def _plan_load(self, state_dict, strict: bool = True):
        """Check a state_dict completely -> ([(parameter, array cast to its dtype)], report)."""
        if not hasattr(state_dict, "items"):
            raise TypeError(f"state_dict must be a mapping of name -> array, got {type(state_dict).__name__}")
        incoming = {str(k): to_numpy(v) for k, v in state_dict.items()}
        report = self._check_entries({k: (v.shape, v.dtype) for k, v in incoming.items()}, strict)
        plan, nonfinite = [], []
        for k, p in self.named_parameters():
            if k in incoming:
                with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
                    arr = np.array(incoming[k], dtype=p.data.dtype)  # a copy: the cast happens here
                if not np.isfinite(arr).all():
                    nonfinite.append(k)
                plan.append((p, arr))
        if nonfinite:
            raise NonFiniteError(
                f"load_state_dict into {type(self).__name__} failed: NaN or inf in "
                f"{', '.join(nonfinite)} (after the cast to {self.dtype})"
            )
        return plan, report

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "dtype")
        return f"{type(self).__name__}({args})"


class ModuleDict(Module):
    """Several named Modules as one: ``ModuleDict({"rnn": rnn, "head": head})``. Each is an
    attribute, so the state_dict keys are ``rnn.weight_ih_l0``, ``head.weight``, ... and a
    checkpoint saves and loads them together (``tinyrnn.save(path, {"rnn": rnn, "head": head},
    opt)`` wraps the dict in one). The config records each module's class and config."""

    def __init__(self, modules: dict):
        if not isinstance(modules, dict) or not modules:
            raise TypeError("modules must be a non-empty dict of name -> Module")
        for name, m in modules.items():
            if (
                not isinstance(name, str)
                or not name.isidentifier()
                or hasattr(Module, name)
                or name in ("config", "training", "dtype")
            ):
                raise InputError(
                    f"module names must be identifiers that are not Module attributes (they "
                    f"become state_dict prefixes), got {name!r}"
                )
            if not isinstance(m, Module):
                raise TypeError(f"modules[{name!r}] must be a tinyrnn Module, got {type(m).__name__}")
        super().__init__(next(iter(modules.values())).dtype)
        for name, m in modules.items():
            setattr(self, name, m)
        self.config = {name: {"class": type(m).__name__, "config": m.config} for name, m in modules.items()}
