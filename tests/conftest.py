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


# The library's own tests: NumPy and pytest only, no command, no optional extra. `-m core`
# runs them (a few minutes on 2 cores); `-m "core and not torch"` is the torch-free CI leg.
CORE_FILES = {
    "test_attention.py",
    "test_bad_input.py",
    "test_buffers.py",
    "test_cells.py",
    "test_checkpoint.py",
    "test_checkpoint_crafted.py",
    "test_checkpoint_save.py",
    "test_gradcheck_gated.py",
    "test_gradcheck_layers.py",
    "test_gradcheck_models.py",
    "test_gradcheck_rnn.py",
    "test_lengths.py",
    "test_library_edges.py",
    "test_module.py",
    "test_reference.py",
    "test_torch_parity.py",
    "test_torch_parity_gated.py",
    "test_states.py",
    "test_regularised_reference.py",
    "test_regularised_layers.py",
    "test_min_char_rnn.py",
}


def pytest_ignore_collect(collection_path, config):
    """Under ``-m "core ..."`` the other test files are not even imported: they may need an
    extra (hypothesis, selenium, dask, matplotlib) that the torch-free leg does not install."""
    if (
        config.getoption("markexpr", "").startswith("core")
        and collection_path.suffix == ".py"
        and collection_path.name.startswith("test_")
        and collection_path.name not in CORE_FILES
    ):
        return True
    return None


def pytest_collection_modifyitems(items):
    """Mark each test ``core`` (its file is in CORE_FILES) and ``torch`` (it takes the
    ``torch`` fixture), so that ``-m`` selects the fast subset and the torch-free one."""
    for item in items:
        if item.path.name in CORE_FILES:
            item.add_marker(pytest.mark.core)
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
