"""Check a learner's step functions against ``tinyrnn.reference`` and name the first broken
equation of docs/bptt.md, from the functions' outputs alone (the learner's cache is opaque).

How an equation is found (float64 throughout, every input a fresh copy):
- linear part of a forward, (1), (L1), (G1)/(G2): the same pre-activations are produced in
  several ways (all through the biases, through rank-one weights, with no biases); a correct
  linear part gives the same outputs for all of them, a wrong one does not;
- the rest of a forward: with the pre-activations held fixed, an input that only enters the
  last equation (``c`` in (L3), ``h`` in (G3) when ``weight_hh`` is zero) is varied; the
  outputs must be affine in it with the slope and intercept of the equation, and which of the
  two is off says whether the gate (L2), (G1), (G2) or the combination (L3), (L4), (G3) is;
- a backward: at batch size 1 the bias gradients (and ``dW_ih x^T / |x|²``) read out the
  learner's pre-activation gradients gate by gate; setting ``dh_next`` or ``dc_next`` to zero
  separates the paths through (L6)-(L9); the gates that are wrong say which line is.
A backward is only called on inputs where the learner's own forward is right, so a bug in a
forward is named there and never blamed on its backward.
"""

from __future__ import annotations

import traceback

import numpy as np

from .. import reference as ref
from .equations import EQUATIONS, FUNCTION_EQUATIONS

FUNCTIONS = tuple(FUNCTION_EQUATIONS)
RTOL, ATOL = 1e-6, 1e-8


# ------------------------------------------------------------------ outcomes
class NotWritten(Exception):
    """The function raised NotImplementedError."""


class LearnerError(Exception):
    """The function raised something else (the message says where in the learner's file)."""


class BadReturn(Exception):
    """The function returned something of the wrong kind (not a tuple, a wrong count, no dict, an
    array of the wrong shape or dtype); ``status`` is "wrong shape" or "wrong type"."""

    def __init__(self, message, status="wrong type"):
        super().__init__(message)
        self.status = status


def result(status, equation=None, message="", max_diff=None, where=None):
    return dict(status=status, equation=equation, message=message, max_diff=max_diff, where=where)


def _wrong(equation, diff, where, shape_msg=None, note=""):
    should = EQUATIONS[equation][1]
    if note:
        should += f" ({note})"
    if shape_msg:
        return result("wrong shape", equation, f"{shape_msg}; ({equation}): {should}", where=where)
    return result(
        "wrong", equation, f"({equation}): {should}; largest difference {diff:.3g}", max_diff=float(diff), where=where
    )


