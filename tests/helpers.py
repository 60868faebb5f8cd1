"""Shared test helpers: random projections for gradient checks, and the comparisons of the
parity tests (against PyTorch, and of the fused layers against tinyrnn.reference)."""

import numpy as np

from tinyrnn import gradcheck


def seq_gradcheck(layer, x, hx, lengths=None, rng=None, reseed_dropout=None):
    """Gradcheck a sequence layer with loss = sum(out * G) + sum(state_n * G_state).

    Works for RNN/GRU (single state) and LSTM (pair of states)."""
    rng = rng or np.random.default_rng(0)
    out, hn, _ = layer.forward(x, hx, lengths=lengths)
    G = rng.standard_normal(out.shape)
    is_pair = isinstance(hn, tuple)
    Gs = tuple(rng.standard_normal(s.shape) for s in hn) if is_pair else rng.standard_normal(hn.shape)

    def run(x, **states):
        if reseed_dropout is not None:
            layer.rng = np.random.default_rng(reseed_dropout)
        h = (states["h0"], states["c0"]) if is_pair else states["h0"]
        out, hn, cache = layer.forward(x, h, lengths=lengths)
        if is_pair:
            loss = (out * G).sum() + sum((a * g).sum() for a, g in zip(hn, Gs))
        else:
            loss = (out * G).sum() + (hn * Gs).sum()
        dx, dh = layer.backward(G, cache, Gs)
        grads = {"x": dx}
        if is_pair:
            grads["h0"], grads["c0"] = dh
        else:
            grads["h0"] = dh
        return loss, grads

    inputs = {"x": x}
    if is_pair:
        inputs["h0"], inputs["c0"] = hx
    else:
        inputs["h0"] = hx
    return gradcheck(run, layer, inputs)


# ---------------------------------------------------------------- parity comparisons
# Relative to each tensor's scale: |ours - theirs| <= rtol * (|theirs| + max|theirs|). A gradient
# is a sum over steps and batch, so a small element can carry the rounding of large terms.
RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def tdtype(torch, dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def to_t(torch, a, grad=False):
    t = torch.from_numpy(np.array(a))
    return t.requires_grad_(grad)


def load_into_torch(torch, tmod, ours):
    sd = {k: torch.from_numpy(v) for k, v in ours.state_dict().items()}
    tmod.load_state_dict(sd, strict=True)


def close(a, b, dtype, what, rtol=None):
    """Assert ``a`` (ours) equals ``b`` (the reference: an array or a torch tensor) to ``rtol``
    relative to b's scale (default ``RTOL[dtype]``)."""
    rtol = RTOL[dtype] if rtol is None else rtol
    b = np.asarray(b.detach().numpy() if hasattr(b, "detach") else b, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    scale = float(np.abs(b).max(initial=0.0))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale + 1e-300, err_msg=what)


def train_a_bit(model, opt, steps=3):
    """A few optimizer steps of a recurrent layer on fixed data (loss = sum(out^2) / 2), so that
    its weights and the optimizer's state are no longer the initial ones."""
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    for _ in range(steps):
        out, _, cache = model.forward(x)
        model.zero_grad()
        model.backward(out, cache)
        opt.step()
