"""Options and helpers shared by the commands (so each option reads the same everywhere)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import LicBenchError

StoreOpt = typer.Option(None, "--store", help="results database (default results/lic-bench.sqlite or $LIC_BENCH_STORE)")
FormatOpt = typer.Option("table", "--format", "-f", help="table|csv|json")
DatasetOpt = typer.Option(..., "--dataset", "-d", help="registered name, folder path (as given to run) or content hash")
DataDirOpt = typer.Option(None, "--data-dir", help="folder with the dataset (or $LIC_BENCH_DATA)")
CodecsOpt = typer.Option(None, "--codecs", "-c", help="curves: specs (webp, webp:method=0, NAME@DIGEST), NAME@paper, NAME@shipped, imported names")
OutputOpt = typer.Option(None, "-o", "--output", help="write to this file instead of printing")


def fail(msg: str, code: int = 2):
    """One line on stderr, exit 2 (usage or data error)."""
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        fail(f"--format {fmt!r}: choose one of {', '.join(allowed)}")


def joined_qualities(values: Optional[List[str]]) -> Optional[str]:
    """Every -q given, as one list: ``-q 30 -q 60`` is ``-q 30,60`` (``-q bpp=0.1 -q bpp=0.2`` likewise)."""
    if not values:
        return None
    kinds = {v.partition("=")[0].strip() for v in values if "=" in v}
    if len(kinds) > 1 or (kinds and any("=" not in v for v in values)):
        fail(f"-q/--qualities {' '.join(values)!r}: give operating points or targets of one kind, e.g. -q 5,10 or -q bpp=0.1,0.2")
    body = ",".join(v.partition("=")[2] if "=" in v else v for v in values)
    return f"{kinds.pop()}={body}" if kinds else body


def parse_ops(text: Optional[str]) -> Optional[list[float]]:
    if not text:
        return None
    try:
        ops = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"-q/--qualities {text!r}: give comma-separated numbers, e.g. 5,10,20, or targets, e.g. bpp=0.12,0.25")
    twice = sorted({o for o in ops if ops.count(o) > 1})
    if twice:
        fail(f"-q/--qualities {text!r}: {twice[0]:g} is given more than once; give each operating point once")
    return ops


def parse_targets(text: Optional[str]) -> tuple[Optional[str], Optional[list[float]]]:
    """``-q 5,10`` -> (None, [5, 10]); ``-q bpp=0.12,0.25`` / ``psnr=30,32`` -> ("bpp", [0.12, 0.25])."""
    if text and "=" in text:
        kind, _, values = text.partition("=")
        return kind.strip(), parse_ops(values)
    return None, parse_ops(text)


def emit(text: str, output: Optional[Path]) -> None:
    """Print, or write atomically to -o FILE."""
    from ..formats import write_text_atomic

    if output is None:
        typer.echo(text.rstrip("\n"))
    else:
        write_text_atomic(output, text if text.endswith("\n") else text + "\n")
        typer.echo(f"wrote {output}")


__all__ = ["StoreOpt", "FormatOpt", "DatasetOpt", "DataDirOpt", "CodecsOpt", "OutputOpt", "fail", "check_format",
           "parse_ops", "emit", "LicBenchError", "Path", "Optional"]
