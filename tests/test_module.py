"""Module basics: names, state_dict, strict loading, train/eval, dtype."""

import numpy as np
import pytest

import tinyrnn as tr


class Tiny(tr.Module):
    def __init__(self):
        super().__init__()
        self.embed = tr.Embedding(5, 3, rng=0)
        self.rnn = tr.RNN(3, 4, rng=0)
        self.head = tr.Linear(4, 5, rng=0)


def test_nested_names_match_torch_style():
    names = [n for n, _ in Tiny().named_parameters()]
    assert names == [
        "embed.weight",
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
        "head.weight",
        "head.bias",
    ]


def test_rnn_param_shapes_match_torch():
    r = tr.RNN(3, 4, num_layers=2, bidirectional=True)
    shapes = {n: p.shape for n, p in r.named_parameters()}
    assert shapes["weight_ih_l0"] == (4, 3)
    assert shapes["weight_ih_l1"] == (4, 8)
    assert shapes["weight_hh_l1_reverse"] == (4, 4)
    assert shapes["bias_hh_l1_reverse"] == (4,)
    assert len(shapes) == 16


def test_init_bounds():
    r = tr.RNN(3, 16, rng=0)
    for p in r.parameters():
        assert np.abs(p.data).max() <= 0.25
    assert r.weight_hh_l0.data.dtype == np.float32


def test_load_state_dict_strict_lists_everything():
    m = Tiny()
    sd = m.state_dict()
    del sd["head.bias"]
    sd["extra"] = np.zeros(2)
    sd["rnn.weight_hh_l0"] = np.zeros((3, 3))
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "missing keys: head.bias" in msg and "unexpected keys: extra" in msg
    assert "rnn.weight_hh_l0: expected (4, 4), got (3, 3)" in msg


def test_load_state_dict_non_strict():
    m = Tiny()
    res = m.load_state_dict({"head.bias": np.ones(5)}, strict=False)
    assert "embed.weight" in res["missing_keys"]
    np.testing.assert_array_equal(m.head.bias.data, 1)


def test_load_state_dict_refuses_nan_without_changing():
    m = Tiny()
    sd = m.state_dict()
    sd["head.weight"] = sd["head.weight"] * np.nan
    before = m.head.bias.data.copy()
    sd["head.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match="NaN"):
        m.load_state_dict(sd)
    np.testing.assert_array_equal(m.head.bias.data, before)


def test_train_eval_propagates():
    m = Tiny()
    m.eval()
    assert not m.rnn.training and not m.training
    m.train()
    assert m.head.training


def test_to_float64_and_zero_grad():
    m = Tiny().to(np.float64)
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())
    assert m.rnn.dtype == np.float64 and m.rnn.config["dtype"] == "float64"
    m.head.weight.grad += 1
    m.zero_grad()
    assert all((p.grad == 0).all() for p in m.parameters())
    with pytest.raises(TypeError, match="dtype"):
        m.to(np.int32)
