"""``tinyrnn memory --sweep`` on a 2-worker Dask LocalCluster: same numbers as serial runs, resume
without recomputing, Ctrl-C keeps finished runs, and the failures a user can cause."""

import json
import sys

import pytest

from tinyrnn import cli, sweep
from tinyrnn.demos import memory, memory_sweep

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
    argv = ["memory", "adding", *TINY, "--scheduler", client.scheduler.address, "--results", str(results),
            "--json", "--quiet", "--sweep", "cell=rnn,gru", "seed=0,1"]
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
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT", "1s")
    code, _, err = run(capsys, "memory", "adding", *TINY, "--sweep", "seed=0", "--results", str(tmp_path / "r"),
                       "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "--scheduler tcp://127.0.0.1:9: cannot reach" in err and len(err.strip().splitlines()) == 1


def test_dask_missing_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)       # import distributed -> ImportError
    code, _, err = run(capsys, "memory", "adding", *TINY, "--sweep", "seed=0", "--results", str(tmp_path / "r"))
    assert code == 2 and 'pip install "tinyrnn[sweep]"' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_results_file_that_is_not_ours(capsys, tmp_path):
    bad = tmp_path / "r.jsonl"
    bad.write_text("hello\n")
    code, _, err = run(capsys, "memory", "adding", *TINY, "--sweep", "seed=0", "--results", str(bad))
    assert code == 2 and "line 1 is not a sweep result" in err
