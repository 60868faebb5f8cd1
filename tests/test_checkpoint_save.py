"""Saving: kill -9 at random times never loses the previous file, signals leave no temporary
file, stale temporary files are cleaned up, permissions follow the umask; old files load."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinyrnn as tr
from helpers import train_a_bit
from tinyrnn.checkpoint import STALE_SECONDS
from tinyrnn.models.charlm import CharLM

DATA = Path(__file__).parent / "data"


def _temporaries(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(".tmp-"))


def _big_model(seed=0):
    return tr.LSTM(32, 64, num_layers=2, rng=seed)  # ~58k parameters, 0.2 MB a file


def _save_forever(path, seed):
    """In a forked child: save different weights to `path` until killed."""
    m = _big_model(seed)
    opt = tr.Adam(m.parameters())
    i = 0
    while True:
        m.weight_hh_l0.data[0, 0] = i
        tr.save(path, m, opt, meta={"i": i})
        i += 1


def _fork(fn, *args, report=None):
    """Run fn(*args) in a forked child; it exits 130 on KeyboardInterrupt, 1 on another exception
    (whose repr goes to `report`), and never returns into pytest."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn(*args)
        except KeyboardInterrupt:
            code = 130
        except BaseException as e:  # noqa: BLE001
            code = 1
            if report is not None:
                Path(report).write_text(repr(e))
        finally:
            os._exit(code)
    return pid


