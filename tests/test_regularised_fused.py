"""``recurrent_dropout=p`` (docs/bptt.md (R1)-(R3)) and ``zoneout=p`` ((Z1)-(Z4)) fused in the
kernels of ``RNN``, ``LSTM``, ``GRU``: the layer equals ``reference.regularised_sequence`` given
the masks the layer drew (layers, directions, batch_first, lengths; float64, 1e-12), finite
differences in training mode with the masks held fixed by resetting ``layer.rng``, the draw
order, evaluation mode, bad values refused."""

import numpy as np
import pytest

import tinyrnn as tr
from helpers import close
from test_regularised_layers import layer_gradcheck, make, projections
from tinyrnn import reference as ref
from tinyrnn.errors import InputError
from tinyrnn.nn.dropout import dropout_mask

KINDS = ["RNN", "LSTM", "GRU"]
OPTIONS = [
    {"recurrent_dropout": 0.4},
    {"zoneout": 0.3},
    {"recurrent_dropout": 0.4, "zoneout": 0.3, "weight_drop": 0.25},
]
OPTION_IDS = ["recurrent_dropout", "zoneout", "all-three"]


def flip(a, lengths):
    """Each sequence's first lengths[b] steps reversed (the reverse direction's time order);
    a number (the evaluation-mode keep) as it is."""
    if not isinstance(a, np.ndarray):
        return a
    out = a.copy()
    for b, n in enumerate(lengths):
        out[:n, b] = a[:n, b][::-1]
    return out


def reference_layer(layer, x, states0, G, Gs, cache, lengths):
    """The reference loop run layer by layer and direction by direction with the masks in
    ``cache`` (time-major x, states (L*D, B, size)); returns out, final states, dx, dstates0
    and the parameter gradients by name."""
    T, B, _ = x.shape
    lengths = [T] * B if lengths is None else list(lengths)
    D, cell = layer.num_directions, type(layer).__name__.lower()
    finals = [np.empty_like(s) for s in states0]
    inputs, caches = [], []
    inp = x
    for l in range(layer.num_layers):
        lc = cache.layers[l]
        if lc.drop is not None:
            inp = inp * lc.drop
        inputs.append(inp)
        outs, rcs = [], []
        for d in range(D):
            idx, kc = l * D + d, lc.kcaches[d]
            weights = {
                k: getattr(layer, k + layer._suffix(l, d)).data
                for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                if layer.bias or k.startswith("weight")
            }
            opts = {"drop": kc.drop}
            if getattr(layer, "layer_norm", False):  # the gains and biases of (N1)-(N3)
                opts["ln"] = {
                    k: p.data
                    for k, p in vars(layer._layer_params(l, d)).items()
                    if k.startswith("ln_") and p is not None
                }
            if cache.weight_masks is not None:
                opts["weight_mask"] = cache.weight_masks[idx]
            if kc.keep is not None:
                opts["keep"] = kc.keep[0] if d == 0 else flip(kc.keep[0], lengths)
                if cell == "lstm":
                    opts["keep_c"] = kc.keep[1] if d == 0 else flip(kc.keep[1], lengths)
            xs = inp if d == 0 else flip(inp, lengths)
            y, s_n, rc = ref.regularised_sequence(
                cell,
                xs,
                tuple(s[idx] for s in states0),
                weights,
                opts,
                nonlinearity=getattr(layer, "nonlinearity", "tanh"),
                lengths=lengths,
            )
            outs.append(y if d == 0 else flip(y, lengths))
            rcs.append(rc)
            for f, s in zip(finals, s_n):
                f[idx] = s
        caches.append(rcs)
        inp = np.concatenate(outs, axis=2)
    out = inp
    grads, dstates0, dlayer = {}, [np.empty_like(s) for s in states0], G
    for l in reversed(range(layer.num_layers)):
        o, dx = layer.output_size, 0.0
        for d in range(D):
            idx = l * D + d
            dy = dlayer[:, :, d * o : (d + 1) * o]
            dxd, ds0, g = ref.regularised_sequence_backward(
                dy if d == 0 else flip(dy, lengths), tuple(gs[idx] for gs in Gs), caches[l][d]
            )
            dx = dx + (dxd if d == 0 else flip(dxd, lengths))
            for acc, s in zip(dstates0, ds0):
                acc[idx] = s
            for k, v in g.items():
                grads[k + layer._suffix(l, d)] = v
        if cache.layers[l].drop is not None:
            dx = dx * cache.layers[l].drop
        dlayer = dx
    return out, finals, dlayer, dstates0, grads


