"""Character LM: truncated BPTT carries state, exact resume, checkpoints, sampling, bad corpora."""

import numpy as np
import pytest

from tinyrnn import cli
from tinyrnn.commands import _charlm_run as C
from tinyrnn.commands import _charlm_train as T
from tinyrnn.data.text import CorpusError, Streams, load_corpus, stdlib_files
from tinyrnn.models.charlm import sample, train_step


@pytest.fixture
def periodic(tmp_path):
    """A period-16 text over four letters (longer than the 8-character chunks used below)."""
    path = tmp_path / "periodic.txt"
    path.write_text("dccbbaaaadcdccdc" * 500)
    return str(path)


SMALL = dict(hidden=32, embed=8, seq_len=8, batch=8, eval_every=1000, lr=1e-2, quiet=True)


def _stateless_bound(text: str, seq_len: int) -> float:
    """A model whose state is reset at every chunk predicts the character after chunk position j
    from at most the j+1 characters since the chunk began: its loss is at least the mean over j of
    the conditional entropy H(next | previous j+1 characters)."""
    from collections import Counter

    ids = [ord(c) for c in text]

    def entropy(k):
        joint = Counter(tuple(ids[i - k : i + 1]) for i in range(k, len(ids)))
        ctx = Counter(tuple(ids[i - k : i]) for i in range(k, len(ids)))
        return -sum(n * np.log(n / ctx[key[:k]]) for key, n in joint.items()) / sum(joint.values())

    return float(np.mean([entropy(j + 1) for j in range(seq_len)]))


def test_truncated_bptt_carries_state(periodic):
    """The state carried from chunk to chunk lets the model go far below what a state-less
    model reading the same 8-character chunks can reach."""
    bound = _stateless_bound(open(periodic).read(), SMALL["seq_len"])
    assert bound > 0.15
    _, _, carried = T.train(C.CharLMConfig(files=[periodic], steps=1000, lr_decay=False, **SMALL))
    assert carried["valid_nats"] < 0.5 * bound


def test_resume_equals_uninterrupted(periodic, tmp_path):
    base = dict(files=[periodic], layers=2, dropout=0.2, lr_decay=False, **SMALL)  # the same lr in both plans
    base["eval_every"] = 5
    m1, _, _ = T.train(C.CharLMConfig(steps=20, **base))
    ck = str(tmp_path / "r.npz")
    T.train(C.CharLMConfig(steps=10, **base), save=ck)
    m2, _, metrics = T.train(C.CharLMConfig(steps=20, **base), resume=ck)
    assert metrics["steps"] == 20
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_lr_decay_follows_the_plan(periodic, monkeypatch):
    """Cosine decay from lr to 5 % of it over the plan, by steps or by training seconds; the
    steps actually taken use it; --no-lr-decay keeps lr."""
    cfg = C.CharLMConfig(lr=0.01, steps=100)
    assert C.lr_at(cfg, 0, 0.0) == pytest.approx(0.01)
    assert C.lr_at(cfg, 50, 0.0) == pytest.approx(0.01 * (0.05 + 0.95 * 0.5))
    assert C.lr_at(cfg, 100, 0.0) == pytest.approx(0.0005)
    assert C.lr_at(cfg, 500, 0.0) == pytest.approx(0.0005)  # past the plan: stays at 5 %
    timed = C.CharLMConfig(lr=0.01, steps=0, time_budget=60.0)
    assert C.lr_at(timed, 7, 30.0) == pytest.approx(0.01 * (0.05 + 0.95 * 0.5))
    seen, real = [], T.train_step

    def spy(model, opt, *a, **k):
        seen.append(opt.lr)
        return real(model, opt, *a, **k)

    monkeypatch.setattr(T, "train_step", spy)
    T.train(C.CharLMConfig(files=[periodic], steps=4, **SMALL))
    T.train(C.CharLMConfig(files=[periodic], steps=2, **{**SMALL, "lr_decay": False}))
    cfg = C.CharLMConfig(files=[periodic], steps=4, **SMALL)
    assert seen == pytest.approx([C.lr_at(cfg, s, 0.0) for s in range(4)] + [SMALL["lr"]] * 2)


