"""Dask workers get glibc's memory reuse back (the cause of 3-4x slower jobs under Dask)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tunables (Linux)")

PROBE = textwrap.dedent("""
    import resource
    import numpy as np
    from lic_bench.dask_worker import restore_malloc_reuse

    def faults():  # minor page faults of 100 allocations of a 4 MB temporary, as torch/numpy make per job
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(100):
            np.ones(1 << 19)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults()
    print(faults(), restore_malloc_reuse(), faults())
""")


def _probe(env: dict) -> list[str]:
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # this checkout's lic_bench
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_dask_malloc_setting_is_undone_in_workers():
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")  # what Dask's nanny sets for its workers
    before, restored, after = _probe(env)
    assert restored == "True"
    assert int(before) > 10_000  # every 4 MB temporary is a fresh mmap whose pages fault in again
    assert int(after) < int(before) / 20


def test_nothing_to_undo_without_malloc_settings():
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") and k.endswith("_"))}
    _, restored, _ = _probe(env)
    assert restored == "False"
