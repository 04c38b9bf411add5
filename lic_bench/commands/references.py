"""`lic-bench references list|show|cite` (the shipped library of published RD curves) and
`lic-bench leaderboard` (every published and measured curve against an anchor)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._options import DataDirOpt, FormatOpt, OutputOpt, StoreOpt, check_format, emit

app = typer.Typer(no_args_is_help=True, help="Published RD curves shipped with lic-bench: list, show, cite.")


@app.command("list")
def list_command(
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="e.g. kodak, tecnick (as the sources state them)"),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="only curves that give this metric"),
    provenance: Optional[str] = typer.Option(None, "--provenance", help="author-reported | re-measured | digitized | unknown (or a word of it)"),
    fmt: str = FormatOpt,
    output: Optional[Path] = OutputOpt,
):
    """Published curves with provenance and licence."""
    from .. import api
    from ..formats import table_text, to_csv, to_json

    check_format(fmt, ("table", "csv", "json"))
    rows = api.references_list(dataset, metric, provenance)
    if fmt != "table":
        emit(to_json(rows) if fmt == "json" else to_csv(rows), output)
        return
    cols = ["name", "dataset", "method", "year", "points", "metrics", "provenance", "licence"]
    emit(table_text(f"published curves{' on ' + dataset if dataset else ''} ({len(rows)})", cols,
                    [[str(r[c]) if r[c] is not None else "—" for c in cols] for r in rows],
                    caption="`lic-bench references show NAME` for points and sources; `cite NAME…` for BibTeX"), output)


@app.command("show")
def show_command(name: str, dataset: Optional[str] = typer.Option(None, "--dataset", "-d"), fmt: str = typer.Option("table", "--format", "-f", help="table|json")):
    """Points, source (repository@commit:path), licence, conventions and notes of one curve."""
    from .. import api
    from ..formats import to_json

    check_format(fmt, ("table", "json"))
    d = api.references_show(name, dataset)
    if fmt == "json":
        typer.echo(to_json(d))
        return
    for k, v in d.items():
        if k in ("points", "bibtex"):
            continue
        typer.echo(f"{k}: {v}")
    for metric, values in d.get("points", {}).items():
        typer.echo(f"  {metric}: {', '.join(f'{x:.4f}' for x in values)}")


@app.command("cite")
def cite_command(names: list[str] = typer.Argument(..., help="curve names (comma- or space-separated)"),
                 output: Optional[Path] = OutputOpt):
    """BibTeX for every curve named, each entry once."""
    from .. import api

    emit(api.references_cite(",".join(names)), output)


def leaderboard_command(
    dataset: str = typer.Option("kodak", "--dataset", "-d"),
    anchor: str = typer.Option("vtm-12.1", "--anchor", help="default: the shipped VTM-12.1 anchor (the seed paper's)"),
    metric: str = typer.Option("psnr-rgb", "--metric", "-m", help="psnr-rgb | ms-ssim-db | …"),
    method: str = typer.Option("pchip", "--method"),
    provenance: Optional[str] = typer.Option(None, "--provenance", help="only published curves of this provenance"),
    top: int = typer.Option(0, "--top", min=0, help="show only the N best (0 = all)"),
    fmt: str = FormatOpt,
    output: Optional[Path] = OutputOpt,
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """The field at a glance: BD-rate of every published curve and measured run against the anchor, sorted."""
    from .. import api
    from ..bdcompare import fmt_value
    from ..formats import table_text, to_csv, to_json

    check_format(fmt, ("table", "csv", "json"))
    t = api.leaderboard(dataset, anchor, metric, method, provenance, store, data_dir)
    rows = t.rows[:top] if top else t.rows
    if fmt != "table":
        emit(to_json(rows) if fmt == "json" else to_csv(rows, ["codec", "provenance", "year", "metric", "bd_rate", "bd_quality",
                                                               "overlap", "status", "licence"]), output)
        return
    table = [[str(i + 1) if r["bd_rate"] is not None else "—", r["codec"], str(r["provenance"]), str(r["year"] or "—"),
              fmt_value(r["bd_rate"], " %"), fmt_value(r["bd_quality"], " dB"),
              "—" if r["overlap"] is None else f"{r['overlap']:.0%}", r["status"]] for i, r in enumerate(rows)]
    n_num = sum(r["bd_rate"] is not None for r in t.rows)
    from ..bdtext import anchor_version

    version = anchor_version(t.anchor)
    emit(table_text(f"leaderboard on {t.dataset}: {metric} BD-rate vs {t.anchor.label}{f', {version}' if version else ''} "
                    f"({n_num} of {len(t.rows)} curves with a number)",
                    ["#", "curve", "provenance", "year", "BD-rate", "BD-quality", "overlap", "status"], table,
                    caption=f"method {t.method}; mean of per-image values; negative = fewer bits than the anchor; "
                            "published curves as their sources state them (see `references show NAME`)"), output)
