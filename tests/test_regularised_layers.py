"""The layer options that wrap the fused kernels: ``weight_drop=p`` (DropConnect on W_hh, one
mask per forward call from ``layer.rng``, docs/bptt.md (W1)-(W2)) and ``learn_initial_state=True``
(parameters ``h0`` (and ``c0``) used where ``hx`` gives no state, (S1)-(S2)). Finite differences
in float64 with the masks held fixed by resetting ``layer.rng``, the reference loop and torch
with the same mask, evaluation mode equal to the plain layer, bad values refused."""

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close, load_into_torch, to_t
from tinyrnn import reference as ref
from tinyrnn.errors import InputError
from tinyrnn.nn.dropout import dropout_mask

KINDS = ["RNN", "LSTM", "GRU"]


def make(kind, I=3, H=4, seed=0, **kw):
    return getattr(tr, kind)(I, H, dtype=np.float64, rng=np.random.default_rng(seed), **kw)


def projections(layer, out, state_n, rng):
    G = rng.standard_normal(out.shape)
    Gs = (
        tuple(rng.standard_normal(s.shape) for s in state_n)
        if isinstance(state_n, tuple)
        else rng.standard_normal(state_n.shape)
    )
    return G, Gs


def loss_of(out, state_n, G, Gs):
    states = state_n if isinstance(state_n, tuple) else (state_n,)
    gs = Gs if isinstance(Gs, tuple) else (Gs,)
    return (out * G).sum() + sum((s * g).sum() for s, g in zip(states, gs))


def layer_gradcheck(layer, x, hx, seed, lengths=None):
    """gradcheck of every parameter and x, the rng reset before each forward (same masks)."""
    rng = np.random.default_rng(1)
    layer.rng = np.random.default_rng(seed)
    out, state_n, _ = layer.forward(x, hx, lengths=lengths)
    G, Gs = projections(layer, out, state_n, rng)

    def run(x):
        layer.rng = np.random.default_rng(seed)
        out, state_n, cache = layer.forward(x, hx, lengths=lengths)
        dx, _ = layer.backward(G, cache, Gs)
        return loss_of(out, state_n, G, Gs), {"x": dx}

    return tr.gradcheck(run, layer, {"x": x})


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "extra",
    [{}, {"num_layers": 2, "bidirectional": True, "dropout": 0.3}],
    ids=["one-layer", "two-layers-bidirectional"],
)
@pytest.mark.parametrize(
    "options",
    [{"weight_drop": 0.4}, {"learn_initial_state": True}, {"weight_drop": 0.4, "learn_initial_state": True}],
    ids=["weight_drop", "learn_initial_state", "both"],
)
def test_options_finite_differences(kind, extra, options):
    layer = make(kind, **extra, **options)
    if layer.learn_initial_state:  # non-zero learned states, so they matter
        for name in layer.state_names:
            getattr(layer, name).data[...] = np.random.default_rng(3).standard_normal(getattr(layer, name).shape)
    x = np.random.default_rng(2).standard_normal((4, 3, 3))
    report = layer_gradcheck(layer, x, None, seed=5, lengths=[4, 2, 3])
    names = {row.name for row in report.rows}
    assert names == {n for n, _ in layer.named_parameters()} | {"x"}
    if layer.learn_initial_state:
        assert set(layer.state_names) <= names
    assert report.ok, str(report)


# ---------------------------------------------------------------- weight_drop
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", [None, [5, 2]])
def test_weight_drop_layer_equals_reference_loop(kind, lengths):
    """One layer: the layer with weight_drop equals the reference loop given the mask the
    layer drew (the rng reset to the same seed), forward and backward, to 1e-12."""
    p, rng = 0.3, np.random.default_rng(7)
    layer = make(kind, weight_drop=p)
    weights = ref.layer_weights(layer)
    x = rng.standard_normal((5, 2, 3))
    s0 = tuple(rng.standard_normal((1, 2, 4)) for _ in layer.state_names)
    layer.rng = np.random.default_rng(9)
    out, state_n, cache = layer.forward(x, s0 if kind == "LSTM" else s0[0], lengths=lengths)
    M = dropout_mask(np.random.default_rng(9), layer.weight_hh_l0.shape, p, np.dtype(np.float64))
    assert 0 < (M == 0).sum() < M.size
    G, Gs = projections(layer, out, state_n, rng)
    dx, dstate0 = layer.backward(G, cache, Gs)
    cell = kind.lower()
    y, rstates, rc = ref.regularised_sequence(
        cell, x, tuple(s[0] for s in s0), weights, {"weight_mask": M}, lengths=lengths
    )
    gs = Gs if isinstance(Gs, tuple) else (Gs,)
    rdx, rds0, grads = ref.regularised_sequence_backward(G, tuple(g[0] for g in gs), rc)
    close(out, y, np.float64, "out", rtol=1e-12)
    close(dx, rdx, np.float64, "dx", rtol=1e-12)
    for a, b in zip(state_n if isinstance(state_n, tuple) else (state_n,), rstates):
        close(a[0], b, np.float64, "state_n", rtol=1e-12)
    for a, b in zip(dstate0 if isinstance(dstate0, tuple) else (dstate0,), rds0):
        close(a[0], b, np.float64, "dstate0", rtol=1e-12)
    for name, g in grads.items():
        close(getattr(layer, name + "_l0").grad, g, np.float64, name, rtol=1e-12)


