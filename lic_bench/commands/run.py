"""`lic-bench run`: evaluate codecs on a dataset (cached, failures recorded)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ._options import DataDirOpt, StoreOpt, fail, joined_qualities, parse_targets


def command(
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="comma-separated specs, with inline params: webp:method=0,jpeg"),
    dataset: str = typer.Option("sample", "--dataset", "-d", help="registered dataset name or a folder of images"),
    qualities: Optional[List[str]] = typer.Option(None, "--qualities", "-q", help="(repeatable) operating points, e.g. 5,10,20; or per-image targets met by "
                                            "searching the quality knob: bpp=0.12,0.25,0.5 or psnr=30,32"),
    data_dir: Optional[Path] = DataDirOpt,
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="parallel worker processes for CPU codecs"),
    device: str = typer.Option("cpu", "--device", help="cpu|cuda: learned codecs and the metrics (MS-SSIM, LPIPS, DISTS) run there"),
    vtm_dir: Optional[Path] = typer.Option(None, "--vtm-dir", help="VTM build folder (or $LIC_BENCH_VTM_DIR)"),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", help="checkpoint folder for learned codecs (or $LIC_BENCH_WEIGHTS)"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="one checkpoint file (learned codecs, with -q)"),
    decode_device: Optional[str] = typer.Option(None, "--decode-device", help="decode learned codecs on another device (e.g. cpu after cuda)"),
    model_class: Optional[str] = typer.Option(None, "--model-class", help="your CompressionModel subclass pkg.mod:Class (with --checkpoint)"),
    store: Optional[Path] = StoreOpt,
    aggregation: str = typer.Option("mean", "--aggregation", help="mean|pooled (for the printed table)"),
    no_bitstreams: bool = typer.Option(False, "--no-bitstreams", help="do not keep bitstreams in the store"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
    profile: bool = typer.Option(False, "--profile", help="also record complexity (params, MACs, times, memory) of learned codecs"),
    executor: str = typer.Option("local", "--executor", help="local | dask (with --scheduler) | dask-local (a LocalCluster of --jobs workers)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786"),
    retries: int = typer.Option(2, "--retries", min=0, help="retries of a job whose worker died or that timed out"),
    job_timeout: Optional[float] = typer.Option(None, "--job-timeout", help="seconds before a job is killed and retried (local pool)"),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="pixel metrics to add to psnr,ms-ssim (always measured): "
                                          "ssimulacra2, butteraugli-max, butteraugli-pnorm3, flip, lpips-alex, lpips-vgg, dists"),
    metric_weights_dir: Optional[Path] = typer.Option(None, "--metric-weights-dir", help="LPIPS/DISTS weight files (or $LIC_BENCH_PERCEPTUAL_WEIGHTS)"),
    butteraugli: Optional[Path] = typer.Option(None, "--butteraugli", help="libjxl butteraugli_main (or $LIC_BENCH_BUTTERAUGLI, PATH)"),
):
    """Evaluate codecs on a dataset; finished results are cached, failures recorded."""
    from .. import api
    from ..aggregate import AGGREGATIONS
    from ..executors import EXECUTORS
    from .results import print_rd_tables

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        fail(f"--device {device!r}: choose cpu or cuda")
    if executor not in EXECUTORS:
        fail(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        fail("--executor dask needs --scheduler tcp://HOST:PORT (or use --executor dask-local)")
    if aggregation not in AGGREGATIONS:
        fail(f"--aggregation {aggregation!r}: choose mean or pooled")
    runtime = {"device": device, "vtm_dir": vtm_dir, "weights_dir": weights_dir, "checkpoint": checkpoint,
               "decode_device": decode_device, "metric_weights_dir": metric_weights_dir, "butteraugli": butteraugli}
    target, ops = parse_targets(joined_qualities(qualities))
    res = api.run(codecs, dataset, qualities=ops, target=target, data_dir=data_dir, jobs=jobs, store=store,
                  runtime=runtime, model_class=model_class, keep_bitstreams=not no_bitstreams,
                  progress=not no_progress and sys.stderr.isatty(), executor=executor, scheduler=scheduler,
                  retries=retries, job_timeout=job_timeout, profile=profile, metrics=metrics,
                  on_profile=lambda name, w, h, dev: typer.echo(f"{name}: complexity recorded at {w}x{h} on {dev}"))
    s = res.summary
    typer.echo(f"{res.dataset.describe()}: {s.planned} jobs, {s.cached} cached, {s.done} computed, {len(s.failed)} failed"
               + (f", {s.left} left (interrupted)" if s.interrupted else ""))
    print_rd_tables(res.results, res.dataset.name, aggregation)
    timing = s.time_breakdown()
    if timing:
        typer.echo(timing)
    for note in s.notes:
        typer.echo(f"  note: {note}", err=True)
    for name, err in s.load_errors:
        typer.echo(f"  unreadable image {name}: {err}", err=True)
    if s.failed:
        typer.echo(f"{len(s.failed)} job(s) failed:", err=True)
        for codec, op, image, err in s.failed[:20]:
            typer.echo(f"  {codec} q={op:g} {image}: {err.splitlines()[0]}", err=True)
    if s.interrupted:
        typer.echo(f"{'terminated' if s.terminated else 'interrupted'}: {s.left} job(s) not run; rerun the same command to finish",
                   err=True)
        raise typer.Exit(143 if s.terminated else 130)
    if s.failed or s.load_errors:
        raise typer.Exit(1)
