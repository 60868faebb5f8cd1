"""Which equation of a learner's backward step is broken (see ``diagnose``'s docstring)."""

from __future__ import annotations

import numpy as np

from .. import reference as ref
from ._learner import (
    BadReturn,
    LearnerError,
    _array,
    _call,
    _close,
    _describe,
    _diff,
    _ref_forward,
    _unpack,
    _wrong,
    probes,
    result,
)
from .equations import FUNCTION_EQUATIONS

# ------------------------------------------------------------------ backwards
_BACKWARD = {
    "rnn": (ref.rnn_step_backward, ("dx", "dh", "grads"), 1),
    "lstm": (ref.lstm_step_backward, ("dx", "dh", "dc", "grads"), 2),
    "gru": (ref.gru_step_backward, ("dx", "dh", "grads"), 1),
}
# the equation that makes each output, for a wrong output whose gradients are otherwise right
_OUTPUT_EQUATION = {
    "rnn": {"dh": "4", "weight_hh": "5", "weight_ih": "6", "bias_ih": "7", "bias_hh": "7", "dx": "8"},
    "lstm": {
        "dc": "L9",
        "dh": "L9",
        "weight_hh": "L10",
        "weight_ih": "L10",
        "bias_ih": "L10",
        "bias_hh": "L10",
        "dx": "L10",
    },
    "gru": {"dh": "G6", "weight_hh": "G7", "bias_hh": "G7", "weight_ih": "G8", "bias_ih": "G8", "dx": "G8"},
}


def _modes(cell, rng, B, H):
    """The gradients sent in: random, and for the LSTM also each of dh_next, dc_next alone."""
    dh, dc = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    if cell != "lstm":
        return [((dh,), "")]
    zero = np.zeros((B, H))
    return [((dh, dc), ""), ((dh, zero), "dc_next = 0"), ((zero, dc), "dh_next = 0")]


def _outputs(cell, out, p):
    """{name: array} of a backward's return value (grads flattened into it)."""
    names = _BACKWARD[cell][1]
    got = dict(zip(names[:-1], out[:-1]))
    grads = out[-1]
    if not isinstance(grads, dict):
        raise BadReturn(
            f"{cell}_step_backward returned grads as {type(grads).__name__}, expected a dict "
            "keyed weight_ih, weight_hh, bias_ih, bias_hh"
        )
    keys = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if p["bias_ih"] is not None else ())
    for k in keys:
        got[k] = grads.get(k)
    return got


def _expected(cell, p, grads_in):
    _, cache = _ref_forward(cell, p)
    out = _BACKWARD[cell][0](*grads_in, cache)
    return _outputs(cell, out, p)


def check_backward(learner):
    """The learner's backward on every probe where its own forward is right."""
    cell = learner.cell
    name = f"{cell}_step_backward"
    rng = np.random.default_rng(7)
    cases, errors, usable = [], [], 0
    for p in probes(cell):
        try:
            mine, _ = learner.forward(p)
        except (LearnerError, BadReturn):
            continue
        theirs, _ = _ref_forward(cell, p)
        if not all(_close(m, t) for m, t in zip(mine, theirs)):
            continue
        usable += 1
        B, H = p["h"].shape
        for grads_in, label in _modes(cell, rng, B, H):
            _, cache = learner.forward(p)  # a fresh cache each call: theirs may be consumed
            try:
                out = _unpack(_call(learner.fns[name], name, learner.path, *grads_in, cache), name, _BACKWARD[cell][1])
            except LearnerError as e:
                errors.append((str(e), p, label))
                continue
            got, want = _outputs(cell, out, p), _expected(cell, p, grads_in)
            cases.append((p, label, grads_in, got, want))
    if usable == 0:
        return result(
            "not checked",
            None,
            f"{cell}_step is not right on any input yet: fix it first, then {name} is checked with its cache",
        )
    wrong = []  # (p, label, {output: (diff, shape problem)})
    worst = 0.0
    for p, label, grads_in, got, want in cases:
        bad = {}
        for k, w in want.items():
            problem = _array(got[k], k if k in ("dx", "dh", "dc") else f"grads[{k!r}]", w.shape)
            if problem:
                bad[k] = (np.inf, problem)
            elif not _close(got[k], w):
                bad[k] = (_diff(got[k], w), None)
                worst = max(worst, bad[k][0])
        if bad:
            wrong.append((p, label, grads_in, got, want, bad))
    if not wrong:
        if errors:
            msg, p, label = errors[0]
            return result("error", None, msg, where=_describe(p, label))
        return result("correct")
    equation = _BACKWARD_DIAGNOSIS[cell](wrong)
    note, should = "", None
    if isinstance(equation, tuple):  # (equation, note) or (equation, note, what to say instead of the rule)
        equation, note, should = (*equation, None)[:3]
    p, label, _, _, _, bad = next(
        (
            (w[0], w[1], w[2], w[3], w[4], w[5])
            for w in wrong
            if any(_OUTPUT_EQUATION[cell].get(k) == equation for k in w[5])
        ),
        wrong[0],
    )
    shape_msg = next((msg for k, (_, msg) in bad.items() if msg and _OUTPUT_EQUATION[cell].get(k) == equation), None)
    return _wrong(equation, worst, _describe(p, label), shape_msg, note, should)