@pytest.mark.torch
def test_weight_drop_against_torch_with_the_masked_weights(torch):
    """Two layers, bidirectional LSTM: torch.nn.LSTM holding W_hh * M gives the same outputs,
    and our dW_hh is torch's gradient of W_hh * M times M."""
    layer = make("LSTM", 3, 4, num_layers=2, bidirectional=True, weight_drop=0.5)
    names = [n for n, _ in layer.named_parameters() if n.startswith("weight_hh")]
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 2, 3))
    layer.rng = np.random.default_rng(6)
    out, (h_n, c_n), cache = layer.forward(x)
    draw = np.random.default_rng(6)
    masks = {n: dropout_mask(draw, getattr(layer, n).shape, 0.5, np.dtype(np.float64)) for n in names}
    G, Gh, Gc = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape), rng.standard_normal(c_n.shape)
    layer.backward(G, cache, (Gh, Gc))
    tl = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    load_into_torch(torch, tl, layer)
    with torch.no_grad():
        for n in names:
            getattr(tl, n).mul_(to_t(torch, masks[n]))
    xt = to_t(torch, x, True)
    tout, (th, tc) = tl(xt)
    ((tout * to_t(torch, G)).sum() + (th * to_t(torch, Gh)).sum() + (tc * to_t(torch, Gc)).sum()).backward()
    close(out, tout, np.float64, "out")
    for n, p in tl.named_parameters():
        expected = p.grad.numpy() * masks[n] if n in masks else p.grad
        close(getattr(layer, n).grad, expected, np.float64, n)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["weight_drop", "recurrent_dropout", "zoneout"])
def test_masks_repeat_with_the_rng_and_differ_between_calls(kind, option):
    layer = make(kind, **{option: 0.5})
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    layer.rng = np.random.default_rng(3)
    a, _, ca = layer.forward(x)
    b, _, cb = layer.forward(x)
    layer.rng = np.random.default_rng(3)
    c, _, _ = layer.forward(x)
    np.testing.assert_array_equal(a, c)
    if option == "weight_drop":
        assert not np.array_equal(ca.weight_masks[0], cb.weight_masks[0])
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_weight_drop_in_evaluation_equals_the_plain_layer(kind):
    """eval(): no mask, no draw from rng, the very numbers of the layer without the option;
    the weights are left as they were after a training call too."""
    layer, plain = make(kind, weight_drop=0.5, num_layers=2), make(kind, num_layers=2)
    np.testing.assert_array_equal(layer.weight_hh_l0.data, plain.weight_hh_l0.data)  # same draws
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    w_before = layer.weight_hh_l1.data.copy()
    layer.forward(x)
    np.testing.assert_array_equal(layer.weight_hh_l1.data, w_before)
    layer.eval()
    state = layer.rng.bit_generator.state
    out, _, cache = layer.forward(x)
    pout, _, pcache = plain.eval().forward(x)
    assert layer.rng.bit_generator.state == state
    np.testing.assert_array_equal(out, pout)
    G = np.random.default_rng(1).standard_normal(out.shape)
    dx, _ = layer.backward(G, cache)
    pdx, _ = plain.backward(G, pcache)
    np.testing.assert_array_equal(dx, pdx)
    for (n, p), (_, q) in zip(layer.named_parameters(), plain.named_parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=n)


