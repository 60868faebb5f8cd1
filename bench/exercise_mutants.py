"""How often `tinyrnn check` names the broken equation on machine-made bugs (not hand-picked ones).

Every line of tests/data/exercises/solution.py that computes something is labelled with its
equation of docs/bptt.md; each mutant changes ONE token on ONE such line: an arithmetic
operator flipped (+ -, * +, * -) or a variable replaced by another variable of the same
function. Each mutant is checked like a learner's file; a mutant is

- "flagged" when some function of its cell is not correct,
- "named" when the first broken equation reported is the line's label,
- "raised" when it only makes the function raise (numpy's own error names the line).

Mutants that change nothing the checker can see (equivalent mutants: `0.5 * ...` flips inside
the sigmoid's identity, a variable replaced by an equal one) are counted as not flagged.

    PYTHONPATH=src python bench/exercise_mutants.py            # prints the table and the figure
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
SOLUTION = os.path.join(HERE, "..", "tests", "data", "exercises", "solution.py")

# (function, text at the start of the line's code) -> equation; a line with two equations gives
# a list of (column where the second starts, label) instead
LABELS = {
    "rnn_step": [("pre = np.dot", "1"), ("pre = pre +", "1"), ("out = ", "2")],
    "rnn_step_backward": [
        ("slope = ", "3"),
        ("dpre = ", "3"),
        ("dhprev = ", "4"),
        ("dinput = ", "8"),
        ("grads = {", [(0, "6"), ('"weight_hh"', "5")]),
        ('grads["bias', "7"),
    ],
    "lstm_step": [
        ("z = ", "L1"),
        ("zi, zf", "L1"),
        ("ig = ", "L2"),
        ("fg = ", "L2"),
        ("cand = ", "L2"),
        ("og = ", "L2"),
        ("cnew = ", "L3"),
        ("squashed = ", "L4"),
        ("hnew = ", "L4"),
    ],
    "lstm_step_backward": [
        ("dm = ", "L6"),
        ("dcell = ", "L7"),
        ("dz", "L8"),
        ("dcprev = ", "L9"),
        ("dhprev = ", "L9"),
        ("dinput = ", "L10"),
        ("grads", "L10"),
    ],
    "gru_step": [
        ("gx = ", "G1"),
        ("gh = ", "G1"),
        ("xr, xz", "G1"),
        ("hr, hz", "G1"),
        ("reset = ", "G1"),
        ("update = ", "G1"),
        ("cand = ", "G2"),
        ("hnew = ", "G3"),
    ],
    "gru_step_backward": [
        ("dxn = ", "G4"),
        ("dr = ", "G5"),
        ("dz = ", "G5"),
        ("d_in = ", "G8"),
        ("d_rec = ", "G6"),
        ("dhprev = ", "G6"),
        ("dinput = ", "G8"),
        ("grads = {", [(0, "G8"), ('"weight_hh"', "G7")]),
        ('grads["bias_ih"]', "G8"),
        ('grads["bias_hh"]', "G7"),
    ],
}
NAME = re.compile(r"\b[A-Za-z_][A-Za-z_0-9]*\b")
KEEP = {
    "np",
    "dot",
    "sum",
    "axis",
    "hstack",
    "split",
    "tanh",
    "T",
    "copy",
    "None",
    "is",
    "not",
    "if",
    "else",
    "sig",
    "weight_ih",
    "weight_hh",
    "bias_ih",
    "bias_hh",
    "grads",
    "nonlinearity",
    "kind",
}


def label_of(function, code, column):
    for start, label in LABELS.get(function, []):
        if code.startswith(start):
            if isinstance(label, list):
                cut = code.find(label[1][0])
                return label[1][1] if column >= cut else label[0][1]
            return label
    return None


def mutants(source):
    """(function, line number, label, new source) for every one-token change of a labelled line."""
    lines = source.split("\n")
    function, names = None, {}
    for line in lines:  # the variables of each function
        m = re.match(r"def (\w+)\(", line)
        if m:
            function = m.group(1)
            names[function] = set()
        elif function and re.match(r"\s+[\w, ]+ = ", line):
            lhs = line.split("=")[0]
            names[function] |= set(NAME.findall(lhs))
    function = None
    for k, line in enumerate(lines):
        m = re.match(r"def (\w+)\(", line)
        if m:
            function = m.group(1)
            continue
        code = line.strip()
        if not code or function not in LABELS or "=" not in code or code.startswith(("return", "#", "x, ")):
            continue
        indent = len(line) - len(code)
        eq_col = code.index("=") + 1
        for j, ch in enumerate(code[eq_col:], eq_col):  # operators on the right-hand side
            if ch in "+-*" and code[j - 1] == " " and code[j + 1 : j + 2] == " ":
                for new in {"+": "-", "-": "+", "*": "+-"}[ch]:
                    mutated = code[:j] + new + code[j + 1 :]
                    yield function, k + 1, label_of(function, code, j), _swap(lines, k, indent, mutated)
        for m in NAME.finditer(code, eq_col):  # a variable for another one
            word = m.group(0)
            if word in KEEP or word not in names[function] | {"x", "h", "c", "dh_next", "dc_next"}:
                continue
            for other in sorted(names[function] - {word}):
                mutated = code[: m.start()] + other + code[m.end() :]
                yield function, k + 1, label_of(function, code, m.start()), _swap(lines, k, indent, mutated)


def _swap(lines, k, indent, code):
    out = list(lines)
    out[k] = " " * indent + code
    return "\n".join(out)


def main():
    from tinyrnn.exercises.diagnose import FUNCTIONS, check_function

    warnings.simplefilter("ignore")
    source = open(SOLUTION).read()
    folder = tempfile.mkdtemp()
    counts = dict(total=0, flagged=0, named=0, raised=0, unlabelled=0, unimportable=0)
    wrong_names = {}
    for n, (function, _lineno, label, text) in enumerate(mutants(source)):
        if label is None:
            counts["unlabelled"] += 1
            continue
        path = os.path.join(folder, f"m{n}.py")
        with open(path, "w") as fh:
            fh.write(text)
        spec = importlib.util.spec_from_file_location(f"m{n}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception:  # e.g. a name used before it is set
            counts["unimportable"] += 1
            continue
        cell = function.split("_")[0]
        fns = {f: getattr(module, f) for f in FUNCTIONS}
        results = [check_function(f, fns, path) for f in FUNCTIONS if f.startswith(cell + "_")]
        counts["total"] += 1
        bad = [r for r in results if r["status"] != "correct"]
        if not bad:
            continue
        counts["flagged"] += 1
        equation = next((r["equation"] for r in bad if r["equation"]), None)
        if equation is None:
            counts["raised"] += 1
        elif equation == label:
            counts["named"] += 1
        else:
            key = (label, equation)
            wrong_names[key] = wrong_names.get(key, 0) + 1
    print(counts)
    for (label, got), times in sorted(wrong_names.items(), key=lambda kv: -kv[1]):
        print(f"  line of ({label}) named ({got}): {times}")
    with_values = counts["flagged"] - counts["raised"]
    print(
        f"named correctly / flagged / total: {counts['named']} / {counts['flagged']} / {counts['total']} "
        f"({counts['raised']} flagged only by raising; {counts['named']} / {with_values} of those flagged with numbers)"
    )


if __name__ == "__main__":
    sys.exit(main())
