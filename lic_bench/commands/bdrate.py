"""`lic-bench bdrate` and `lic-bench compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..record import METRICS, QUALITY_METRICS
from ._options import CodecsOpt, DataDirOpt, DatasetOpt, FormatOpt, OutputOpt, StoreOpt, check_format, emit
from ._ci_options import AnchorPointsOpt, CIMethodOpt, CIOpt, RateRangeOpt, ResamplesOpt, SeedOpt

METRIC_HELP = "|".join(QUALITY_METRICS) + " (the metric table; comma-separated for several)"

BD_FIELDS = ["codec", "test_kind", "anchor", "anchor_kind", "dataset", "metric", "method", "aggregation", "bd_rate",
             "bd_quality", "overlap", "points", "status"]


def command(
    dataset: str = DatasetOpt,
    anchor: str = typer.Option("vtm-12.1", "--anchor", help="anchor curve (store, imported, shipped; NAME@shipped forces the shipped one)"),
    codecs: Optional[str] = CodecsOpt,
    metric: str = typer.Option("psnr-rgb", "--metric", "-m", help=METRIC_HELP),
    method: str = typer.Option("pchip", "--method", help="pchip|cubic|akima|pchip-trapz100"),
    aggregation: str = typer.Option("mean", "--aggregation", help="mean|pooled"),
    per_image: bool = typer.Option(False, "--per-image", help="mean of per-image BD-rates instead"),
    allow_tiled: bool = typer.Option(False, "--allow-tiled", help="include images coded in tiles (GPU memory fallback)"),
    ci: Optional[float] = CIOpt,
    resamples: int = ResamplesOpt,
    ci_method: str = CIMethodOpt,
    seed: int = SeedOpt,
    rate_range: Optional[str] = RateRangeOpt,
    anchor_points: Optional[str] = AnchorPointsOpt,
    fmt: str = FormatOpt,
    output: Optional[Path] = OutputOpt,
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """BD-rate and BD-quality of codecs against an anchor (default vtm-12.1, the TCM paper's), with every convention stated."""
    from .. import api
    from ..bdci import CI_FIELDS, RANGE_FIELDS, ci_cell, ci_lines, images_cell
    from ..bdcompare import fmt_value
    from ..formats import table_text, to_csv, to_json
    from ..bdtext import anchor_caption, metric_notes

    check_format(fmt, ("table", "csv", "json"))
    t = api.bdrate(dataset, codecs, anchor, metric, method, aggregation, per_image, allow_tiled, store, data_dir,
                   ci=ci, resamples=resamples, ci_method=ci_method, seed=seed, rate_range=rate_range,
                   anchor_points=anchor_points)
    rows = t.rows
    with_ci = t.options is not None and t.options.interval
    for r in rows:
        r.setdefault("anchor_version", anchor_caption(t.anchor))
    if fmt == "json":
        emit(to_json(rows), output)
    elif fmt == "csv":
        emit(to_csv(rows, BD_FIELDS + ["anchor_version"] + RANGE_FIELDS + (CI_FIELDS if with_ci else [])), output)
    else:
        head = ["codec", "metric", "BD-rate"] + ([f"{t.options.level * 100:g} % CI", "images"] if with_ci else []) + \
               ["BD-quality", "overlap", "points (anchor/test)", "status"]
        table = [[r["label"], r["metric"], fmt_value(r["bd_rate"], " %")] + ([ci_cell(r), images_cell(r)] if with_ci else []) +
                 [fmt_value(r["bd_quality"], f" {METRICS[r['metric']].unit}".rstrip()),
                  "—" if r["overlap"] is None else f"{r['overlap']:.0%}", r["points"] or "—", r["status"]] for r in rows]
        caption = (f"anchor: {t.anchor.label}; {anchor_caption(t.anchor)}\n"
                   f"method: {t.method}; aggregation: {rows[0]['aggregation_label']}; negative BD-rate = fewer bits than the anchor")
        if t.options is not None and t.options.describe():
            caption += "\n" + t.options.describe()
        if with_ci:
            caption += "\nimages: per-image BD-rates better (↓) / worse (↑) than the anchor"
        notes = metric_notes(rows)
        if notes:
            caption += "\n" + "\n".join(notes)
        text = table_text(f"BD vs {t.anchor.name} on {t.dataset}", head, table, caption=caption)
        if with_ci:
            text = text.rstrip("\n") + "\n" + "\n".join(line for r in rows for line in ci_lines(r)) + "\n"
        emit(text, output)
        for r in rows:
            for w_ in r["warnings"]:
                typer.echo(f"  warning [{r['codec']}, {r['metric']}]: {w_}", err=True)
    if not any(r["bd_rate"] is not None for r in rows):  # exit 1: nothing was computed (the rows say why)
        if fmt == "table":
            typer.echo("no BD-rate could be computed (see the status column)", err=True)
        raise typer.Exit(1)


def compare_command(
    codec: str = typer.Argument(..., help="your curve (e.g. a measured codec)"),
    reference: str = typer.Argument(..., help="the curve to compare with, e.g. tcm-large@paper"),
    dataset: str = DatasetOpt,
    metric: str = typer.Option("psnr-rgb", "--metric", "-m", help=METRIC_HELP),
    method: str = typer.Option("pchip", "--method"),
    ci: Optional[float] = CIOpt,
    resamples: int = ResamplesOpt,
    ci_method: str = CIMethodOpt,
    seed: int = SeedOpt,
    rate_range: Optional[str] = RateRangeOpt,
    anchor_points: Optional[str] = AnchorPointsOpt,
    fmt: str = FormatOpt,
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """One curve against another (e.g. your run against the paper's): ΔPSNR at equal rate and BD-rate."""
    from .. import api
    from ..bdci import ci_cell, ci_lines, images_cell
    from ..bdcompare import fmt_value

    check_format(fmt, ("table", "json"))
    row = api.compare(codec, reference, dataset, metric, method, store, data_dir, ci=ci, resamples=resamples,
                      ci_method=ci_method, seed=seed, rate_range=rate_range, anchor_points=anchor_points)
    if fmt == "json":
        typer.echo(json.dumps(row, indent=2, default=str))
        return
    typer.echo(f"{row['test_label']} vs {row['reference_label']} on {row['dataset']} ({row['metric']}, {method}): "
               f"BD-rate {fmt_value(row['bd_rate'], ' %')}"
               + (f" {ci_cell(row)}, images {images_cell(row)}" if "ci" in row else "")
               + f", Δquality at equal rate {fmt_value(row['bd_quality'], ' dB')}"
               + ("" if row["status"] == "ok" else f" — {row['status']}"))
    for m in row.get("matched") or []:
        typer.echo(f"  at {m['kind']} = {m['target']:g} ({m['images']} images): Δ{row['metric']} mean {m['mean']:+.3f}, "
                   f"median {m['median']:+.3f} (IQR {m['q1']:+.3f} … {m['q3']:+.3f}); better on {m['better']} of {m['images']}; "
                   f"largest bpp gap {m['max_abs_bpp_gap']:.4f}")
    if row.get("reference_version"):
        typer.echo(f"reference: {row['reference_label']}; {row['reference_version']}")
    if row.get("options"):
        typer.echo(row["options"])
    for line in ci_lines(row):
        typer.echo(line)
