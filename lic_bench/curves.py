"""Aggregation of per-image records into RD points. Pure: records in, points out.

Two aggregations, always labelled:

* ``mean`` (default; CompressAI and LIC papers): arithmetic mean over images of per-image bpp, PSNR
  and MS-SSIM; MS-SSIM dB is taken of the *mean* MS-SSIM, as CompressAI's plot tool does.
* ``pooled`` (CLIC devkit): bpp = 8·Σbytes/Σpixels, PSNR of the pooled MSE (ΣSSE/Σsamples), MS-SSIM
  pixel-weighted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from . import metrics

AGGREGATIONS = ("mean", "pooled")
AGGREGATION_LABELS = {
    "mean": "mean of per-image values (CompressAI/LIC papers); MS-SSIM dB of the mean MS-SSIM",
    "pooled": "pooled over images: bpp = 8·Σbytes/Σpixels, PSNR of pooled MSE (CLIC); MS-SSIM pixel-weighted",
}
QUALITY_METRICS = ("psnr-rgb", "psnr-y", "psnr-ycbcr", "ms-ssim", "ms-ssim-db")


@dataclass
class Point:
    op: float
    n_images: int
    n_failed: int
    n_mismatch: int
    bpp: float
    psnr_rgb: float
    psnr_y: float
    psnr_ycbcr: float
    ms_ssim: float
    ms_ssim_db: float
    enc_s: float
    dec_s: float

    def quality(self, metric: str) -> float:
        return {"psnr-rgb": self.psnr_rgb, "psnr-y": self.psnr_y, "psnr-ycbcr": self.psnr_ycbcr,
                "ms-ssim": self.ms_ssim, "ms-ssim-db": self.ms_ssim_db}[metric]

    def to_dict(self) -> dict:
        return asdict(self)


def image_quality(rec: dict) -> dict:
    """Per-image metric values from one record's raw quantities."""
    n = rec["height"] * rec["width"]
    ycc = (rec.get("sse_y"), rec.get("sse_cb"), rec.get("sse_cr"))
    has_ycc = None not in ycc
    ms = rec.get("ms_ssim")
    ms = math.nan if ms is None else ms
    return {
        "bpp": metrics.bpp(rec["bytes"], rec["height"], rec["width"]),
        "psnr_rgb": metrics.psnr_from_mse(sse_rgb(rec) / (3.0 * n)),
        "psnr_y": metrics.psnr_from_mse(ycc[0] / n) if has_ycc else math.nan,
        "psnr_ycbcr": metrics.psnr_ycbcr_611(ycc, n) if has_ycc else math.nan,
        "ms_ssim": ms,
        "ms_ssim_db": metrics.ms_ssim_db(ms),
    }


def sse_rgb(rec: dict) -> float:
    """Total RGB SSE of a record (records imported from elsewhere may carry only the total)."""
    if rec.get("sse_r") is None:
        return rec["sse_rgb"]
    return rec["sse_r"] + rec["sse_g"] + rec["sse_b"]


def _mean(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


def aggregate(records: list[dict], aggregation: str = "mean") -> list[Point]:
    """One point per operating point, from 'ok' records (failed ones are counted, not averaged)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; choose {', '.join(AGGREGATIONS)}")
    by_op: dict[float, list[dict]] = {}
    for r in records:
        by_op.setdefault(float(r["op"]), []).append(r)
    points = []
    for op in sorted(by_op):
        recs = by_op[op]
        ok = [r for r in recs if r["status"] == "ok"]
        failed = len(recs) - len(ok)
        mism = sum(1 for r in ok if r.get("mismatch"))
        if not ok:
            points.append(Point(op, 0, failed, 0, *([math.nan] * 8)))
            continue
        if aggregation == "mean":
            q = [image_quality(r) for r in ok]
            ms = _mean([x["ms_ssim"] for x in q])
            vals = dict(bpp=_mean([x["bpp"] for x in q]), psnr_rgb=_mean([x["psnr_rgb"] for x in q]),
                        psnr_y=_mean([x["psnr_y"] for x in q]), psnr_ycbcr=_mean([x["psnr_ycbcr"] for x in q]),
                        ms_ssim=ms, ms_ssim_db=metrics.ms_ssim_db(ms))
        else:
            pix = sum(r["height"] * r["width"] for r in ok)
            sse = sum(sse_rgb(r) for r in ok)
            has_ycc = all(r.get("sse_y") is not None for r in ok)
            ycc = tuple(sum(r[k] for r in ok) for k in ("sse_y", "sse_cb", "sse_cr")) if has_ycc else None
            msw = [(r["ms_ssim"], r["height"] * r["width"]) for r in ok if r.get("ms_ssim") is not None and not math.isnan(r["ms_ssim"])]
            ms = sum(v * w for v, w in msw) / sum(w for _, w in msw) if msw else math.nan
            vals = dict(bpp=8.0 * sum(r["bytes"] for r in ok) / pix, psnr_rgb=metrics.psnr_from_mse(sse / (3 * pix)),
                        psnr_y=metrics.psnr_from_mse(ycc[0] / pix) if ycc else math.nan,
                        psnr_ycbcr=metrics.psnr_ycbcr_611(ycc, pix) if ycc else math.nan,
                        ms_ssim=ms, ms_ssim_db=metrics.ms_ssim_db(ms))
        points.append(Point(op, len(ok), failed, mism, enc_s=_mean([r.get("enc_s") for r in ok]),
                            dec_s=_mean([r.get("dec_s") for r in ok]), **vals))
    return points
