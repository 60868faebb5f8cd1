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
