"""The per-image record and the metric table: the one place that says what a result is.

A :class:`Record` holds the raw quantities of one job — (codec spec, operating point, image) — as
measured: bytes, per-channel squared errors, MS-SSIM, times, hashes. Every derived number (bpp,
PSNR of any kind, MS-SSIM dB) comes from :data:`METRICS`, so the store schema, every export, the
gate's baseline files and the aggregation all read the same two definitions.

Adding a metric is one :class:`Metric` entry (plus, when it needs a new raw quantity, a field here
and a store migration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable

from . import METRIC_VERSION, metrics


@dataclass
class Record:
    """One job's raw result. Mapping-style access (``rec["bytes"]``) is kept for scripts."""

    op: float
    pixel_sha256: str
    status: str = "failed"  # ok | failed | excluded (left out of a curve, with the reason in error)
    error: str | None = None
    metric_version: str = METRIC_VERSION
    spec_digest: str | None = None
    bytes: int | None = None
    payload_bytes: int | None = None
    height: int | None = None
    width: int | None = None
    sse_r: float | None = None
    sse_g: float | None = None
    sse_b: float | None = None
    sse_y: float | None = None
    sse_cb: float | None = None
    sse_cr: float | None = None
    ms_ssim: float | None = None
    ms_ssim_note: str | None = None
    enc_s: float | None = None
    dec_s: float | None = None
    bitstream_sha256: str | None = None
    bitstream_md5: str | None = None
    decoded_sha256: str | None = None
    expected_sha256: str | None = None
    mismatch: bool | None = None
    flags: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    created: float | None = None
    host: str | None = None
    # ---- not stored in the records table: values of metrics computed from pixels by a tool or a model
    # (their own table, keyed also by the metric's identity), the view's image name, the bytes in
    # flight, and the total RGB SSE of records published without per-channel errors (first anchor)
    metrics: dict = field(default_factory=dict)  # metric name -> value
    metric_ids: dict = field(default_factory=dict)  # metric name -> identity of what computed it
    image: str | None = None
    bitstream: bytes | None = field(default=None, repr=False)
    sse_rgb_total: float | None = None

    # mapping-style access, so ``rec["op"]`` and ``rec.get("flags")`` read like the JSON exports
    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def keys(self):
        return [f.name for f in fields(self)]

    def with_(self, **changes) -> "Record":
        return replace(self, **changes)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def n_pixels(self) -> int:
        return int(self.height) * int(self.width)

    @property
    def sse_rgb(self) -> float:
        if self.sse_r is None:
            return float(self.sse_rgb_total)
        return self.sse_r + self.sse_g + self.sse_b

    @property
    def has_ycbcr(self) -> bool:
        return None not in (self.sse_y, self.sse_cb, self.sse_cr)

    @classmethod
    def from_mapping(cls, d: dict) -> "Record":
        """A record from a dict (store row, baseline file, shipped anchor); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if "sse_rgb" in d and kw.get("sse_rgb_total") is None:  # the total, as older exports named it
            kw["sse_rgb_total"] = d["sse_rgb"]
        kw.setdefault("pixel_sha256", "")
        kw.setdefault("op", math.nan)  # a bare set of quantities (no job key), e.g. to derive metrics
        if kw.get("mismatch") is not None:
            kw["mismatch"] = bool(kw["mismatch"])
        if kw.get("op") is not None:
            kw["op"] = float(kw["op"])
        kw["flags"] = list(kw.get("flags") or [])
        kw["extra"] = dict(kw.get("extra") or {})
        kw["metrics"] = dict(kw.get("metrics") or {})
        kw["metric_ids"] = dict(kw.get("metric_ids") or {})
        return cls(**kw)


#: Fields stored in the store's records table, in column order.
STORED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Record)
                                       if f.name not in ("metrics", "metric_ids", "image", "bitstream", "sse_rgb_total"))
#: The key of a stored record: two runs that agree on it measured the same thing.
KEY_FIELDS = ("metric_version", "spec_digest", "op", "pixel_sha256")
#: Raw fields of per-image exports and baseline files (with the image name instead of the key).
EXPORT_FIELDS: tuple[str, ...] = ("image", "op", "status", "error", "bytes", "payload_bytes", "height", "width",
                                  "sse_r", "sse_g", "sse_b", "sse_y", "sse_cb", "sse_cr", "ms_ssim", "enc_s", "dec_s",
                                  "bitstream_md5", "bitstream_sha256", "decoded_sha256", "mismatch")


# ---------------------------------------------------------------- the metric table

def mean_finite(xs) -> float:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


@dataclass(frozen=True)
class Metric:
    """A derived quantity: how it comes from one record and how images are aggregated.

    ``mean``: the value of the 'mean' aggregation from per-image records (default: mean of per-image
    values). ``pooled``: the 'pooled' aggregation (CLIC devkit style).
    """

    name: str
    label: str
    unit: str
    higher_is_better: bool
    per_image: Callable[[Record], float]
    pooled: Callable[[list[Record]], float]
    mean: Callable[[list[Record]], float] | None = None
    is_rate: bool = False
    description: str = ""
    version: str = METRIC_VERSION
    #: For metrics computed from (original, reconstruction) by a tool or model and stored per record:
    #: "module" or "module:object" offering compute(reference, distorted, **options), version(**options)
    #: and check_available(**options) (see lic_bench.measure). None: derived from the raw fields.
    computed_by: str | None = None
    cost: str = "cheap"

    def aggregate(self, records: list[Record], aggregation: str) -> float:
        if aggregation == "pooled":
            return self.pooled(records)
        if self.mean is not None:
            return self.mean(records)
        return mean_finite(self.per_image(r) for r in records)

    @property
    def attr(self) -> str:
        """Python/column name: ``psnr-rgb`` -> ``psnr_rgb``."""
        return self.name.replace("-", "_")


def _pix(recs: list[Record]) -> int:
    return sum(r.n_pixels for r in recs)


def _ms(r: Record) -> float:
    return math.nan if r.ms_ssim is None else r.ms_ssim


def _psnr_y(r: Record) -> float:
    return metrics.psnr_from_mse(r.sse_y / r.n_pixels) if r.has_ycbcr else math.nan


def _psnr_ycc(r: Record) -> float:
    return metrics.psnr_ycbcr_611((r.sse_y, r.sse_cb, r.sse_cr), r.n_pixels) if r.has_ycbcr else math.nan


def _pooled_ycc(recs: list[Record], which: str) -> float:
    if not all(r.has_ycbcr for r in recs):
        return math.nan
    pix = _pix(recs)
    ycc = tuple(sum(getattr(r, k) for r in recs) for k in ("sse_y", "sse_cb", "sse_cr"))
    return metrics.psnr_from_mse(ycc[0] / pix) if which == "y" else metrics.psnr_ycbcr_611(ycc, pix)


def _pooled_ms(recs: list[Record]) -> float:
    msw = [(r.ms_ssim, r.n_pixels) for r in recs if r.ms_ssim is not None and not math.isnan(r.ms_ssim)]
    return sum(v * w for v, w in msw) / sum(w for _, w in msw) if msw else math.nan


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("bpp", "bpp", "bpp", False, lambda r: metrics.bpp(r.bytes, r.height, r.width),
           lambda rs: 8.0 * sum(r.bytes for r in rs) / _pix(rs), is_rate=True,
           description="8 × bitstream bytes / (H × W of the original image)"),
    Metric("psnr-rgb", "PSNR-RGB", "dB", True, lambda r: metrics.psnr_from_mse(r.sse_rgb / (3.0 * r.n_pixels)),
           lambda rs: metrics.psnr_from_mse(sum(r.sse_rgb for r in rs) / (3 * _pix(rs))),
           description="one MSE over R, G, B jointly, peak 255"),
    Metric("psnr-y", "PSNR-Y", "dB", True, _psnr_y, lambda rs: _pooled_ycc(rs, "y"),
           description="luma of BT.709 full-range YCbCr (float), peak 255"),
    Metric("psnr-ycbcr", "PSNR-YCbCr 6:1:1", "dB", True, _psnr_ycc, lambda rs: _pooled_ycc(rs, "611"),
           description="(6·PSNR-Y + PSNR-Cb + PSNR-Cr) / 8 (JVET, JPEG AI)"),
    Metric("ms-ssim", "MS-SSIM", "", True, _ms, _pooled_ms,
           description="pytorch-msssim defaults, data_range 255, on 8-bit RGB"),
    Metric("ms-ssim-db", "MS-SSIM", "dB", True, lambda r: metrics.ms_ssim_db(_ms(r)),
           lambda rs: metrics.ms_ssim_db(_pooled_ms(rs)),
           mean=lambda rs: metrics.ms_ssim_db(mean_finite(_ms(r) for r in rs)),
           description="−10·log10(1 − MS-SSIM); 'mean' aggregation: dB of the mean MS-SSIM (CompressAI)"),
)}
def _stored(name: str, label: str, higher: bool, computed_by: str, cost: str, description: str) -> Metric:
    def per_image(r: Record) -> float:
        v = r.metrics.get(name)
        return math.nan if v is None else float(v)

    def pooled(rs: list[Record]) -> float:  # pixel-weighted mean of the per-image values
        vw = [(per_image(r), r.n_pixels) for r in rs]
        vw = [(v, w) for v, w in vw if not math.isnan(v)]
        return sum(v * w for v, w in vw) / sum(w for _, w in vw) if vw else math.nan

    return Metric(name, label, "", higher, per_image, pooled, description=description, computed_by=computed_by, cost=cost)


METRICS.update({m.name: m for m in (
    _stored("ssimulacra2", "SSIMULACRA 2", True, "lic_bench.perceptual.ssimulacra2", "moderate",
            "own implementation of libjxl 0.11.2 tools/ssimulacra2.cc (2023-04 weights)"),
    _stored("butteraugli-max", "Butteraugli (max)", False, "lic_bench.perceptual.butteraugli", "expensive",
            "the user's libjxl butteraugli_main, maximum"),
    _stored("butteraugli-pnorm3", "Butteraugli (3-norm)", False, "lic_bench.perceptual.butteraugli", "expensive",
            "the user's libjxl butteraugli_main, 3-norm"),
    _stored("flip", "FLIP (LDR, mean)", False, "lic_bench.perceptual.flip", "moderate",
            "flip-evaluator, LDR, default viewing conditions (67 px/degree)"),
    _stored("lpips-alex", "LPIPS (AlexNet, v0.1)", False, "lic_bench.perceptual.lpips:LPIPS_ALEX", "moderate",
            "own LPIPS v0.1 module; the user's AlexNet and head weights (sha256 checked)"),
    _stored("lpips-vgg", "LPIPS (VGG16, v0.1)", False, "lic_bench.perceptual.lpips:LPIPS_VGG", "expensive",
            "own LPIPS v0.1 module; the user's VGG16 and head weights (sha256 checked)"),
    _stored("dists", "DISTS", False, "lic_bench.perceptual.dists:DISTS", "expensive",
            "own DISTS module; the user's VGG16 and DISTS weights (sha256 checked)"),
)})
#: Metrics always measured by a run (derived from the raw fields of every record).
BUILTIN_METRICS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if m.computed_by is None)
#: Quality metrics (everything but the rate), in table order.
QUALITY_METRICS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if not m.is_rate)


def metric(name: str) -> Metric:
    """The table entry for `name`, or a one-line error listing the choices."""
    from .errors import LicBenchError, did_you_mean

    if name not in METRICS:
        raise LicBenchError(f"unknown metric {name!r}{did_you_mean(name, METRICS)}; choose from {', '.join(QUALITY_METRICS)}")
    return METRICS[name]


def per_image_values(rec: Record) -> dict[str, float]:
    """Every metric of one 'ok' record, keyed by column name (bpp, psnr_rgb, …)."""
    return {m.attr: m.per_image(rec) for m in METRICS.values()}
