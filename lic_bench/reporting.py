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
from .aggregate import AGGREGATION_LABELS, image_quality
from .errors import LicBenchError
from .references import Curve, measured_curve, reported_curves

from .paperfigs import OUTLIER_DB, outliers  # noqa: E402,F401  (the report's outlier rule lives there)
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
    ci: object = None  # bdci.CIOptions for the BD table (default: 95 %, 2000 resamples, seed 0)
    wide_axes: bool = False  # axis ranges span every drawn curve, not only the measured ones and the anchor
    metrics: list[str] | None = None  # pixel metrics with a panel (default: those the measured records have)
    export_dir: str | None = None  # also write SVG/PDF figures and LaTeX/Markdown BD tables here


@dataclass
class Series:
    label: str
    kind: str
    bpp: list[float]
    psnr: list[float]
    msssim_db: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # metric -> (rates, qualities) for the panels of chosen pixel metrics


#: Metrics of the table reported (without interval) under the main BD table.
OTHER_METRICS = ("psnr-y", "psnr-ycbcr", "ms-ssim")
PANELS = (("psnr", "psnr-rgb", "PSNR-RGB (dB)", "PSNR-RGB vs bpp"), ("msssim_db", "ms-ssim-db", "MS-SSIM (dB)", "MS-SSIM (dB) vs bpp"))


