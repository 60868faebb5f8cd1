"""Dask distributed glue for ``--sweep``: run many small, independent jobs on a cluster.

Imported only by ``--sweep``; needs the optional extra ``pip install "tinyrnn[sweep]"``
(``dask[distributed]``). By default a ``LocalCluster`` on this machine: one worker process per
core, one thread per worker, and BLAS held to one thread inside each worker (the variables
below are set in the worker processes' environment only, never in the calling process). With
``scheduler="tcp://HOST:8786"`` the same jobs go to an existing cluster (``dask scheduler`` /
``dask worker --nthreads 1``; start its workers with ``OPENBLAS_NUM_THREADS=1`` likewise).
"""

from __future__ import annotations

import os
import socket

ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CONNECT_TIMEOUT = 10.0  # seconds to connect and to receive the scheduler's handshake
SCHEDULER_PORT, DASHBOARD_PORT = 8786, 8787


class SweepError(Exception):
    """dask missing, or a scheduler that cannot be reached: one line for the user."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise SweepError(
            '--sweep needs dask distributed, which is not installed: pip install "tinyrnn[sweep]"'
        ) from None
    return distributed


def check_available() -> None:
    """Raise SweepError now (before any work) when dask distributed is missing."""
    _distributed()


def connect(scheduler: str | None = None, workers: int | None = None):
    """A ``distributed.Client``: to ``scheduler`` if given, else to a new LocalCluster with
    ``workers`` single-threaded worker processes (default: one per core)."""
    distributed = _distributed()
    if scheduler:
        probe(scheduler)
        try:
            return distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT:g}s")
        except (OSError, TimeoutError, ValueError) as e:
            raise SweepError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({type(e).__name__}); "
                f"start one with 'dask scheduler' or leave --scheduler out for a local cluster"
            ) from None
    cluster = distributed.LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env=dict(ONE_BLAS_THREAD),
    )
    return distributed.Client(cluster)


def probe(scheduler: str, seconds: float | None = None) -> None:
    """Before any task is sent: a plain TCP address must accept a connection and send the Dask
    handshake (a scheduler speaks first) within ``seconds``; something else listening there,
    such as the scheduler's dashboard, would make the client wait forever. Other protocols
    (tls://, ucx://, ...) are left to the client's own timeout."""
    seconds = CONNECT_TIMEOUT if seconds is None else seconds
    scheme, sep, rest = scheduler.rpartition("://")
    if sep and scheme != "tcp":
        return
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit():
        raise SweepError(
            f"--scheduler {scheduler}: expected tcp://HOST:PORT (a scheduler listens on port "
            f"{SCHEDULER_PORT} by default)"
        )
    hint = (
        f"; port {DASHBOARD_PORT} is the dashboard, the scheduler itself listens on {SCHEDULER_PORT}: "
        f"--scheduler tcp://{host}:{SCHEDULER_PORT}"
        if int(port) == DASHBOARD_PORT
        else f"; a scheduler listens on port {SCHEDULER_PORT} by default"
    )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds) as s:
            s.settimeout(seconds)
            if not s.recv(8):
                raise SweepError(
                    f"--scheduler {scheduler}: the server closed the connection without the Dask "
                    f"handshake; it is not a Dask scheduler{hint}"
                )
    except TimeoutError:
        raise SweepError(
            f"--scheduler {scheduler}: no Dask handshake within {seconds:g} s; what listens there "
            f"is not a Dask scheduler{hint}"
        ) from None
    except OSError as e:
        raise SweepError(f"--scheduler {scheduler}: cannot reach it ({e.strerror or e}){hint}") from None


def close(client) -> None:
    """Close the client and, when it started one, its LocalCluster."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run(client, fn, items, on_result, describe=repr) -> None:
    """Submit ``fn(item)`` for every item as an independent task (pure=False: never merged)
    and call ``on_result(item, result)`` in this process as each one finishes, in finishing
    order. On Ctrl-C the unfinished tasks are cancelled; the finished ones were all delivered.
    A task that fails on a worker (its worker killed again and again: KilledWorker, or an
    exception) cancels the rest and raises SweepError naming ``describe(item)``."""
    distributed = _distributed()
    futures = {client.submit(fn, item, pure=False): item for item in items}
    try:
        for future in distributed.as_completed(list(futures)):
            try:
                result = future.result()
            except distributed.KilledWorker:
                raise SweepError(
                    f"the run {describe(futures[future])} killed its worker process again and again "
                    "(out of memory, or the worker was stopped); the finished runs are kept"
                ) from None
            except Exception as e:  # noqa: BLE001 - a worker's failure, reported in one line
                raise SweepError(
                    f"the run {describe(futures[future])} failed on a worker: {type(e).__name__}: "
                    f"{' '.join(str(e).split())[:300]}; the finished runs are kept"
                ) from None
            on_result(futures[future], result)
    except BaseException:
        client.cancel(list(futures))
        raise
