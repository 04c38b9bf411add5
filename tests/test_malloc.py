"""Processes that run jobs keep freed memory for reuse (lic_bench.malloc): without it each image-sized
temporary faults its pages in again (MS-SSIM 34 -> 22 ms); under Dask's nanny settings jobs ran 3-4x slower."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tunables (Linux)")

PROBE = textwrap.dedent("""
    import resource
    import numpy as np
    from lic_bench.malloc import keep_freed_memory

    def faults():  # minor page faults of temporaries of a few MB in changing sizes, as a job makes them
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(50):
            a = np.ones(1 << 19); b = np.ones(3 << 18); del a; c = np.ones(1 << 20); del b, c
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults()
    print(faults(), keep_freed_memory(), keep_freed_memory(), faults())
""")


def _probe(env: dict) -> list[str]:
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # this checkout's lic_bench
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") and k.endswith("_")) and k != "LIC_BENCH_MALLOC"}


@pytest.mark.parametrize("dask_nanny", [False, True])
def test_freed_memory_is_kept(dask_nanny):
    env = _clean_env()
    if dask_nanny:
        env["MALLOC_TRIM_THRESHOLD_"] = "65536"  # what Dask's nanny sets for its workers
    before, first, again, after = _probe(env)
    assert (first, again) == ("True", "True")
    assert int(before) > 10_000  # each temporary's pages fault in again
    assert int(after) < int(before) / 20


def test_opt_out_leaves_glibc_alone():
    before, first, _, after = _probe(dict(_clean_env(), LIC_BENCH_MALLOC="default"))
    assert first == "False"
    assert int(after) > 10_000


def test_job_processes_get_the_setting():
    """The pool's worker initialiser and the Dask worker plugin both apply it."""
    from lic_bench import runner

    code = textwrap.dedent("""
        import lic_bench.malloc as m
        from lic_bench.runner import _init_worker
        assert not m._done
        _init_worker(1)
        print(m._done)
    """)
    env = dict(_clean_env(), PYTHONPATH=str(Path(runner.__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"]


def test_dask_worker_plugin_applies_it():
    pytest.importorskip("distributed")
    code = textwrap.dedent("""
        import lic_bench.malloc as m
        from lic_bench.dask_worker import WorkerSetup
        WorkerSetup().setup(None)
        print(m._done)
    """)
    env = dict(_clean_env(), PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"]
