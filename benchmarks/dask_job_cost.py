"""Per-job cost of the same torch-heavy job in a local process pool and in Dask LocalCluster workers.

The job: MS-SSIM of a Kodak image against a noisy copy, with pytorch-msssim (the torch convolutions
that were 3-4x slower under Dask) and with lic_bench.metrics; it reports its own wall time, the CPU time
of the thread that ran it and the minor page faults of its process. Three executors with the same
number of workers:

* pool        lic_bench.executors.run_process_pool
* dask-local  lic_bench.executors.run_dask (LocalCluster, with the malloc fix)
* dask-plain  a LocalCluster with Dask's default worker environment, as run_dask was before the fix

python benchmarks/dask_job_cost.py [--workers 2] [--jobs 12] [--image PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def job(path: str, seed: int) -> dict:
    """One job: load, perturb, both MS-SSIMs; timed from inside (import and load not counted)."""
    import os
    import resource
    import time

    import numpy as np
    import torch
    from PIL import Image
    from pytorch_msssim import ms_ssim

    from lic_bench import metrics

    torch.set_num_threads(1)
    a = np.asarray(Image.open(path).convert("RGB"))
    rng = np.random.default_rng(seed)
    b = np.clip(a.astype(int) + rng.integers(-8, 9, a.shape), 0, 255).astype(np.uint8)
    t = lambda x: torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None]  # noqa: E731
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall, cpu = time.perf_counter(), time.thread_time()
    ms_ssim(t(a), t(b), data_range=255)
    metrics.ms_ssim(a, b)
    metrics.sse_rgb_and_ycbcr(a, b)
    return {"wall": time.perf_counter() - wall, "cpu": time.thread_time() - cpu,
            "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
            "malloc_env": os.environ.get("MALLOC_TRIM_THRESHOLD_")}


class _Job:  # what the executors need of a job when it fails
    op = 0.0

    class image:
        pixel_sha256 = "-"


def run_plain_dask(n: int, path: str, workers: int) -> list[dict]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        return client.gather([client.submit(job, path, i, pure=False) for i in range(n)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--image", default=None)
    ap.add_argument("--executors", default="pool,dask-local,dask-plain")
    a = ap.parse_args()
    from lic_bench.executors import run_dask, run_process_pool

    path = a.image or next((str(p) for p in (REPO.parent / "shared/datasets/kodak/kodim01.png",
                                             Path("/work/shared/datasets/kodak/kodim01.png")) if p.is_file()), None)
    if path is None:
        from lic_bench.datasets import locate

        path = str(locate("sample").folder / "astronaut.png")
    jobs = [_Job() for _ in range(a.jobs)]
    seeds = {id(j): i for i, j in enumerate(jobs)}
    args = lambda j: (path, seeds[id(j)])  # noqa: E731
    runners = {
        "pool": lambda: [r for _, r in run_process_pool(jobs, job, args, a.workers)],
        "dask-local": lambda: [r for _, r in run_dask(jobs, job, args, None, a.workers)],
        "dask-plain": lambda: run_plain_dask(a.jobs, path, a.workers),
    }
    print(f"{a.jobs} jobs on {Path(path).name}, {a.workers} workers; per job, median")
    base = None
    for name in a.executors.split(","):
        rs = runners[name]()
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        faults = statistics.median(r["faults"] for r in rs)
        base = base or (wall, cpu)
        print(f"  {name:11s} wall {1e3 * wall:7.1f} ms ({wall / base[0]:.2f}x)   thread CPU {1e3 * cpu:7.1f} ms "
              f"({cpu / base[1]:.2f}x)   minor page faults {faults:8.0f}   MALLOC_TRIM_THRESHOLD_={rs[0]['malloc_env']}",
              flush=True)


if __name__ == "__main__":
    main()
