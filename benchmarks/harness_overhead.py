"""Where a job's harness time goes at 768x512 on one CPU thread (prints ms per step, medians).

Run it as a job's process runs (lic_bench.malloc's settings), or with LIC_BENCH_MALLOC=default for
glibc's own. Steps: padding and cropping, colour conversion both ways (YCbCr codecs), each metric (SSE-RGB, SSE-YCbCr,
MS-SSIM, and pytorch-msssim for the ratio), the hashes a job computes (source and decoded pixels, the
bitstream's sha256 and md5) and one store write. The codec is Pillow's WebP at quality 50 on kodim01
(or the sample photo when ../shared is absent); its own encode+decode is printed for scale.

python benchmarks/harness_overhead.py [--image PATH] [--repeats 15]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from lic_bench import METRIC_VERSION, color, metrics  # noqa: E402
from lic_bench.imageio import crop, pad, pixel_sha256  # noqa: E402
from lic_bench.malloc import keep_freed_memory  # noqa: E402


def median_ms(fn, repeats: int, clock=time.thread_time) -> float:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return 1e3 * statistics.median(times)


def default_image() -> Path:
    kodak = REPO.parent / "shared" / "datasets" / "kodak" / "kodim01.png"
    for p in (kodak, Path("/work/shared/datasets/kodak/kodim01.png")):
        if p.is_file():
            return p
    from lic_bench.datasets import locate

    return locate("sample").folder / "astronaut.png"


def store_write_ms(image: np.ndarray, rec: np.ndarray, data: bytes, repeats: int) -> float | None:
    """One record into a fresh SQLite store as the runner writes it (None if the store API changed)."""
    try:
        from lic_bench.store import Store
    except ImportError:
        return None
    sse = metrics.sse_per_channel(image, rec)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            store = Store(Path(tmp) / "store.sqlite")
            ops = iter(range(10**6))

            def write():
                store.put_record("0" * 64, {
                    "metric_version": METRIC_VERSION, "op": float(next(ops)), "height": image.shape[0],
                    "width": image.shape[1], "pixel_sha256": "a" * 64, "status": "ok", "bytes": len(data),
                    "sse_r": sse[0], "sse_g": sse[1], "sse_b": sse[2], "ms_ssim": 0.9, "enc_s": 0.01, "dec_s": 0.01,
                    "bitstream_sha256": hashlib.sha256(data + bytes(8)).hexdigest(), "bitstream": data, "flags": []})

            return median_ms(write, repeats, clock=time.perf_counter)  # wall: the commit waits for the disk
        except (TypeError, AttributeError):
            return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args()
    torch.set_num_threads(1)
    kept = keep_freed_memory()  # as every process that runs jobs does (LIC_BENCH_MALLOC=default: glibc's own)
    path = a.image or default_image()
    image = np.asarray(Image.open(path).convert("RGB"))
    h, w = image.shape[:2]

    def webp():
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "WEBP", quality=50)
        return buf.getvalue(), np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))

    data, rec = webp()
    rows = [("codec: WebP q50 encode+decode (Pillow)", median_ms(webp, a.repeats), False)]
    rows.append(("pad to 64 + crop back", median_ms(lambda: crop(pad(image, 64), h, w, 64), a.repeats), True))
    rows.append(("colour RGB->YCbCr->RGB (YCbCr codecs only)",
                 median_ms(lambda: color.ycbcr_to_rgb_u8(color.rgb_to_ycbcr_u8(image)), a.repeats), False))
    rows.append(("SSE-RGB + SSE-YCbCr (one pass)", median_ms(lambda: metrics.sse_rgb_and_ycbcr(image, rec), a.repeats), True))
    rows.append(("  SSE-RGB alone", median_ms(lambda: metrics.sse_per_channel(image, rec), a.repeats), False))
    rows.append(("  SSE-YCbCr alone", median_ms(lambda: metrics.sse_ycbcr(image, rec), a.repeats), False))
    fast = median_ms(lambda: metrics.ms_ssim(image, rec), a.repeats)
    rows.append(("MS-SSIM (lic_bench.metrics)", fast, True))
    try:
        from pytorch_msssim import ms_ssim as reference

        t = lambda x: torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None].contiguous()  # noqa: E731  (as CompressAI)
        slow = median_ms(lambda: reference(t(image), t(rec), data_range=255), a.repeats)
        rows.append(("  pytorch-msssim, for comparison", slow, False))
    except ImportError:
        slow = None
    rows.append(("hash: source pixels sha256", median_ms(lambda: pixel_sha256(image), a.repeats), True))
    rows.append(("hash: decoded pixels sha256", median_ms(lambda: pixel_sha256(rec), a.repeats), True))
    rows.append(("hash: bitstream sha256 + md5",
                 median_ms(lambda: (hashlib.sha256(data).digest(), hashlib.md5(data).digest()), a.repeats), True))
    store_ms = store_write_ms(image, rec, data, a.repeats)
    if store_ms is not None:
        rows.append(("store: one record, own transaction (wall)", store_ms, True))

    print(f"{path.name} {w}x{h}, one thread, thread CPU time, median of {a.repeats}; "
          f"malloc: {'freed memory kept (lic_bench.malloc)' if kept else 'glibc defaults'}")
    for name, ms, counted in rows:
        print(f"  {name:46s} {ms:8.2f} ms{'' if counted else '   (not in the sum)'}")
    total = sum(ms for _, ms, counted in rows if counted)
    print(f"  {'harness work per job (RGB codec)':46s} {total:8.2f} ms   goal <= 25 ms")
    if slow:
        print(f"  MS-SSIM speed-up over pytorch-msssim: {slow / fast:.2f}x   value difference "
              f"{abs(metrics.ms_ssim(image, rec).value - reference(t(image), t(rec), data_range=255).item()):.2e}")


if __name__ == "__main__":
    main()