def _first_output(cell, wrong):
    """The first equation (in the page's order) of an output that is wrong somewhere."""
    order = FUNCTION_EQUATIONS[f"{cell}_step_backward"]
    seen = {_OUTPUT_EQUATION[cell][k] for w in wrong for k in w[5]}
    return next(e for e in order if e in seen)


def _readouts(got, p, side):
    """The learner's pre-activation gradient of one side ("ih" or "hh") at batch size 1: its bias
    gradient and its weight gradient times the input, where they have the right shape."""
    v = p["x"] if side == "ih" else p["h"]
    out = []
    b, w = got.get(f"bias_{side}"), got.get(f"weight_{side}")
    if isinstance(b, np.ndarray) and b.ndim == 1:
        out.append(b[None, :])
    if isinstance(w, np.ndarray) and w.ndim == 2 and w.shape[1] == v.shape[1]:
        out.append((w @ v[0] / (v[0] @ v[0]))[None, :])
    return out


def _consensus(readouts, truth):
    """The learner's gradient from its readouts: one that another agrees with, else one equal to
    the reference (the other broke afterwards), else the first; None if there is none."""
    for r in readouts:
        if sum(_close(r, s) for s in readouts) > 1:
            return r
    for r in readouts:
        if r.shape == truth.shape and _close(r, truth):
            return r
    return readouts[0] if readouts else None


def _backward_rnn(wrong):
    derived = ("dh", "weight_hh", "weight_ih", "bias_ih", "bias_hh", "dx")
    for _p, _label, _grads_in, _got, want, bad in wrong:
        present = [k for k in derived if k in want]
        if all(k in bad for k in present):  # everything computed from da is off: da is
            return "3"
    return _first_output("rnn", wrong)


def _batch_one(wrong):
    return [w for w in wrong if len(w[0]["x"]) == 1]


def _backward_lstm(wrong):
    ones = _batch_one(wrong)
    if not ones:
        return _first_output("lstm", wrong)
    gates = ("i", "f", "g", "o")
    off, paths = set(), set()  # paths: the modes ("dh_next = 0", ...) where a gate is off
    for p, label, _grads_in, got, want, _bad in ones:
        H = p["h"].shape[1]
        blocks = {k: slice(j * H, (j + 1) * H) for j, k in enumerate(gates)}
        da_ref = (
            want["bias_ih"][None, :]
            if "bias_ih" in want
            else (want["weight_ih"] @ p["x"][0] / (p["x"][0] @ p["x"][0]))[None, :]
        )
        readouts = [r for r in _readouts(got, p, "ih") + _readouts(got, p, "hh") if r.shape == da_ref.shape]
        da = _consensus(readouts, da_ref)
        if da is None:
            continue
        here = {k for k, s in blocks.items() if not _close(da[:, s], da_ref[:, s])}
        off |= here
        if here:
            paths.add(label)
    if not off:
        return _first_output("lstm", wrong)
    if off == set(gates):
        return "L6"
    if {"i", "f", "g"} <= off:
        if "dc_next = 0" not in paths:
            return (
                "L7",
                "",
                (
                    "the dc_next term is wrong or missing (the term from dh_next is right): the cell gradient "
                    "is dc_next, the gradient coming from the next step, PLUS dm_t * o * (1 - tanh²(c_t))"
                ),
            )
        if "dh_next = 0" not in paths:
            return "L7", "", _l7_dh_term(ones)
        return "L7"
    named = ", ".join(f"da_{k}" for k in gates if k in off)
    return "L8", f"here {named} {'is' if len(off) == 1 else 'are'} off, read gate by gate from the bias gradients"


# What a learner's (L7) term from dh_next may compute in place of dm_t * o * (1 - tanh²(c_t)),
# and what to tell them: (dc_t from (dm, o, c_t, c_{t-1}, tanh(c_t)), what is wrong in plain words)
_L7_SLIPS = (
    (
        lambda dm, o, c, c_prev, t: dm * o * (1 - t),
        "tanh's derivative is 1 - tanh²(c_t), and here it is 1 - tanh(c_t): the square is missing",
    ),
    (
        lambda dm, o, c, c_prev, t: dm * o * (1 - c**2),
        "tanh's derivative is 1 - tanh²(c_t), and here it is 1 - c_t²: square tanh(c_t), not c_t",
    ),
    (
        lambda dm, o, c, c_prev, t: dm * o * (1 - c_prev**2),
        "tanh's derivative is 1 - tanh²(c_t), and here it is 1 - c², with c the previous cell state c_(t-1): "
        "square tanh(c_t), of the new cell state",
    ),
    (
        lambda dm, o, c, c_prev, t: dm * o * (1 - np.tanh(t) ** 2),
        "tanh is applied twice: the value kept from the forward is already tanh(c_t), so the derivative is "
        "1 - (that value)², not 1 - tanh(that value)²",
    ),
    (
        lambda dm, o, c, c_prev, t: dm * o * t * (1 - t),
        "tanh's derivative is 1 - tanh²(c_t), and here it is tanh(c_t) (1 - tanh(c_t)), the form of the "
        "sigmoid's derivative σ (1 - σ)",
    ),
    (
        lambda dm, o, c, c_prev, t: dm * o,
        "the factor 1 - tanh²(c_t), tanh's derivative at c_t, is missing",
    ),
    (
        lambda dm, o, c, c_prev, t: dm * (1 - t**2),
        "the factor o is missing: h = o * tanh(c_t), so the gradient reaching c_t from h is multiplied by o",
    ),
)


