"""Which equation of a learner's forward step is broken (see ``diagnose``'s docstring)."""

from __future__ import annotations

import numpy as np

from .. import reference as ref
from ._learner import (
    RTOL,
    BadReturn,
    LearnerError,
    _agree,
    _close,
    _describe,
    _diff,
    _ref_forward,
    _wrong,
    probes,
    result,
)


def _tweak(p, **changes):
    q = dict(p)
    q.update(changes)
    return q


def _rank_one(target, v):
    """A weight W with v W^T = target for one row v (batch size 1): W = target^T v / |v|²."""
    return np.outer(target[0], v[0]) / (v[0] @ v[0])


def _pre(p):
    """The reference pre-activations x W_ih^T + b_ih and h W_hh^T + b_hh, (1, G) each."""
    ax, ah = p["x"] @ p["weight_ih"].T, p["h"] @ p["weight_hh"].T
    if p["bias_ih"] is not None:
        ax, ah = ax + p["bias_ih"], ah + p["bias_hh"]
    return ax, ah


def _through_biases(p, ax, ah):
    """The same pre-activations with zero weights: x and h only reach what follows (L1)/(G1)."""
    zi, zh = np.zeros_like(p["weight_ih"]), np.zeros_like(p["weight_hh"])
    return _tweak(p, weight_ih=zi, weight_hh=zh, bias_ih=ax[0].copy(), bias_hh=ah[0].copy())


def _linear_variants(p):
    """The same total pre-activation produced five ways (batch size 1)."""
    ax, ah = _pre(p)
    a = ax + ah
    zi, zh = np.zeros_like(p["weight_ih"]), np.zeros_like(p["weight_hh"])
    zb = np.zeros(a.shape[1])
    return [
        p,
        _tweak(p, weight_ih=zi, weight_hh=zh, bias_ih=a[0].copy(), bias_hh=zb),
        _tweak(p, weight_ih=zi, weight_hh=zh, bias_ih=zb, bias_hh=a[0].copy()),
        _tweak(p, weight_ih=_rank_one(a, p["x"]), weight_hh=zh, bias_ih=None, bias_hh=None),
        _tweak(p, weight_ih=zi, weight_hh=_rank_one(a, p["h"]), bias_ih=None, bias_hh=None),
        _tweak(p, weight_ih=_rank_one(ax, p["x"]), weight_hh=_rank_one(ah, p["h"]), bias_ih=None, bias_hh=None),
    ]


def _outputs_same(learner, variants):
    """Whether the learner gives the same outputs for every variant (ones that raise are left out)."""
    outs = []
    for q in variants:
        try:
            outs.append(np.concatenate(learner.forward(q)[0], axis=1))
        except (LearnerError, BadReturn):
            continue
    return _agree(outs) if outs else True


# ------------------------------------------------------------------ forwards
def check_forward(learner):
    """Every probe through the learner's forward; on a mismatch, the first broken equation."""
    cell = learner.cell
    first, worst, errors = None, 0.0, []
    for p in probes(cell):
        try:
            mine, _ = learner.forward(p)
        except LearnerError as e:
            errors.append((str(e), p))
            continue
        theirs, _ = _ref_forward(cell, p)
        for m, t in zip(mine, theirs):
            if not _close(m, t):
                worst = max(worst, _diff(m, t))
                first = first or p
    if first is not None:
        p1 = next(
            (
                p
                for p in probes(cell)
                if len(p["x"]) == 1
                and p["bias_ih"] is not None
                and p.get("nonlinearity") == first.get("nonlinearity")
                and p["x"].shape == first["x"].shape
            ),
            first,
        )
        equation = _FORWARD_DIAGNOSIS[cell](learner, p1)
        return _wrong(equation, worst, _describe(first))
    if errors:
        return result("error", None, errors[0][0], where=_describe(errors[0][1]))
    return result("correct")


def _forward_rnn(learner, p):
    return "2" if _outputs_same(learner, _linear_variants(p)) else "1"


def _affine(ys, xs):
    """Slope and intercept of ys against xs (elementwise, xs shifted copies), and whether the third
    point lies on the line."""
    s = (ys[1] - ys[0]) / (xs[1] - xs[0])
    t = ys[0] - s * xs[0]
    return s, t, _close(ys[2], t + s * xs[2])


def _const(v, value):
    return np.allclose(v, value, rtol=RTOL, atol=1e-6)


