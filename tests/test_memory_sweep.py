"""``tinyrnn memory --sweep`` on a 2-worker Dask LocalCluster: same numbers as serial runs, resume
without recomputing, Ctrl-C keeps finished runs, and the failures a user can cause."""

import json
import sys

import pytest

from tinyrnn import cli, sweep
from tinyrnn.commands import _memory_sweep as memory_sweep
from tinyrnn.commands import _memory_train as memory
from tinyrnn.errors import UsageError

TINY = ["--T", "4", "--hidden", "6", "--batch", "8", "--steps", "6", "--eval-every", "3", "--test-size", "20"]


@pytest.fixture(scope="module")
def client():
    """One LocalCluster for the module, made the way --sweep makes it (2 single-threaded workers)."""
    c = sweep.connect(None, workers=2)
    yield c
    sweep.close(c)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cluster_workers_are_single_threaded_with_one_blas_thread(client):
    info = client.scheduler_info()["workers"]
    assert len(info) == 2 and all(w["nthreads"] == 1 for w in info.values())
    env = client.run(lambda: __import__("os").environ.get("OPENBLAS_NUM_THREADS"))
    assert set(env.values()) == {"1"}


def test_sweep_equals_serial_runs_and_resumes(capsys, client, tmp_path):
    results = tmp_path / "r.jsonl"
    argv = [
        "memory",
        "adding",
        *TINY,
        "--scheduler",
        client.scheduler.address,
        "--results",
        str(results),
        "--json",
        "--quiet",
        "--sweep",
        "cell=rnn,gru",
        "seed=0,1",
    ]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    runs = json.loads(out.strip().splitlines()[-1])["runs"]
    assert len(runs) == 4 and len(results.read_text().splitlines()) == 4
    assert "| cell | T | seed |" in out
    for r in runs:
        cfg = memory.MemoryConfig(**r["config"])
        _, serial = memory.train(cfg)
        for key in ("test_mse", "solved_fraction", "steps", "sequences_seen", "baseline"):
            assert r["metrics"][key] == serial[key], key
    # the same command again: nothing recomputed, same table
    code, out2, _ = run(capsys, *argv)
    assert code == 0 and json.loads(out2.strip().splitlines()[-1])["runs"] == runs
    assert len(results.read_text().splitlines()) == 4
    # a wider grid: only the new combinations run
    before = results.read_text()
    code, out3, _ = run(capsys, *argv[:-2], "cell=rnn,gru", "seed=0,1,2")
    assert code == 0 and results.read_text().startswith(before)
    assert len(results.read_text().splitlines()) == 6
    assert "(2 run now)" in out3


def test_ctrl_c_keeps_finished_runs(client, tmp_path, monkeypatch):
    results = tmp_path / "r.jsonl"
    write = memory_sweep.append_result

    def write_then_interrupt(path, record):
        write(path, record)
        raise KeyboardInterrupt

    monkeypatch.setattr(memory_sweep, "append_result", write_then_interrupt)
    base = memory.MemoryConfig(task="order", T=10, hidden=4, batch=4, steps=2, eval_every=2, test_size=8)
    configs = memory_sweep.expand(base, memory_sweep.parse_grid(["seed=0,1,2"]))
    records, ran, interrupted = memory_sweep.run_sweep(configs, str(results), client.scheduler.address)
    assert interrupted and ran == 3 and len(records) == 1
    assert len(results.read_text().splitlines()) == 1
    assert list(memory_sweep.load_results(str(results)).values()) == records


