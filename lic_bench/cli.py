"""Command-line interface: assembles the commands (lic_bench/commands/, one module each).

Heavy modules (torch, codecs, pandas) are imported inside commands only, so `lic-bench list` is fast.
"""

from __future__ import annotations

import sys

import typer

from .commands import anchors, bdrate, complexity, datasets, gate, list_, metrics, prune, references, report, results, run
from .errors import LicBenchError, OptionError

def _usage_errors(fn):
    """Bad option values raised by the library become one line and exit 2, like typer's own checks."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OptionError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
    return wrapper


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Rate-distortion benchmarking for learned image compression.")
app.command("list")(_usage_errors(list_.command))
app.add_typer(datasets.app, name="datasets")
app.command("run")(_usage_errors(run.command))
app.command("results")(_usage_errors(results.command))
app.command("import")(_usage_errors(results.import_command))
app.command("prune")(_usage_errors(prune.command))
app.command("bdrate")(_usage_errors(bdrate.command))
app.command("compare")(_usage_errors(bdrate.compare_command))
app.command("complexity")(_usage_errors(complexity.command))
app.command("report")(_usage_errors(report.command))
app.add_typer(gate.baseline_app, name="baseline")
app.command("gate")(_usage_errors(gate.command))
app.add_typer(references.app, name="references")
app.command("leaderboard")(_usage_errors(references.leaderboard_command))
app.add_typer(metrics.app, name="metrics")
app.command("score")(_usage_errors(metrics.score_command))
app.add_typer(anchors.app, name="anchors")


def main() -> None:
    try:
        app()
    except LicBenchError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
