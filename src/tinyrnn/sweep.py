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

ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CONNECT_TIMEOUT = "10s"


class SweepError(Exception):
    """dask missing, or a scheduler that cannot be reached: one line for the user."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise SweepError('--sweep needs dask distributed, which is not installed: pip install "tinyrnn[sweep]"') from None
    return distributed


def check_available() -> None:
    """Raise SweepError now (before any work) when dask distributed is missing."""
    _distributed()


def connect(scheduler: str | None = None, workers: int | None = None):
    """A ``distributed.Client``: to ``scheduler`` if given, else to a new LocalCluster with
    ``workers`` single-threaded worker processes (default: one per core)."""
    distributed = _distributed()
    if scheduler:
        try:
            return distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            raise SweepError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({type(e).__name__}); "
                             f"start one with 'dask scheduler' or leave --scheduler out for a local cluster") from None
    cluster = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, dashboard_address=None, env=dict(ONE_BLAS_THREAD))
    return distributed.Client(cluster)


def close(client) -> None:
    """Close the client and, when it started one, its LocalCluster."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run(client, fn, items, on_result) -> None:
    """Submit ``fn(item)`` for every item as an independent task (pure=False: never merged)
    and call ``on_result(item, result)`` in this process as each one finishes, in finishing
    order. On Ctrl-C the unfinished tasks are cancelled; the finished ones were all delivered."""
    distributed = _distributed()
    futures = {client.submit(fn, item, pure=False): item for item in items}
    try:
        for future in distributed.as_completed(list(futures)):
            on_result(futures[future], future.result())
    except BaseException:
        client.cancel(list(futures))
        raise
