"""Where jobs run. Every executor yields (job, record) pairs as jobs finish; only the caller writes the
store, so workers never touch the results database (safe on network file systems).

* ``local`` — in-process for ``--jobs 1``, else a pool of worker processes (one intra-op thread each).
  A worker that dies or a job over ``job_timeout`` is retried up to ``retries`` times: after a crash
  the jobs that were running are re-run one at a time, so a poisonous job is identified and recorded as
  failed without taking its neighbours down with it.
* ``dask`` — a Dask distributed scheduler (``--scheduler tcp://host:8786``) or a LocalCluster
  (``dask-local``); Dask's own retries and worker-death handling apply; images are read by the workers
  from the same paths (shared file system). Workers get glibc's default memory reuse back (see
  :mod:`lic_bench.dask_worker`): Dask's ``MALLOC_TRIM_THRESHOLD_`` made jobs 3-4x slower.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator

from .record import Record

EXECUTORS = ("local", "dask", "dask-local")


def failed_record(op: float, pixel_sha256: str, error: str) -> Record:
    """The record of a job that produced no result (its error is what gets stored)."""
    return Record(op=float(op), pixel_sha256=pixel_sha256, status="failed", error=error)


def run_in_process(jobs, fn: Callable, args: Callable) -> Iterator[tuple[object, dict]]:
    for j in jobs:
        yield j, fn(*args(j))


def run_process_pool(jobs, fn: Callable, args: Callable, workers: int, retries: int = 2,
                     job_timeout: float | None = None, initializer=None) -> Iterator[tuple[object, dict]]:
    """Bounded in-flight submission (≤ workers), so the running jobs are always known."""
    queue = list(jobs)
    attempts: dict[int, int] = {}
    suspects: list = []  # jobs that were running when a worker died: re-run alone
    ctx = mp.get_context("spawn")

    def new_pool():
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=initializer, initargs=(1,))

    pool = new_pool()
    running: dict = {}  # future -> (job, start time)
    try:
        while queue or suspects or running:
            limit = 1 if suspects else workers
            source = suspects if suspects else queue
            while source and len(running) < limit:
                j = source.pop(0)
                running[pool.submit(fn, *args(j))] = (j, time.monotonic())
            timeout = None
            if job_timeout:
                oldest = min(t for _, t in running.values())
                timeout = max(0.0, oldest + job_timeout - time.monotonic())
            done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
            broken = False
            for f in done:
                j, _ = running.pop(f)
                try:
                    yield j, f.result()
                except BrokenProcessPool:
                    broken = True
                    running[f] = (j, 0.0)  # handled below with the others that were running
                except Exception as e:  # an exception in the job itself (not in the codec: those are records)
                    yield j, failed_record(j.op, j.image.pixel_sha256, f"job raised {type(e).__name__}: {e}")
            overdue = [f for f, (_, t) in running.items() if job_timeout and t and time.monotonic() - t > job_timeout]
            if overdue or broken:
                victims = [running[f][0] for f in overdue]
                others = [running[f][0] for f in running if f not in overdue]
                for p in list(getattr(pool, "_processes", {}).values()):
                    p.kill()
                pool.shutdown(wait=True, cancel_futures=True)
                running.clear()
                pool = new_pool()
                if overdue:
                    for j in victims:
                        attempts[id(j)] = attempts.get(id(j), 0) + 1
                        if attempts[id(j)] > retries:
                            yield j, failed_record(j.op, j.image.pixel_sha256, f"timed out after {job_timeout:g} s ({attempts[id(j)]} attempts)")
                        else:
                            queue.insert(0, j)
                    queue[:0] = others  # innocent: restarted without counting an attempt
                else:
                    crashed_alone = len(others) == 1 and limit == 1
                    for j in others:
                        if crashed_alone:
                            attempts[id(j)] = attempts.get(id(j), 0) + 1
                            if attempts[id(j)] > retries:
                                yield j, failed_record(j.op, j.image.pixel_sha256, f"worker process died ({attempts[id(j)]} attempts)")
                                continue
                        suspects.append(j)
    finally:
        for p in list(getattr(pool, "_processes", {}).values()) if running else []:
            p.kill()
        pool.shutdown(wait=False, cancel_futures=True)


def run_dask(jobs, fn: Callable, args: Callable, scheduler: str | None, workers: int, retries: int = 2,
             initializer=None) -> Iterator[tuple[object, dict]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from .errors import LicBenchError

        raise LicBenchError("--executor dask needs dask.distributed: pip install -e '.[dask]'") from None
    import dask

    from .dask_worker import WorkerSetup

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout=30)
    else:
        # no malloc tunable in the workers' environment: glibc keeps its dynamic mmap threshold
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        client.register_plugin(WorkerSetup(initializer, 1))  # also for workers (re)started later
        n = len(jobs)
        futures = {}
        for i, j in enumerate(jobs):  # longest first: earlier jobs get higher priority
            f = client.submit(fn, *args(j), pure=False, retries=retries, priority=n - i,
                              key=f"lic-bench-job-{i}-{time.time_ns()}")
            futures[f] = j
        for f in as_completed(list(futures)):
            j = futures.pop(f)
            try:
                yield j, f.result()
            except Exception as e:  # KilledWorker, or an exception after the retries
                yield j, failed_record(j.op, j.image.pixel_sha256, f"dask: {type(e).__name__}: {str(e)[:300]}")
    finally:
        for f in list(futures):
            f.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
