"""`lic-bench baseline save` and `lic-bench gate`: the CI regression gate."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..record import QUALITY_METRICS
from ._ci_options import CIMethodOpt, ResamplesOpt, SeedOpt
from ._options import DataDirOpt, DatasetOpt, StoreOpt, check_format, fail

baseline_app = typer.Typer(no_args_is_help=True, help="Create regression baselines (committed JSON files).")


@baseline_app.command("save")
def baseline_save(
    dataset: str = DatasetOpt,
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="codecs to save (default: every measured curve)"),
    out: Path = typer.Option(Path("results") / "baselines", "-o", "--output", help="folder; files go to <folder>/<dataset>/<codec>.json"),
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """Save per-image records and provenance of codecs as baseline files for `lic-bench gate`."""
    from .. import api

    for path, cr in api.baseline_save(dataset, codecs, out, store, data_dir):
        typer.echo(f"saved {path} ({len(cr.records)} records, spec {cr.digest})")


def command(
    baseline: Path = typer.Option(..., "--baseline", help="baseline file or folder (searched recursively)"),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="default: the baseline's dataset"),
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="current results to judge (default: the results of the baseline's codec)"),
    max_bd_rate: Optional[float] = typer.Option(None, "--max-bd-rate", help="fail above this BD-rate % (default 0.5)"),
    max_psnr_drop: Optional[float] = typer.Option(None, "--max-psnr-drop", help="fail when BD-PSNR drops more (dB, default 0.02)"),
    max_time_ratio: Optional[float] = typer.Option(None, "--max-time-ratio", help="slowdown ratio flagged (default 1.2)"),
    timing: str = typer.Option("advisory", "--timing", help="advisory|enforce"),
    match: list[str] = typer.Option([], "--match", help="pair a baseline with named current results: OLD=NEW (repeatable)"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML thresholds: default: {...}, codecs: {glob or re:regex: {...}}"),
    strict: bool = typer.Option(False, "--strict", help="not-comparable fails too"),
    metric: str = typer.Option("psnr-rgb", "--metric", "-m", help="quality metric of the BD-rate judged, any of the table: " + "|".join(QUALITY_METRICS)),
    require_significant: bool = typer.Option(False, "--require-significant", help="fail on BD-rate only when the whole interval is above --max-bd-rate"),
    ci: float = typer.Option(95, "--ci", help="level (%) of the BD-rate interval over images; 0: none"),
    resamples: int = ResamplesOpt,
    ci_method: str = CIMethodOpt,
    seed: int = SeedOpt,
    fmt: str = typer.Option("table", "--format", "-f", help="table|json"),
    md: Optional[Path] = typer.Option(None, "--markdown", help="also write a Markdown summary (CI job summary / PR comment)"),
    data_dir: Optional[Path] = DataDirOpt,
    store: Optional[Path] = StoreOpt,
):
    """Fail (exit 1) when current results are worse than the baseline; 0 pass/improved; 2 usage/data error."""
    from .. import api
    from ..formats import print_table, to_json, write_text_atomic
    from ..gating import markdown

    check_format(fmt, ("table", "json"))
    pairs = {}
    for m in match:
        old, sep, new = m.partition("=")
        if not sep or not old or not new:
            fail(f"--match {m!r}: write OLD=NEW")
        pairs[old] = new
    thresholds = {"max_bd_rate": max_bd_rate, "max_psnr_drop": max_psnr_drop, "max_time_ratio": max_time_ratio}
    from ..bdci import ci_options

    opts = ci_options(ci or None, resamples, ci_method, seed)
    if require_significant and not opts.interval:
        fail("--require-significant needs an interval: drop --ci 0")
    (metric,) = api.check_metrics(metric)
    thresholds.update(metric=metric, ci_level=opts.level or 0, resamples=opts.resamples, ci_method=opts.method, seed=opts.seed,
                      require_significant=require_significant)
    res = api.gate(baseline, dataset, codecs, thresholds, timing, pairs, config, strict, store, data_dir)
    if md:
        write_text_atomic(md, markdown(res.verdicts, res.dataset), "--markdown")
    if fmt == "json":
        typer.echo(to_json({"dataset": res.dataset, "exit_code": res.exit_code, "verdicts": [v.to_dict() for v in res.verdicts]}))
    else:
        from ..bdci import fmt_interval

        rows = [[v.codec, v.outcome, "—" if v.bd_rate is None else f"{v.bd_rate:+.3f} %",
                 fmt_interval(v.bd_rate_low, v.bd_rate_high, " %", 3),
                 "—" if v.images is None else f"worse on {v.images_worse} of {v.images}",
                 "—" if v.bd_psnr is None else f"{v.bd_psnr:+.4f} dB", "; ".join(v.reasons) or "—"] for v in res.verdicts]
        print_table(f"gate vs baseline on {res.dataset}",
                    ["codec", "outcome", "BD-rate", f"{opts.level * 100:g} % CI" if opts.interval else "CI", "images",
                     "BD-PSNR" if metric.startswith("psnr") else "BD-quality", "why"], rows,
                    caption=f"BD-rate: pchip, {metric}, mean of per-image values, current vs baseline"
                    + (f"\n{opts.describe()}" if opts.interval else "")
                    + ("\n--require-significant: BD-rate fails only when the whole interval is above the threshold" if require_significant else ""))
        for v in res.verdicts:
            if v.changes:
                typer.echo(f"{v.codec}: changed: " + "; ".join(v.changes))
            for n in v.notes:
                typer.echo(f"{v.codec}: {n}")
    raise typer.Exit(res.exit_code)
