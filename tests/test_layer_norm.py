"""``layer_norm=True`` (docs/bptt.md, "Layer normalisation", (N0)-(N5)) in ``RNN``, ``LSTM``,
``GRU``: the fused layer (nn/layernorm.py) equals ``reference.regularised_sequence`` with the
layer's gains and masks (float64, 1e-12), finite differences with and without the other options
(masks held fixed by resetting ``layer.rng``), a loop of torch ops per cell (autograd, 1e-10),
evaluation equal to training, bad values refused, a checkpoint round trip, and the layer with
``layer_norm=False`` unchanged."""

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close, to_t
from test_regularised_fused import assert_layer_equals_reference
from test_regularised_layers import layer_gradcheck, make, projections
from test_regularised_reference import torch_loop
from tinyrnn import checkpoint
from tinyrnn.errors import InputError

KINDS = ["RNN", "LSTM", "GRU"]
OPTIONS = [{}, {"recurrent_dropout": 0.4, "zoneout": 0.3, "weight_drop": 0.25}, {"learn_initial_state": True}]
OPTION_IDS = ["alone", "with-dropouts-and-zoneout", "with-learned-state"]


def make_ln(kind, seed=0, **kw):
    """A float64 layer with layer_norm whose gains and biases (and learned states) are no
    longer 1 and 0, so that each of them matters."""
    layer = make(kind, layer_norm=True, seed=seed, **kw)
    rng = np.random.default_rng(seed + 100)
    for name, p in layer.named_parameters():
        if name.startswith("ln_"):
            p.data[...] = (1.0 if "weight" in name else 0.0) + 0.3 * rng.standard_normal(p.shape)
        elif name in ("h0", "c0"):
            p.data[...] = rng.standard_normal(p.shape)
    return layer


# ---------------------------------------------------------------- parameters and config
@pytest.mark.parametrize("kind", KINDS)
def test_parameters_names_initial_values_and_config(kind):
    layer = make(kind, layer_norm=True, num_layers=2, bidirectional=True)
    plain = make(kind, num_layers=2, bidirectional=True)
    G, H = layer.gate_count * 4, 4
    ln = {n: p.data for n, p in layer.named_parameters() if n.startswith("ln_")}
    sizes = {"ln_ih_weight": G, "ln_ih_bias": G, "ln_hh_weight": G, "ln_hh_bias": G}
    if kind == "LSTM":
        sizes |= {"ln_c_weight": H, "ln_c_bias": H}
    expected = {n + sfx: s for sfx in ("_l0", "_l0_reverse", "_l1", "_l1_reverse") for n, s in sizes.items()}
    assert {n: a.shape for n, a in ln.items()} == {n: (s,) for n, s in expected.items()}
    for n, a in ln.items():
        np.testing.assert_array_equal(a, 1.0 if n.split("_")[2] == "weight" else 0.0)
    names = [n for n, _ in layer.named_parameters()]
    assert names[: len(plain.state_dict())] == list(plain.state_dict())  # created after the weights
    for n, a in plain.state_dict().items():  # so the weights of a seed are unchanged
        np.testing.assert_array_equal(getattr(layer, n).data, a)
    assert [(n, p.shape) for n, p in layer.named_parameters()] == list(type(layer).param_shapes(layer.config))
    assert layer.config["layer_norm"] is True and "layer_norm" not in plain.config
    assert getattr(tr, kind)(**layer.config).config == layer.config


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [1, 0, "True", None, 1.0, np.array([True])])
def test_bad_values_are_refused(kind, value):
    with pytest.raises(InputError, match="layer_norm must be True or False"):
        getattr(tr, kind)(3, 4, layer_norm=value)


@pytest.mark.parametrize("kind", KINDS)
def test_one_hidden_unit_is_refused(kind):
    """Normalised over one feature, every output would be the same constant."""
    with pytest.raises(InputError, match="layer_norm needs hidden_size >= 2, got 1"):
        getattr(tr, kind)(3, 1, layer_norm=True)


# ---------------------------------------------------------------- the fused layer is the reference loop
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", OPTIONS[:2], ids=OPTION_IDS[:2])
@pytest.mark.parametrize(
    "extra",
    [{}, {"num_layers": 2, "bidirectional": True, "dropout": 0.3}, {"batch_first": True, "bias": False}],
    ids=["one-layer", "two-layers-bidirectional", "batch-first-no-bias"],
)
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_fused_layer_equals_the_reference_loop(kind, options, extra, lengths, training):
    assert_layer_equals_reference(make_ln(kind, **extra, **options).train(training), lengths)


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "extra",
    [{}, {"num_layers": 2, "bidirectional": True, "dropout": 0.3}],
    ids=["one-layer", "two-layers-bidirectional"],
)
@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_finite_differences(kind, extra, options):
    layer = make_ln(kind, **extra, **options)
    x = np.random.default_rng(2).standard_normal((4, 3, 3))
    report = layer_gradcheck(layer, x, None, seed=5, lengths=[4, 2, 3])
    assert {row.name for row in report.rows} == {n for n, _ in layer.named_parameters()} | {"x"}
    assert report.ok, str(report)


@pytest.mark.parametrize("options", [{}, {"zoneout": 0.3, "recurrent_dropout": 0.4}], ids=["alone", "with-options"])
def test_lstm_with_a_projection_finite_differences(options):
    """proj_size: (N2) normalises the H-wide c, (N1) the 4H-wide product with the P-wide h."""
    layer = make_ln("LSTM", proj_size=2, bidirectional=True, **options)
    assert layer.ln_hh_weight_l0.shape == (16,) and layer.ln_c_weight_l0.shape == (4,)
    report = layer_gradcheck(layer, np.random.default_rng(2).standard_normal((4, 2, 3)), None, seed=8, lengths=[4, 2])
    assert report.ok, str(report)


