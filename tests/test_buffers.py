"""Array reuse between calls (nn/buffers.py) and the layer edges around caches and Parameters.

conftest.py makes every array reusable (MIN_BYTES = 0), so these small layers use the pool.
"""

import copy
import os
import pickle
import sys
import weakref

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import gradcheck
from tinyrnn.module import Parameter
from tinyrnn.nn.buffers import HOLD

CLASSES = [tr.RNN, tr.LSTM, tr.GRU]


def _layer(cls, **kw):
    return cls(2, 3, dtype=np.float64, rng=np.random.default_rng(0), **kw)


def _loss_grads(layer, x, G):
    """dx and every parameter gradient of loss = sum(out * G), from one forward and backward."""
    layer.zero_grad()
    out, _, cache = layer.forward(x)
    dx, _ = layer.backward(G, cache)
    return dx.copy(), {n: p.grad.copy() for n, p in layer.named_parameters()}


def _check_against_differences(layer, x, G, dx, pgrads):
    """gradcheck of loss = sum(forward(x)[0] * G), with dx and pgrads, computed elsewhere, as
    the analytic side (gradcheck reads them from the first call)."""
    first = []

    def run(x):
        loss = float((layer.forward(x)[0] * G).sum())
        if first:
            return loss, {}
        first.append(True)
        for n, p in layer.named_parameters():
            p.grad[...] = pgrads[n]
        return loss, {"x": dx}

    report = gradcheck(run, layer, {"x": x})
    assert report.ok, str(report)


def _gates_base(cache):
    """The array (owned by the layer's pool) behind the first kernel cache's gates or states."""
    kc = cache.layers[0].kcaches[0]
    arr = getattr(kc, "gates", None)
    arr = kc.S if arr is None else arr
    return arr if arr.base is None else arr.base


@pytest.mark.parametrize("cls", CLASSES)
def test_two_live_caches_give_independent_correct_backwards(cls):
    rng = np.random.default_rng(3)
    layer = _layer(cls, num_layers=2)
    x1, x2 = rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 2))
    G1, G2 = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 3))
    out1, _, c1 = layer.forward(x1)
    out2, _, c2 = layer.forward(x2)  # c1 is alive: its arrays must stay intact
    assert not np.shares_memory(_gates_base(c1), _gates_base(c2))
    grads = {}
    for name, _x, G, cache in (("second", x2, G2, c2), ("first", x1, G1, c1)):  # backward in reverse order
        layer.zero_grad()
        dx, _ = layer.backward(G, cache)
        grads[name] = (dx, {n: p.grad.copy() for n, p in layer.named_parameters()})
    for name, x, G in (("first", x1, G1), ("second", x2, G2)):
        _check_against_differences(layer, x, G, *grads[name])


@pytest.mark.parametrize("cls", CLASSES)
def test_released_cache_is_reused_and_a_held_one_is_not(cls):
    rng = np.random.default_rng(4)
    layer = _layer(cls)
    x, G = rng.standard_normal((5, 2, 2)), rng.standard_normal((5, 2, 3))
    out1, _, c1 = layer.forward(x)
    first = weakref.ref(_gates_base(c1))
    out2, _, c2 = layer.forward(x)
    assert _gates_base(c2) is not first()  # c1 held: not reused
    del c1
    out3, _, c3 = layer.forward(x)
    assert _gates_base(c3) is first()  # c1 released: its array is reused
    assert not np.shares_memory(out3, out1)  # out1 is still held: never written to
    np.testing.assert_array_equal(out1, out3)
    expected = _loss_grads(_layer(cls), x, G)
    dx, _ = layer.backward(G, c3)
    np.testing.assert_allclose(dx, expected[0], rtol=1e-12)


def test_a_view_of_an_output_keeps_it_from_reuse():
    layer = _layer(tr.LSTM)
    x = np.random.default_rng(5).standard_normal((5, 2, 2))
    out1, _, _ = layer.forward(x)
    view, saved = out1[2:, 1], out1[2:, 1].copy()
    del out1
    for _ in range(3):
        layer.forward(x + 1.0)
    np.testing.assert_array_equal(view, saved)


