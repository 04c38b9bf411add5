"""Dask worker set-up, imported only when a Dask executor runs (importing distributed costs ~0.5 s).

Why it exists: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``), which made jobs 3-4x slower than in the process pool;
every worker, including ones the nanny restarts, gets lic_bench.malloc's settings.
"""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from .malloc import keep_freed_memory


class WorkerSetup(WorkerPlugin):
    """Runs on every worker, including ones the nanny restarts later (client.run reaches only current ones)."""

    name = "lic-bench-worker-setup"

    def __init__(self, initializer=None, threads: int = 1):
        self.initializer = initializer
        self.threads = threads

    def setup(self, worker) -> None:
        keep_freed_memory()
        if self.initializer:
            self.initializer(self.threads)
