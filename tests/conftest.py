import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _torch_or_skip():
    try:
        import torch
    except ImportError:
        if os.environ.get("TINYRNN_REQUIRE_TORCH") == "1":
            raise
        pytest.skip("torch not installed (set TINYRNN_REQUIRE_TORCH=1 to make this an error)")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def torch():
    return _torch_or_skip()


@pytest.fixture(autouse=True)
def _reuse_every_array(monkeypatch):
    """Layers reuse (nn/buffers.py) only arrays above MIN_BYTES; test sizes are small, so every
    test runs with all arrays reused, and every gradient and parity check covers the reuse."""
    from tinyrnn.nn import buffers
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)


def pytest_collection_modifyitems(items):
    """Every test that takes the ``torch`` fixture is marked ``torch``, so ``-m "not torch"``
    selects exactly the tests that run without PyTorch (the torch-free CI leg)."""
    for item in items:
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
