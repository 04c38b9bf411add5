"""Read results back: per-codec records on a dataset, aggregated curves, CompressAI JSON in and out."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import METRIC_VERSION
from .curves import Point, aggregate
from .errors import LicBenchError, did_you_mean
from .store import Store


@dataclass
class CodecResults:
    """Every record of one codec spec (by digest) on one dataset content version."""

    name: str
    digest: str
    identity: dict
    spec: dict
    dataset: str
    content_sha256: str
    records: list[dict]  # each with 'image'
    n_images: int

    def points(self, aggregation: str = "mean") -> list[Point]:
        return aggregate(self.records, aggregation)

    @property
    def random_init(self) -> bool:
        return bool(self.identity.get("provenance", {}).get("random_init"))


@dataclass
class DatasetView:
    name: str
    content_sha256: str
    images: dict[str, str]  # pixel sha -> image name
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


def dataset_view(store: Store, dataset: str) -> DatasetView:
    versions = store.dataset_versions(dataset)
    if not versions:
        raise LicBenchError(f"no results for dataset {dataset!r} in {store.path}; run `lic-bench run --dataset {dataset} ...` first")
    content = versions[0]["content_sha256"]
    members = store.dataset_members(content)
    return DatasetView(dataset, content, {m["pixel_sha256"]: m["image"] for m in members},
                       {m["image"]: (m["width"], m["height"]) for m in members})


def codec_results(store: Store, dataset: str, codecs: list[str] | None = None) -> list[CodecResults]:
    """Results of `codecs` (all codecs with records when None) on the latest content of `dataset`."""
    view = dataset_view(store, dataset)
    shas = set(view.images)
    if codecs is None:
        digests = [r["digest"] for r in store.db.execute("SELECT digest FROM specs ORDER BY name, created DESC")]
    else:
        digests = []
        for name in codecs:
            rows = store.specs_named(name)
            if not rows:
                known = [r[0] for r in store.db.execute("SELECT DISTINCT name FROM specs")]
                raise LicBenchError(f"no results for codec {name!r} in {store.path}{did_you_mean(name, known)}")
            digests.append(next((r["digest"] for r in rows if store.records_for(METRIC_VERSION, r["digest"], shas)), rows[0]["digest"]))
    out, seen_names = [], set()
    for d in digests:
        row = store.spec(d)
        recs = store.records_for(METRIC_VERSION, d, shas)
        if not recs or (codecs is None and row["name"] in seen_names):
            continue
        seen_names.add(row["name"])
        for r in recs:
            r["image"] = view.images[r["pixel_sha256"]]
        out.append(CodecResults(row["name"], d, json.loads(row["identity"]), json.loads(row["spec"]),
                                dataset, view.content_sha256, recs, len(view.images)))
    return out


def records_frame(results: list[CodecResults]):
    import pandas as pd

    from .curves import image_quality

    rows = []
    for cr in results:
        for r in cr.records:
            row = {"codec": cr.name, "spec_digest": cr.digest, "dataset": cr.dataset, "image": r["image"],
                   "op": r["op"], "status": r["status"], "error": r["error"], "bytes": r["bytes"],
                   "height": r["height"], "width": r["width"], "enc_s": r["enc_s"], "dec_s": r["dec_s"],
                   "mismatch": bool(r["mismatch"]) if r["mismatch"] is not None else None,
                   "bitstream_sha256": r["bitstream_sha256"], "flags": ",".join(r["flags"])}
            if r["status"] == "ok":
                row.update(image_quality(r))
            rows.append(row)
    return pd.DataFrame(rows)


def curves_frame(results: list[CodecResults], aggregation: str = "mean"):
    import pandas as pd

    rows = []
    for cr in results:
        for p in cr.points(aggregation):
            rows.append({"codec": cr.name, "aggregation": aggregation, **p.to_dict()})
    return pd.DataFrame(rows)


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