@pytest.mark.parametrize("kind", KINDS)
def test_evaluation_mode_finite_differences_with_zoneout(kind):
    layer = make_ln(kind, zoneout=0.4).eval()
    report = layer_gradcheck(layer, np.random.default_rng(2).standard_normal((4, 2, 3)), None, seed=5)
    assert report.ok, str(report)


# ---------------------------------------------------------------- torch twins
@pytest.mark.torch
@pytest.mark.parametrize("kind,extra", [("RNN", {}), ("LSTM", {}), ("LSTM", {"proj_size": 2}), ("GRU", {})])
def test_against_a_torch_twin(torch, kind, extra):
    """One layer against ``torch_loop`` (test_regularised_reference.py): the cell written as a
    loop of torch ops with ``F.layer_norm`` where (N1)-(N3) put it, its gradients by autograd."""
    layer = make_ln(kind, **extra)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 3, 3))
    s0 = tuple(rng.standard_normal((1, 3, s)) for s in layer._state_sizes())
    out, state_n, cache = layer.forward(x, s0 if kind == "LSTM" else s0[0])
    G, Gs = projections(layer, out, state_n, rng)
    layer.zero_grad()
    dx, ds0 = layer.backward(G, cache, Gs)
    params = {n: to_t(torch, p.data, True) for n, p in layer.named_parameters()}
    tx = to_t(torch, x, True)
    ts0 = {name: to_t(torch, s[0], True) for name, s in zip(layer.state_names, s0)}
    weights = {n[: -len("_l0")]: params[n] for n in params if not n.startswith("ln_")}
    ln = {n[: -len("_l0")]: params[n] for n in params if n.startswith("ln_")}
    y, states = torch_loop(torch, kind.lower(), "tanh", tx, ts0, weights, ln, {})  # hidden size 4 as there
    gs = Gs if isinstance(Gs, tuple) else (Gs,)
    loss = (y * to_t(torch, G)).sum() + sum((s * to_t(torch, g[0])).sum() for s, g in zip(states, gs))
    loss.backward()
    close(out, y, np.float64, "out")
    for a, b in zip(state_n if isinstance(state_n, tuple) else (state_n,), states):
        close(a[0], b, np.float64, "state_n")
    close(dx, tx.grad, np.float64, "dx")
    for a, name in zip(ds0 if isinstance(ds0, tuple) else (ds0,), layer.state_names):
        close(a[0], ts0[name].grad, np.float64, "d" + name)
    for n, p in layer.named_parameters():
        close(p.grad, params[n].grad, np.float64, n)


# ---------------------------------------------------------------- modes, layouts
@pytest.mark.parametrize("kind", KINDS)
def test_evaluation_equals_training_for_layer_norm_alone(kind):
    layer = make_ln(kind, num_layers=2)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    state = layer.rng.bit_generator.state
    out, _, cache = layer.forward(x, lengths=[4, 3])
    G = np.random.default_rng(1).standard_normal(out.shape)
    dx = layer.backward(G, cache)[0]
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.eval().zero_grad()
    eout, _, ecache = layer.forward(x, lengths=[4, 3])
    np.testing.assert_array_equal(eout, out)
    np.testing.assert_array_equal(layer.backward(G, ecache)[0], dx)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, grads[n], err_msg=n)
    assert layer.rng.bit_generator.state == state  # nothing drawn


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_equals_a_batch_of_one(kind):
    layer = make_ln(kind, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((4, 3))
    out, state_n, cache = layer.forward(x)
    bout, bstate_n, bcache = layer.forward(x[:, None, :])
    np.testing.assert_allclose(out, bout[:, 0], rtol=1e-14)
    layer.zero_grad()
    dx, _ = layer.backward(np.ones_like(out), cache)
    np.testing.assert_allclose(dx, layer.backward(np.ones_like(bout), bcache)[0][:, 0], rtol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_follows_float64(kind):
    layer = make_ln(kind, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out64, _, _ = layer.forward(x)
    out32, _, _ = layer.to(np.float32).forward(x.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=1e-5)


# ---------------------------------------------------------------- checkpoint, the option off
@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_round_trip(kind, tmp_path):
    layer = make_ln(kind, num_layers=2, bidirectional=True, zoneout=0.2)
    path = tmp_path / "ln.npz"
    checkpoint.save(path, layer)
    header = checkpoint.check_config(path, type(layer))
    assert header["config"]["layer_norm"] is True
    again = getattr(tr, kind)(**header["config"])
    checkpoint.load(path, again)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(getattr(again, n).data, p.data, err_msg=n)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    np.testing.assert_array_equal(again.eval().forward(x)[0], layer.eval().forward(x)[0])
    plain = getattr(tr, kind)(**{k: v for k, v in header["config"].items() if k != "layer_norm"})
    with pytest.raises(InputError, match="layer_norm"):
        checkpoint.load(path, plain)


@pytest.mark.parametrize("kind", KINDS)
def test_layer_norm_off_is_the_plain_layer(kind):
    """layer_norm=False: the plain kernels, PyTorch's parameters and config, the same numbers
    as a layer built without the argument."""
    off, plain = make(kind, layer_norm=False), make(kind)
    assert off._kernels() == (type(off).forward_kernel, type(off).backward_kernel)
    assert off.config == plain.config and list(off.state_dict()) == list(plain.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    out, _, cache = off.forward(x)
    pout, _, pcache = plain.forward(x)
    np.testing.assert_array_equal(out, pout)
    np.testing.assert_array_equal(off.backward(out, cache)[0], plain.backward(pout, pcache)[0])
