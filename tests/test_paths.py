"""The output rule and the atomic writer (tinyrnn.paths), through the library and the commands:
outputs onto things that are not files, onto the command's own inputs or other outputs, into
folders that cannot be written, all refused before any work; a failed write names the path."""

import errno
import os
import stat
import sys

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import cli, paths
from tinyrnn.errors import UsageError

TEXT = "dccbbaaaadcdccdc" * 300
TINY_LM = ["--hidden", "8", "--embed", "4", "--seq-len", "8", "--batch", "4", "--quiet"]
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _temporaries(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(".tmp-"))


# ---------------------------------------------------------------- not a regular file
@root_only
@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK])
def test_device_nodes_are_refused_and_left_alone(tmp_path, kind):
    node = tmp_path / "null"
    os.mknod(node, kind | 0o666, os.makedev(1, 3))
    with pytest.raises(UsageError, match=r"--save .*null is a (character|block) device, not a regular file"):
        paths.check_output("--save", str(node))
    with pytest.raises(tr.CheckpointError, match="device"):
        tr.save(node, tr.RNN(2, 3))  # the library's writer refuses it too
    assert os.lstat(node).st_mode & 0o170000 == kind


@root_only
def test_commands_refuse_a_device_before_training(tmp_path, capsys):
    node = tmp_path / "null.png"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    for argv in (
        ["add", "--steps", "100000", "--save", node],
        ["memory", "adding", "--steps", "100000", "--save", node],
        ["seq2seq", "train", "--steps", "100000", "--save", node],
        ["add", "--plot", node],
        ["gradflow", "--plot", node],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2 and "character device" in err and out == "", (argv, err)
        assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_fifo_socket_directory_and_bad_symlinks_are_refused(tmp_path):
    import socket

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock = tmp_path / "sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "nowhere" / "x.png")
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    try:
        for path, what in [
            (fifo, "FIFO"),
            (sock, "socket"),
            (tmp_path, "is a directory"),
            (dangling, "dangling symlink"),
            (loop, "symlink loop"),
        ]:
            with pytest.raises(UsageError, match=what):
                paths.check_output("--plot", str(path))
    finally:
        s.close()


def test_stdout_and_proc_are_refused():
    import subprocess

    code = "from tinyrnn import paths; paths.check_output('--save', '/dev/stdout')"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(paths.__file__)))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env)
    assert p.returncode == 1 and b"/dev/stdout leads through a link into /proc" in p.stderr, p.stderr
    if os.path.isdir("/proc/self"):
        with pytest.raises(UsageError, match=r"--save /proc/x\.npz: cannot write in folder"):
            paths.check_output("--save", "/proc/x.npz")
        with pytest.raises(UsageError, match=r"--save /proc/self/x\.npz leads through a link into /proc"):
            paths.check_output("--save", "/proc/self/x.npz")


def test_a_name_too_long_and_an_unencodable_name_are_refused(tmp_path):
    with pytest.raises(UsageError, match="the file name is 300 bytes long, more than the 255"):
        paths.check_output("--save", str(tmp_path / ("a" * 296 + ".npz")))
    if sys.getfilesystemencoding().lower() in ("utf-8", "utf8"):
        bad = os.fsdecode(bytes(tmp_path) + b"/m\xff.npz")  # not UTF-8: a surrogate escape
        with pytest.raises(UsageError, match="not valid utf-8 text"):
            paths.check_output("--save", bad)
    assert os.listdir(tmp_path) == []


def test_an_unwritable_folder_is_found_by_the_probe(tmp_path, monkeypatch):
    real_write = os.write

    def full(fd, data):
        if len(data) == paths.PROBE_BYTES:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(UsageError, match=r"--html .*p\.html: cannot write in folder .*No space left on device"):
        paths.check_output("--html", str(tmp_path / "p.html"))
    assert _temporaries(tmp_path) == []


