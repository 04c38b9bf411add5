"""Self-contained HTML report: RD plots (inline SVG), BD-rate table, per-image drill-down with
outliers, visual comparison crops (inline PNG), provenance footer. No network, no CDN."""

from __future__ import annotations

import base64
import datetime as _dt
import io
import json
import math
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .bdcompare import compare
from .aggregate import AGGREGATION_LABELS, image_quality
from .errors import LicBenchError
from .references import Curve, measured_curve, reported_curves

#: A point is an outlier when its PSNR departs from the image's usual offset to the codec's mean
#: curve by more than this (dB): catches broken decodes, not images that are simply hard.
OUTLIER_DB = 1.5
CROP = 192


@dataclass
class ReportOptions:
    dataset: str
    codecs: list[str] | None = None
    anchor: str | None = "vtm-12.1"
    references: list[str] | None = None  # reported/imported curves to draw; default all for the dataset
    method: str = "pchip"
    visual_image: str | None = None
    target_bpp: float | None = None
    crop: tuple[int, int] | None = None  # top-left (x, y)
    title: str | None = None
    data_dir: str | None = None


@dataclass
class Series:
    label: str
    kind: str
    bpp: list[float]
    psnr: list[float]
    msssim_db: list[float] = field(default_factory=list)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight",
                metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)
    return text


STYLE = {"measured": dict(ls="-", marker="o", ms=4, lw=1.6), "anchor": dict(ls="-", marker="s", ms=5, lw=2.6, color="black"),
         "reported": dict(ls="--", marker="^", ms=5, lw=1.3, mfc="none"), "imported": dict(ls=":", marker="d", ms=4, lw=1.3)}


def rd_plots(series: list[Series], dataset: str) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    out = []
    for key, ylabel, title in (("psnr", "PSNR-RGB (dB)", "PSNR-RGB vs bpp"), ("msssim_db", "MS-SSIM (dB)", "MS-SSIM (dB) vs bpp")):
        fig, ax = plt.subplots(figsize=(7.2, 4.8))
        drawn = 0
        for s in series:
            ys = getattr(s, key)
            pts = [(x, y) for x, y in zip(s.bpp, ys) if y is not None and math.isfinite(y)] if ys else []
            if not pts:
                continue
            pts.sort()
            label = s.label + ("" if s.kind == "measured" else f" ({'reported, not measured here' if s.kind == 'reported' else s.kind})")
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, **STYLE.get(s.kind, STYLE["measured"]))
            drawn += 1
        ax.set_xlabel("bpp")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} — {dataset}")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
        out.append((title, _svg(fig) if drawn else ""))
        plt.close(fig)
    return out


def outliers(cr_records: list[dict]) -> set[tuple[str, float]]:
    """(image, op) whose PSNR departs from the image's usual offset to the mean curve by > OUTLIER_DB."""
    ok = [r for r in cr_records if r["status"] == "ok"]
    by_op: dict[float, list[float]] = {}
    q = {}
    for r in ok:
        p = image_quality(r)["psnr_rgb"]
        if math.isfinite(p):
            q[(r["image"], r["op"])] = p
            by_op.setdefault(r["op"], []).append(p)
    mean = {op: sum(v) / len(v) for op, v in by_op.items()}
    resid: dict[str, list[float]] = {}
    for (img, op), p in q.items():
        resid.setdefault(img, []).append(p - mean[op])
    offset = {img: float(np.median(v)) for img, v in resid.items()}
    return {(img, op) for (img, op), p in q.items() if abs(p - mean[op] - offset[img]) > OUTLIER_DB}