def test_pool_tracks_at_most_hold_arrays_per_name():
    layer = _layer(tr.GRU, num_layers=2, bidirectional=True)
    x = np.random.default_rng(6).standard_normal((5, 2, 2))
    caches = [layer.forward(x)[2] for _ in range(5)]  # the caller holds five
    bases = [_gates_base(c) for c in caches]
    assert all(not np.shares_memory(a, b) for k, a in enumerate(bases) for b in bases[k + 1 :])
    assert all(len(arrays) <= HOLD for arrays in layer._buffers._slots.values())


def test_copied_and_pickled_layers_start_with_empty_pools():
    layer = _layer(tr.LSTM)
    x = np.random.default_rng(7).standard_normal((5, 2, 2))
    out, _, cache = layer.forward(x)
    for twin in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert len(twin._buffers) == 0
        np.testing.assert_array_equal(twin.forward(x)[0], out)


def test_thread_settings_untouched_even_when_the_loop_fails(monkeypatch):
    """The layers never change the BLAS thread count (a one-thread switch around the loop is
    slower at every size measured, docs/why_fast.md): a normal call, a call whose
    loop raises, LSTM and GRU all leave the process's setting as they found it."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
    from _openblas import FUNCS  # NumPy's OpenBLAS thread functions (ctypes)

    assert FUNCS is not None, "NumPy's OpenBLAS was not found"
    set_threads, get_threads = FUNCS
    before = get_threads()
    try:
        for n in sorted({1, max(before, 2)}):
            set_threads(n)
            for cls in (tr.RNN, tr.LSTM, tr.GRU):
                layer = cls(4, 128, rng=np.random.default_rng(0))
                x = np.zeros((3, 32, 4), np.float32)
                out, _, cache = layer.forward(x)
                layer.backward(np.ones_like(out), cache)
                assert get_threads() == n

                def failing_kernel(*args):
                    raise RuntimeError("inside the loop")

                monkeypatch.setattr(layer, "forward_kernel", failing_kernel)
                with pytest.raises(RuntimeError, match="inside the loop"):
                    layer.forward(x)
                assert get_threads() == n
    finally:
        set_threads(before)


# ------------------------------------------------------------------ edges
@pytest.mark.parametrize("cls", CLASSES)
def test_replaced_parameter_is_used(cls):
    layer = _layer(cls, num_layers=2)
    x = np.random.default_rng(8).standard_normal((4, 2, 2))
    before = layer.forward(x)[0]
    layer.weight_hh_l1 = Parameter(np.zeros_like(layer.weight_hh_l1.data))
    layer.bias_ih_l1 = Parameter(np.zeros_like(layer.bias_ih_l1.data))
    after, _, cache = layer.forward(x)
    assert not np.allclose(before, after)
    twin = _layer(cls, num_layers=2)
    twin.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(after, twin.forward(x)[0], rtol=1e-12)
    layer.backward(np.ones_like(after), cache)
    assert np.any(layer.weight_hh_l1.grad != 0) and np.any(layer.bias_ih_l1.grad != 0)


@pytest.mark.parametrize("cls", CLASSES)
def test_backward_refuses_a_cache_of_another_layer(cls):
    layer, other = _layer(cls), _layer(tr.GRU if cls is not tr.GRU else tr.LSTM)
    x = np.zeros((3, 2, 2))
    out, _, cache = other.forward(x)
    with pytest.raises(ValueError, match="cache"):
        layer.backward(np.zeros((3, 2, 3)), cache)
    _, _, same_config = _layer(cls).forward(x)  # same configuration, another instance
    with pytest.raises(ValueError, match="cache was returned by the forward\\(\\) of another layer"):
        layer.backward(np.zeros((3, 2, 3)), same_config)
    with pytest.raises(TypeError, match="cache must be"):
        layer.backward(np.zeros((3, 2, 3)), {"layers": []})


@pytest.mark.parametrize("cls", CLASSES)
def test_messages_show_the_shape_the_user_passed(cls):
    layer = _layer(cls, batch_first=True)
    with pytest.raises(ValueError, match=r"got shape \(2, 0, 2\)"):
        layer.forward(np.zeros((2, 0, 2)))
    with pytest.raises(ValueError, match=r"input_size=2, got shape \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4)))
    out, _, cache = layer.forward(np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 5, 3\) \(batch_first\), got \(5, 2, 3\)"):
        layer.backward(np.zeros((5, 2, 3)), cache)