def _call(fn, name, path, *args):
    """fn(*args) on copies of the arrays; the learner's exceptions become NotWritten/LearnerError."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        return fn(*args)
    except NotImplementedError:
        raise NotWritten from None
    except (Exception, SystemExit) as e:  # the learner's code: anything may come out
        lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
        at = f" at line {lines[-1]}" if lines else ""
        text = " ".join(str(e).split())[:200]
        raise LearnerError(f"{name} raised {type(e).__name__}{at}: {text}") from None


def _unpack(out, name, what):
    if not isinstance(out, (tuple, list)) or len(out) != len(what):
        if isinstance(out, (tuple, list)):
            got = f"{len(out)} value{'' if len(out) == 1 else 's'}"
        else:
            got = f"a value of type {type(out).__name__}"
        raise BadReturn(f"{name} returned {got}, expected a tuple ({', '.join(what)})")
    return out


def _array(value, label, shape):
    """None if value is a float64 array of ``shape``, else what is wrong with it."""
    if not isinstance(value, np.ndarray):
        return f"{label} is of type {type(value).__name__}, expected a float64 array of shape {shape}"
    if value.shape != shape:
        return f"{label} has shape {value.shape}, expected {shape}"
    if value.dtype != np.float64:
        return f"{label} has dtype {value.dtype}, expected float64 (the inputs were float64)"
    return None


def _diff(a, b):
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _close(a, b):
    return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL)


def _agree(values):
    return all(_close(v, values[0]) for v in values[1:])


# ------------------------------------------------------------------ probes
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
SIZES = ((3, 3), (4, 2))  # (I, H): square, so that a transposed weight gives numbers
BATCHES = (1, 3)


def _probe(rng, cell, B, I, H, bias, nonlinearity=None):
    G = GATES[cell] * H
    p = dict(
        x=rng.normal(size=(B, I)),
        h=rng.uniform(-0.9, 0.9, (B, H)),
        weight_ih=rng.uniform(-1, 1, (G, I)),
        weight_hh=rng.uniform(-1, 1, (G, H)),
        bias_ih=rng.uniform(-1, 1, G) if bias else None,
        bias_hh=rng.uniform(-1, 1, G) if bias else None,
    )
    if cell == "lstm":
        p["c"] = rng.normal(size=(B, H))
    if nonlinearity is not None:
        p["nonlinearity"] = nonlinearity
    return p


def _describe(p, extra=""):
    text = f"batch {len(p['x'])}, {'with' if p['bias_ih'] is not None else 'without'} biases"
    if "nonlinearity" in p:
        text += f", nonlinearity {p['nonlinearity']}"
    return text + (", " + extra if extra else "")


def probes(cell):
    rng = np.random.default_rng(23)
    out = []
    for nl in ref.NONLINEARITIES if cell == "rnn" else (None,):
        for bias in (True, False):
            for B in BATCHES:
                for I, H in SIZES:
                    out.append(_probe(rng, cell, B, I, H, bias, nl))
    return out


def _args(cell, p):
    if cell == "rnn":
        return (p["x"], p["h"], p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"], p["nonlinearity"])
    if cell == "lstm":
        return (p["x"], p["h"], p["c"], p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    return (p["x"], p["h"], p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])


_FORWARD = {
    "rnn": (ref.rnn_step, ("h_next", "cache")),
    "lstm": (ref.lstm_step, ("h_next", "c_next", "cache")),
    "gru": (ref.gru_step, ("h_next", "cache")),
}


def _ref_forward(cell, p):
    out = _FORWARD[cell][0](*_args(cell, p))
    return out[:-1], out[-1]


class Learner:
    """The learner's functions of one cell, called on copies, outputs validated."""

    def __init__(self, functions, path, cell):
        self.fns, self.path, self.cell = functions, path, cell

    def forward(self, p):
        """The learner's forward outputs (a tuple of arrays) and cache, or raises."""
        name = f"{self.cell}_step"
        what = _FORWARD[self.cell][1]
        out = _unpack(_call(self.fns[name], name, self.path, *_args(self.cell, p)), name, what)
        B, H = p["h"].shape
        for label, value in zip(what[:-1], out[:-1]):
            problem = _array(value, label, (B, H))
            if problem:
                raise BadReturn(
                    f"{name}'s {problem} ({_describe(p)})",
                    "wrong shape" if " has shape " in problem else "wrong type",
                )
        return tuple(out[:-1]), out[-1]


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
    note = ""
    if isinstance(equation, tuple):
        equation, note = equation
    p, label, _, _, _, bad = next(
        (
            (w[0], w[1], w[2], w[3], w[4], w[5])
            for w in wrong
            if any(_OUTPUT_EQUATION[cell].get(k) == equation for k in w[5])
        ),
        wrong[0],
    )
    shape_msg = next((msg for k, (_, msg) in bad.items() if msg and _OUTPUT_EQUATION[cell].get(k) == equation), None)
    return _wrong(equation, worst, _describe(p, label), shape_msg, note)


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
            return "L7", "here it is right while dc_next = 0 and wrong when only dc_next is given: the dc_next term"
        if "dh_next = 0" not in paths:
            return "L7", "here it is right while dh_next = 0: the term through (L4), dh_next * o * (1 - tanh²(c_next))"
        return "L7"
    named = ", ".join(f"da_{k}" for k in gates if k in off)
    return "L8", f"here {named} {'is' if len(off) == 1 else 'are'} off, read gate by gate from the bias gradients"


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


# ------------------------------------------------------------------ one function
def check_function(name, functions, path):
    """The result dict of checking ``name`` (one of FUNCTIONS) among the learner's ``functions``."""
    cell = name.split("_")[0]
    learner = Learner(functions, path, cell)
    try:
        if name.endswith("_backward"):
            if f"{cell}_step" not in functions:
                return result(
                    "not checked",
                    None,
                    f"{name} is checked with the cache of {cell}_step: define {cell}_step in the same file",
                )
            return check_backward(learner)
        return check_forward(learner)
    except NotWritten:
        if name.endswith("_backward") and not _raises_not_written(functions[name], path):
            return result("not checked", None, f"{cell}_step is not written yet; {name} is checked with its cache")
        return result("not written", None, f"{name} raises NotImplementedError")
    except BadReturn as e:
        return result(e.status, None, str(e))
    except LearnerError as e:
        return result("error", None, str(e))


def _raises_not_written(fn, path):
    """Whether a backward raises NotImplementedError at once (an unfilled template), given a cache
    of None because its forward gives none."""
    dummy = np.zeros((1, 1))
    try:
        _call(fn, "", path, *([dummy] * (fn.__code__.co_argcount - 1 if hasattr(fn, "__code__") else 1)), None)
    except NotWritten:
        return True
    except (LearnerError, BadReturn):
        return False
    return False
