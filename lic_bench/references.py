"""RD curves from every source, behind one type: measured (the store), shipped anchors (per-image
records made elsewhere, with provenance), imported CompressAI JSON, and paper-reported points.

Reported and imported curves carry only aggregated points (as published); measured and anchor
curves carry per-image records, so any aggregation (and per-image BD-rate) can be derived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources

import yaml

from .aggregate import Point, aggregate
from .errors import LicBenchError, did_you_mean
from .record import QUALITY_METRICS, Record

KINDS = {
    "measured": "measured by lic-bench",
    "anchor": "shipped anchor (measured with lic-bench conventions, provenance attached)",
    "imported": "imported CompressAI results (aggregated as published)",
    "reported": "reported in a paper (not measured here)",
    "published": "published RD data shipped with lic-bench (provenance, licence and source attached)",
}
#: Quality metrics a BD-rate can be computed on (the metric table's; see lic_bench.record).
METRICS = QUALITY_METRICS


@dataclass
class Curve:
    name: str
    dataset: str
    kind: str
    provenance: dict
    records: list[Record] | None = None  # per-image raw records, each with .image
    points: dict[str, list[float]] | None = None  # aggregated lists: bpp, psnr-rgb, ms-ssim-rgb
    warnings: list[str] = field(default_factory=list)
    n_images: int | None = None  # images of the dataset a measured curve is on (its points must cover them)

    @property
    def label(self) -> str:
        if self.kind == "published":
            return f"{self.name} ({self.provenance.get('provenance', 'published')})"
        return f"{self.name} ({self.kind})" if self.kind != "measured" else self.name

    def aggregated(self, aggregation: str = "mean") -> list[Point]:
        if self.records is None:
            raise LicBenchError(f"{self.label} has no per-image records")
        return aggregate(self.records, aggregation)

    def rd(self, metric: str, aggregation: str = "mean") -> tuple[list[float], list[float], list[str]]:
        """(rates in bpp, qualities, notes) of complete operating points; raises when unavailable."""
        if metric not in METRICS:
            raise LicBenchError(f"unknown metric {metric!r}{did_you_mean(metric, METRICS)}; choose {', '.join(METRICS)}")
        notes: list[str] = []
        if self.records is None:
            if aggregation != "mean":
                raise LicBenchError(f"{self.label} is published as means of per-image values only; '{aggregation}' cannot be derived")
            pts = self.points or {}
            if metric in pts:  # a metric published at its own rates keeps them under "bpp:<metric>"
                return list(pts.get(f"bpp:{metric}", pts["bpp"])), list(pts[metric]), list(pts.get(f"notes:{metric}", []))
            if metric == "ms-ssim" and "ms-ssim-rgb" in pts:  # CompressAI's key for linear MS-SSIM
                return list(pts["bpp"]), list(pts["ms-ssim-rgb"]), notes
            if metric == "ms-ssim-db" and "ms-ssim-rgb" in pts:  # dB of the published mean, as CompressAI plots it
                q = [-10 * math.log10(1 - x) for x in pts["ms-ssim-rgb"]]
                return list(pts["bpp"]), q, notes
            raise LicBenchError(f"{self.label} has no {metric} values (it publishes {', '.join(k for k in pts if k != 'bpp')})")
        # complete = every image of the dataset (a run on a subset of its images is not the dataset's curve)
        full = max([self.n_images or 0, *(p.n_images + p.n_failed for p in self.aggregated(aggregation))])
        rates, quals = [], []
        for p in self.aggregated(aggregation):
            if p.n_failed or p.n_images < full:
                notes.append(f"{self.name} op {p.op:g} left out: {p.n_images}/{full} images ok")
                continue
            q = p.quality(metric)
            if q is None or math.isnan(q):
                raise LicBenchError(f"{self.label} has no {metric} values")
            rates.append(p.bpp)
            quals.append(q)
        return rates, quals, notes

    def by_image(self) -> dict[str, list[dict]]:
        """Records grouped by image stem (``kodim01.png`` and ``kodim01`` match)."""
        if self.records is None:
            raise LicBenchError(f"{self.label} has only aggregated points; per-image BD-rate needs per-image records")
        from pathlib import PurePath

        from .imageio import IMAGE_SUFFIXES

        out: dict[str, list[dict]] = {}
        for r in self.records:
            name = PurePath(r["image"])
            out.setdefault(name.stem if name.suffix.lower() in IMAGE_SUFFIXES else r["image"], []).append(r)
        return out


# ---------------------------------------------------------------- shipped data

def _builtin():
    return resources.files("lic_bench") / "builtin"


def shipped_anchors() -> dict[tuple[str, str], Curve]:
    """(name, dataset) -> anchor curve with per-image records (see :mod:`lic_bench.anchors`)."""
    from .anchors import list_anchors, load_anchor

    out = {}
    for a in list_anchors():
        records, prov = load_anchor(a["name"], a["dataset"])
        out[(a["name"], a["dataset"])] = Curve(a["name"], a["dataset"], "anchor", prov,
                                               records=[Record.from_mapping(r) for r in records])
    return out


def _reference_docs():
    root = _builtin() / "references"
    if not root.is_dir():
        return []
    return [yaml.safe_load(f.read_text(encoding="utf-8")) for f in sorted(root.iterdir(), key=lambda f: f.name)
            if f.name.endswith(".yaml")]


def reported_curves() -> dict[tuple[str, str], Curve]:
    out = {}
    for doc in _reference_docs():
        for name, per_ds in doc["curves"].items():
            for ds, pts in per_ds.items():
                out[(name, ds)] = Curve(name, ds, "reported", {"citation": doc["citation"]}, points=pts)
    return out


def reported_bd_rates() -> dict[str, dict[str, float]]:
    """dataset -> {curve name: BD-rate % the paper reports against its own anchor}."""
    out: dict[str, dict[str, float]] = {}
    for doc in _reference_docs():
        for ds, vals in (doc.get("paper_bd_rate_vs_vtm") or {}).items():
            out.setdefault(ds, {}).update(vals)
    return out


# ---------------------------------------------------------------- resolution

def measured_curve(cr, allow_tiled: bool = False) -> Curve:
    """A store result as a curve. Records coded in tiles (GPU memory fallback) are left out — their
    operating points become incomplete — unless allow_tiled, so headline figures never mix in tiling."""
    if cr.random_init:
        raise LicBenchError(f"{cr.name}: results from randomly initialised weights are never used as RD curves")
    prov = {"spec_digest": cr.digest, "dataset_content_sha256": cr.content_sha256, **cr.identity}
    records, warnings = cr.records, list(cr.warnings)
    tiled = [r for r in records if any(f.startswith("tiled") for f in r.get("flags") or [])]
    if tiled and not allow_tiled:
        records = [r.with_(status="excluded", error="coded in tiles (use --allow-tiled)") if r in tiled else r for r in records]
        warnings.append(f"{len(tiled)} tiled record(s) excluded (e.g. {tiled[0]['image']}); pass --allow-tiled to include them")
    elif tiled:
        warnings.append(f"{len(tiled)} record(s) coded in tiles included (--allow-tiled)")
    return Curve(cr.name, cr.dataset, "measured", prov, records=records, warnings=warnings, n_images=cr.n_images)


def resolve_curve(name: str, dataset: str, store=None, allow_tiled: bool = False) -> Curve:
    """A curve by any of its names on `dataset` (a name, folder path or content hash): see
    :func:`lic_bench.names.resolve_curve`."""
    from .names import dataset_or_name, resolve_curve as _resolve

    return _resolve(store, name, dataset_or_name(store, dataset), allow_tiled)
