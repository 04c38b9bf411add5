"""Shipped VVC anchors: per-image records (with provenance) and, for the newer ones, every bitstream, so
that anyone with a VTM decoder can check an anchor instead of trusting it.

An anchor is a folder with ``anchor.yaml`` (name, dataset, codec, records file, colour policy, metrics,
provenance), ``records.jsonl`` (one JSON object per image and QP) and, when ``bitstreams: true``, the
``.bin`` each record names in ``bitstream_file``. Records are handed out under the result store's field
names (``op``, ``bytes``, ``sse_r`` … ``decoded_sha256``) plus ``image``, so an anchor is used exactly
like a measured run.

:func:`verify_anchor` decodes every shipped bitstream through the VTM adapter's own decode path, applies
the harness's colour and metric code against the original images, and reports each field that differs.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path, PurePath

import numpy as np
import yaml

from . import metrics
from .errors import LicBenchError, did_you_mean
from .imageio import IMAGE_SUFFIXES, pixel_sha256

#: Tolerance on MS-SSIM: the implementation may change (a faster one) within this bound.
MS_SSIM_TOLERANCE = 1e-6
#: Tolerance on values the records derive from exact quantities (PSNR, bpp, MS-SSIM dB of the record's MS-SSIM).
DERIVED_TOLERANCE = 1e-9
SSE_FIELDS = ("sse_r", "sse_g", "sse_b", "sse_y", "sse_cb", "sse_cr")


# ---------------------------------------------------------------- reading

def builtin_anchors_dir():
    return resources.files("lic_bench") / "builtin" / "anchors"


@dataclass
class _Anchor:
    folder: object  # Path or importlib Traversable
    meta: dict
    builtin: bool

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def dataset(self) -> str:
        return self.meta["dataset"]

    @property
    def source(self) -> str:
        return f"lic_bench/builtin/anchors/{self.folder.name}" if self.builtin else str(self.folder)

    @property
    def has_bitstreams(self) -> bool:
        return bool(self.meta.get("bitstreams"))

    @property
    def color_policy(self) -> str:
        from .color import DEFAULT_POLICY

        return self.meta.get("color_policy") or DEFAULT_POLICY

    @property
    def vtm_version(self) -> str | None:
        prov = self.meta.get("provenance") or {}
        if prov.get("vtm_version"):
            return str(prov["vtm_version"])
        m = re.match(r"VTM-(\S+)$", str(prov.get("vtm_tag") or ""))
        return m.group(1) if m else None

    def raw_records(self) -> list[dict]:
        """The records file as written (its own field names: qp, psnr_rgb, bitstream_file, ...)."""
        f = self.folder / self.meta["records"]
        out = []
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise LicBenchError(f"{self.source}/{self.meta['records']} line {n}: invalid JSON ({e.msg}); reinstall lic-bench") from None
        return out

    def provenance(self) -> dict:
        prov = dict(self.meta.get("provenance") or {}, source=self.source)
        if self.meta.get("identity"):
            prov["identity"] = json.loads((self.folder / self.meta["identity"]).read_text(encoding="utf-8"))
            prov["color_policy"] = self.color_policy
            prov["bitstreams"] = self.has_bitstreams
        return prov


def _anchors(anchors_dir=None) -> list[_Anchor]:
    root = Path(anchors_dir) if anchors_dir is not None else builtin_anchors_dir()
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir(), key=lambda p: p.name):
        meta_file = d / "anchor.yaml"
        if not meta_file.is_file():
            continue
        try:
            meta = yaml.safe_load(meta_file.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise LicBenchError(f"{meta_file}: invalid YAML ({str(e).splitlines()[0]})") from None
        missing = [k for k in ("name", "dataset", "records") if not isinstance(meta, dict) or k not in meta]
        if missing:
            raise LicBenchError(f"{meta_file}: missing key {missing[0]!r}; an anchor.yaml needs name, dataset and records")
        out.append(_Anchor(d, meta, anchors_dir is None))
    return out


def _find(name: str, dataset: str, anchors_dir=None) -> _Anchor:
    found = _anchors(anchors_dir)
    for a in found:
        if a.name == name and a.dataset == dataset:
            return a
    names = sorted({a.name for a in found if a.dataset == dataset})
    raise LicBenchError(f"no shipped anchor {name!r} for dataset {dataset!r}{did_you_mean(name, names)}; "
                        f"known: {', '.join(names) or 'none'} (`lic-bench anchors list`)")


def _stem(image: str) -> str:
    p = PurePath(image)
    return p.stem if p.suffix.lower() in IMAGE_SUFFIXES else image


def store_record(raw: dict, color_policy: str) -> dict:
    """One records-file row under the store's field names (+ ``image``).

    First-version rows carry only ``mse_rgb``: they become a total ``sse_rgb``, exactly as the PSNR-only
    anchor has always been read.
    """
    n = raw["width"] * raw["height"]
    if "sse_r" not in raw:
        return {"image": raw["image"], "op": float(raw["qp"]), "status": "ok", "bytes": raw["bytes"],
                "height": raw["height"], "width": raw["width"], "sse_rgb": raw["mse_rgb"] * 3 * n,
                "ms_ssim": None, "enc_s": raw.get("enc_cpu_s"), "dec_s": raw.get("dec_wall_s"),
                "bitstream_md5": raw.get("bitstream_md5"), "mismatch": None, "flags": []}
    ms = raw.get("ms_ssim")
    return {"image": raw["image"], "op": float(raw["qp"]), "status": "ok", "error": None, "bytes": raw["bytes"],
            "height": raw["height"], "width": raw["width"], **{k: raw[k] for k in SSE_FIELDS},
            "ms_ssim": ms, "ms_ssim_note": None if ms is not None else "not computable for this image",
            "enc_s": raw.get("enc_wall_s"), "dec_s": raw.get("dec_wall_s"),
            "bitstream_sha256": raw.get("bitstream_sha256"), "bitstream_md5": raw.get("bitstream_md5"),
            "decoded_sha256": raw.get("decoded_sha256"), "mismatch": None, "flags": [f"color:{color_policy}"]}


def _metrics_present(records: list[dict]) -> list[str]:
    out = ["psnr-rgb"]
    if records and all(r.get("sse_y") is not None for r in records):
        out += ["psnr-y", "psnr-ycbcr"]
    if records and all(r.get("ms_ssim") is not None for r in records):
        out += ["ms-ssim", "ms-ssim-db"]
    return out


def list_anchors(anchors_dir=None) -> list[dict]:
    """One summary per anchor: what it is, what it measures, whether it can be verified."""
    out = []
    for a in _anchors(anchors_dir):
        recs = [store_record(r, a.color_policy) for r in a.raw_records()]
        bitstreams = a.has_bitstreams and (a.folder / "bitstreams").is_dir()
        out.append({"name": a.name, "dataset": a.dataset, "codec": a.meta.get("codec", a.name),
                    "codec_version": a.vtm_version, "qps": sorted({int(r["op"]) for r in recs}),
                    "metrics": _metrics_present(recs), "bitstreams": bitstreams, "n_records": len(recs),
                    "images": len({r["image"] for r in recs}), "source": a.source})
    return out


def load_anchor(name: str, dataset: str = "kodak", anchors_dir=None) -> tuple[list[dict], dict]:
    """(records under the store's field names plus 'image', provenance) of the anchor `name` on `dataset`."""
    a = _find(name, dataset, anchors_dir)
    return [store_record(r, a.color_policy) for r in a.raw_records()], a.provenance()


def _raw_record(a: _Anchor, image: str, qp: int) -> dict:
    for r in a.raw_records():
        if _stem(r["image"]) == _stem(image) and int(r["qp"]) == int(qp):
            return r
    raise LicBenchError(f"anchor {a.name!r} has no record for image {image!r} at QP {qp}")


def _bitstream_path(a: _Anchor, raw: dict):
    rel = raw.get("bitstream_file")
    if not a.has_bitstreams or not rel:
        raise LicBenchError(f"anchor {a.name!r} ships no bitstreams (only records); use an anchor listed with bitstreams by `lic-bench anchors list`")
    parts = PurePath(rel).parts
    if PurePath(rel).is_absolute() or ".." in parts:
        raise LicBenchError(f"anchor {a.name!r}: record {raw['image']} qp {raw['qp']} names an unsafe bitstream path {rel!r}")
    p = a.folder
    for part in parts:
        p = p / part
    return p


def anchor_bitstream(name: str, image: str, qp: int, dataset: str = "kodak", anchors_dir=None) -> bytes:
    """The shipped bitstream of one record (``image`` with or without its suffix)."""
    a = _find(name, dataset, anchors_dir)
    p = _bitstream_path(a, _raw_record(a, image, qp))
    if not p.is_file():
        raise LicBenchError(f"anchor {a.name!r}: bitstream {p} is missing; reinstall lic-bench")
    return p.read_bytes()


# ---------------------------------------------------------------- verification

@dataclass
class FieldDifference:
    field: str
    shipped: object
    recomputed: object


@dataclass
class ItemResult:
    """One record (image, QP): passed when every field was recomputed and equal."""

    item: str
    image: str
    qp: int
    differences: list[FieldDifference] = field(default_factory=list)
    error: str | None = None  # why the record could not be recomputed

    @property
    def passed(self) -> bool:
        return self.error is None and not self.differences


@dataclass
class VerifyReport:
    anchor: str
    dataset: str
    anchor_vtm_version: str | None
    decoder: str  # the decoder's own version line
    decoder_version: str
    color_policy: str
    images_dir: str
    items: list[ItemResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.items) and all(i.passed for i in self.items)

    @property
    def failed_items(self) -> list[ItemResult]:
        return [i for i in self.items if not i.passed]

    def rows(self) -> list[dict]:
        """Every difference as one row: item, field, shipped value, recomputed value."""
        out = []
        for i in self.failed_items:
            if i.error:
                out.append({"item": i.item, "field": "error", "shipped": None, "recomputed": i.error})
            out += [{"item": i.item, "field": d.field, "shipped": d.shipped, "recomputed": d.recomputed} for d in i.differences]
        return out

    def summary(self) -> str:
        n, bad = len(self.items), self.failed_items
        head = (f"anchor {self.anchor} ({self.dataset}, VTM {self.anchor_vtm_version or '?'}) decoded with "
                f"{self.decoder or 'unknown decoder'}: ")
        if not bad:
            return head + f"all {n} records reproduced (bitstream hashes, bytes, decoded hash and SSE exact; MS-SSIM within {MS_SSIM_TOLERANCE:g})"
        names = ", ".join(f"{i.item} ({'error' if i.error else ', '.join(d.field for d in i.differences)})" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return head + f"FAILED: {len(bad)} of {n} records differ: {names}{more}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passed"] = self.passed
        d["summary"] = self.summary()
        for item, obj in zip(d["items"], self.items):
            item["passed"] = obj.passed
        return d


def decoder_version_line(decoder: Path, timeout_s: float = 60) -> str:
    """First line the VTM decoder prints for ``--help`` (its version), probed as the adapter probes its tools."""
    from .adapters.vtm import help_banner

    return help_banner(decoder, timeout_s)


def _load_originals(a: _Anchor, stems: list[str], images_dir: Path) -> tuple[dict, dict]:
    """stem -> pixels, stem -> problem; pixels checked against the dataset registry's hashes."""
    from .datasets import registry
    from .imageio import load_rgb

    info = registry().get(a.dataset)
    pixels, problems = {}, {}
    for stem in stems:
        files = [images_dir / f"{stem}{s}" for s in IMAGE_SUFFIXES if (images_dir / f"{stem}{s}").is_file()]
        if not files:
            problems[stem] = f"original image {stem} not found in {images_dir}"
            continue
        try:
            img = load_rgb(files[0]).pixels
        except LicBenchError as e:
            problems[stem] = str(e)
            continue
        fi = info.files.get(files[0].name) if info else None
        if fi and fi.pixel_sha256 and pixel_sha256(img) != fi.pixel_sha256:
            problems[stem] = (f"original {files[0]}: decoded pixels differ from the registered {a.dataset} sha256; "
                              f"use the canonical images (`lic-bench datasets verify {a.dataset}`)")
            continue
        pixels[stem] = img
    return pixels, problems


def _compare(item: ItemResult, name: str, shipped, recomputed, tol: float | None = None) -> None:
    if shipped is None and recomputed is None:
        return
    if tol is None:
        same = shipped == recomputed
    else:  # None and NaN both mean "not computable"
        s = math.nan if shipped is None else float(shipped)
        r = math.nan if recomputed is None else float(recomputed)
        same = (math.isnan(s) and math.isnan(r)) or abs(s - r) <= tol
    if not same:
        item.differences.append(FieldDifference(name, shipped, recomputed))


def _verify_one(a: _Anchor, codec, raw: dict, original: np.ndarray | None, problem: str | None) -> ItemResult:
    from .aggregate import image_quality
    from .evaluate import reconstruct

    item = ItemResult(f"{raw.get('image')} qp{raw.get('qp')}", str(raw.get("image")), int(raw.get("qp", -1)))
    if problem:
        item.error = problem
        return item
    try:
        path = _bitstream_path(a, raw)
    except LicBenchError as e:
        item.error = str(e)
        return item
    if not path.is_file():
        item.error = f"bitstream {raw['bitstream_file']} is missing"
        return item
    data = path.read_bytes()
    _compare(item, "bitstream_sha256", raw.get("bitstream_sha256"), hashlib.sha256(data).hexdigest())
    _compare(item, "bitstream_md5", raw.get("bitstream_md5"), hashlib.md5(data).hexdigest())
    _compare(item, "bytes", raw.get("bytes"), len(data))
    h, w = original.shape[:2]
    _compare(item, "height", raw.get("height"), h)
    _compare(item, "width", raw.get("width"), w)
    try:
        rgb = reconstruct(codec, data, h, w, a.color_policy)  # the decoder sees the bytes only
    except LicBenchError as e:
        item.error = f"decode failed: {e}"
        return item
    _compare(item, "decoded_sha256", raw.get("decoded_sha256"), pixel_sha256(rgb))
    sse = metrics.sse_per_channel(original, rgb) + metrics.sse_ycbcr(original, rgb)
    for k, v in zip(SSE_FIELDS, sse):
        _compare(item, k, raw.get(k), v)
    ms = metrics.ms_ssim(original, rgb).value
    _compare(item, "ms_ssim", raw.get("ms_ssim"), ms, MS_SSIM_TOLERANCE)
    # the derived values users read: from the recomputed quantities (MS-SSIM dB from the record's own MS-SSIM)
    q = image_quality({"bytes": len(data), "height": h, "width": w, **dict(zip(SSE_FIELDS, sse)), "ms_ssim": ms})
    for k, v in (("bpp", q["bpp"]), ("psnr_rgb", q["psnr_rgb"]), ("psnr_y", q["psnr_y"]), ("psnr_ycbcr611", q["psnr_ycbcr"])):
        if k in raw:
            _compare(item, k, raw[k], v, DERIVED_TOLERANCE)
    if "ms_ssim_db" in raw and raw.get("ms_ssim") is not None:
        _compare(item, "ms_ssim_db", raw["ms_ssim_db"], metrics.ms_ssim_db(raw["ms_ssim"]), DERIVED_TOLERANCE)
    return item


def verify_anchor(name: str, dataset: str = "kodak", vtm_dir: str | Path | None = None,
                  images_dir: str | Path | None = None, jobs: int = 1, anchors_dir=None,
                  images: list[str] | None = None, qps: list[int] | None = None) -> VerifyReport:
    """Decode every shipped bitstream of anchor `name` with the user's VTM and recompute each record.

    vtm_dir: the VTM build folder (else $LIC_BENCH_VTM_DIR), as for the ``vtm`` codec. images_dir: the
    dataset's original images (default: the registered dataset, located as ``run`` does). images / qps:
    check only those records (a quick spot check; default every record). Hashes, bytes
    and SSE must match exactly, MS-SSIM within :data:`MS_SSIM_TOLERANCE`. Any conforming VVC decoder
    must reproduce the records (decoding is normative); the decoder's version is recorded either way.
    """
    from .adapters.vtm import VTM

    a = _find(name, dataset, anchors_dir)
    if not a.has_bitstreams:
        raise LicBenchError(f"anchor {name!r} ships no bitstreams, so it cannot be verified; "
                            "verify an anchor listed with bitstreams by `lic-bench anchors list`")
    if jobs < 1:
        raise LicBenchError(f"--jobs {jobs}: give a positive number of parallel decodes")
    codec = VTM(vtm_dir=str(vtm_dir) if vtm_dir else "", version=a.vtm_version or "any")
    line = decoder_version_line(codec.decoder)
    m = re.search(r"Version\s+([0-9][0-9.]*\w*)", line)
    report = VerifyReport(a.name, a.dataset, a.vtm_version, line, m.group(1) if m else "unknown", a.color_policy, "")
    if a.vtm_version and report.decoder_version != a.vtm_version:
        found = f"VTM {report.decoder_version}" if m else f"not recognised as a VTM version ({line!r})"
        report.notes.append(f"decoder is {found}, the anchor was made with VTM {a.vtm_version}: "
                            "VVC decoding is normative, so the records must still be reproduced")
    if images_dir is None:
        from .datasets import locate

        images_dir = locate(a.dataset).folder
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise LicBenchError(f"--images-dir {images_dir}: no such folder; give the folder of the {a.dataset} images")
    report.images_dir = str(images_dir)
    raws = a.raw_records()
    if images is not None:
        wanted = {_stem(i) for i in images}
        unknown = wanted - {_stem(r["image"]) for r in raws}
        if unknown:
            raise LicBenchError(f"--images: anchor {name!r} has no image {sorted(unknown)[0]!r}")
        raws = [r for r in raws if _stem(r["image"]) in wanted]
    if qps is not None:
        unknown = {int(q) for q in qps} - {int(r["qp"]) for r in raws}
        if unknown:
            raise LicBenchError(f"--qps: anchor {name!r} has no QP {sorted(unknown)[0]}")
        raws = [r for r in raws if int(r["qp"]) in {int(q) for q in qps}]
    stems = sorted({_stem(r["image"]) for r in raws})
    pixels, problems = _load_originals(a, stems, images_dir)

    def one(raw):
        stem = _stem(raw["image"])
        return _verify_one(a, codec, raw, pixels.get(stem), problems.get(stem))

    if jobs == 1:
        report.items = [one(r) for r in raws]
    else:  # decoding is a subprocess and the metrics release the GIL: threads suffice
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            report.items = list(pool.map(one, raws))
    return report


def decoded_records(name: str, dataset: str = "kodak", vtm_dir=None, images_dir=None, anchors_dir=None, images=None):
    """(store-style record, original pixels, decoded RGB, problem) for every shipped record of anchor
    `name`: each shipped bitstream decoded by the user's VTM through the harness's own path (as
    verify_anchor does), so pixel metrics can be added to the anchor from its bitstreams."""
    from .adapters.vtm import VTM
    from .evaluate import reconstruct

    a = _find(name, dataset, anchors_dir)
    if not a.has_bitstreams:
        raise LicBenchError(f"anchor {name!r} ships no bitstreams, so no metric can be added to it; "
                            "use an anchor listed with bitstreams by `lic-bench anchors list`")
    codec = VTM(vtm_dir=str(vtm_dir) if vtm_dir else "", version=a.vtm_version or "any")
    if images_dir is None:
        from .datasets import locate

        images_dir = locate(a.dataset).folder
    raws = a.raw_records()
    if images:
        wanted = {_stem(i) for i in images}
        if wanted - {_stem(r["image"]) for r in raws}:
            raise LicBenchError(f"--images: anchor {name!r} has no image {sorted(wanted - {_stem(r['image']) for r in raws})[0]!r}")
        raws = [r for r in raws if _stem(r["image"]) in wanted]
    pixels, problems = _load_originals(a, sorted({_stem(r["image"]) for r in raws}), Path(images_dir))
    for raw in raws:
        stem = _stem(raw["image"])
        rec = store_record(raw, a.color_policy)
        if stem in problems or stem not in pixels:
            yield rec, None, None, problems.get(stem, "original image not found")
            continue
        data = _bitstream_path(a, raw).read_bytes()
        try:
            rgb = reconstruct(codec, data, raw["height"], raw["width"], a.color_policy)
        except LicBenchError as e:
            yield rec, None, None, f"decode failed: {e}"
            continue
        if raw.get("decoded_sha256") and pixel_sha256(rgb) != raw["decoded_sha256"]:
            yield rec, None, None, "the decoder gives other pixels than the shipped record (run `lic-bench anchors verify`)"
            continue
        yield rec, pixels[stem], rgb, None
