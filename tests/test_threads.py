"""BLAS threads: the helper restores what it found, and a command's `auto` choice follows the
rule documented in tinyrnn.threads (one core or busy cores: 1 thread; else the faster of the
two settings timed over the first steps, 1 thread on a tie)."""

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

import tinyrnn as tr  # noqa: E402
from tinyrnn import threads as th  # noqa: E402


def blas_count() -> int:
    return max(p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")


def test_blas_threads_limits_inside_and_restores():
    before = blas_count()
    with tr.blas_threads(1):
        assert blas_count() == 1
        rnn = tr.RNN(3, 5, rng=0)
        out, _ = rnn(np.ones((4, 2, 3), np.float32))
        assert out.shape == (4, 2, 5)
    assert blas_count() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_blas_threads_refuses_bad_counts(bad):
    with pytest.raises(tr.InputError, match="n must be a positive integer"):
        with tr.blas_threads(bad):
            pass


def test_parse_threads():
    assert th.parse_threads("auto") == "auto"
    assert th.parse_threads(" AUTO ") == "auto"
    assert th.parse_threads("1") == 1
    for bad in ("0", "x", str(th.available_cores() + 1), "1.5"):
        with pytest.raises(tr.InputError, match="--threads"):
            th.parse_threads(bad)


def run_choice(setting, cores, load, step_seconds=None, steps=200):
    lines = []
    with th.ThreadChoice(setting, lines.append, cores=cores, load=load) as choice:
        during = []
        for _ in range(steps):
            during.append(choice.threads)
            if step_seconds is not None:
                choice.step_done(step_seconds[choice.threads])
            else:
                choice.step_done(0.01)
        final = choice.threads
    return choice, lines, during, final


def test_explicit_count_applies_for_the_whole_run_and_restores():
    before = blas_count()
    choice, lines, during, final = run_choice(1, cores=2, load=0.0)
    assert set(during) == {1} and final == 1
    assert lines == ["threads: 1 BLAS thread (--threads)"]
    assert blas_count() == before


def test_auto_one_core_and_busy_cores_take_one_thread_without_probing():
    choice, lines, during, _ = run_choice("auto", cores=1, load=0.0)
    assert set(during) == {1} and "one core available" in lines[0]
    choice, lines, during, _ = run_choice("auto", cores=2, load=2)
    assert set(during) == {1} and "busy, 2 processes running on 2 cores" in lines[0]
    assert not choice.probing


@pytest.mark.parametrize(
    "one, two, expected, decisive",
    [
        (0.010, 0.020, 1, True),  # one thread twice as fast (a busy machine): decided on one step
        (0.020, 0.010, 2, True),  # two threads twice as fast
        (0.010, 0.012, 1, False),  # 20 % apart: one phase each, the faster kept
        (0.012, 0.010, 2, False),
        (0.010, 0.011, 1, False),  # 10 % apart: timed twice each
        (0.011, 0.010, 2, False),
        (0.0100, 0.0099, 1, False),  # a tie within 3 %: the kinder choice
    ],
)
def test_auto_probe_keeps_the_faster_setting(one, two, expected, decisive):
    choice, lines, during, final = run_choice("auto", cores=2, load=0.2, step_seconds={1: one, 2: two})
    assert final == expected and not choice.probing
    probe = during[th.WARMUP_STEPS :]
    if decisive:  # one step on the second setting settles it
        assert probe[: probe.index(2) + 2] == [1] * probe.index(2) + [2, expected]
    elif max(one, two) >= th.CLEAR * min(one, two):  # a clear gap: each setting timed once
        assert [len(choice._times[n]) for n in (1, 2)] == [1, 1]
    else:  # a close one: each setting timed twice
        assert [len(choice._times[n]) for n in (1, 2)] == [2, 2]
        assert during.count(2) >= 2 * th.PHASE_STEPS
    assert during[-1] == expected
    assert lines[0].startswith("threads: auto: timing the first steps on 1 and on 2")
    assert lines[-1].startswith(f"threads: {expected} BLAS thread")
    assert "ms/step on 1 thread" in lines[-1]
    assert choice.summary() == {"threads": expected, "threads_reason": choice.reason}


def test_busy_means_running_now_not_the_lagging_load_average(monkeypatch):
    """A run started just after other work ended: the 1-minute average is still high, the
    machine is quiet, and the probe runs."""
    monkeypatch.setattr(th.os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    monkeypatch.setattr(th, "_running_now", lambda: 0.0)
    choice = th.ThreadChoice("auto", lambda line: None, cores=2)
    assert choice.load == 0.0
    monkeypatch.setattr(th, "_running_now", lambda: 2.0)
    assert th.ThreadChoice("auto", lambda line: None, cores=2).load == 2.0


def test_running_now_reads_proc_loadavg():
    n = th._running_now()
    assert n >= 0 and n == int(n)


def test_auto_probe_is_short_for_slow_steps():
    """Steps of a second each: one step a phase, not PHASE_STEPS; a clear gap, one phase each."""
    choice, _, during, _ = run_choice("auto", cores=2, load=0.0, step_seconds={1: 1.0, 2: 1.2}, steps=10)
    assert during == [1] * th.WARMUP_STEPS + [1, 2] + [1] * (10 - th.WARMUP_STEPS - 2)
    choice, _, during, _ = run_choice("auto", cores=2, load=0.0, step_seconds={1: 1.0, 2: 1.1}, steps=10)
    assert during == [1] * th.WARMUP_STEPS + [1, 2] * th.ROUNDS + [1] * (10 - th.WARMUP_STEPS - 2 * th.ROUNDS)
    assert not choice.probing and choice.threads == 1


def test_a_run_shorter_than_the_probe_says_what_it_ran_on():
    choice, lines, during, final = run_choice("auto", cores=2, load=0.0, step_seconds={1: 0.01, 2: 0.01}, steps=4)
    assert not choice.probing and choice.reason.startswith("auto: the run ended while")
    assert lines[-1].startswith(f"threads: {final} BLAS thread") and "at the end" in lines[-1]
