"""Where jobs run. Every executor yields (job, record) pairs as jobs finish; only the caller writes the
store, so workers never touch the results database (safe on network file systems).

* ``local`` — in-process for ``--jobs 1`` (a one-worker pool when a job timeout is set: only a child
  process can be stopped), else a pool of worker processes (one intra-op thread each).
  A worker that dies or a job over ``job_timeout`` is retried up to ``retries`` times: after a crash
  the jobs that were running are re-run one at a time, so a poisonous job is identified and recorded as
  failed without taking its neighbours down with it. A job's time counts from when a worker starts it
  (the worker reports it), so a new worker's start-up never counts against the job.
* Stopping is clean: workers get SIGTERM first, and a worker (or the main process, in-process) stopped
  that way kills the process groups of the external tools its job started (``run_tool``) and removes
  their scratch folders (``scratch_dir``) before it exits; survivors are then killed.
* ``dask`` — a Dask distributed scheduler (``--scheduler tcp://host:8786``) or a LocalCluster
  (``dask-local``); Dask's own retries and worker-death handling apply; images are read by the workers
  from the same paths (shared file system). Workers get glibc's default memory reuse back (see
  :mod:`lic_bench.dask_worker`): Dask's ``MALLOC_TRIM_THRESHOLD_`` made jobs 3-4x slower.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .record import Record

EXECUTORS = ("local", "dask", "dask-local")


def failed_record(op: float, pixel_sha256: str, error: str) -> Record:
    """The record of a job that produced no result (its error is what gets stored)."""
    return Record(op=float(op), pixel_sha256=pixel_sha256, status="failed", error=error)


class Terminated(KeyboardInterrupt):
    """SIGTERM in the main process: unwinds like Ctrl-C (workers stopped, tools killed, scratch removed)."""


# ---- external tools started by a job: each in its own session, so the whole group can be killed

_TOOL_GROUPS: set[int] = set()
_SCRATCH: set[str] = set()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_tool(args: list[str], timeout: float | None, cwd=None) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output=True, text=True) for an external tool, started in a new session:
    on a timeout, or when the job is stopped, the tool's whole process group is killed (a wrapper
    script's children included), as is anything it leaves running in its group when it exits. Raises
    subprocess.TimeoutExpired like subprocess.run."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            cwd=cwd, start_new_session=True)
    _TOOL_GROUPS.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:  # TimeoutExpired, Terminated, KeyboardInterrupt
        _kill_group(proc.pid)
        proc.communicate()
        raise
    finally:
        _TOOL_GROUPS.discard(proc.pid)
    _kill_group(proc.pid)  # whatever the tool left running in its group (a wrapper's background child)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@contextmanager
def scratch_dir(prefix: str):
    """A private temporary folder, removed when the job ends — or when its worker is stopped."""
    path = tempfile.mkdtemp(prefix=prefix)
    _SCRATCH.add(path)
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
        _SCRATCH.discard(path)


def _stop_worker(signum, frame) -> None:
    """SIGTERM in a pool worker: kill the job's tools, remove its scratch, exit at once."""
    for pgid in list(_TOOL_GROUPS):
        _kill_group(pgid)
    for path in list(_SCRATCH):
        shutil.rmtree(path, ignore_errors=True)
    os._exit(128 + signum)


def _raise_terminated(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the clean-up
    raise Terminated()


@contextmanager
def terminate_as_interrupt():
    """While the main process runs jobs, SIGTERM unwinds like Ctrl-C instead of killing it on the spot
    (which would orphan the workers and the resource tracker)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_in_process(jobs, fn: Callable, args: Callable) -> Iterator[tuple[object, dict]]:
    for j in jobs:
        yield j, fn(*args(j))


# ---- pool workers report when they start a job (the job timeout counts from there)

_STARTED = None  # the pool's queue of (token, monotonic start time), in a worker


def _worker_init(started, initializer, threads) -> None:
    global _STARTED
    _STARTED = started
    signal.signal(signal.SIGTERM, _stop_worker)
    if initializer is not None:
        initializer(threads)


def _started_job(token: int, fn: Callable, *args):
    _STARTED.put((token, time.monotonic()))  # CLOCK_MONOTONIC: one clock for every process of the machine
    return fn(*args)


def _stop_pool(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """SIGTERM to every worker (each kills its tools and removes its scratch), SIGKILL to survivors, then
    shut the pool down: no worker outlives this call."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()
    pool.shutdown(wait=True, cancel_futures=True)


def run_process_pool(jobs, fn: Callable, args: Callable, workers: int, retries: int = 2,
                     job_timeout: float | None = None, initializer=None) -> Iterator[tuple[object, dict]]:
    """Bounded in-flight submission (≤ workers), so the running jobs are always known."""
    queue = list(jobs)
    attempts: dict[int, int] = {}
    suspects: list = []  # jobs that were running when a worker died: re-run alone
    ctx = mp.get_context("spawn")
    tokens = itertools.count()
    starts: dict[int, float] = {}  # token -> when a worker started the job
    started = None

    def new_pool():
        nonlocal started
        started = ctx.SimpleQueue()  # a fresh queue: a killed worker may have left the old one locked
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                   initargs=(started, initializer, 1))

    def collect_starts() -> None:
        while not started.empty():
            token, t = started.get()
            starts[token] = t

    def wait_timeout() -> float | None:
        if not job_timeout:
            return None
        collect_starts()
        left = [starts[tok] + job_timeout - time.monotonic() for _, tok in running.values() if tok in starts]
        if len(left) < len(running):
            left.append(0.25)  # a job not started yet: look again soon
        return max(0.0, min(left))

    pool = new_pool()
    running: dict = {}  # future -> (job, token)
    try:
        while queue or suspects or running:
            limit = 1 if suspects else workers
            source = suspects if suspects else queue
            while source and len(running) < limit:
                j = source.pop(0)
                token = next(tokens)
                running[pool.submit(_started_job, token, fn, *args(j))] = (j, token)
            done, _ = wait(list(running), timeout=wait_timeout(), return_when=FIRST_COMPLETED)
            broken = False
            for f in done:
                j, token = running.pop(f)
                try:
                    yield j, f.result()
                except BrokenProcessPool:
                    broken = True
                    running[f] = (j, None)  # handled below with the others that were running
                except Exception as e:  # an exception in the job itself (not in the codec: those are records)
                    yield j, failed_record(j.op, j.image.pixel_sha256, f"job raised {type(e).__name__}: {e}")
            if job_timeout:
                collect_starts()
            now = time.monotonic()
            overdue = [f for f, (_, tok) in running.items() if job_timeout and tok in starts and now - starts[tok] > job_timeout]
            if overdue or broken:
                victims = [running[f][0] for f in overdue]
                others = [running[f][0] for f in running if f not in overdue]
                _stop_pool(pool)
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
        _stop_pool(pool)


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
