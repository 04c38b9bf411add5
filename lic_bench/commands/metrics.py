"""`lic-bench metrics add` (score finished runs again from their stored bitstreams) and
`lic-bench score REF DIST` (one image pair)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._options import DataDirOpt, DatasetOpt, FormatOpt, StoreOpt, check_format

app = typer.Typer(no_args_is_help=True, help="Pixel metrics (SSIMULACRA 2, Butteraugli, FLIP, LPIPS, DISTS) for stored results.")


@app.command("add")
def add_command(
    metrics: str = typer.Argument(..., help="comma-separated, e.g. ssimulacra2,lpips-alex"),
    dataset: str = DatasetOpt,
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="measured codecs (default: every measured curve)"),
    device: str = typer.Option("cpu", "--device", help="cpu|cuda (LPIPS, DISTS; and learned codecs' decoding)"),
    vtm_dir: Optional[Path] = typer.Option(None, "--vtm-dir", help="VTM build (to decode VTM bitstreams)"),
    metric_weights_dir: Optional[Path] = typer.Option(None, "--metric-weights-dir", help="LPIPS/DISTS weight files"),
    butteraugli: Optional[Path] = typer.Option(None, "--butteraugli", help="libjxl butteraugli_main"),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help="learned codecs' checkpoints (to build their decoder)"),
    images: Optional[str] = typer.Option(None, "--images", help="shipped anchors: only these images (a spot check)"),
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """Add metrics to finished runs without re-encoding: each stored bitstream is decoded again and scored."""
    from .. import api

    runtime = {"device": device, "vtm_dir": vtm_dir, "metric_weights_dir": metric_weights_dir, "butteraugli": butteraugli,
               "weights_dir": weights_dir}
    out = api.metrics_add(metrics, dataset, codecs, store, data_dir, runtime, images.split(",") if images else None)
    typer.echo(f"{out.added} record(s) scored, {out.already} already had them, {len(out.problems)} not possible")
    for codec, op, image, why in out.problems[:20]:
        typer.echo(f"  {codec} q={op:g} {image}: {why}", err=True)
    if out.problems:
        raise typer.Exit(1)


def score_command(
    reference: Path = typer.Argument(..., help="reference image (8-bit RGB)"),
    distorted: Path = typer.Argument(..., help="distorted image of the same size"),
    metric: str = typer.Option("psnr-rgb,ms-ssim,ssimulacra2", "--metric", "-m", help="comma-separated metrics of the table"),
    device: str = typer.Option("cpu", "--device"),
    metric_weights_dir: Optional[Path] = typer.Option(None, "--metric-weights-dir"),
    butteraugli: Optional[Path] = typer.Option(None, "--butteraugli"),
    fmt: str = FormatOpt,
):
    """Score one image pair with the same code a run uses (JSON with -f json)."""
    from .. import api
    from ..formats import print_table, to_json
    from ..record import METRICS

    check_format(fmt, ("table", "json"))
    options = api.metric_options_from({"device": device, "metric_weights_dir": metric_weights_dir, "butteraugli": butteraugli})
    values = api.score(metric, reference, distorted, **options)
    if fmt == "json":
        typer.echo(to_json(values))
        return
    print_table(f"{reference.name} vs {distorted.name}", ["metric", "value", "better"],
                [[METRICS[n].label + (f" ({METRICS[n].unit})" if METRICS[n].unit else ""), v,
                  "higher" if METRICS[n].higher_is_better else "lower"] for n, v in values.items()])