# ---------------------------------------------------------------- learn_initial_state
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_learned_initial_state_is_used_when_hx_is_not_given(kind, batch_first):
    """hx=None with learned h0 (c0) equals passing them broadcast over the batch; their
    gradient is that dh0 (dc0) summed over the batch; a given hx wins."""
    layer = make(kind, num_layers=2, bidirectional=True, learn_initial_state=True, batch_first=batch_first)
    rng = np.random.default_rng(2)
    for name in layer.state_names:
        getattr(layer, name).data[...] = rng.standard_normal(getattr(layer, name).shape)
    B = 3
    x = rng.standard_normal((B, 4, 3) if batch_first else (4, B, 3))
    explicit = tuple(np.repeat(getattr(layer, n).data, B, axis=1) for n in layer.state_names)
    hx = explicit if kind == "LSTM" else explicit[0]
    out, s_n, cache = layer.forward(x)
    eout, _, ecache = layer.forward(x, hx)
    np.testing.assert_array_equal(out, eout)
    G, Gs = projections(layer, out, s_n, rng)
    layer.zero_grad()
    _, eds0 = layer.backward(G, ecache, Gs)
    for name in layer.state_names:
        np.testing.assert_array_equal(getattr(layer, name).grad, 0)  # a given hx: no gradient
    layer.backward(G, cache, Gs)
    for name, d in zip(layer.state_names, eds0 if kind == "LSTM" else (eds0,)):
        np.testing.assert_allclose(getattr(layer, name).grad, d.sum(axis=1, keepdims=True), rtol=1e-13)
    x1 = rng.standard_normal((4, 3))  # unbatched (T, I)
    one = layer.forward(x1[None] if batch_first else x1[:, None])[0]
    np.testing.assert_allclose(layer.forward(x1)[0], one[0] if batch_first else one[:, 0], rtol=1e-13)


def test_learned_initial_state_with_a_partial_lstm_state():
    """(h, None): the given h and the learned c0; only c0 gets a gradient."""
    layer = make("LSTM", learn_initial_state=True)
    layer.c0.data[...] = 0.7
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    h = np.random.default_rng(1).standard_normal((1, 2, 4))
    out, _, cache = layer.forward(x, (h, None))
    eout, _, _ = layer.forward(x, (h, np.full((1, 2, 4), 0.7)))
    np.testing.assert_array_equal(out, eout)
    layer.backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(layer.h0.grad, 0)
    assert np.abs(layer.c0.grad).sum() > 0


def test_learned_initial_state_parameters_and_config():
    lstm = tr.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, learn_initial_state=True)
    assert lstm.h0.shape == (4, 1, 2) and lstm.c0.shape == (4, 1, 4)
    assert lstm.config["learn_initial_state"] is True
    assert {"h0", "c0"} <= set(lstm.state_dict())
    other = tr.LSTM(**{k: v for k, v in lstm.config.items()})
    other.load_state_dict(lstm.state_dict())
    gru = tr.GRU(3, 4, weight_drop=0.25)
    assert gru.config["weight_drop"] == 0.25 and "h0" not in gru.state_dict()


@pytest.mark.parametrize("kind", KINDS)
def test_defaults_keep_the_plain_layer(kind):
    """No option: the same parameters (names, values), config keys and numbers as before."""
    layer = make(kind)
    assert "weight_drop" not in layer.config and "learn_initial_state" not in layer.config
    assert all(n.startswith(("weight_", "bias_")) for n in layer.state_dict())
    assert layer.weight_drop == 0.0 and layer.learn_initial_state is False


# ---------------------------------------------------------------- bad values
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, "0.1", True, None, float("nan")])
def test_bad_weight_drop_is_refused(kind, value):
    with pytest.raises(InputError, match="weight_drop must be"):
        getattr(tr, kind)(3, 4, weight_drop=value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [1, 0, "yes", None, 0.5])
def test_bad_learn_initial_state_is_refused(kind, value):
    with pytest.raises(InputError, match="learn_initial_state must be True or False"):
        getattr(tr, kind)(3, 4, learn_initial_state=value)


def test_checkpoint_rebuilds_a_layer_with_the_options(tmp_path):
    """The options are in config: read_header's config rebuilds the layer, and load fills
    h0, c0 and the weights; a layer built without them is refused, naming the difference."""
    from tinyrnn import checkpoint

    lstm = tr.LSTM(3, 4, num_layers=2, weight_drop=0.25, learn_initial_state=True, rng=np.random.default_rng(0))
    lstm.c0.data[...] = 0.5
    path = str(tmp_path / "lstm.npz")
    checkpoint.save(path, lstm)
    again = tr.LSTM(**checkpoint.read_header(path)["config"])
    checkpoint.load(path, again)
    for (n, p), (_, q) in zip(lstm.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    with pytest.raises(ValueError, match="learn_initial_state"):
        checkpoint.load(path, tr.LSTM(3, 4, num_layers=2))


@pytest.mark.parametrize("options", [{"weight_drop": 0.3}, {"weight_drop": 0.3, "learn_initial_state": True}])
def test_options_with_a_projection_finite_differences(options):
    layer = make("LSTM", 3, 4, proj_size=2, **options)
    if layer.learn_initial_state:
        layer.h0.data[...], layer.c0.data[...] = 0.3, -0.4
    x = np.random.default_rng(2).standard_normal((3, 2, 3))
    report = layer_gradcheck(layer, x, None, seed=8)
    assert report.ok, str(report)
