"""Where a `lic-bench run`'s time goes for one codec: the codec's own encode + decode against the rest.

Runs `lic-bench run` on a folder (cold store), then the same command again (every result cached: the
start-up and planning cost), times importing torch (a cached run does not), and reads the records' encode/decode times. What is left of the cold run's
wall time is the harness: image loading, colour, metrics, hashing, the encoder/decoder check, the store.
A learned codec without trained weights gets a random-initialised checkpoint: timing only.

python benchmarks/run_overhead.py --codec tcm-large -q 3 [--device cuda] [--images DIR] [--n 24]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LEARNED_PREFIXES = ("tcm-", "tic", "compressai:")


def random_checkpoint(codec: str, quality: int, path: Path) -> None:
    import torch

    import lic_bench

    model = lic_bench.load_model(codec, random_init=True, quality=quality)
    torch.save(model.state_dict(), path)


def timed_run(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codec", default="webp")
    ap.add_argument("-q", "--quality", default="50")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--images", type=Path, default=None, help="folder of images (default: ../shared Kodak, else sample)")
    ap.add_argument("--n", type=int, default=24, help="first N images")
    a = ap.parse_args()
    from lic_bench import api
    from lic_bench.datasets import locate

    source = a.images
    if source is None:
        kodak = REPO.parent / "shared" / "datasets" / "kodak"
        source = kodak if kodak.is_dir() else locate("sample").folder
    work = Path(tempfile.mkdtemp(prefix="lic-bench-run-overhead-"))
    try:
        images = work / "images"
        images.mkdir()
        for p in sorted(source.glob("*.png"))[: a.n]:
            os.symlink(p.resolve(), images / p.name)
        store = work / "store.sqlite"
        env = dict(os.environ, LIC_BENCH_CACHE=str(work / "cache"), PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))))
        cmd = [sys.executable, "-m", "lic_bench", "run", "--codecs", a.codec, "-q", a.quality, "-d", str(images),
               "--store", str(store), "--device", a.device, "--no-progress"]
        if a.codec.startswith(LEARNED_PREFIXES):
            ckpt = work / "random.pth.tar"
            random_checkpoint(a.codec, int(a.quality), ckpt)
            cmd += ["--checkpoint", str(ckpt)]
        cold = timed_run(cmd, env)
        cached = timed_run(cmd, env)
        # a cached rerun imports no torch: what a job process imports first is start-up too
        imports = timed_run([sys.executable, "-c", "import torch, lic_bench.evaluate, lic_bench.metrics"], env)
        recs = [r for cr in api.results(str(images), a.codec, store=store) for r in cr.records]
        ok = [r for r in recs if r.status == "ok"]
        if not ok:
            sys.exit(f"no successful record: {recs[0].error if recs else 'no record'}")
        enc, dec = sum(r.enc_s for r in ok), sum(r.dec_s for r in ok)
        harness = cold - cached - imports - enc - dec
        n = len(ok)
        print(f"{a.codec} q {a.quality} on {n} images from {source} ({a.device}, one worker)")
        print(f"  cold run {cold:7.2f} s wall; cached rerun (start-up, planning) {cached:5.2f} s; importing torch {imports:5.2f} s")
        print(f"  codec: encode {enc:7.2f} s + decode {dec:7.2f} s = {1e3 * (enc + dec) / n:8.1f} ms per image")
        print(f"  harness (the rest of the cold run, less start-up; for a learned codec also building the model and its"
              f" encoder-side reconstruction): {harness:6.2f} s = {1e3 * harness / n:6.1f} ms per image"
              f" = {harness / (enc + dec):.2f}x the codec's time")
        mismatched = sum(1 for r in ok if r.mismatch)
        print(f"  encoder/decoder check: {sum(1 for r in ok if r.mismatch is not None)} of {n} compared, {mismatched} differ")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
