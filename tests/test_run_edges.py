"""The edges of a run that are not about files written: a corpus refused from its first bytes,
a MemoryError that names what costs the memory, up-front memory estimates for memory and
gradflow."""

import os
import tracemalloc

import pytest

from tinyrnn import cli
from tinyrnn.data.text import PREFIX_BYTES, CorpusError, read_text


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- corpus files
def test_a_large_binary_file_is_refused_from_its_first_bytes(tmp_path):
    sparse = tmp_path / "disk.img"
    with open(sparse, "wb") as fh:
        fh.truncate(1 << 30)  # 1 GiB of zeros, no disk used
    tracemalloc.start()
    with pytest.raises(CorpusError, match="looks binary"):
        read_text(str(sparse))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * PREFIX_BYTES


def test_the_prefix_check_keeps_text_whole(tmp_path):
    text = "é" * PREFIX_BYTES + "\n"  # a character cut by the prefix's end
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    assert read_text(str(tmp_path / "t.txt")) == text
    late = tmp_path / "late.txt"
    late.write_bytes(b"a" * (2 * PREFIX_BYTES) + b"\x00")
    with pytest.raises(CorpusError, match="looks binary"):
        read_text(str(late))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9 " * 10)
    with pytest.raises(CorpusError, match="not UTF-8 text"):
        read_text(str(bad))


def test_charlm_refuses_a_binary_corpus_in_one_line(tmp_path, capsys):
    img = tmp_path / "x.bin"
    with open(img, "wb") as fh:
        fh.truncate(1 << 30)
    code, _, err = run(capsys, "charlm", "train", img, "--steps", "1")
    assert code == 2 and "looks binary" in err and str(img) in err
    assert os.path.getsize(img) == 1 << 30


# ---------------------------------------------------------------- memory
def _no_memory(*a, **k):
    raise MemoryError("Unable to allocate 2.00 GiB for an array with shape (1000, 1000, 268) and data type float64")


def test_a_memory_error_names_the_size_that_costs_most(capsys, monkeypatch):
    from tinyrnn.commands import _memory_train as memory

    monkeypatch.setattr(memory, "build_model", _no_memory)
    code, _, err = run(capsys, "memory", "adding", "--T", "5000", "--hidden", "8", "--steps", "1")
    assert code == 2 and "ran out of memory" in err and "lower --T (now 5000)" in err, err
    assert "--hidden or --batch" not in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "memory", "adding", "--T", "50", "--hidden", "8", "--steps", "1", "--test-size", "90000")
    assert code == 2 and "lower --test-size (now 90000)" in err, err


def test_a_memory_error_can_name_the_vocabulary(tmp_path, capsys, monkeypatch):
    from tinyrnn.commands import _charlm_train as charlm

    corpus = tmp_path / "cjk.txt"
    corpus.write_text("".join(chr(0x4E00 + i) for i in range(6000)) * 3, encoding="utf-8")
    monkeypatch.setattr(charlm, "CharLM", _no_memory)
    code, _, err = run(capsys, "charlm", "train", corpus, "--hidden", "8", "--embed", "4", "--steps", "1")
    assert code == 2 and "the largest cost is the vocabulary (the corpus's distinct characters) (6000)" in err, err


def test_a_memory_error_before_any_size_is_known_says_what_failed(capsys, monkeypatch):
    from tinyrnn.commands import srn

    monkeypatch.setattr(srn, "trace", _no_memory)
    code, _, err = run(capsys, "srn")
    assert code == 2 and "not enough memory (Unable to allocate 2.00 GiB" in err and "--hidden" not in err, err


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["memory", "adding", "--T", "2000000", "--steps", "1"], "--T (now 2000000)"),
        (["memory", "copy", "--test-size", "100000000", "--steps", "1"], "--test-size (now 100000000)"),
        (["memory", "order", "--hidden", "300000", "--steps", "1"], "--hidden (now 300000)"),
        (["gradflow", "--T", "50000000"], "--T (now 50000000)"),
        (["gradflow", "--batch", "50000000"], "--batch (now 50000000)"),
    ],
)
def test_memory_and_gradflow_estimate_before_the_work(capsys, monkeypatch, argv, flag):
    from tinyrnn.commands import _common as common

    monkeypatch.setattr(common, "available_memory", lambda: 8 * 2**30)
    code, _, err = run(capsys, *argv)
    assert code == 2 and "needs about" in err and "8.0 GB is available" in err and f"lower {flag}" in err, err


def test_gradflow_memory_error_names_its_own_flags(capsys, monkeypatch):
    """A MemoryError inside the training gradflow runs (which states memory's own sizes, such
    as --test-size) is reported with gradflow's flags."""
    from tinyrnn.commands import _memory_train as memory

    def train_out_of_memory(cfg):
        memory.check_memory(lambda **k: 1, memory.size_flags(cfg))
        _no_memory()

    monkeypatch.setattr(memory, "train", train_out_of_memory)
    code, _, err = run(capsys, "gradflow", "--T", "3000", "--train-steps", "1", "--cell", "rnn")
    assert code == 2 and "lower --T (now 3000)" in err and "--test-size" not in err, err
