"""Where a `lic-bench run`'s time goes for one codec: the codec's own encode + decode against the rest.

Two cold runs (fresh store and cache each): one on N images, one on the first image only. Their
difference cancels everything paid once per run (start-up, imports, building a model, the first CUDA
calls); what is left of it beyond the codec's own encode/decode times (the records' enc_s + dec_s) is
the harness's work for N-1 images: loading and hashing, colour, metrics, the encoder/decoder check,
the store. A learned codec without trained weights gets a random-initialised checkpoint: timing only.

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


def timed_run(cmd: list[str], env: dict) -> float:  # noqa: D103
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
        one = work / "one"
        one.mkdir()
        first = sorted(images.iterdir())[0]
        os.symlink(first.resolve(), one / first.name)
        extra = []
        if a.codec.startswith(LEARNED_PREFIXES):
            ckpt = work / "random.pth.tar"
            random_checkpoint(a.codec, int(a.quality), ckpt)
            extra = ["--checkpoint", str(ckpt)]

        def cold(folder: Path, tag: str):
            store = work / f"{tag}.sqlite"
            env = dict(os.environ, LIC_BENCH_CACHE=str(work / f"cache-{tag}"),
                       PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))))
            wall = timed_run([sys.executable, "-m", "lic_bench", "run", "--codecs", a.codec, "-q", a.quality, "-d", str(folder),
                              "--store", str(store), "--device", a.device, "--no-progress", *extra], env)
            recs = [r for cr in api.results(str(folder), a.codec, store=store) for r in cr.records]
            ok = [r for r in recs if r.status == "ok"]
            if len(ok) != len(recs) or not ok:
                sys.exit(f"a job failed: {next((r.error for r in recs if r.status != 'ok'), 'no record')}")
            return wall, sum(r.enc_s + r.dec_s for r in ok), ok

        wall_1, codec_1, _ = cold(one, "one")
        wall_n, codec_n, ok = cold(images, "all")
        n = len(ok)
        if n < 2:
            sys.exit("give at least two images")
        harness = (wall_n - wall_1) - (codec_n - codec_1)
        print(f"{a.codec} q {a.quality} on {n} images from {source} ({a.device}, one worker)")
        print(f"  cold run on {n} images {wall_n:7.2f} s, on 1 image {wall_1:6.2f} s (start-up and first-image costs)")
        print(f"  codec (encode + decode): {1e3 * codec_n / n:8.1f} ms per image")
        print(f"  harness: {1e3 * harness / (n - 1):6.1f} ms per image = {harness / (codec_n - codec_1):.2f}x the codec's time")
        checked = [r for r in ok if r.mismatch is not None]
        print(f"  encoder/decoder check: {len(checked)} of {n} compared, {sum(1 for r in checked if r.mismatch)} differ"
              + (f" ({ok[0].extra['enc_dec_check']})" if not checked and ok[0].extra.get("enc_dec_check") else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
