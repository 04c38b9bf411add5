"""Options of BD uncertainty and restriction, shared by bdrate, compare, report and gate."""

from __future__ import annotations

from typing import Optional

import typer

CIOpt: Optional[float] = typer.Option(None, "--ci", help="confidence level in % (e.g. 95): paired-bootstrap interval over images and the per-image picture (default: none)")
ResamplesOpt: int = typer.Option(2000, "--resamples", help="bootstrap resamples for --ci")
CIMethodOpt: str = typer.Option("percentile", "--ci-method", help="percentile|bca")
SeedOpt: int = typer.Option(0, "--seed", help="bootstrap seed (the same seed reproduces the interval)")
RateRangeOpt: Optional[str] = typer.Option(None, "--rate-range", help="integrate BD only over LO,HI bpp (e.g. 0.1,1.0)")
AnchorPointsOpt: Optional[str] = typer.Option(None, "--anchor-points", help="use only these anchor operating points (e.g. 22,27,32,37)")