def assert_layer_equals_reference(layer, lengths):
    """forward and backward of ``layer`` on random x, states and projections (T, B = 5, 3)
    equal ``reference_layer`` with the layer's masks, to 1e-12; returns the layer's cache."""
    rng = np.random.default_rng(7)
    T, B, n = 5, 3, layer.num_layers * layer.num_directions
    x = rng.standard_normal((T, B, 3))
    s0 = tuple(rng.standard_normal((n, B, s)) for s in layer._state_sizes())
    xu = x.transpose(1, 0, 2) if layer.batch_first else x
    out, state_n, cache = layer.forward(xu, s0 if len(s0) == 2 else s0[0], lengths=lengths)
    G, Gs = projections(layer, out, state_n, rng)
    dx, dstate0 = layer.backward(G, cache, Gs)
    tm = (lambda a: a.transpose(1, 0, 2)) if layer.batch_first else (lambda a: a)
    gs = Gs if isinstance(Gs, tuple) else (Gs,)
    rout, rfinals, rdx, rds0, grads = reference_layer(layer, x, s0, tm(G), gs, cache, lengths)
    close(tm(out), rout, np.float64, "out", rtol=1e-12)
    close(tm(dx), rdx, np.float64, "dx", rtol=1e-12)
    for a, b in zip(state_n if isinstance(state_n, tuple) else (state_n,), rfinals):
        close(a, b, np.float64, "state_n", rtol=1e-12)
    for a, b in zip(dstate0 if isinstance(dstate0, tuple) else (dstate0,), rds0):
        close(a, b, np.float64, "dstate0", rtol=1e-12)
    assert set(grads) == {name for name, _ in layer.named_parameters()}
    for name, g in grads.items():
        close(getattr(layer, name).grad, g, np.float64, name, rtol=1e-12)
    return cache


# ---------------------------------------------------------------- the fused layer is the reference loop
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize(
    "extra",
    [{}, {"num_layers": 2, "bidirectional": True, "dropout": 0.3}, {"batch_first": True}],
    ids=["one-layer", "two-layers-bidirectional", "batch-first"],
)
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_fused_layer_equals_the_reference_loop(kind, options, extra, lengths, training):
    layer = make(kind, **extra, **options)
    layer.train(training)
    cache = assert_layer_equals_reference(layer, lengths)
    kc = cache.layers[0].kcaches[0]
    if training and layer.recurrent_dropout:
        assert 0 < (kc.drop == 0).sum() < kc.drop.size
    if layer.zoneout:
        k = kc.keep[0]
        assert k == layer.zoneout if not training else 0 < k.sum() < k.size


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_lstm_with_a_projection_equals_the_reference_steps(options):
    """proj_size: the reference steps have no projection, so the layer is checked against
    finite differences here and the masks' shapes (P for h, H for c)."""
    layer = make("LSTM", 3, 4, proj_size=2, **options)
    _, _, cache = layer.forward(np.ones((3, 2, 3)))
    kc = cache.layers[0].kcaches[0]
    if layer.recurrent_dropout:
        assert kc.drop.shape == (2, 2)
    if layer.zoneout:
        assert kc.keep[0].shape == (3, 2, 2) and kc.keep[1].shape == (3, 2, 4)
    report = layer_gradcheck(layer, np.random.default_rng(2).standard_normal((4, 2, 3)), None, seed=8, lengths=[4, 2])
    assert report.ok, str(report)


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "extra",
    [{}, {"num_layers": 2, "bidirectional": True, "dropout": 0.3}],
    ids=["one-layer", "two-layers-bidirectional"],
)
@pytest.mark.parametrize(
    "options", OPTIONS + [{"zoneout": 0.3, "learn_initial_state": True}], ids=OPTION_IDS + ["zoneout-learned-state"]
)
def test_options_finite_differences(kind, extra, options):
    layer = make(kind, **extra, **options)
    if layer.learn_initial_state:
        for name in layer.state_names:
            getattr(layer, name).data[...] = np.random.default_rng(3).standard_normal(getattr(layer, name).shape)
    x = np.random.default_rng(2).standard_normal((4, 3, 3))
    report = layer_gradcheck(layer, x, None, seed=5, lengths=[4, 2, 3])
    assert {row.name for row in report.rows} == {n for n, _ in layer.named_parameters()} | {"x"}
    assert report.ok, str(report)


@pytest.mark.parametrize("kind", KINDS)
def test_zoneout_evaluation_form_finite_differences(kind):
    """eval(): h = p h_{t-1} + (1 - p) h^ is differentiable too (no mask)."""
    layer = make(kind, zoneout=0.4).eval()
    x = np.random.default_rng(2).standard_normal((4, 2, 3))
    report = layer_gradcheck(layer, x, None, seed=5)
    assert report.ok, str(report)