def rd_figures(series: list[Series], dataset: str, styles: dict | None = None, wide: bool = False,
               anchor_text: str = "", extra_metrics: tuple[str, ...] = ()) -> list[tuple[str, str, object | None]]:
    """(title, metric, figure or None) per panel; one style per curve in every panel (paperfigs.curve_styles);
    axes span the measured curves and the anchor(s) unless `wide`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .paperfigs import axis_limits, curve_styles

    plt.rcParams["svg.fonttype"] = "none"
    styles = styles or curve_styles([s.label for s in series], [s.label for s in series if s.kind == "anchor"])
    from .record import METRICS

    out = []
    panels = list(PANELS) + [(None, m, METRICS[m].label + (f" ({METRICS[m].unit})" if METRICS[m].unit else "")
                              + ("" if METRICS[m].higher_is_better else " — lower is better"), f"{METRICS[m].label} vs bpp")
                             for m in extra_metrics]
    for key, metric, ylabel, title in panels:
        fig, ax = plt.subplots(figsize=(7.2, 4.8))
        drawn, spans, all_spans = 0, [], []
        for s in series:
            xs, ys = (s.bpp, getattr(s, key)) if key else s.extra.get(metric, ([], []))
            pts = sorted((x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)) if ys else []
            if not pts:
                continue
            label = s.label + ("" if s.kind == "measured" else f" ({'reported, not measured here' if s.kind == 'reported' else s.kind})")
            st = dict(styles.get(s.label, {}))
            if s.kind == "reported":
                st.setdefault("mfc", "none")
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, **st)
            span = ([p[0] for p in pts], [p[1] for p in pts])
            all_spans.append(span)
            if s.kind in ("measured", "anchor"):
                spans.append(span)
            drawn += 1
        lim = axis_limits(all_spans if wide or not spans else spans)
        if lim:
            ax.set_xlim(*lim[0])
            ax.set_ylim(*lim[1])
        ax.set_xlabel("bpp")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} — {dataset}" + (f" (anchor {anchor_text})" if anchor_text else ""), fontsize=10)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
        if drawn:
            out.append((title, metric, fig))
        else:
            plt.close(fig)
            out.append((title, metric, None))
    return out


def rd_plots(series: list[Series], dataset: str, styles: dict | None = None, wide: bool = False,
             anchor_text: str = "", extra_metrics: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    from .paperfigs import svg_text

    return [(title, svg_text(fig) if fig is not None else "")
            for title, _, fig in rd_figures(series, dataset, styles, wide, anchor_text, extra_metrics)]


def chosen_pixel_metrics(opts_metrics, curves) -> tuple[str, ...]:
    """Pixel metrics with a panel: the ones asked for, else every one some measured record has."""
    from .record import METRICS

    if opts_metrics:
        return tuple(m for m in opts_metrics if METRICS[m].computed_by)
    present = {m for c in curves for r in (c.records or []) for m in r.metrics}
    return tuple(m for m in METRICS if m in present)


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
    anchor, anchor_error, more_anchors = None, None, []
    anchor_names = [a.strip() for a in (opts.anchor or "").split(",") if a.strip()]
    if anchor_names:
        try:
            anchor = resolve_curve(store, anchor_names[0], ds)
            more_anchors = [resolve_curve(store, a, ds) for a in anchor_names[1:]]
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
    pixel_metrics = chosen_pixel_metrics(opts.metrics, curves)
    all_anchors = ([anchor] if anchor else []) + more_anchors
    for c in [a for a in all_anchors if a.name not in {x.name for x in curves}] + curves + refs:
        try:
            r, q, _ = c.rd("psnr-rgb")
        except LicBenchError:
            r, q = [], []
        try:
            r2, m, _ = c.rd("ms-ssim-db")
            mdb = dict(zip(r2, m))
        except LicBenchError:
            mdb = {}
        kind = "anchor" if any(c is a for a in all_anchors) else c.kind
        extra = {}
        for m in pixel_metrics:
            try:
                xs, ys, _ = c.rd(m)
                extra[m] = (xs, ys)
            except LicBenchError:
                pass
        series.append(Series(c.name, kind, r, q, [mdb.get(x) for x in r], extra))
    from .bdci import CIOptions, bd_row
    from .bdtext import anchor_caption, anchor_version
    from .paperfigs import curve_styles, per_image_plot

    styles = curve_styles([x.label for x in series], [a.name for a in all_anchors])
    anchor_text = "" if anchor is None else f"{anchor.name}, {anchor_version(anchor) or anchor.kind}"
    ci_opts = opts.ci if opts.ci is not None else CIOptions(level=0.95)
    plots = rd_plots(series, ds.name, styles, opts.wide_axes, anchor_text, pixel_metrics)

    bd_rows, bd_more, bd_other = [], [], {}
    if anchor is not None:
        for c in curves + refs:
            if c.name == anchor.name:
                continue
            for metric in ("psnr-rgb", "ms-ssim-db"):
                bd_rows.append(bd_row(anchor, c, metric, opts.method, "mean", ci_opts))
        other = [bd_row(anchor, c, m, opts.method, "mean") for c in curves + refs if c.name != anchor.name
                 for m in OTHER_METRICS + pixel_metrics]
        bd_other = {(r["codec"], r["metric"]): r for r in other}
        for extra in more_anchors:
            rows = [bd_row(extra, c, m, opts.method, "mean", ci_opts) for c in curves + refs if c.name != extra.name
                    for m in ("psnr-rgb", "ms-ssim-db")]
            bd_more.append({"anchor": extra.name, "version": anchor_version(extra) or extra.kind,
                            "rows": {(r["codec"], r["metric"]): r for r in rows}})
    per_image_svg = per_image_plot([r for r in bd_rows if r["metric"] == "psnr-rgb"], styles,
                                   _per_image_title(anchor_text, ds.name)) if anchor else ""
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
        ok = [r for r in cr.records if r["status"] == "ok"]
        notes = sorted({r.extra.get("enc_dec_check") for r in ok if r.mismatch is None} - {None})
        drill.append({"codec": cr.name, "digest": cr.digest, "ops": ops, "images": imgs, "cells": cell, "n_flagged": n_bad,
                      "n_ok": len(ok), "n_checked": sum(1 for r in ok if r.mismatch is not None),
                      "check_note": "; ".join(notes) or ("the codec offers no encoder-side reconstruction"
                                                        if any(r.mismatch is None for r in ok) else "")})

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
    from .bdcompare import matched_deltas

    targeted = [c for c in curves if c.provenance.get("target")]
    matched = [{"name": c.name, "rows": matched_deltas(targeted[0], c, "psnr-rgb")} for c in targeted[1:]]
    matched = [m for m in matched if m["rows"]]
    return {"matched": matched, "matched_reference": targeted[0].name if targeted else "", "matched_metric": "PSNR-RGB (dB)",
            "citations": citations, "bibtex": bibtex, "title": opts.title or f"lic-bench report — {ds.name}", "dataset": ds.name, "plots": plots,
            "anchor": anchor, "bd_rows": bd_rows, "best": best, "drill": drill, "visual": visual_comparison(store, crs, opts, Path(ds.folder or "")),
            "prov": prov, "complexity": complexity, "outlier_db": OUTLIER_DB,
            "anchor_error": anchor_error, "anchor_text": anchor_text,
            "anchor_caption": anchor_caption(anchor) if anchor else "", "bd_more": bd_more,
            "per_image_svg": per_image_svg, "bd_other": bd_other, "other_metrics": OTHER_METRICS + pixel_metrics, "ci": ci_opts, "ci_label": f"{ci_opts.level * 100:g} % CI" if ci_opts.interval else "",
            "exported": _export(opts, series, styles, ds.name, anchor_text, bd_rows) if opts.export_dir else []}


def _per_image_title(anchor_text: str, dataset: str) -> str:
    return f"Per-image BD-rate (PSNR-RGB) vs {anchor_text} — {dataset}"


def _export(opts: ReportOptions, series, styles, dataset: str, anchor_text: str, bd_rows: list[dict]) -> list[str]:
    """Vector figures and paper tables (paperfigs.export), each stating the anchor and its version."""
    from .paperfigs import export, per_image_figure

    figs = [(re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"), fig)
            for title, _, fig in rd_figures(series, dataset, styles, opts.wide_axes, anchor_text,
                                            tuple(m for s in series for m in s.extra)) if fig is not None]
    fig = per_image_figure([r for r in bd_rows if r["metric"] == "psnr-rgb"], styles, _per_image_title(anchor_text, dataset))
    if fig is not None:
        figs.append(("per-image-bd-rate", fig))
    return [str(p) for p in export(Path(opts.export_dir), figs, bd_rows, anchor_text or "no anchor", dataset, opts.method)]


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
