"""`lic-bench results` (print or export stored results) and `lic-bench import` (a CompressAI JSON)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from ._options import DataDirOpt, DatasetOpt, StoreOpt, check_format, emit, fail

RD_COLUMNS = ["op", "images", "bpp", "PSNR-RGB dB", "MS-SSIM", "MS-SSIM dB", "enc ms", "dec ms", "failed",
              "enc≠dec / checked"]


def pixel_metrics_of(cr) -> list[str]:
    """Pixel metrics (SSIMULACRA 2, Butteraugli, …) some record of `cr` has: shown as extra columns."""
    from ..record import METRICS

    present = {m for r in cr.records for m in r.metrics}
    return [m for m in METRICS if m in present]


def rd_columns(cr) -> list[str]:
    from ..record import METRICS

    return RD_COLUMNS[:6] + [METRICS[m].label for m in pixel_metrics_of(cr)] + RD_COLUMNS[6:]


def rd_table_rows(cr, aggregation: str) -> list[list]:
    extra = pixel_metrics_of(cr)
    return [[f"{p.op:g}", f"{p.n_images}/{cr.n_images}", p.bpp, p.psnr_rgb, p.ms_ssim, p.ms_ssim_db,
             *[p.quality(m) for m in extra],
             p.enc_s * 1e3 if p.n_images else math.nan, p.dec_s * 1e3 if p.n_images else math.nan,
             str(p.n_failed), f"{p.n_mismatch}/{p.n_checked}" if p.n_checked else "— (none checked)"]
            for p in cr.points(aggregation)]


def _title(cr, dataset: str) -> str:
    return f"{cr.name} on {dataset} (spec {cr.digest})"


def print_rd_tables(crs, dataset: str, aggregation: str) -> None:
    from ..aggregate import AGGREGATION_LABELS
    from ..formats import print_table

    for cr in crs:
        print_table(_title(cr, dataset), rd_columns(cr), rd_table_rows(cr, aggregation),
                    caption=f"aggregation: {AGGREGATION_LABELS[aggregation]}")
        for w in cr.warnings:
            typer.echo(f"  warning [{cr.name}]: {w}", err=True)


def per_image_table(cr) -> tuple[list[str], list[list]]:
    from ..record import per_image_values

    cols = ["image", "op", "status", "bytes", "bpp", "PSNR-RGB dB", "MS-SSIM", "enc/dec", "bitstream md5", "flags"]
    rows = []
    for r in sorted(cr.records, key=lambda r: (r.op, r.image)):
        v = per_image_values(r) if r.ok else {}
        rows.append([r.image, f"{r.op:g}", r.status if r.ok else f"{r.status}: {(r.error or '').splitlines()[0][:60]}",
                     str(r.bytes) if r.bytes is not None else "—", v.get("bpp"), v.get("psnr_rgb"), v.get("ms_ssim"),
                     {True: "differ", False: "same"}.get(r.mismatch, "—"), r.bitstream_md5 or "—", ",".join(r.flags)])
    return cols, rows


def command(
    dataset: str = DatasetOpt,
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="measured specs (default: every measured curve)"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json|compressai"),
    aggregation: str = typer.Option("mean", "--aggregation", help="mean|pooled"),
    per_image: bool = typer.Option(False, "--per-image", help="per-image records (with bitstream md5/sha256) instead of curves"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write to a file (compressai: a folder, one JSON per codec)"),
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """Print or export stored results (curves or per-image records)."""
    from .. import api
    from ..aggregate import AGGREGATION_LABELS, AGGREGATIONS
    from ..formats import table_text, to_csv, to_json, write_text_atomic
    from ..results import curves_rows, records_rows, to_compressai

    check_format(fmt, ("table", "csv", "json", "compressai"))
    if aggregation not in AGGREGATIONS:
        fail(f"--aggregation {aggregation!r}: choose mean or pooled")
    if fmt == "compressai" and per_image:
        fail("--per-image: the CompressAI format holds aggregated curves only; use --format csv or json for per-image records")
    crs = api.results(dataset, codecs, store, data_dir)
    if fmt == "table":
        if output is None and not per_image:
            print_rd_tables(crs, crs[0].dataset if crs else dataset, aggregation)
            return
        parts = []
        for cr in crs:
            ds_name = cr.dataset
            if per_image:
                cols, rows = per_image_table(cr)
                parts.append(table_text(f"{_title(cr, ds_name)} — per image", cols, rows))
            else:
                parts.append(table_text(_title(cr, ds_name), rd_columns(cr), rd_table_rows(cr, aggregation),
                                        caption=f"aggregation: {AGGREGATION_LABELS[aggregation]}"))
        emit("".join(parts), output)
        return
    if fmt == "compressai":
        docs = {c.name: to_compressai(c.name, c.points(aggregation),
                                      f"lic-bench, {c.dataset} (content {c.content_sha256[:12]}), spec {c.digest}; "
                                      f"aggregation: {AGGREGATION_LABELS[aggregation]}")
                for c in crs}
        if output:
            for n, d in docs.items():
                write_text_atomic(output / f"{n.replace(':', '_').replace('/', '_')}.json", json.dumps(d, indent=2))
            typer.echo(f"wrote {len(docs)} file(s) to {output}")
        else:
            typer.echo(json.dumps(docs[crs[0].name] if len(docs) == 1 else list(docs.values()), indent=2))
        return
    rows = records_rows(crs) if per_image else curves_rows(crs, aggregation)
    emit(to_csv(rows) if fmt == "csv" else to_json(rows), output)


def import_command(
    path: Path = typer.Argument(..., help="CompressAI results JSON"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="dataset the file reports on"),
    name: Optional[str] = typer.Option(None, "--name", help="curve name (default: the file's 'name')"),
    replace: bool = typer.Option(False, "--replace", help="replace an imported curve of the same name"),
    store: Optional[Path] = StoreOpt,
):
    """Import a CompressAI results JSON as a named reference curve (labelled as imported)."""
    from .. import api

    cname, n = api.import_curve(path, dataset, name, store, replace)
    typer.echo(f"imported {cname!r} ({n} points) for {dataset}")