def _l7_dh_term(ones):
    """The (L7) hint when dc_next passes through right and the term from dh_next does not: the
    learner's dc_t read out (at batch size 1, with dc_next = 0) from its gate gradients
    da_i = dc_t g i(1-i), da_f = dc_t c f(1-f), da_g = dc_t i (1-g²), matched against the slips
    learners make; in plain words what is wrong, and what the term should be."""
    lead = "the term from dh_next is wrong (dc_next alone passes through right): "
    for p, label, grads_in, got, want, _bad in ones:
        if label != "dc_next = 0":
            continue
        H = p["h"].shape[1]
        _, cache = _ref_forward("lstm", p)
        i, f, g, o, t = (cache[k][0] for k in ("i", "f", "g", "o", "tanh_c"))
        c_next = f * p["c"][0] + i * g
        dm = grads_in[0][0] if cache.get("weight_hr") is None else (grads_in[0] @ cache["weight_hr"])[0]
        readouts = [r for r in _readouts(got, p, "ih") + _readouts(got, p, "hh") if r.shape == (1, 4 * H)]
        da = _consensus(readouts, want["bias_ih"][None, :] if "bias_ih" in want else readouts[0] if readouts else None)
        if da is None:
            continue
        scale = np.stack([g * i * (1 - i), p["c"][0] * f * (1 - f), i * (1 - g**2)])  # (3, H): da_k = dc_t * scale_k
        dc = (da[0, : 3 * H].reshape(3, H) * scale).sum(0) / np.maximum((scale**2).sum(0), 1e-300)  # (H,)
        for make, words in _L7_SLIPS:
            if _close(dc, make(dm, o, c_next, p["c"][0], t)):
                return lead + words + ". The term is dm_t * o * (1 - tanh²(c_t))"
    return (
        lead + "it should be dm_t * o * (1 - tanh²(c_t)), where o comes from h = o * tanh(c_t) and "
        "1 - tanh²(c_t) is the derivative of tanh at c_t"
    )


def _backward_gru(wrong):
    ones = _batch_one(wrong)
    if not ones:
        return _first_output("gru", wrong)
    found, off = set(), set()
    for p, _label, _grads_in, got, want, bad in ones:
        H = p["h"].shape[1]
        n_ = slice(2 * H, 3 * H)
        x, h = p["x"][0], p["h"][0]
        dax_ref = (want["weight_ih"] @ x / (x @ x))[None, :]
        dah_ref = (want["weight_hh"] @ h / (h @ h))[None, :]
        dax = _consensus([r for r in _readouts(got, p, "ih") if r.shape == dax_ref.shape], dax_ref)
        dah = _consensus([r for r in _readouts(got, p, "hh") if r.shape == dah_ref.shape], dah_ref)
        rz = slice(0, 2 * H)

        def off_on(side, ref_side, part):
            return side is not None and not _close(side[:, part], ref_side[:, part])

        # a gate gradient is wrong (G4, G5) when both stacks carry it wrong; one stack alone wrong
        # is the line that builds that stack: the recurrent one (G6, G7) or the input one (G8)
        ah_n_off, ah_rz_off = off_on(dah, dah_ref, n_), off_on(dah, dah_ref, rz)
        if off_on(dax, dax_ref, n_) and (ah_n_off or dah is None):
            found.add("G4")
        elif off_on(dax, dax_ref, rz) and (ah_rz_off or dah is None):
            found.add("G5")
            off |= {
                k for k, s in (("da_r", slice(0, H)), ("da_z", slice(H, 2 * H))) if not _close(dax[:, s], dax_ref[:, s])
            }
        elif "dh" in bad:
            found.add("G6")
        elif ah_n_off or ah_rz_off:
            found.add("G7")
    order = FUNCTION_EQUATIONS["gru_step_backward"]
    equation = next((e for e in order if e in found), None) or _first_output("gru", wrong)
    if equation == "G5":
        return (
            equation,
            f"here {' and '.join(sorted(off))} {'is' if len(off) == 1 else 'are'} off, read from the bias gradients",
        )
    return equation


_BACKWARD_DIAGNOSIS = {"rnn": _backward_rnn, "lstm": _backward_lstm, "gru": _backward_gru}
