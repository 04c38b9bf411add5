"""`lic-bench list codecs|datasets` (imports no codec library, no torch)."""

from __future__ import annotations

import typer

from ._options import fail


def command(what: str = typer.Argument(..., help="codecs | datasets")):
    """List codec specs or datasets (imports no codec library)."""
    from ..formats import print_table

    if what == "codecs":
        from ..registry import adapter_names
        from ..specs import available_specs

        specs = available_specs()
        rows = [[s.name, s.adapter, ",".join(f"{o:g}" for o in s.operating_points), s.description] for s in specs.values()]
        for a in sorted(set(adapter_names()) - {s.adapter for s in specs.values()} - set(specs)):
            rows.append([a, a, "(adapter defaults)", "adapter without a spec file"])
        print_table("codecs", ["name", "adapter", "operating points", "description"], rows)
    elif what == "datasets":
        from .datasets import list_command

        list_command()
    else:
        fail(f"list {what!r}: choose 'codecs' or 'datasets'")