def _png_data_uri(arr: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def visual_comparison(store, crs, opts: ReportOptions, folder: Path) -> dict:
    """Crops of the original and each codec's reconstruction at the closest operating point to a target bpp,
    regenerated from stored bitstreams through the harness's own decode path."""
    from .imageio import load_rgb
    from .runner import prepare
    from .specs import CodecSpec
    from .evaluate import reconstruct
    from .imageio import pixel_sha256

    if not crs:
        return {"note": "no measured codecs"}
    images = sorted({r["image"] for cr in crs for r in cr.records})
    name = opts.visual_image or (images[0] if images else None)
    if name is None or not (folder / name).is_file():
        return {"note": f"original image {name!r} not found in {folder}; visual comparison skipped"}
    orig = load_rgb(folder / name).pixels
    h, w = orig.shape[:2]
    cw, ch = min(CROP, w), min(CROP, h)
    x, y = opts.crop if opts.crop else ((w - cw) // 2, (h - ch) // 2)
    x, y = max(0, min(x, w - cw)), max(0, min(y, h - ch))
    target = opts.target_bpp
    recs_all = [r for cr in crs for r in cr.records if r["image"] == name and r["status"] == "ok"]
    if target is None and recs_all:
        target = float(np.median([image_quality(r)["bpp"] for r in recs_all]))
    tiles = [{"caption": f"original | {name} | crop {cw}x{ch} at ({x},{y})", "src": _png_data_uri(orig[y:y + ch, x:x + cw])}]
    notes = []
    for cr in crs:
        recs = [r for r in cr.records if r["image"] == name and r["status"] == "ok"]
        if not recs:
            continue
        best = min(recs, key=lambda r: abs(image_quality(r)["bpp"] - target))
        data = store.bitstream(best["bitstream_sha256"]) if best.get("bitstream_sha256") else None
        if data is None:
            notes.append(f"{cr.name}: bitstream not stored (run without --no-bitstreams)")
            continue
        try:
            codec = prepare(CodecSpec.from_dict(cr.spec)).codec
            rgb = reconstruct(codec, data, h, w, cr.identity.get("color"))
        except LicBenchError as e:
            notes.append(f"{cr.name}: cannot regenerate the reconstruction here ({e})")
            continue
        if best.get("decoded_sha256") and pixel_sha256(rgb) != best["decoded_sha256"]:
            notes.append(f"{cr.name}: regenerated reconstruction differs from the recorded one")
        qv = image_quality(best)
        tiles.append({"caption": f"{cr.name} | {qv['bpp']:.3f} bpp | {qv['psnr_rgb']:.2f} dB | MS-SSIM {qv['ms_ssim']:.4f}",
                      "src": _png_data_uri(rgb[y:y + ch, x:x + cw])})
    return {"image": name, "target_bpp": target, "tiles": tiles, "notes": notes}


def build(store, opts: ReportOptions) -> dict:
    from .names import measured, measured_on, resolve_curve, resolve_dataset

    ds = resolve_dataset(store, opts.dataset, opts.data_dir)
    curves: list[Curve] = []
    named: list[Curve] = []  # non-measured curves named in --codecs (NAME@paper, imported, shipped)
    if opts.codecs is None:
        crs = [c for c in measured_on(store, ds) if not c.random_init]
    else:
        crs = []
        for name in opts.codecs:
            c = resolve_curve(store, name, ds)
            if c.kind == "measured":
                crs.append(measured(store, name, ds))
            else:
                named.append(c)
    curves = [measured_curve(c) for c in crs]
    anchor, anchor_error = None, None
    if opts.anchor:
        try:
            anchor = resolve_curve(store, opts.anchor, ds)
        except LicBenchError as e:
            anchor_error = str(e)
    refs: list[Curve] = list(named)
    if opts.references is None:
        refs += [c for (n, d), c in reported_curves().items() if d == ds.name]
        refs += [resolve_curve(store, r["name"], ds) for r in store.curves_for(ds.name)]
    else:
        refs += [resolve_curve(store, n, ds) for n in opts.references]
    refs = list({c.name: c for c in refs}.values())
    series = []
    for c in ([anchor] if anchor and anchor.name not in {x.name for x in curves} else []) + curves + refs:
        try:
            r, q, _ = c.rd("psnr-rgb")
        except LicBenchError:
            r, q = [], []
        try:
            r2, m, _ = c.rd("ms-ssim-db")
            mdb = dict(zip(r2, m))
        except LicBenchError:
            mdb = {}
        kind = "anchor" if anchor is not None and c is anchor else c.kind
        series.append(Series(c.name, kind, r, q, [mdb.get(x) for x in r]))
    plots = rd_plots(series, ds.name)

    bd_rows = []
    if anchor is not None:
        for c in curves + refs:
            if c.name == anchor.name:
                continue
            for metric in ("psnr-rgb", "ms-ssim-db"):
                bd_rows.append(compare(anchor, c, metric, opts.method))
    best = {}
    for m in ("psnr-rgb", "ms-ssim-db"):
        vals = [r["bd_rate"] for r in bd_rows if r["metric"] == m and r["bd_rate"] is not None]
        best[m] = min(vals) if vals else None

    drill = []
    for cr in crs:
        out = outliers(cr.records)
        ops = sorted({r["op"] for r in cr.records})
        imgs = sorted({r["image"] for r in cr.records})
        cell = {}
        for r in cr.records:
            c = {"status": r["status"], "error": r.get("error"), "mismatch": bool(r.get("mismatch")),
                 "outlier": (r["image"], r["op"]) in out, "flags": r.get("flags") or [],
                 "tiled": any(f.startswith("tiled") for f in r.get("flags") or [])}
            if r["status"] == "ok":
                c.update(image_quality(r))
            cell[(r["image"], r["op"])] = c
        n_bad = sum(1 for c in cell.values() if c["status"] != "ok" or c["mismatch"] or c["outlier"])
        drill.append({"codec": cr.name, "digest": cr.digest, "ops": ops, "images": imgs, "cells": cell, "n_flagged": n_bad})

    prov = {
        "lic_bench": __version__, "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} · {platform.platform()} · Python {platform.python_version()}",
        "dataset": ds.name, "dataset_content_sha256": ds.content_sha256,
        "aggregation": AGGREGATION_LABELS["mean"], "bd_method": opts.method,
        "codecs": [{"name": c.name, "digest": c.digest, "identity": json.dumps(c.identity, sort_keys=True)} for c in crs],
        "anchor": None if anchor is None else {"name": anchor.name, "kind": anchor.kind, "provenance": json.dumps(anchor.provenance, sort_keys=True, default=str)},
        "references": [{"name": r.name, "kind": r.kind, "provenance": json.dumps(r.provenance, sort_keys=True, default=str)} for r in refs],
    }
    complexity = []
    for c in crs:
        d = store.complexity_for(c.digest)
        if d:
            complexity.append({
                "codec": c.name, "size": d["size"], "params": f"{d['params'] / 1e6:.2f} M",
                "kMAC/px enc": f"{d['kmacs_per_pixel_enc']:.0f}", "kMAC/px dec": f"{d['kmacs_per_pixel_dec']:.0f}",
                "GMAC (paper)": f"{d['macs_paper'] / 1e9:.1f}",
                "enc ms": f"{d['enc_ms']:.0f} ±{d['enc_ms_iqr']:.0f}" if "enc_ms" in d else "—",
                "dec ms": f"{d['dec_ms']:.0f} ±{d['dec_ms_iqr']:.0f}" if "dec_ms" in d else "—",
                "device": d.get("device", "—"), "peak memory": f"{d['peak_mem_bytes'] / 2**20:.0f} MiB" if d.get("peak_mem_bytes") else "—",
                "protocol": d.get("timing_protocol", ""),
            })
    used = [c for c in ([anchor] if anchor else []) + refs if c.kind == "published"]
    citations = [{"name": c.name, "citation": c.provenance.get("citation"), "provenance": c.provenance.get("provenance"),
                  "licence": c.provenance.get("licence"), "source": c.provenance.get("source")} for c in used]
    bibtex = ""
    if used:
        from .published import bibtex as _bibtex

        bibtex = _bibtex([c.name for c in used])
    return {"citations": citations, "bibtex": bibtex, "title": opts.title or f"lic-bench report — {ds.name}", "dataset": ds.name, "plots": plots,
            "anchor": anchor, "bd_rows": bd_rows, "best": best, "drill": drill, "visual": visual_comparison(store, crs, opts, Path(ds.folder or "")),
            "prov": prov, "complexity": complexity, "outlier_db": OUTLIER_DB,
            "anchor_error": anchor_error}


def render(ctx: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("lic_bench", "templates"), autoescape=select_autoescape(["html", "j2"]))

    def num(x, digits=3, sign=False):
        if x is None or (isinstance(x, float) and not math.isfinite(x)):
            return "—" if x is None or math.isnan(x) else "∞"
        return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"

    env.filters["num"] = num
    from markupsafe import Markup

    env.filters["svg"] = lambda s: Markup(s)  # matplotlib output, generated here (labels are escaped by matplotlib)
    return env.get_template("report.html.j2").render(**ctx)
