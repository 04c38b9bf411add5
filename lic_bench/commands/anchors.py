"""`lic-bench anchors list` and `lic-bench anchors verify`: the shipped VVC anchors, checkable by anyone."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._options import check_format, emit

AnchorsDirOpt = typer.Option(None, "--anchors-dir", help="a folder of anchors in the shipped layout (default: the shipped ones)")
app = typer.Typer(no_args_is_help=True, help="Shipped VVC anchors: list them, verify them with your own VTM decoder.")


@app.command("list")
def list_command(fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
                 anchors_dir: Optional[Path] = AnchorsDirOpt):
    """Every shipped anchor: dataset, codec version, QPs, metrics, whether its bitstreams ship."""
    from .. import api
    from ..formats import table_text, to_csv, to_json

    check_format(fmt, ("table", "csv", "json"))
    rows = api.anchors_list(anchors_dir)
    if fmt == "json":
        emit(to_json(rows), None)
    elif fmt == "csv":
        emit(to_csv([dict(r, qps=" ".join(map(str, r["qps"])), metrics=" ".join(r["metrics"])) for r in rows],
                    ["name", "dataset", "codec", "codec_version", "qps", "metrics", "bitstreams", "n_records", "images"]), None)
    else:
        table = [[r["name"], r["dataset"], f"VTM {r['codec_version']}" if r["codec_version"] else "—",
                  f"{min(r['qps'])}…{max(r['qps'])} ({len(r['qps'])})" if r["qps"] else "—", " ".join(r["metrics"]), "yes" if r["bitstreams"] else "no",
                  f"{r['images']} × {len(r['qps'])}"] for r in rows]
        emit(table_text("shipped anchors", ["name", "dataset", "codec version", "QPs", "metrics", "bitstreams", "records"], table,
                        caption="verify one with your VTM build: lic-bench anchors verify NAME --vtm-dir DIR"), None)


@app.command("verify")
def verify_command(
    name: str = typer.Argument(..., help="anchor name (see `lic-bench anchors list`), e.g. vtm-12.1"),
    dataset: str = typer.Option("kodak", "--dataset", "-d", help="the anchor's dataset"),
    vtm_dir: Optional[Path] = typer.Option(None, "--vtm-dir", help="VTM build folder with the decoder (or $LIC_BENCH_VTM_DIR)"),
    images_dir: Optional[Path] = typer.Option(None, "--images-dir", "--data-dir", help="folder of the original images (default: the registered dataset)"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="parallel decodes"),
    images: Optional[str] = typer.Option(None, "--images", help="check only these images (comma-separated), a spot check"),
    qps: Optional[str] = typer.Option(None, "--qps", help="check only these QPs (comma-separated)"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|json"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the report to this file"),
    anchors_dir: Optional[Path] = AnchorsDirOpt,
):
    """Decode every shipped bitstream with your VTM decoder and recompute every record; exit 1 on any difference."""
    from .. import api
    from ..formats import table_text, to_json
    from ._options import fail

    check_format(fmt, ("table", "json"))
    try:
        qp_list = [int(q) for q in qps.split(",") if q.strip()] if qps else None
    except ValueError:
        fail(f"--qps {qps!r}: give comma-separated integers, e.g. 22,47")
    rep = api.anchors_verify(name, dataset, vtm_dir=vtm_dir, images_dir=images_dir, jobs=jobs,
                             images=[i for i in images.split(",") if i.strip()] if images else None, qps=qp_list,
                             anchors_dir=anchors_dir)
    if fmt == "json":
        emit(to_json(rep.to_dict()), output)
    else:
        lines = [rep.summary()] + [f"note: {n}" for n in rep.notes]
        rows = rep.rows()
        if rows:
            lines.append(table_text(f"differences ({len(rep.failed_items)} of {len(rep.items)} records)",
                                    ["record", "field", "shipped", "recomputed"],
                                    [[r["item"], r["field"], "—" if r["shipped"] is None else str(r["shipped"]),
                                      str(r["recomputed"])] for r in rows]).rstrip("\n"))
        else:
            lines.append(f"checked: {', '.join(i.item for i in rep.items[:3])}{' …' if len(rep.items) > 3 else ''} "
                         f"({len(rep.items)} records) against {rep.images_dir}")
        emit("\n".join(lines), output)
    raise typer.Exit(0 if rep.passed else 1)
