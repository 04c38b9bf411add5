"""`lic-bench datasets list|fetch|verify`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import LicBenchError, did_you_mean
from ._options import fail

app = typer.Typer(no_args_is_help=True, help="List, download and verify datasets.")


def _info(name: str):
    from ..datasets import registry

    reg = registry()
    if name not in reg:
        fail(f"unknown dataset {name!r}{did_you_mean(name, reg)}")
    return reg[name]


@app.command("list")
def list_command():
    """Registered datasets and whether they are found locally."""
    from ..datasets import locate, registry
    from ..formats import print_table

    rows = []
    for name, info in registry().items():
        try:
            where = str(locate(name).folder)
        except LicBenchError:
            where = "not found (lic-bench datasets fetch " + name + ")"
        rows.append([name, str(info.count or "?"), info.description, where])
    print_table("datasets", ["name", "images", "description", "location"], rows)


@app.command("fetch")
def fetch_command(name: str, root: Optional[Path] = typer.Option(None, "--dir", help="download root (default: user cache)")):
    """Download a dataset with checksum verification into the cache (or --dir)."""
    from ..datasets import fetch

    folder = fetch(_info(name), root)
    typer.echo(f"{name}: ready in {folder}")


@app.command("verify")
def verify_command(name: str, data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="folder holding the dataset")):
    """Check names, counts, sizes and checksums; lists every problem by file name."""
    from ..datasets import format_problems, locate, verify

    info = _info(name)
    try:
        folder = locate(name, data_dir).folder
    except LicBenchError:
        folder = Path(data_dir) / name if data_dir and (Path(data_dir) / name).is_dir() else Path(data_dir or ".")
    rep = verify(info, folder)
    typer.echo(f"{name} in {folder}: {len(rep.ok)} ok")
    if rep.recompressed:
        typer.echo(f"  note: {len(rep.recompressed)} file(s) re-encoded with identical pixels: {', '.join(rep.recompressed)}")
    if not rep.passed:
        typer.echo(f"  FAILED: {format_problems(rep)}")
        raise typer.Exit(1)
    typer.echo("  verified")
