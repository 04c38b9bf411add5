"""What makes the report pasteable into a paper: one style per curve across every panel (colour, marker
and dash, so greyscale print still tells them apart), axis ranges that follow the measured curves and
the anchor, a robust outlier rule, the per-image BD-rate plot with its interval, and vector/LaTeX/Markdown
exports that state the anchor and its VTM version.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np

#: Okabe–Ito colours (colour-blind safe; its yellow darkened to show on white); marker and dash differ too, so greyscale keeps curves apart.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F6A00", "#666666"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
DASHES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1))]
ANCHOR_STYLE = dict(color="black", marker="s", ls="-", lw=2.4, ms=5, mfc="white")

#: An (image, op) cell is an outlier when its PSNR lies this far (dB) below the chord through the same
#: image's neighbouring operating points (in log bpp), or its quality falls this far while its rate rises.
#: A broken decode drops many dB; the honest bend of an RD curve (concave in log rate) lies above the chord.
OUTLIER_DB = 3.0


def curve_styles(names: list[str], anchors: list[str] = ()) -> dict[str, dict]:
    """name -> matplotlib style, fixed by the order of `names` so every panel agrees."""
    out, i = {}, 0
    for n in names:
        if n in out:
            continue
        if n in anchors:
            style = dict(ANCHOR_STYLE)
            if anchors.index(n):  # a second anchor: grey, dashed, hollow diamond
                style.update(color="#555555", marker="D", ls="--")
            out[n] = style
            continue
        out[n] = dict(color=PALETTE[i % len(PALETTE)], marker=MARKERS[i % len(MARKERS)], ls=DASHES[i % len(DASHES)],
                      lw=1.6, ms=4.5)
        i += 1
    return out


def axis_limits(spans: list[tuple[list[float], list[float]]], pad: float = 0.04) -> tuple[tuple, tuple] | None:
    """(xlim, ylim) covering the given (bpp, quality) curves with a small margin, or None when empty."""
    xs = [x for bpp, q in spans for x, y in zip(bpp, q) if _finite(x) and _finite(y)]
    ys = [y for bpp, q in spans for x, y in zip(bpp, q) if _finite(x) and _finite(y)]
    if not xs:
        return None
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    dx, dy = (x1 - x0) or max(x1, 1e-3), (y1 - y0) or 1.0
    return (max(0.0, x0 - pad * dx), x1 + pad * dx), (y0 - pad * dy, y1 + pad * dy)


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


# ---------------------------------------------------------------- outliers

def outliers(records: list[dict], threshold_db: float = OUTLIER_DB) -> set[tuple[str, float]]:
    """(image, op) cells that break their own image's RD curve: far below the chord of the neighbouring
    operating points, or a quality drop at a higher rate. Judged per image, so an image that is simply
    hard or easy (or a codec whose quality saturates at high rates) flags nothing."""
    from .aggregate import image_quality

    by_img: dict[str, list[tuple[float, float, tuple]]] = {}
    for r in records:
        if r["status"] != "ok":
            continue
        q = image_quality(r)
        if _finite(q["bpp"]) and q["bpp"] > 0 and _finite(q["psnr_rgb"]):
            by_img.setdefault(r["image"], []).append((math.log(q["bpp"]), q["psnr_rgb"], (r["image"], r["op"])))
    out = set()
    for pts in by_img.values():
        pts.sort()
        for k, (x, y, key) in enumerate(pts):
            if 0 < k < len(pts) - 1:
                (x0, y0, _), (x1, y1, _) = pts[k - 1], pts[k + 1]
                chord = y0 + (y1 - y0) * ((x - x0) / (x1 - x0) if x1 > x0 else 0.5)
                if y < chord - threshold_db:
                    out.add(key)
            elif k == len(pts) - 1 and k > 0 and y < pts[k - 1][1] - threshold_db:
                out.add(key)  # the highest rate, clearly worse than the rate below it
        # the lowest rate: below the line through the next two unflagged points by twice the margin
        x, y, key = pts[0]
        clean = [p for p in pts[1:] if p[2] not in out][:2]
        if len(clean) == 2:
            (x1, y1, _), (x2, y2, _) = clean
            line = y1 + (y2 - y1) * ((x - x1) / (x2 - x1) if x2 > x1 else 0.0)
            if y < line - 2 * threshold_db:
                out.add(key)
    return out


# ---------------------------------------------------------------- per-image BD-rate plot

def per_image_plot(rows: list[dict], styles: dict[str, dict], title: str) -> str:
    """SVG of :func:`per_image_figure`, or '' when no row has per-image BD-rates."""
    fig = per_image_figure(rows, styles, title)
    return svg_text(fig) if fig is not None else ""


def per_image_figure(rows: list[dict], styles: dict[str, dict], title: str):
    """Per-image BD-rates (dots), their box (quartiles, median), the bootstrap interval of the dataset
    BD-rate (thick bar) and the point estimate (diamond), one row per codec; None when no data."""
    rows = [r for r in rows if r.get("per_image") and r["per_image"]["values"]]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 0.6 + 0.55 * len(rows)))
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        st = styles.get(r["codec"], {})
        colour = st.get("color", "#333333")
        vals = np.array(list(r["per_image"]["values"].values()))
        ax.boxplot(vals, positions=[y], widths=0.5, **_horizontal(), showfliers=False, manage_ticks=False,
                   medianprops=dict(color=colour, lw=1.5), boxprops=dict(color="#777777"), whiskerprops=dict(color="#777777"),
                   capprops=dict(color="#777777"))
        ax.scatter(vals, y + rng.uniform(-0.16, 0.16, vals.size), s=12, color=colour, marker=st.get("marker", "o"),
                   alpha=0.75, zorder=3, edgecolors="none")
        if r.get("bd_rate_low") is not None:
            ax.plot([r["bd_rate_low"], r["bd_rate_high"]], [y + 0.36, y + 0.36], color="black", lw=3, solid_capstyle="butt", zorder=4)
        if r.get("bd_rate") is not None:
            ax.plot([r["bd_rate"]], [y + 0.36], marker="D", color="white", mec="black", ms=6, zorder=5)
    ax.axvline(0, color="#999999", lw=0.8)
    ax.set_ylim(-0.6, len(rows) - 0.45)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['codec']} · {r['metric']}" for r in reversed(rows)], fontsize=8)
    ax.set_xlabel("per-image BD-rate (%) vs anchor; bar: CI of the dataset BD-rate, ◇: its value")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _horizontal() -> dict:
    import matplotlib

    major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def svg_text(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)


# ---------------------------------------------------------------- exports for papers

def _tex(s: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", str(s)).replace("~", r"\textasciitilde{}").replace("−", "-").replace("—", "--")


def bd_table_markdown(rows: list[dict], anchor_text: str, dataset: str, method: str) -> str:
    lines = [f"BD vs {anchor_text} on {dataset} ({method}; negative = fewer bits than the anchor)", "",
             "| codec | metric | BD-rate | CI | images better/worse | BD-quality |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['codec']} | {r['metric']} | {_pct(r['bd_rate'])} | {_ci(r)} | {_counts(r)} | "
                     f"{'—' if r['bd_quality'] is None else format(r['bd_quality'], '+.3f')} |")
    notes = sorted({(r.get("ci") or {}).get("description", "") for r in rows if r.get("ci") and r["ci"].get("low") is not None})
    lines += [""] + [f"CI: {n}" for n in notes if n] + _missing(rows)
    return "\n".join(lines).rstrip() + "\n"


def bd_table_latex(rows: list[dict], anchor_text: str, dataset: str, method: str) -> str:
    lines = [r"\begin{table}[t]", r"\centering",
             rf"\caption{{BD-rate against {_tex(anchor_text)} on {_tex(dataset)} ({_tex(method)}); negative: fewer bits than the anchor.}}",
             r"\begin{tabular}{llrrr}", r"\hline", r"Codec & Metric & BD-rate (\%) & CI (\%) & Better/worse \\", r"\hline"]
    for r in rows:
        lines.append(f"{_tex(r['codec'])} & {_tex(r['metric'])} & {_pct(r['bd_rate'], unit='')} & {_tex(_ci(r, unit=''))} & {_tex(_counts(r))} \\\\")
    lines += [r"\hline", r"\end{tabular}"]
    notes = sorted({(r.get("ci") or {}).get("description", "") for r in rows if r.get("ci") and r["ci"].get("low") is not None})
    if notes or _missing(rows):
        lines.append(r"\par\footnotesize " + _tex("; ".join([f"CI: {n}" for n in notes] + _missing(rows))))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _missing(rows: list[dict]) -> list[str]:
    from .bdtext import metric_notes

    return metric_notes(rows)


def _pct(v, unit=" %") -> str:
    return "—" if v is None else f"{v:+.2f}{unit}"


def _ci(r: dict, unit=" %") -> str:
    if r.get("bd_rate_low") is None:
        return "—"
    return f"[{r['bd_rate_low']:+.2f}, {r['bd_rate_high']:+.2f}]{unit}"


def _counts(r: dict) -> str:
    return "—" if r.get("images") is None else f"{r['images_better']}/{r['images_worse']} of {r['images']}"


def export(folder: Path, figures: list[tuple[str, object]], rows: list[dict], anchor_text: str, dataset: str,
           method: str) -> list[Path]:
    """Write each matplotlib figure as SVG and PDF and the BD table as LaTeX and Markdown; returns the paths."""
    import matplotlib.pyplot as plt

    from .errors import LicBenchError
    from .formats import check_output_path

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LicBenchError(f"--export {folder}: cannot create this folder ({e.strerror}); give a folder path you can write") from None
    if not folder.is_dir():
        raise LicBenchError(f"--export {folder}: is a file; give a folder path")
    written = []
    for stem, fig in figures:
        fig.text(0.99, 0.005, f"anchor: {anchor_text}", ha="right", va="bottom", fontsize=6, color="#555555")
        for ext in ("svg", "pdf"):
            p = check_output_path(folder / f"{stem}.{ext}", "--export")
            fig.savefig(p, format=ext, bbox_inches="tight", metadata={"Creator": None} if ext == "svg" else {"Creator": "lic-bench"})
            written.append(p)
        plt.close(fig)
    for name, text in (("bd-table.md", bd_table_markdown(rows, anchor_text, dataset, method)),
                       ("bd-table.tex", bd_table_latex(rows, anchor_text, dataset, method))):
        p = check_output_path(folder / name, "--export")
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return written
