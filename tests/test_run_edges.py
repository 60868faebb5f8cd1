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
        fh.truncate(1 << 30)                                   # 1 GiB of zeros, no disk used
    tracemalloc.start()
    with pytest.raises(CorpusError, match="looks binary"):
        read_text(str(sparse))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * PREFIX_BYTES


def test_the_prefix_check_keeps_text_whole(tmp_path):
    text = "é" * PREFIX_BYTES + "\n"                           # a character cut by the prefix's end
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