def _wait(pid, timeout=60.0):
    """waitpid with a deadline (a child stuck in a slow fsync gets time; one that ignores the
    signal fails the test instead of hanging it)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not end within {timeout} s of the signal")


def test_kill_9_during_save_never_loses_the_previous_file(tmp_path):
    path = tmp_path / "ck.npz"
    tr.save(path, _big_model(0))
    rng = np.random.default_rng(0)
    left_behind = 0
    for trial in range(20):
        pid = _fork(_save_forever, path, trial)
        time.sleep(float(rng.uniform(0.005, 0.04)))
        os.kill(pid, signal.SIGKILL)
        _wait(pid)
        model = _big_model(99)
        header = tr.load(path, model)  # the previous file always loads
        assert header["class"] == "LSTM"
        left_behind += bool(_temporaries(tmp_path))
        tr.save(path, model)  # the next save removes the dead writer's file
        assert _temporaries(tmp_path) == []
    assert os.listdir(tmp_path) == ["ck.npz"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_save_leaves_no_temporary_file(tmp_path, sig):
    path = tmp_path / "ck.npz"
    rng = np.random.default_rng(1)
    report = tmp_path.parent / f"child-error-{sig}.txt"
    for trial in range(5):
        pid = _fork(_save_forever, path, trial, report=report)
        time.sleep(float(rng.uniform(0.02, 0.06)))
        os.kill(pid, sig)
        status = _wait(pid)
        if sig == signal.SIGTERM:  # the save cleans up, then the process ends by SIGTERM as asked
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
        else:  # KeyboardInterrupt went through the save's cleanup to the caller
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130, (
                status,
                report.read_text() if report.exists() else "",
            )
        assert _temporaries(tmp_path) == []
        if path.exists():
            tr.load(path, _big_model(5))


def test_sigterm_during_save_in_a_fresh_interpreter(tmp_path):
    """The same, as a user runs it: a Python process saving in a loop, sent SIGTERM."""
    code = (
        "import sys, tinyrnn as tr\n"
        "m = tr.LSTM(32, 64, num_layers=2, rng=0)\n"
        "print('ready', flush=True)\n"
        "while True: tr.save(sys.argv[1], m)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(tr.__file__).parents[1]))
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "ck.npz")], stdout=subprocess.PIPE, env=env)
    assert p.stdout.readline() == b"ready\n"
    time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == -signal.SIGTERM
    assert _temporaries(tmp_path) == []
    tr.load(tmp_path / "ck.npz", tr.LSTM(32, 64, num_layers=2))


def test_failed_save_removes_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    tr.save(path, _big_model(0))
    before = path.read_bytes()

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(tr.CheckpointError, match="cannot save checkpoint .*No space left on device"):
        tr.save(path, _big_model(1))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.npz"]


_HOLD_LOCK = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('locked', flush=True)\n"
    "time.sleep(60)\n"
)


def test_stale_temporaries_removed_live_ones_kept(tmp_path):
    """A temporary file whose writer holds its lock is kept, whatever its age and whoever wrote
    it; one whose lock can be taken is debris; files of older versions go by age alone."""
    live = tmp_path / ".tmp-0123456789ab.part"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(live)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        names = {
            "abandoned": ".tmp-ba9876543210.part",  # no lock held: its writer is gone
            "old_pid_name": ".tmp-1.somehost.0123456789ab.npz",  # tinyrnn 0.2 names, untouched long
            "fresh_pid_name": ".tmp-2.somehost.0123456789ab.npz",
            "legacy_old": ".tmp-abcd_123.npz",  # tinyrnn 0.1.0 mkstemp
            "legacy_fresh": ".tmp-efgh_456.npz",
            "not_ours": ".tmp-notes.txt",
        }
        for n in names.values():
            (tmp_path / n).write_bytes(b"x")
        old = time.time() - STALE_SECONDS - 60
        for key in ("legacy_old", "old_pid_name"):
            os.utime(tmp_path / names[key], (old, old))
        os.utime(live, (old, old))  # old, but locked: kept
        tr.save(tmp_path / "ck.npz", _big_model(0))
        left = set(os.listdir(tmp_path))
        assert left == {"ck.npz", live.name, names["fresh_pid_name"], names["legacy_fresh"], names["not_ours"]}
    finally:
        holder.kill()
        holder.wait()
    tr.save(tmp_path / "ck.npz", _big_model(0))  # its writer died: now debris
    assert live.name not in os.listdir(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare(1)")
def test_savers_in_other_pid_namespaces_keep_their_files(tmp_path):
    """Two savers sharing a folder and a host name but not a PID namespace (containers): neither
    removes the other's temporary file, so neither fails."""
    code = (
        "import sys, tinyrnn as tr\n"
        "m = tr.LSTM(32, 64, num_layers=2, rng=0)\n"
        "for i in range(40): tr.save(sys.argv[1], m)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(tr.__file__).parents[1]))
    procs = [
        subprocess.Popen(
            ["unshare", "--pid", "--fork", sys.executable, "-c", code, str(tmp_path / f"ck{i}.npz")],
            env=env,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    assert sorted(os.listdir(tmp_path)) == ["ck0.npz", "ck1.npz"]


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_file_honours_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        tr.save(tmp_path / "ck.npz", _big_model(0))
    finally:
        os.umask(old)
    assert (tmp_path / "ck.npz").stat().st_mode & 0o777 == mode


def test_save_refuses_unusable_paths_and_nonfinite_models(tmp_path):
    m = _big_model(0)
    with pytest.raises(tr.CheckpointError, match="is a directory"):
        tr.save(tmp_path, m)
    with pytest.raises(tr.CheckpointError, match="does not exist"):
        tr.save(tmp_path / "no" / "such" / "ck.npz", m)
    tr.save(tmp_path / "ck.npz", m)
    before = (tmp_path / "ck.npz").read_bytes()
    m.weight_hh_l1.data[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(in model/weight_hh_l1\).*previous file"):
        tr.save(tmp_path / "ck.npz", m)
    assert (tmp_path / "ck.npz").read_bytes() == before
    with pytest.raises(TypeError, match="meta must be a dict"):
        tr.save(tmp_path / "ck.npz", _big_model(0), meta=["x"])
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_checkpoints_written_by_main_still_load():
    """Files written by tinyrnn main 68ba378 (before this format check) load unchanged."""
    m = tr.LSTM(3, 4, num_layers=2, bidirectional=True, rng=1)
    opt = tr.Adam(m.parameters(), lr=0.01)
    train_a_bit(m, opt, steps=2)  # as the script that wrote the file did
    m2 = tr.LSTM(3, 4, num_layers=2, bidirectional=True, rng=7)
    opt2 = tr.Adam(m2.parameters(), lr=0.5)
    header = tr.load(DATA / "main_lstm_adam.npz", m2, opt2)
    for (k, a), (_, b) in zip(m.named_parameters(), m2.named_parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6, err_msg=k)  # BLAS builds round differently
    assert opt2.step_count == 2 and opt2.lr == 0.01 and opt2.defaults["betas"] == (0.9, 0.999)
    np.testing.assert_allclose(opt2.state[3]["exp_avg_sq"], opt.state[3]["exp_avg_sq"], rtol=1e-5)
    np.testing.assert_array_equal(header["extra"]["h"], np.ones((2, 3), np.float32))
    lm = CharLM(7, embed_size=3, hidden_size=5, cell="gru", rng=0)
    ada = tr.Adagrad(lm.parameters(), lr=0.5)
    tr.load(DATA / "main_charlm_adagrad.npz", lm, ada)
    ref = CharLM(7, embed_size=3, hidden_size=5, cell="gru", rng=2)
    for (k, a), (_, b) in zip(ref.named_parameters(), lm.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)
    assert ada.lr == 0.1 and tr.read_header(DATA / "main_charlm_adagrad.npz")["meta"]["vocab"] == list("abcdefg")