@pytest.mark.parametrize("flags,decay", [([], True), (["--no-lr-decay"], False)])
def test_no_lr_decay_flag(periodic, capsys, flags, decay):
    import json

    argv = [
        "charlm",
        "train",
        periodic,
        "--hidden",
        "8",
        "--embed",
        "4",
        "--seq-len",
        "8",
        "--batch",
        "4",
        "--steps",
        "3",
        "--quiet",
        "--json",
        *flags,
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["config"]["lr_decay"] is decay


def test_resume_keeps_the_schedule_and_old_runs_keep_a_constant_lr(periodic, tmp_path, monkeypatch):
    ck = str(tmp_path / "d.npz")
    T.train(C.CharLMConfig(files=[periodic], steps=4, **SMALL), save=ck)
    assert C.resume_config(ck, [periodic], {"steps": 4}).lr_decay is True
    assert C.resume_config(ck, [periodic], {"steps": 4, "lr_decay": False}).lr_decay is False
    header = C.read_checked(ck, resume=True)  # a run saved before the decay existed
    del header["meta"]["train_config"]["lr_decay"]
    monkeypatch.setattr(C, "read_checked", lambda path, resume=False: header)
    assert C.resume_config(ck, [periodic], {"steps": 4}).lr_decay is False


def test_checkpoint_of_other_cell_refused(periodic, tmp_path, capsys):
    ck = str(tmp_path / "lstm.npz")
    assert (
        cli.main(
            ["charlm", "train", periodic, "--cell", "lstm", "--hidden", "8", "--steps", "3", "--quiet", "--save", ck]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["charlm", "train", periodic, "--resume", ck, "--cell", "gru", "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "--cell gru (checkpoint: lstm)" in err and "Traceback" not in err


def test_sampling_reproducible_and_top_k_greedy(periodic, tmp_path, capsys):
    ck = str(tmp_path / "m.npz")
    assert (
        cli.main(
            [
                "charlm",
                "train",
                periodic,
                "--hidden",
                "32",
                "--embed",
                "8",
                "--seq-len",
                "8",
                "--steps",
                "200",
                "--lr",
                "0.01",
                "--quiet",
                "--save",
                ck,
            ]
        )
        == 0
    )
    capsys.readouterr()
    outs = []
    for _ in range(2):
        assert cli.main(["charlm", "sample", ck, "--prime", "dc", "--length", "50", "--seed", "3"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and outs[0].startswith("dc") and len(outs[0].strip()) == 52
    model, vocab, _ = C.load_model(ck)
    greedy = sample(model, vocab, "dc", 30, top_k=1, rng=np.random.default_rng(1))
    again = sample(model, vocab, "dc", 30, top_k=1, rng=np.random.default_rng(2))
    assert greedy == again
    # greedy by hand: argmax at every step
    logits, state = model(vocab.encode("dc")[:, None])
    by_hand = []
    for _ in range(30):
        c = int(np.argmax(logits[-1, 0]))
        by_hand.append(vocab.chars[c])
        logits, state = model(np.array([[c]]), state)
    assert greedy == "".join(by_hand)


def test_unknown_primer_rejected(periodic, tmp_path, capsys):
    ck = str(tmp_path / "m.npz")
    cli.main(["charlm", "train", periodic, "--hidden", "8", "--steps", "2", "--quiet", "--save", ck])
    capsys.readouterr()
    assert cli.main(["charlm", "sample", ck, "--prime", "aZ9"]) == 2
    err = capsys.readouterr().err
    assert "outside the model's vocabulary" in err and "'Z'" in err and "'9'" in err


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (b"abc\x00\x01\x02def", "looks binary"),
        (b"\xff\xfe\xfa bad", "not UTF-8"),
    ],
)
def test_bad_corpus_refused(tmp_path, capsys, content, needle):
    f = tmp_path / "f.txt"
    f.write_bytes(content)
    assert cli.main(["charlm", "train", str(f), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_missing_corpus_and_checkpoint(tmp_path, capsys):
    assert cli.main(["charlm", "train", str(tmp_path / "none.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["charlm", "sample", str(tmp_path / "none.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_default_corpus_is_stdlib():
    files = stdlib_files()
    assert len(files) > 50 and all(f.endswith(".py") for f in files)
    with pytest.raises(CorpusError):
        Streams(np.zeros(10, np.uint8), batch=4, seq_len=8)


def test_corpus_held_as_small_integers(periodic):
    vocab, train_ids, valid_ids, _ = C.prepare(C.CharLMConfig(files=[periodic]))
    assert train_ids.dtype == np.uint8 and train_ids.nbytes == len(train_ids)
    streams = Streams(train_ids, 8, 4)
    assert np.shares_memory(streams.streams, train_ids)  # the streams are a view, not a copy
    text, _ = load_corpus([periodic])
    assert len(train_ids) + len(valid_ids) == len(text)


def test_streams_wrap_and_reset():
    s = Streams(np.arange(40, dtype=np.uint8), batch=2, seq_len=4)  # streams of 20
    resets = [s.next()[2] for _ in range(6)]
    assert resets == [True, False, False, False, True, False]
    x, y, _ = Streams(np.arange(40, dtype=np.uint8), 2, 4).next()
    np.testing.assert_array_equal(x[:, 1], [20, 21, 22, 23])
    np.testing.assert_array_equal(y[:, 1], [21, 22, 23, 24])


def test_charlm_json_and_plot(periodic, tmp_path, capsys):
    png = tmp_path / "c.png"
    assert (
        cli.main(
            [
                "charlm",
                "train",
                periodic,
                "--hidden",
                "8",
                "--steps",
                "20",
                "--eval-every",
                "10",
                "--quiet",
                "--plot",
                str(png),
                "--json",
            ]
        )
        == 0
    )
    import json

    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["steps"] == 20 and data["history"]["step"] == [10, 20]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_ctrl_c_saves_and_exits_cleanly(periodic, tmp_path):
    """SIGINT during training: the run stops between steps, writes its checkpoint, exits 130
    without a traceback, and the checkpoint resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    ck = tmp_path / "int.npz"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from tinyrnn.cli import main; sys.exit(main(sys.argv[1:]))",
        "charlm",
        "train",
        periodic,
        "--hidden",
        "16",
        "--embed",
        "8",
        "--seq-len",
        "8",
        "--time-budget",
        "300",
        "--eval-every",
        "100000",
        "--save",
        str(ck),
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Stopped by Ctrl-C (SIGINT)" in out
    header = C.read_checked(str(ck))
    assert header["meta"]["step"] > 0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_equals_torch_step_for_step(torch, cell):
    """The whole char-LM training stack (Embedding -> cell -> Linear, cross-entropy, global-norm
    clip, Adam, state carried across chunks and reset at a wrap) follows torch's training from
    the same weights on the same batches, in float64, step for step. The gradient norms here
    run from about 0.13 to 0.53, so the 0.25 clip is active on some steps and not on others."""
    from tinyrnn import Adam
    from tinyrnn.models.charlm import CharLM

    V, E, H, T, B = 11, 6, 9, 7, 4
    model = CharLM(V, E, H, cell, dtype=np.float64, rng=np.random.default_rng(3))
    opt = Adam(model.parameters(), lr=1e-2)
    tm = torch.nn.ModuleDict(
        dict(embed=torch.nn.Embedding(V, E), rnn=getattr(torch.nn, cell.upper())(E, H), head=torch.nn.Linear(H, V))
    ).double()
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})  # same names
    embed, layer, head = tm["embed"], tm["rnn"], tm["head"]
    params = list(tm.parameters())
    topt = torch.optim.Adam(params, lr=1e-2)
    data = np.random.default_rng(4).integers(0, V, 2000)
    streams = Streams(data, B, T)
    state = tstate = None
    resets = 0
    for _ in range(90):
        x, y, reset = streams.next()
        if reset:
            state = tstate = None
            resets += 1
        loss, state = train_step(model, opt, x, y, state, clip=0.25)  # what `charlm train` runs
        out, tstate = layer(embed(torch.from_numpy(x.astype(np.int64))), tstate)
        tloss = torch.nn.functional.cross_entropy(
            head(out).reshape(-1, V), torch.from_numpy(y.astype(np.int64)).reshape(-1)
        )
        topt.zero_grad()
        tloss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.25)
        topt.step()
        tstate = tuple(s.detach() for s in tstate) if cell == "lstm" else tstate.detach()
        assert abs(float(loss) - tloss.item()) < 1e-9
    assert resets >= 1
    np.testing.assert_allclose(model.head.weight.data, head.weight.detach().numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        model.state_dict()["rnn.weight_hh_l0"], layer.weight_hh_l0.detach().numpy(), rtol=0, atol=1e-9
    )


def test_regularisers_are_saved_and_honoured_on_resume_and_sample(periodic, tmp_path, capsys):
    """--recurrent-dropout, --weight-drop, --zoneout: in the checkpoint's model config, the model
    rebuilt from it has them, a resumed run equals the uninterrupted one (the masks continue
    from the saved random state), another value on resume is refused, sample runs (eval mode)."""
    regs = dict(recurrent_dropout=0.2, weight_drop=0.3, zoneout=0.1)
    base = dict(files=[periodic], cell="lstm", layers=2, lr_decay=False, **regs, **SMALL)
    m1, _, _ = T.train(C.CharLMConfig(steps=12, **base))
    ck = str(tmp_path / "reg.npz")
    T.train(C.CharLMConfig(steps=6, **base), save=ck)
    model, _, header = C.load_model(ck)
    assert {k: header["config"][k] for k in regs} == regs
    assert {k: model.rnn.config[k] for k in regs} == regs
    m2, _, _ = T.train(C.CharLMConfig(steps=12, **base), resume=ck)
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    capsys.readouterr()
    assert cli.main(["charlm", "train", periodic, "--resume", ck, "--zoneout", "0.2", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "--zoneout 0.2 (checkpoint: 0.1)" in err and "Traceback" not in err
    assert cli.main(["charlm", "sample", ck, "--prime", "dc", "--length", "20", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("dc")


def test_regularisers_off_by_default_and_bad_values_refused(periodic, tmp_path, capsys):
    ck = str(tmp_path / "plain.npz")
    assert cli.main(["charlm", "train", periodic, "--hidden", "8", "--steps", "2", "--quiet", "--save", ck]) == 0
    _, _, header = C.load_model(ck)
    assert not {"recurrent_dropout", "weight_drop", "zoneout"} & set(header["config"])
    capsys.readouterr()
    for flag_name in ("--recurrent-dropout", "--weight-drop", "--zoneout"):
        assert cli.main(["charlm", "train", periodic, flag_name, "1.5"]) == 2
        assert f"argument {flag_name}: expected a number >= 0 and <= 0.99, got 1.5" in capsys.readouterr().err


def test_layer_norm_is_saved_and_honoured_on_resume_sample_and_show(periodic, tmp_path, capsys):
    """--layer-norm: in the checkpoint's model config and the rebuilt model (with its ln_*
    parameters), a resumed run equals the uninterrupted one and keeps it without the flag,
    sample and show run on it."""
    base = dict(files=[periodic], cell="lstm", layers=2, lr_decay=False, layer_norm=True, **SMALL)
    m1, _, _ = T.train(C.CharLMConfig(steps=8, **base))
    ck = str(tmp_path / "ln.npz")
    T.train(C.CharLMConfig(steps=4, **base), save=ck)
    model, _, header = C.load_model(ck)
    assert header["config"]["layer_norm"] is True and model.rnn.layer_norm
    assert "rnn.ln_c_weight_l1" in model.state_dict()
    m2, _, _ = T.train(C.CharLMConfig(steps=8, **base), resume=ck)
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert C.resume_config(ck, [periodic], {}).layer_norm is True  # kept without the flag
    capsys.readouterr()
    assert cli.main(["charlm", "train", periodic, "--resume", ck, "--steps", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["charlm", "sample", ck, "--prime", "dc", "--length", "20", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("dc")
    assert cli.main(["charlm", "show", ck, periodic, "--top", "2", "--chars", "50"]) == 0
    plain = str(tmp_path / "plain.npz")
    assert cli.main(["charlm", "train", periodic, "--hidden", "8", "--steps", "2", "--quiet", "--save", plain]) == 0
    assert "layer_norm" not in C.load_model(plain)[2]["config"]
