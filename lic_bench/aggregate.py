"""Aggregation of per-image records into RD points. Pure: records in, points out.

Two aggregations, always labelled:

* ``mean`` (default; CompressAI and LIC papers): arithmetic mean over images of per-image bpp, PSNR
  and MS-SSIM; MS-SSIM dB is taken of the *mean* MS-SSIM, as CompressAI's plot tool does.
* ``pooled`` (CLIC devkit): bpp = 8·Σbytes/Σpixels, PSNR of the pooled MSE (ΣSSE/Σsamples), MS-SSIM
  pixel-weighted.

What each metric means and how it aggregates is the metric table's (:mod:`lic_bench.record`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .record import METRICS, QUALITY_METRICS, Record, mean_finite, per_image_values

AGGREGATIONS = ("mean", "pooled")
AGGREGATION_LABELS = {
    "mean": "mean of per-image values (CompressAI/LIC papers); MS-SSIM dB of the mean MS-SSIM",
    "pooled": "pooled over images: bpp = 8·Σbytes/Σpixels, PSNR of pooled MSE (CLIC); MS-SSIM pixel-weighted",
}
__all__ = ["AGGREGATIONS", "AGGREGATION_LABELS", "QUALITY_METRICS", "Point", "aggregate", "image_quality"]


@dataclass
class Point:
    """One operating point of a curve: counts, every metric of the table (``values``), mean times."""

    op: float
    n_images: int
    n_failed: int
    n_mismatch: int
    values: dict[str, float] = field(default_factory=dict)  # metric name -> aggregated value
    enc_s: float = math.nan
    dec_s: float = math.nan
    n_checked: int = 0  # images whose decoded reconstruction was compared with the encoder's (n_mismatch of them differ)

    def quality(self, metric: str) -> float:
        return self.values.get(metric, math.nan)

    def __getattr__(self, attr: str) -> float:  # p.bpp, p.psnr_rgb, p.ms_ssim_db …
        values = self.__dict__.get("values")
        name = attr.replace("_", "-")
        if values is not None and name in METRICS:
            return values.get(name, math.nan)
        raise AttributeError(attr)

    def to_dict(self) -> dict:
        out = {"op": self.op, "n_images": self.n_images, "n_failed": self.n_failed, "n_checked": self.n_checked,
               "n_mismatch": self.n_mismatch}
        out.update({METRICS[n].attr: self.values.get(n, math.nan) for n in METRICS})
        out.update(enc_s=self.enc_s, dec_s=self.dec_s)
        return out


def image_quality(rec: Record) -> dict:
    """Per-image metric values from one record's raw quantities (keys: bpp, psnr_rgb, …)."""
    return per_image_values(rec if isinstance(rec, Record) else Record.from_mapping(rec))


def aggregate(records: list, aggregation: str = "mean") -> list[Point]:
    """One point per operating point, from 'ok' records (failed ones are counted, not averaged)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; choose {', '.join(AGGREGATIONS)}")
    by_op: dict[float, list[Record]] = {}
    for r in records:
        r = r if isinstance(r, Record) else Record.from_mapping(r)
        by_op.setdefault(float(r.op), []).append(r)
    points = []
    for op in sorted(by_op):
        recs = by_op[op]
        ok = [r for r in recs if r.status == "ok"]
        failed = len(recs) - len(ok)
        if not ok:
            points.append(Point(op, 0, failed, 0, {n: math.nan for n in METRICS}))
            continue
        values = {n: m.aggregate(ok, aggregation) for n, m in METRICS.items()}
        points.append(Point(op, len(ok), failed, sum(1 for r in ok if r.mismatch), values,
                            enc_s=mean_finite([r.enc_s for r in ok]), dec_s=mean_finite([r.dec_s for r in ok]),
                            n_checked=sum(1 for r in ok if r.mismatch is not None)))
    return points
