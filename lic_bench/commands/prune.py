"""`lic-bench prune`: delete chosen stored records (e.g. points run at a bad operating point), safely."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._options import DataDirOpt, DatasetOpt, StoreOpt, joined_qualities, parse_ops


def command(
    dataset: str = DatasetOpt,
    codecs: str = typer.Option(..., "--codecs", "-c", help="whose records: measured specs (as `results` names them)"),
    qualities: Optional[List[str]] = typer.Option(None, "--qualities", "-q", help="(repeatable) only these operating points, e.g. 5,10 (inf allowed)"),
    status: Optional[str] = typer.Option(None, "--status", help="only records with this status: ok|failed|excluded"),
    yes: bool = typer.Option(False, "--yes", help="delete; without it, only list what would be deleted"),
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """Delete chosen records from the store (lists them first; --yes deletes). A rerun recomputes them."""
    from .. import api

    chosen = api.prune(dataset, codecs, qualities=parse_ops(joined_qualities(qualities)), status=status, store=store, data_dir=data_dir,
                       dry_run=not yes)
    for r in chosen[:50]:
        typer.echo(f"  {r.image} op={r.op:g} {r.status}")
    if len(chosen) > 50:
        typer.echo(f"  ... and {len(chosen) - 50} more")
    shared = chosen[0].extra.get("also_in_datasets") if chosen else None
    if shared:
        typer.echo(f"  these records are images of other stored datasets too, which lose them as well: {', '.join(shared)}")
    typer.echo(f"deleted {len(chosen)} record(s)" if yes else f"would delete {len(chosen)} record(s); add --yes to delete them")
