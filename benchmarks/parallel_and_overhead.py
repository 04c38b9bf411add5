"""Parallel efficiency and harness overhead (prints figures).

1. WebP on a dataset (default Kodak from ../shared, else `sample`) with --jobs 1, --jobs 2 and
   dask-local with 2 workers, each into a fresh store: wall time and speed-up; then a cached rerun.
2. Harness overhead for one codec: run wall time vs the sum of the codec's own encode+decode time
   (the rest is image loading, colour/padding, metrics incl. MS-SSIM, hashing and the store).

python benchmarks/parallel_and_overhead.py [--dataset kodak --data-dir ../shared/datasets] [--codec webp]
"""

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args, store):
    env = dict(os.environ, LIC_BENCH_STORE=str(store))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "lic_bench", "run", *args, "--no-progress"], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(p.stderr)
    return time.perf_counter() - t


def main():
    here = Path(__file__).resolve().parents[1]
    shared = here.parent / "shared" / "datasets"
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="kodak" if (shared / "kodak").is_dir() else "sample")
    ap.add_argument("--data-dir", default=str(shared))
    ap.add_argument("--codec", default="webp")
    ap.add_argument("--extra", default="", help="extra run arguments, e.g. '--weights-dir W' for learned codecs")
    a = ap.parse_args()
    base = ["--codecs", a.codec, "--dataset", a.dataset, "--data-dir", a.data_dir, *a.extra.split()]
    tmp = Path(tempfile.mkdtemp(prefix="lic-bench-bench-"))
    print(f"{a.codec} on {a.dataset}, {os.cpu_count()} CPU(s)")
    t1 = run(base + ["--jobs", "1"], tmp / "j1.sqlite")
    t2 = run(base + ["--jobs", "2"], tmp / "j2.sqlite")
    print(f"--jobs 1: {t1:7.1f} s")
    print(f"--jobs 2: {t2:7.1f} s   speed-up {t1 / t2:.2f}x   efficiency {t1 / t2 / 2:.0%}")
    try:
        import distributed  # noqa: F401

        td = run(base + ["--jobs", "2", "--executor", "dask-local"], tmp / "dask.sqlite")
        print(f"dask-local, 2 workers: {td:7.1f} s   speed-up {t1 / td:.2f}x")
    except ImportError:
        print("dask-local: dask.distributed not installed")
    tc = run(base, tmp / "j1.sqlite")
    print(f"cached rerun: {tc:7.2f} s")
    db = sqlite3.connect(tmp / "j1.sqlite")
    codec_s, n = db.execute("SELECT SUM(enc_s + dec_s), COUNT(*) FROM records WHERE status='ok'").fetchone()
    print(f"harness overhead (--jobs 1): run {t1:.1f} s, codec encode+decode {codec_s:.1f} s over {n} jobs -> "
          f"overhead {(t1 - codec_s) / t1:.1%} of the run ({(t1 - codec_s) / n * 1e3:.0f} ms per job; includes interpreter start-up)")


if __name__ == "__main__":
    main()