# ---------------------------------------------------------------- inputs and other outputs
def test_outputs_onto_inputs_or_each_other_are_refused(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("x")
    link = tmp_path / "hard.txt"
    os.link(corpus, link)
    sym = tmp_path / "sym.txt"
    sym.symlink_to(corpus)
    for target in (corpus, link, sym, tmp_path / "." / "c.txt"):
        with pytest.raises(UsageError, match=r"same file as the input FILE .*c\.txt; writing it would destroy"):
            paths.check_output("--save", str(target), inputs={"FILE": [str(corpus)]})
    with pytest.raises(UsageError, match=r"--save .*x\.png is the same file as --plot"):
        paths.check_output("--save", str(tmp_path / "x.png"), outputs={"--plot": str(tmp_path / "x.png")})
    assert corpus.read_text() == "x"


def test_charlm_train_never_overwrites_its_corpus(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    code, _, err = run(capsys, "charlm", "train", corpus, *TINY_LM, "--steps", "2", "--save", corpus)
    assert code == 2 and "same file as the input FILE" in err
    assert run(capsys, "charlm", "train", corpus, *TINY_LM, "--steps", "2", "--save", tmp_path / "lm.npz")[0] == 0
    code, _, err = run(
        capsys, "charlm", "train", corpus, *TINY_LM, "--steps", "2", "--resume", tmp_path / "lm.npz", "--save", corpus
    )
    assert code == 2 and "same file as the input FILE" in err
    code, _, err = run(
        capsys,
        "charlm",
        "train",
        corpus,
        *TINY_LM,
        "--steps",
        "2",
        "--resume",
        tmp_path / "lm.npz",
        "--plot",
        tmp_path / "lm.npz",
    )
    assert code == 2 and "same file as --plot" in err  # the resumed run saves back to it
    code, _, err = run(
        capsys,
        "charlm",
        "train",
        corpus,
        *TINY_LM,
        "--steps",
        "2",
        "--resume",
        tmp_path / "lm.npz",
        "--save",
        tmp_path / "lm2.npz",
        "--plot",
        tmp_path / "lm.npz",
    )
    assert code == 2 and "same file as the input --resume" in err
    assert corpus.read_text() == TEXT
    code, _, err = run(capsys, "charlm", "show", tmp_path / "lm.npz", corpus, "--html", tmp_path / "lm.npz")
    assert code == 2 and "same file as the input CKPT" in err
    tr.read_header(tmp_path / "lm.npz")  # still a checkpoint
    code, _, err = run(capsys, "add", "--steps", "2", "--save", tmp_path / "x.png", "--plot", tmp_path / "x.png")
    assert code == 2 and "same file as --plot" in err and not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------- the writer
def test_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    paths.atomic_write(path, lambda fh: fh.write(b"old"))

    def fail(fh):
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"cannot save file .*out\.bin: No space left on device"):
        paths.atomic_write(path, fail)
    assert path.read_bytes() == b"old" and _temporaries(tmp_path) == []


@pytest.mark.parametrize("flag", ["--html", "--plot"])
def test_a_full_disk_message_names_the_path(tmp_path, capsys, monkeypatch, flag):
    import matplotlib.figure

    (tmp_path / "t.txt").write_text(TEXT)
    assert (
        run(capsys, "charlm", "train", tmp_path / "t.txt", *TINY_LM, "--steps", "2", "--save", tmp_path / "lm.npz")[0]
        == 0
    )

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    if flag == "--html":
        monkeypatch.setattr("tinyrnn.commands.show.render", lambda *a, **k: "page")
        real = paths.atomic_write
        monkeypatch.setattr(
            "tinyrnn.commands.show.atomic_write", lambda path, write, what: real(path, lambda fh: full(), what)
        )
        argv = ["charlm", "show", tmp_path / "lm.npz", tmp_path / "t.txt", "--html", tmp_path / "out.html"]
    else:
        monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
        argv = ["add", "--steps", "2", "--quiet", "--plot", tmp_path / "out.png"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "No space left on device" in err and str(tmp_path / "out.") in err, err
    assert _temporaries(tmp_path) == []


def test_save_and_plot_go_through_the_writer(tmp_path, capsys, monkeypatch):
    written = []
    real = paths.atomic_write
    spy = lambda path, write, what="file": (written.append(what), real(path, write, what))  # noqa: E731
    monkeypatch.setattr(paths, "atomic_write", spy)
    monkeypatch.setattr("tinyrnn.checkpoint.atomic_write", spy)
    code, _, _ = run(
        capsys, "add", "--steps", "2", "--quiet", "--save", tmp_path / "a.npz", "--plot", tmp_path / "a.png"
    )
    assert code == 0 and sorted(written) == ["checkpoint", "plot"]
    assert np.frombuffer((tmp_path / "a.png").read_bytes()[:8], np.uint8).tolist()[:4] == [137, 80, 78, 71]


# ---------------------------------------------------------------- real file systems (root)
@pytest.fixture
def small_fs(tmp_path):
    """A 256 KiB tmpfs (root only; skipped where mounting is not allowed)."""
    import subprocess

    mnt = tmp_path / "fs"
    mnt.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs root and mount(8)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_a_full_file_system_is_found_before_training(small_fs, capsys):
    fd = os.open(small_fs / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    code, out, err = run(capsys, "add", "--steps", "100000", "--save", small_fs / "m.npz")
    assert code == 2 and "--save" in err and str(small_fs / "m.npz") in err and "No space left on device" in err, err
    assert out == "" and _temporaries(small_fs) == []


def test_a_read_only_file_system_is_found_before_training(small_fs, capsys):
    import subprocess

    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    code, out, err = run(capsys, "seq2seq", "train", "--steps", "100000", "--save", small_fs / "m.npz")
    assert code == 2 and "Read-only file system" in err and str(small_fs / "m.npz") in err, err
    assert out == ""


def test_a_non_utf8_name_fails_before_the_work(tmp_path, capsys):
    if sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"):
        pytest.skip("needs a UTF-8 file-system encoding")
    bad = os.fsdecode(bytes(tmp_path) + b"/m\xff.npz")
    code, out, err = run(capsys, "add", "--steps", "100000", "--save", bad)
    assert code == 2 and "not valid utf-8 text" in err and out == ""
    assert os.listdir(tmp_path) == []


def test_links_into_proc_are_refused_and_never_replaced(tmp_path):
    """/dev/stdout, /dev/fd/N and any link into /proc name a process's open file: refused by
    the rule and by the writer, whatever that file is (here a regular file), and the link
    stays a link."""
    import subprocess

    out = tmp_path / "captured.txt"
    link = tmp_path / "out.npz"
    link.symlink_to("/proc/self/fd/1")
    code = (
        "import sys, tinyrnn as tr\n"
        "from tinyrnn import paths\n"
        "for p in ('/dev/stdout', sys.argv[1]):\n"
        "    try: paths.check_output('--save', p)\n"
        "    except ValueError as e: print('refused', e, file=sys.stderr)\n"
        "    try: tr.save(p, tr.RNN(2, 3))\n"
        "    except ValueError as e: print('refused', e, file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(paths.__file__)))
    with open(out, "w") as fh:  # stdout is a regular file here
        p = subprocess.run(
            [sys.executable, "-c", code, str(link)], stdout=fh, stderr=subprocess.PIPE, text=True, env=env
        )
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 0 and len(lines) == 4 and all(line.startswith("refused") for line in lines), p.stderr
    assert all("leads through a link into /proc" in line for line in lines)
    assert os.path.islink("/dev/stdout") and link.is_symlink() and out.read_text() == ""


def test_a_symlink_to_a_regular_file_is_written_through(tmp_path):
    real = tmp_path / "store" / "model.npz"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    assert paths.check_output("--save", str(link)) == str(link)
    tr.save(link, tr.RNN(2, 3))
    assert link.is_symlink() and real.is_file() and tr.read_header(link)["class"] == "RNN"
    assert _temporaries(tmp_path) == [] and _temporaries(real.parent) == []