# ---------------------------------------------------------------- masks: order, repeat, evaluation
@pytest.mark.parametrize("kind", KINDS)
def test_masks_are_drawn_in_the_documented_order(kind):
    """weight_drop masks of every W_hh, then per layer the dropout between layers, then per
    direction the recurrent dropout mask (B, P) and the zoneout keeps of h and c, bool,
    ``rng.random(shape) < p`` with shape (T, size, B) for the LSTM and GRU, (T, B, size) for
    the RNN."""
    p, pz, pw, pd = 0.4, 0.3, 0.2, 0.1
    layer = make(kind, num_layers=2, bidirectional=True, dropout=pd, recurrent_dropout=p, zoneout=pz, weight_drop=pw)
    T, B = 4, 2
    layer.rng = np.random.default_rng(11)
    _, _, cache = layer.forward(np.random.default_rng(0).standard_normal((T, B, 3)))
    draw, dt = np.random.default_rng(11), np.dtype(np.float64)
    for m, w in zip(cache.weight_masks, layer._all_w_hh()):
        np.testing.assert_array_equal(m, dropout_mask(draw, w.shape, pw, dt))
    for l, lc in enumerate(cache.layers):
        if l > 0:
            np.testing.assert_array_equal(lc.drop, dropout_mask(draw, lc.inp.shape, pd, dt))
        for kc in lc.kcaches:
            np.testing.assert_array_equal(kc.drop, dropout_mask(draw, (B, layer.output_size), p, dt))
            for k, size in zip(kc.keep, layer._state_sizes()):
                if layer.feature_major:  # LSTM, GRU: drawn (T, size, B), passed as (T, B, size)
                    expected = (draw.random((T, size, B)) < pz).transpose(0, 2, 1)
                else:
                    expected = draw.random((T, B, size)) < pz
                assert k.dtype == bool
                np.testing.assert_array_equal(k, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_recurrent_dropout_in_evaluation_equals_the_plain_layer(kind):
    layer, plain = make(kind, recurrent_dropout=0.5, num_layers=2), make(kind, num_layers=2)
    layer.eval(), plain.eval()
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    state = layer.rng.bit_generator.state
    out, _, cache = layer.forward(x, lengths=[4, 3])
    pout, _, pcache = plain.forward(x, lengths=[4, 3])
    assert layer.rng.bit_generator.state == state
    np.testing.assert_array_equal(out, pout)
    G = np.random.default_rng(1).standard_normal(out.shape)
    np.testing.assert_array_equal(layer.backward(G, cache)[0], plain.backward(G, pcache)[0])
    for (n, p), (_, q) in zip(layer.named_parameters(), plain.named_parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=n)


@pytest.mark.parametrize("kind", KINDS)
def test_zoneout_in_evaluation_is_the_expectation(kind):
    """eval(): no draw; one step from a given state is p h0 + (1 - p) h^ with h^ the plain
    layer's step; at p = 0 the option is off and the layer is the plain layer."""
    p = 0.3
    layer, plain = make(kind, zoneout=p).eval(), make(kind).eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 3))
    s0 = tuple(rng.standard_normal((1, 2, s)) for s in layer._state_sizes())
    hx = s0 if kind == "LSTM" else s0[0]
    state = layer.rng.bit_generator.state
    out, s_n, _ = layer.forward(x, hx)
    assert layer.rng.bit_generator.state == state
    pout, ps_n, _ = plain.forward(x, hx)
    pstates = ps_n if kind == "LSTM" else (ps_n,)
    if kind == "LSTM":  # h^ reads c^ (before its zoneout)
        np.testing.assert_allclose(s_n[1], p * s0[1] + (1 - p) * pstates[1], rtol=1e-13)
    np.testing.assert_allclose(out[0], p * s0[0][0] + (1 - p) * pout[0], rtol=1e-13)
    off = make(kind, zoneout=0.0)
    np.testing.assert_array_equal(off.forward(x, hx)[0], plain.train().forward(x, hx)[0])


def test_gru_recurrent_dropout_leaves_the_interpolation_undropped():
    """(G3) mixes the undropped h: with W_hh = 0 the mask cannot matter."""
    layer = make("GRU", recurrent_dropout=0.9)
    layer.weight_hh_l0.data[...] = 0
    plain = make("GRU")
    plain.weight_hh_l0.data[...] = 0
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    h0 = np.random.default_rng(1).standard_normal((1, 2, 4))
    np.testing.assert_allclose(layer.forward(x, h0)[0], plain.forward(x, h0)[0], rtol=1e-14)


# ---------------------------------------------------------------- config and bad values
@pytest.mark.parametrize("kind", KINDS)
def test_options_in_config_only_when_on(kind):
    plain = make(kind)
    assert "recurrent_dropout" not in plain.config and "zoneout" not in plain.config
    assert plain.recurrent_dropout == 0.0 and plain.zoneout == 0.0
    layer = make(kind, recurrent_dropout=0.25, zoneout=0.1)
    assert layer.config["recurrent_dropout"] == 0.25 and layer.config["zoneout"] == 0.1
    again = getattr(tr, kind)(**layer.config)
    assert again.config == layer.config
    assert list(layer.state_dict()) == list(plain.state_dict())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["recurrent_dropout", "zoneout"])
@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, "0.1", True, None, float("nan")])
def test_bad_values_are_refused(kind, name, value):
    with pytest.raises(InputError, match=f"{name} must be"):
        getattr(tr, kind)(3, 4, **{name: value})
