"""Checkpoints checked before they cost anything: a header whose config claims a bigger model
than the arrays hold is refused from the archive's directory and .npy headers (under a memory
limit, so the refusal cannot come from a MemoryError); meta that disagrees with the arrays is a
CheckpointError; and a model is saved whole (several modules, or none left out by the optimizer)."""

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import cli
from tinyrnn.checkpoint import check_config
from tinyrnn.models.charlm import CharLM
from tinyrnn.models.seq2seq import Seq2Seq

TEXT = "dccbbaaaadcdccdc" * 300
TINY_LM = ["--hidden", "8", "--embed", "4", "--seq-len", "8", "--batch", "4", "--quiet"]
SRC = str(Path(tr.__file__).parents[1])
LIMIT = 1 << 30  # address space of the child: far below what the claimed models need


# ---------------------------------------------------------------- crafting
def _members(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rewrite(path, out, edit):
    """Copy the checkpoint at ``path`` to ``out`` with ``edit(header)`` applied to its JSON."""
    members = _members(path)
    header = json.loads(str(np.load(io.BytesIO(members["__tinyrnn__.npy"]))))
    edit(header)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(json.dumps(header)))
    members["__tinyrnn__.npy"] = buf.getvalue()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    return str(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("header")
    (d / "t.txt").write_text(TEXT)
    assert cli.main(["charlm", "train", str(d / "t.txt"), *TINY_LM, "--steps", "3", "--save", str(d / "lm.npz")]) == 0
    assert cli.main(["seq2seq", "train", "--steps", "2", "--hidden", "8", "--quiet", "--save", str(d / "s2s.npz")]) == 0
    return d


def _limited(argv):
    """``tinyrnn argv`` in a child whose address space is limited to LIMIT bytes."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))\n"
        "from tinyrnn import cli\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, env=env, timeout=120
    )
    return p.returncode, p.stderr, time.perf_counter() - t0


# ---------------------------------------------------------------- size bombs
def test_the_memory_limit_is_real(files, tmp_path):
    """Without the header check the same limit ends in a MemoryError: a model of hidden 8000
    cannot be built under it (so the refusals below do come from the header)."""
    code = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))\n"
        "from tinyrnn.models.charlm import CharLM\n"
        "try:\n    CharLM(4, 4, 8000, 'lstm')\nexcept MemoryError:\n    print('MemoryError')\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120).stdout
    assert out.strip() == "MemoryError"


@pytest.mark.parametrize(
    "command,ckpt,key,value",
    [
        (["charlm", "sample", "{f}", "--length", "5"], "lm.npz", "hidden_size", 8000),
        (["charlm", "show", "{f}", "{txt}"], "lm.npz", "hidden_size", 8000),
        (["charlm", "sample", "{f}", "--length", "5"], "lm.npz", "num_layers", 300000),
        (["charlm", "sample", "{f}", "--length", "5"], "lm.npz", "embed_size", 10**9),
        (["seq2seq", "translate", "{f}", "man"], "s2s.npz", "hidden_size", 12000),
        (["seq2seq", "translate", "{f}", "man"], "s2s.npz", "num_layers", 300000),
    ],
)
def test_size_bombs_are_refused_from_the_header(files, tmp_path, command, ckpt, key, value):
    bomb = _rewrite(files / ckpt, tmp_path / "bomb.npz", lambda h: h["config"].update({key: value}))
    assert os.path.getsize(bomb) < 200_000
    argv = [a.format(f=bomb, txt=files / "t.txt") for a in command]
    code, err, seconds = _limited(argv)
    assert code == 2, err
    assert "does not match its config" in err and "refused before building the model" in err, err
    assert "memory" not in err.lower()
    assert seconds < 60


def test_resume_bomb_is_refused_from_the_header(files, tmp_path):
    def grow(h):
        h["config"]["hidden_size"] = 8000
        h["meta"]["train_config"]["hidden"] = 8000

    bomb = _rewrite(files / "lm.npz", tmp_path / "bomb.npz", grow)
    code, err, _ = _limited(
        ["charlm", "train", files / "t.txt", *TINY_LM, "--steps", "5", "--resume", bomb, "--save", tmp_path / "out.npz"]
    )
    assert code == 2 and "refused before building the model" in err, err
    assert not (tmp_path / "out.npz").exists()


def test_check_config_reads_no_array(files):
    header = check_config(files / "lm.npz", CharLM)
    assert header["class"] == "CharLM"
    with pytest.raises(tr.CheckpointError, match="holds a CharLM, not a Seq2Seq"):
        check_config(files / "lm.npz", Seq2Seq)
    with pytest.raises(tr.CheckpointError, match="unusable config"):
        check_config(files / "lm.npz", CharLM, dict(header["config"], hidden_size="8"))


# ---------------------------------------------------------------- meta against the arrays
def _drop_char(h):
    h["meta"]["chars"] = h["meta"]["chars"][1:]


def _dup_char(h):
    h["meta"]["chars"] = h["meta"]["chars"][0] + h["meta"]["chars"][:-1]


@pytest.mark.parametrize(
    "edit,message",
    [
        (_drop_char, "meta.chars does not describe the model's vocabulary"),
        (_dup_char, "meta.chars does not describe the model's vocabulary"),
        (lambda h: h["meta"].pop("chars"), "meta has no 'chars' entry"),
        (lambda h: h["meta"].update(chars=[1, 2]), "meta.chars must be a string"),
    ],
)
@pytest.mark.parametrize("command", [["charlm", "sample", "{f}", "--length", "5"], ["charlm", "show", "{f}", "{txt}"]])
def test_meta_disagreeing_with_the_arrays_is_refused(files, tmp_path, capsys, edit, message, command):
    bad = _rewrite(files / "lm.npz", tmp_path / "bad.npz", edit)
    code = cli.main([a.format(f=bad, txt=files / "t.txt") for a in command])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda h: h["meta"].pop("step"), "meta has no 'step' entry"),
        (lambda h: h["meta"].pop("pos"), "meta has no 'pos' entry"),
        (lambda h: h["meta"].update(pos="3"), "meta.pos must be an int"),
        (lambda h: h["meta"].update(step=-1), "meta.step and meta.pos must be >= 0"),
        (lambda h: h["meta"]["train_config"].pop("seq_len"), "meta.train_config has no 'seq_len' entry"),
        (lambda h: h["meta"]["train_config"].update(batch=4.5), "meta.train_config.batch must be an int"),
    ],
)
def test_resume_needs_every_piece_of_the_run(files, tmp_path, capsys, edit, message):
    bad = _rewrite(files / "lm.npz", tmp_path / "bad.npz", edit)
    code = cli.main(
        [
            "charlm",
            "train",
            str(files / "t.txt"),
            *TINY_LM,
            "--resume",
            bad,
            "--steps",
            "2",
            "--save",
            str(tmp_path / "out.npz"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and "internal error" not in err, err


def test_seq2seq_meta_is_checked(files, tmp_path, capsys):
    bad = _rewrite(files / "s2s.npz", tmp_path / "bad.npz", lambda h: h["meta"].update(chars=h["meta"]["chars"][1:]))
    assert cli.main(["seq2seq", "translate", bad, "man"]) == 2
    assert "meta.chars does not describe the model's vocabulary" in capsys.readouterr().err
    bad = _rewrite(files / "s2s.npz", tmp_path / "bad2.npz", lambda h: h["meta"]["train_config"].pop("hidden"))
    assert (
        cli.main(["seq2seq", "train", "--resume", bad, "--steps", "1", "--quiet", "--save", str(tmp_path / "o.npz")])
        == 2
    )
    assert "meta.train_config has no 'hidden' entry" in capsys.readouterr().err


# ---------------------------------------------------------------- a model saved whole
def _classifier(seed=0):
    rnn, head = tr.GRU(3, 6, rng=seed), tr.Linear(6, 2, rng=seed + 1)
    return rnn, head, tr.Adam(rnn.parameters() + head.parameters(), lr=0.01)


def test_save_refuses_an_optimizer_holding_parameters_outside_the_model(tmp_path):
    rnn, head, opt = _classifier()
    with pytest.raises(
        ValueError,
        match=r"cannot save a model of 4 parameters with an optimizer of 6: 2 of the optimizer's "
        r"parameters are not in the model",
    ):
        tr.save(tmp_path / "m.npz", rnn, opt)
    assert not (tmp_path / "m.npz").exists()
    tr.save(tmp_path / "rnn.npz", rnn)  # the RNN alone, no optimizer
    with pytest.raises(ValueError, match="2 of the optimizer's parameters are not in the model"):
        tr.load(tmp_path / "rnn.npz", rnn, opt)


def test_a_dict_of_modules_saves_and_loads_whole(tmp_path):
    rnn, head, opt = _classifier(0)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    for _ in range(3):
        out, _, cache = rnn.forward(x)
        y, hc = head.forward(out[-1])
        rnn.zero_grad()
        head.zero_grad()
        dout = np.zeros_like(out)
        dout[-1] = head.backward(np.ones_like(y), hc)
        rnn.backward(dout, cache)
        opt.step()
    tr.save(tmp_path / "m.npz", {"rnn": rnn, "head": head}, opt)
    rnn2, head2, opt2 = _classifier(5)
    header = tr.load(tmp_path / "m.npz", {"rnn": rnn2, "head": head2}, opt2)
    assert header["class"] == "ModuleDict" and set(header["config"]) == {"rnn", "head"}
    for a, b in zip(rnn.parameters() + head.parameters(), rnn2.parameters() + head2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert opt2.state_dict()["step"] == 3
    with pytest.raises(tr.CheckpointError, match="built differently"):
        tr.load(tmp_path / "m.npz", {"rnn": tr.GRU(3, 6), "head": tr.Linear(6, 3)})


class Classifier(tr.Module):
    """A model made of several layers, as docs/api.md shows."""

    def __init__(self, n_in, hidden, n_out, rng=None):
        super().__init__()
        self.rnn = tr.GRU(n_in, hidden, rng=rng)
        self.head = tr.Linear(hidden, n_out, rng=rng)
        self.config = dict(n_in=n_in, hidden=hidden, n_out=n_out)


def test_a_module_subclass_saves_and_loads_whole(tmp_path):
    m = Classifier(3, 6, 2, rng=0)
    opt = tr.Adam(m.parameters())
    tr.save(tmp_path / "c.npz", m, opt)
    m2 = Classifier(3, 6, 2, rng=1)
    tr.load(tmp_path / "c.npz", m2, tr.Adam(m2.parameters()))
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert tr.read_header(tmp_path / "c.npz")["optimizer"]["n_params"] == len(m.parameters()) == 6


def test_the_readme_quick_start_saves_the_whole_model(tmp_path, monkeypatch):
    """The README's quick start runs as written, and the classifier reloaded from its file
    gives the same logits (its own assert); saving the RNN alone with its optimizer is refused."""
    import re

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"## Quick start\n\n```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert tr.read_header(tmp_path / "model.npz")["class"] == "ModuleDict"
    with pytest.raises(ValueError, match="2 of the optimizer's parameters are not in the model"):
        tr.save(tmp_path / "rnn.npz", scope["rnn"], scope["opt"])
