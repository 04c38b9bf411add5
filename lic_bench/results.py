"""Read results back: per-codec records on a dataset, aggregated curves, CompressAI JSON in and out."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .aggregate import Point
from .errors import LicBenchError
from .names import CodecResults, measured, measured_on, resolve_dataset
from .record import EXPORT_FIELDS, METRICS, per_image_values
from .store import Store

__all__ = ["CodecResults", "codec_results", "records_rows", "curves_rows", "curve_rows", "records_frame", "curves_frame",
           "to_compressai", "read_compressai"]


def codec_results(store: Store, dataset: str, codecs: list[str] | None = None, data_dir=None) -> list[CodecResults]:
    """Measured results of `codecs` (every measured curve when None) on `dataset` — a registered name,
    a folder path, a folder's basename or a content hash (see :mod:`lic_bench.names`)."""
    ds = resolve_dataset(store, dataset, data_dir)
    if codecs is None:
        return measured_on(store, ds)
    return [measured(store, c, ds) for c in codecs]


def records_rows(results: list[CodecResults]) -> list[dict]:
    """Per-image rows: who, which image, the record's raw fields (incl. bitstream md5/sha256) and every metric."""
    rows = []
    for cr in results:
        for r in cr.records:
            row = {"codec": cr.name, "spec_digest": r.spec_digest or cr.digest, "dataset": cr.dataset}
            row.update({k: r[k] for k in EXPORT_FIELDS})
            row["mismatch"] = bool(r.mismatch) if r.mismatch is not None else None  # None: not compared
            row["enc_dec_check"] = r.extra.get("enc_dec_check") or ("compared" if r.mismatch is not None else "not offered by the codec")
            row["metrics_device"] = r.extra.get("metrics_device", "cpu")
            row["flags"] = ",".join(r.flags)
            row["dataset_content_sha256"] = cr.content_sha256
            match = r.extra.get("rate_match")
            if match:  # a rate-matched job: the setting the search chose and what it cost
                row.update(matched_setting=match["setting"], matched_reached=match["reached"], matched_encodes=match["n_encodes"])
            row.update(per_image_values(r) if r.ok else {m.attr: None for m in METRICS.values()})
            rows.append(row)
    return rows


def curves_rows(results: list[CodecResults], aggregation: str = "mean") -> list[dict]:
    return [{"codec": cr.name, "kind": "measured", "spec_digest": cr.digest, "dataset": cr.dataset,
             "source": f"{cr.name} (measured, spec {cr.digest})", "aggregation": aggregation, **p.to_dict()}
            for cr in results for p in cr.points(aggregation)]


def curve_rows(curve, aggregation: str = "mean") -> list[dict]:
    """Rows of any resolved curve (lic_bench.references.Curve): per-image records are aggregated as asked;
    a published or imported curve has only its published means (other aggregations are refused), one row
    per published rate, a metric published at rates of its own in rows of its own."""
    head = {"codec": curve.name, "kind": curve.kind, "spec_digest": curve.provenance.get("spec_digest"),
            "dataset": curve.dataset, "source": curve.label, "aggregation": aggregation}
    if curve.records is not None:
        return [{**head, **p.to_dict()} for p in curve.aggregated(aggregation)]
    if aggregation != "mean":
        raise LicBenchError(f"{curve.label} is published as means of per-image values only; '{aggregation}' cannot be derived")
    head["aggregation"] = "mean (as published)"
    pts = curve.points or {}
    own_rates = {k.split(":", 1)[1] for k in pts if k.startswith("bpp:")}
    columns = {"ms-ssim-rgb": "ms-ssim"}  # CompressAI's key for linear MS-SSIM

    def column(m: str) -> str:  # the metric table's column, or the published name (ms-ssim-y -> ms_ssim_y)
        name = columns.get(m, m)
        return METRICS[name].attr if name in METRICS else name.replace("-", "_")

    def value_rows(rates, metrics):
        return [{**head, "op": None, "bpp": rate, **{column(m): pts[m][i] for m in metrics}} for i, rate in enumerate(rates)]

    shared = [m for m in pts if m != "bpp" and ":" not in m and m not in own_rates]
    rows = value_rows(pts.get("bpp", []), shared)
    for m in sorted(own_rates):
        rows += value_rows(pts[f"bpp:{m}"], [m])
    return rows


def records_frame(results: list[CodecResults]):
    import pandas as pd

    return pd.DataFrame(records_rows(results))


def curves_frame(results: list[CodecResults], aggregation: str = "mean"):
    import pandas as pd

    return pd.DataFrame(curves_rows(results, aggregation))


# ---- CompressAI results JSON

COMPRESSAI_KEYS = ("psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time", "decoding_time")


def to_compressai(name: str, points: list[Point], description: str) -> dict:
    """Exactly CompressAI's results JSON layout, points in increasing bpp."""
    pts = sorted((p for p in points if p.n_images and not math.isnan(p.bpp)), key=lambda p: p.bpp)
    return {"name": name, "description": description, "results": {
        "psnr-rgb": [p.psnr_rgb for p in pts], "ms-ssim-rgb": [p.ms_ssim for p in pts], "bpp": [p.bpp for p in pts],
        "encoding_time": [p.enc_s for p in pts], "decoding_time": [p.dec_s for p in pts]}}


def read_compressai(path: str | Path) -> dict:
    """Validate a CompressAI results JSON and return ``{name, description, points: {metric: [...]}}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LicBenchError(f"{path}: not a readable JSON file ({e})") from None
    res = data.get("results") if isinstance(data, dict) else None
    if not isinstance(res, dict) or "bpp" not in res:
        raise LicBenchError(f"{path}: not a CompressAI results file (needs 'results' with 'bpp' and quality lists)")
    n = len(res["bpp"])
    pts = {}
    for k, v in res.items():
        if isinstance(v, list) and len(v) == n and all(isinstance(x, (int, float)) for x in v):
            pts[k] = [float(x) for x in v]
    if "psnr-rgb" not in pts and "ms-ssim-rgb" not in pts:
        raise LicBenchError(f"{path}: no 'psnr-rgb' or 'ms-ssim-rgb' list of the same length as 'bpp'")
    return {"name": data.get("name") or path.stem, "description": data.get("description", ""), "points": pts}