def test_unreachable_scheduler_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT", 1.0)
    code, _, err = run(
        capsys,
        "memory",
        "adding",
        *TINY,
        "--sweep",
        "seed=0",
        "--results",
        str(tmp_path / "r"),
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert code == 2 and "--scheduler tcp://127.0.0.1:9: cannot reach" in err and len(err.strip().splitlines()) == 1
    assert "port 8786" in err


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never speaks (like the dashboard to Dask)."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    held = []
    threading.Thread(target=lambda: held.append(srv.accept()), daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()
    for conn, _ in held:
        conn.close()


def test_a_scheduler_that_does_not_speak_dask_times_out(capsys, monkeypatch, tmp_path, silent_server):
    import time

    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT", 1.0)
    t0 = time.perf_counter()
    code, _, err = run(
        capsys,
        "memory",
        "adding",
        *TINY,
        "--sweep",
        "seed=0",
        "--results",
        str(tmp_path / "r"),
        "--scheduler",
        f"tcp://127.0.0.1:{silent_server}",
    )
    assert time.perf_counter() - t0 < 30
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"--scheduler tcp://127.0.0.1:{silent_server}: no Dask handshake within 1 s" in err and "8786" in err


def test_the_dashboard_port_is_named(monkeypatch):
    import socket

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(TimeoutError()))
    with pytest.raises(
        sweep.SweepError,
        match=r"port 8787 is the dashboard, the scheduler itself listens on 8786: "
        r"--scheduler tcp://node1:8786",
    ):
        sweep.probe("tcp://node1:8787", 0.1)


def test_worker_failures_end_in_one_line(client):
    import math
    import os

    with pytest.raises(sweep.SweepError, match=r"the run -1 failed on a worker: ValueError: math domain error"):
        sweep.run(client, math.sqrt, [-1], lambda item, result: None, describe=str)
    with pytest.raises(sweep.SweepError, match=r"the run 1 killed its worker process again and again"):
        sweep.run(client, os._exit, [1], lambda item, result: None, describe=str)


def test_sweep_values_are_checked_before_any_task(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sweep, "connect", lambda *a: pytest.fail("a cluster was started"))
    for value, message in (
        ("seed=-1", "--seed must be an integer from 0"),
        ("hidden=0", "--hidden must be"),
        ("lr=-1", "--lr must be a number > 0"),
        ("cell=lstm,xyz", "--cell must be one of"),
    ):
        code, _, err = run(capsys, "memory", "adding", *TINY, "--sweep", value, "--results", str(tmp_path / "r"))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (value, err)
        assert not (tmp_path / "r").exists() or (tmp_path / "r").read_text() == ""


def test_a_cut_last_line_is_repaired_and_whole_lines_appended(client, tmp_path):
    results = tmp_path / "r.jsonl"
    base = memory.MemoryConfig(task="order", T=10, hidden=4, batch=4, steps=2, eval_every=2, test_size=8)
    configs = memory_sweep.expand(base, memory_sweep.parse_grid(["seed=0,1"]))
    memory_sweep.run_sweep(configs[:1], str(results), client.scheduler.address)
    whole = results.read_text()
    results.write_text(whole + whole[:57])  # a crash cut the next line
    lines = []
    records, ran, _ = memory_sweep.run_sweep(configs, str(results), client.scheduler.address, emit=lines.append)
    assert ran == 1 and len(records) == 2
    assert any("removed a last line cut short by a crash" in line for line in lines)
    text = results.read_text()
    assert text.startswith(whole) and text.endswith("\n") and len(text.splitlines()) == 2
    assert all(json.loads(line)["config"]["seed"] in (0, 1) for line in text.splitlines())
    # a file from an older version, with the cut line glued onto the next record, still reads
    first, second = text.splitlines()
    results.write_text(first + "\n" + first[:40] + second + "\n")
    assert len(memory_sweep.load_results(str(results))) == 2


def test_a_full_disk_names_the_results_file(tmp_path, monkeypatch):
    import errno
    import os

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match=r"cannot append to the results file .*r\.jsonl: No space left on device"):
        memory_sweep.append_result(str(tmp_path / "r.jsonl"), {"config": {}})


def test_dask_missing_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    code, _, err = run(capsys, "memory", "adding", *TINY, "--sweep", "seed=0", "--results", str(tmp_path / "r"))
    assert code == 2 and 'pip install "tinyrnn[sweep]"' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_results_file_that_is_not_ours(capsys, tmp_path):
    bad = tmp_path / "r.jsonl"
    bad.write_text("hello\n")
    code, _, err = run(capsys, "memory", "adding", *TINY, "--sweep", "seed=0", "--results", str(bad))
    assert code == 2 and "line 1 is not a sweep result" in err


def test_the_regularising_options_can_be_swept():
    grid = memory_sweep.parse_grid(["zoneout=0,0.1", "layer_norm=false,true", "weight-drop=0.2"])
    assert grid == {"zoneout": [0.0, 0.1], "layer_norm": [False, True], "weight_drop": [0.2]}
    base = memory.MemoryConfig(task="adding", T=4, hidden=6, steps=2)
    configs = memory_sweep.expand(base, grid)
    assert [(c.zoneout, c.layer_norm) for c in configs] == [(0.0, False), (0.0, True), (0.1, False), (0.1, True)]
    assert len({memory_sweep.identity(c) for c in configs}) == 4  # kept apart in the results file
    with pytest.raises(UsageError, match="--sweep layer_norm: expected boolean values"):
        memory_sweep.parse_grid(["layer_norm=maybe"])
    with pytest.raises(UsageError, match="--zoneout must be a number from 0 to 0.99"):
        memory_sweep.expand(base, memory_sweep.parse_grid(["zoneout=1.5"]))


def test_the_table_has_a_column_for_each_setting_that_varies():
    metrics = dict(steps=2, sequences_seen=16, seconds=0.2, test_mse=0.2, baseline=0.17, solved_fraction=0.0)
    records = [
        dict(config=dict(cell="rnn", T=4, seed=0, zoneout=z, layer_norm=False), metrics={**metrics, "solved_at": None})
        for z in (0.0, 0.1)
    ]
    text = memory_sweep.table([{**r, "config": {**r["config"], "task": "adding"}} for r in records])
    head = text.splitlines()[0]
    assert "| zoneout |" in head and "layer_norm" not in head  # the same in every run: no column
    assert "| rnn | 4 | 0 | 0.1 | 2 |" in text