def _forward_lstm(learner, p):
    if not _outputs_same(learner, _linear_variants(p)):
        return "L1"
    ax, ah = _pre(p)
    base = _through_biases(p, ax, ah)
    H = p["h"].shape[1]
    a = ax + ah
    i, f, g = ref.sigmoid(a[:, :H]), ref.sigmoid(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H])
    cs = [p["c"], p["c"] + 0.5, p["c"] - 0.8]
    try:
        outs = [learner.forward(_tweak(base, c=c))[0] for c in cs]
    except (LearnerError, BadReturn):
        return "L1"
    hs, c_nexts = [o_[0] for o_ in outs], [o_[1] for o_ in outs]
    c_refs = [f * c + i * g for c in cs]
    if not all(_close(m, t) for m, t in zip(c_nexts, c_refs)):
        s, t, affine = _affine(c_nexts, cs)
        s_ok, t_ok = _close(s, f), _close(t, i * g)
        if not affine or (not s_ok and not t_ok):
            return "L3"
        if not s_ok:  # the f * c term: f wrong (L2) or dropped (L3)
            return "L3" if _const(s, 0.0) or _const(s, 1.0) else "L2"
        dropped = _const(t, g) or _const(t, i) or _const(t, -i * g) or _const(t, 0.0)
        return "L3" if dropped else "L2"
    # c_next right, h_next wrong: o wrong (L2) when h_next / tanh(c_next) does not depend on c
    tc = [np.tanh(c) for c in c_refs]
    mask = np.all([np.abs(t) > 0.05 for t in tc], axis=0)
    o_seen = [h[mask] / t[mask] for h, t in zip(hs, tc)]
    if _agree(o_seen) and not _const(o_seen[0], 1.0):
        return "L2"
    return "L4"


def _forward_gru(learner, p):
    ax, ah = _pre(p)
    H = p["h"].shape[1]
    rz, n = slice(0, 2 * H), slice(2 * H, 3 * H)
    base = _through_biases(p, ax, ah)

    def moved(part, to, weight):
        """base with the rows ``part`` of the ``to`` side through a rank-one weight, or (weight
        None) with the r, z sums moved to the ``to`` side's bias."""
        q = dict(base)
        if weight is None:
            total = (ax + ah)[0, rz]
            bi, bh = q["bias_ih"].copy(), q["bias_hh"].copy()
            bi[rz], bh[rz] = (total, 0.0) if to == "ih" else (0.0, total)
            return _tweak(q, bias_ih=bi, bias_hh=bh)
        v, pre, wk, bk = (p["x"], ax, "weight_ih", "bias_ih") if to == "ih" else (p["h"], ah, "weight_hh", "bias_hh")
        w, b = q[wk].copy(), q[bk].copy()
        w[part] = _rank_one(pre[:, part], v)
        b[part] = 0.0
        return _tweak(q, **{wk: w, bk: b})

    gates = [base, moved(rz, "ih", None), moved(rz, "hh", None), moved(rz, "ih", True), moved(rz, "hh", True)]
    if not _outputs_same(learner, gates):
        return "G1"
    if not _outputs_same(learner, [base, moved(n, "ih", True), moved(n, "hh", True)]):
        return "G2"
    if not _outputs_same(learner, _linear_variants(p)[:1] + [base]) and not _outputs_same(
        learner,
        [
            base,
            _tweak(base, bias_ih=None, bias_hh=None, weight_ih=_rank_one(ax, p["x"]), weight_hh=_rank_one(ah, p["h"])),
        ],
    ):
        return "G1"
    a = ax + ah
    r, z = ref.sigmoid(a[:, :H]), ref.sigmoid(a[:, H : 2 * H])
    hs = [p["h"], p["h"] + 0.5, p["h"] - 0.8]  # h enters only (G3): the weights are zero
    try:
        ys = [learner.forward(_tweak(base, h=h))[0][0] for h in hs]
    except (LearnerError, BadReturn):
        return "G1"
    n_ref = np.tanh(ax[:, n] + r * ah[:, n])
    s, t, affine = _affine(ys, hs)
    if not affine:
        return "G3"
    s_ok, t_ok = _close(s, z), _close(t, (1 - z) * n_ref)
    if _close(s, 1 - z) and _close(t, z * n_ref):  # z and 1 - z exchanged
        return "G3"
    if not s_ok:
        gate_only = _close(t, (1 - s) * n_ref) and not _const(s, s.flat[0])
        return "G1" if gate_only else "G3"
    if t_ok:
        return "G1"
    # the intercept is phi * n with n right and phi not 1 - z for every h_n: (G3); else n is
    # wrong: through r (G1) when atanh(n) - x_n is r' * h_n for another r', else (G2)
    rho, phi = [], []
    for scale in (1.0, 2.0):
        b = base["bias_hh"].copy()
        b[n] = ah[0, n] * scale
        try:
            y = learner.forward(_tweak(base, bias_hh=b))[0][0]
        except (LearnerError, BadReturn):
            return "G2"
        n_k = np.tanh(ax[:, n] + r * ah[:, n] * scale)
        mask = np.abs(n_k) > 0.05
        phi.append((y - z * p["h"])[mask] / n_k[mask])
        n_seen = np.clip((y - z * p["h"]) / (1 - z), -1 + 1e-12, 1 - 1e-12)
        rho.append((np.arctanh(n_seen) - ax[:, n]) / (ah[:, n] * scale))
    if _agree(phi):
        return "G3"
    if _agree(rho) and not _const(rho[0], 1.0) and not _close(rho[0], r) and not _close(rho[0], -r):
        return "G1"
    return "G2"


_FORWARD_DIAGNOSIS = {"rnn": _forward_rnn, "lstm": _forward_lstm, "gru": _forward_gru}
