"""The buffer pool's switch (nn/buffers.py): on by default on CPython, off with
TINYRNN_NO_POOL=1 (read at import), where every array is allocated afresh and the results are
the same. And the package's face: the version in one place, ``tinyrnn.reference`` exported."""

import json
import os
import subprocess
import sys

import numpy as np

import tinyrnn
from tinyrnn.nn import buffers

CHILD = """
import json, sys
import numpy as np
import tinyrnn as tr
from tinyrnn.nn import buffers
rng = np.random.default_rng(0)
layer = tr.LSTM(16, 64, rng=rng)
x = rng.standard_normal((20, 32, 16)).astype(np.float32)
outs = []
for _ in range(3):
    y, _, cache = layer.forward(x)
    dx, _ = layer.backward(np.ones_like(y), cache)
    outs.append([float(y.sum()), float(dx.sum())])
print(json.dumps(dict(enabled=buffers.ENABLED, pooled=len(layer._buffers), outs=outs)))
"""


def _child(**env):
    p = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env},
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_the_pool_is_on_on_cpython_and_off_with_the_switch():
    on = _child(TINYRNN_NO_POOL="")
    off = _child(TINYRNN_NO_POOL="1")
    assert on["enabled"] is (sys.implementation.name == "cpython") and off["enabled"] is False
    assert on["pooled"] > 0 and off["pooled"] == 0
    assert on["outs"] == off["outs"]  # the same numbers, bit for bit


def test_scope_allocates_afresh_when_disabled(monkeypatch):
    monkeypatch.setattr(buffers, "ENABLED", False)
    pool = buffers.BufferPool()
    scope = pool.scope("x/", np.float32)
    a = scope("h", (256, 256))
    del a
    assert scope.pool is None and len(pool) == 0


def test_version_in_one_place_and_reference_exported():
    from tinyrnn import _version

    assert tinyrnn.__version__ == _version.__version__
    assert "reference" in tinyrnn.__all__ and tinyrnn.reference.rnn_step
    src = open(tinyrnn.checkpoint.__file__, encoding="utf-8").read()
    assert "from . import __version__" not in src and "from ._version import __version__" in src
