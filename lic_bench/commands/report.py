"""`lic-bench report`: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._ci_options import CIMethodOpt, ResamplesOpt, SeedOpt
from ._options import CodecsOpt, DataDirOpt, DatasetOpt, StoreOpt, fail


def command(
    dataset: str = DatasetOpt,
    codecs: Optional[str] = CodecsOpt,
    anchor: str = typer.Option("vtm-12.1", "--anchor", help="anchor curve (default vtm-12.1, the TCM paper's; '' for none); A,B: BD-rates against both side by side, e.g. vtm-12.1,vtm-23.13"),
    references: Optional[str] = typer.Option(None, "--references", help="more curves to draw (default: all reported/imported for the dataset; '' for none)"),
    method: str = typer.Option("pchip", "--method"),
    image: Optional[str] = typer.Option(None, "--image", help="image for the visual comparison (default: first)"),
    target_bpp: Optional[float] = typer.Option(None, "--target-bpp", help="bpp to match in the visual comparison"),
    crop: Optional[str] = typer.Option(None, "--crop", help="top-left X,Y of the 192x192 crop (default: centre)"),
    output: Path = typer.Option(Path("reports") / "report.html", "-o", "--output"),
    ci: float = typer.Option(95, "--ci", help="level (%) of the BD-rate intervals over images; 0: none"),
    resamples: int = ResamplesOpt,
    ci_method: str = CIMethodOpt,
    seed: int = SeedOpt,
    wide_axes: bool = typer.Option(False, "--wide-axes", help="axes span every drawn curve (default: the measured curves and the anchor)"),
    export: Optional[Path] = typer.Option(None, "--export", help="also write the figures as SVG and PDF and the BD table as LaTeX and Markdown in this folder"),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="pixel metrics with a panel each (default: those the results have), e.g. ssimulacra2,flip"),
    published: int = typer.Option(0, "--published", min=0, help="also draw the N best published curves of the leaderboard, with citations"),
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """Write one self-contained HTML report (plots inline, no network)."""
    from .. import api

    xy = None
    if crop:
        try:
            xy = tuple(int(v) for v in crop.split(","))
            assert len(xy) == 2
        except (ValueError, AssertionError):
            fail(f"--crop {crop!r}: write X,Y")
    path, size = api.report(dataset, codecs, anchor, references, method, image, target_bpp, xy, output, store, data_dir,
                            ci=ci or None, resamples=resamples, ci_method=ci_method, seed=seed, wide_axes=wide_axes,
                            export=export, metrics=metrics, published_top=published)
    typer.echo(f"wrote {path} ({size // 1024} KiB)")
    if export:
        typer.echo(f"exported figures (SVG, PDF) and BD tables (LaTeX, Markdown) to {export}")
