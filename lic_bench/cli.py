"""Command-line interface. Heavy modules (torch, codecs, pandas) are imported inside commands only."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import LicBenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Rate-distortion benchmarking for learned image compression.")
datasets_app = typer.Typer(no_args_is_help=True, help="List, download and verify datasets.")
app.add_typer(datasets_app, name="datasets")

StoreOpt = typer.Option(None, "--store", help="results database (default results/lic-bench.sqlite or $LIC_BENCH_STORE)")
FormatOpt = typer.Option("table", "--format", "-f", help="table|csv|json")


def _fail(msg: str, code: int = 2):
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        _fail(f"--format {fmt!r}: choose one of {', '.join(allowed)}")


def _fmt(x, digits=4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float):
        return "inf" if math.isinf(x) else f"{x:.{digits}f}"
    return str(x)


def _print_table(title: str, columns: list[str], rows: list[list], caption: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, caption=caption, caption_justify="left")
    for c in columns:
        t.add_column(c, justify="right" if c not in ("codec", "image", "status", "name", "what") else "left")
    for r in rows:
        t.add_row(*[_fmt(v) if not isinstance(v, str) else v for v in r])
    Console(width=max(100, len(caption or "") // 2)).print(t)


def _parse_ops(text: Optional[str]) -> Optional[list[float]]:
    if not text:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        _fail(f"-q/--qualities {text!r}: give comma-separated numbers, e.g. 5,10,20")


# ------------------------------------------------------------------ list

@app.command("list")
def list_cmd(what: str = typer.Argument(..., help="codecs | datasets")):
    """List codec specs or datasets (imports no codec library)."""
    if what == "codecs":
        from .registry import adapter_names
        from .specs import available_specs

        specs = available_specs()
        rows = [[s.name, s.adapter, ",".join(f"{o:g}" for o in s.operating_points), s.description] for s in specs.values()]
        for a in sorted(set(adapter_names()) - {s.adapter for s in specs.values()} - set(specs)):
            rows.append([a, a, "(adapter defaults)", "adapter without a spec file"])
        _print_table("codecs", ["name", "adapter", "operating points", "description"], rows)
    elif what == "datasets":
        datasets_list()
    else:
        _fail(f"list {what!r}: choose 'codecs' or 'datasets'")


# ------------------------------------------------------------------ datasets

@datasets_app.command("list")
def datasets_list():
    """Registered datasets and whether they are found locally."""
    from .datasets import locate, registry

    rows = []
    for name, info in registry().items():
        try:
            where = str(locate(name).folder)
        except LicBenchError:
            where = "not found (lic-bench datasets fetch " + name + ")"
        rows.append([name, str(info.count or "?"), info.description, where])
    _print_table("datasets", ["name", "images", "description", "location"], rows)


@datasets_app.command("fetch")
def datasets_fetch(name: str, root: Optional[Path] = typer.Option(None, "--dir", help="download root (default: user cache)")):
    """Download a dataset with checksum verification into the cache (or --dir)."""
    from .datasets import fetch, registry

    reg = registry()
    if name not in reg:
        from .errors import did_you_mean
        _fail(f"unknown dataset {name!r}{did_you_mean(name, reg)}")
    folder = fetch(reg[name], root)
    typer.echo(f"{name}: ready in {folder}")


@datasets_app.command("verify")
def datasets_verify(name: str, data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="folder holding the dataset")):
    """Check names, counts, sizes and checksums; lists every problem by file name."""
    from .datasets import format_problems, locate, registry, verify

    reg = registry()
    if name not in reg:
        from .errors import did_you_mean
        _fail(f"unknown dataset {name!r}{did_you_mean(name, reg)}")
    try:
        folder = locate(name, data_dir).folder
    except LicBenchError:
        folder = Path(data_dir) / name if data_dir and (Path(data_dir) / name).is_dir() else Path(data_dir or ".")
    rep = verify(reg[name], folder)
    typer.echo(f"{name} in {folder}: {len(rep.ok)} ok")
    if rep.recompressed:
        typer.echo(f"  note: {len(rep.recompressed)} file(s) re-encoded with identical pixels: {', '.join(rep.recompressed)}")
    if not rep.passed:
        typer.echo(f"  FAILED: {format_problems(rep)}")
        raise typer.Exit(1)
    typer.echo("  verified")


# ------------------------------------------------------------------ run

@app.command()
def run(
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="comma-separated specs, with inline params: webp:method=0,jpeg"),
    dataset: str = typer.Option("sample", "--dataset", "-d", help="registered dataset name or a folder of images"),
    qualities: Optional[str] = typer.Option(None, "--qualities", "-q", help="override operating points, e.g. 5,10,20"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="folder with the dataset (or $LIC_BENCH_DATA)"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="parallel worker processes for CPU codecs"),
    device: str = typer.Option("cpu", "--device", help="cpu|cuda (learned codecs)"),
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
):
    """Evaluate codecs on a dataset; finished results are cached, failures recorded."""
    from .datasets import locate
    from .runner import execute, prepare
    from .specs import resolve_spec, split_codec_list
    from .store import Store

    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        _fail(f"--device {device!r}: choose cpu or cuda")
    from .executors import EXECUTORS

    if executor not in EXECUTORS:
        _fail(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        _fail("--executor dask needs --scheduler tcp://HOST:PORT (or use --executor dask-local)")
    ops = _parse_ops(qualities)
    specs = [resolve_spec(c) for c in split_codec_list(codecs)] if codecs else []
    if model_class:
        from .specs import CodecSpec

        specs.append(CodecSpec(name=f"custom:{model_class}", adapter="learned", params={"model_class": model_class},
                               source="--model-class"))
    if not specs:
        _fail("--codecs: give at least one codec (or --model-class)")
    ds = locate(dataset, data_dir)

    def options_for(s) -> dict:
        if s.adapter == "vtm":
            return {"vtm_dir": str(vtm_dir)} if vtm_dir else {}
        if s.adapter != "learned":
            return {}
        opts = {"device": device}
        for k, v in (("weights_dir", weights_dir), ("checkpoint", checkpoint), ("decode_device", decode_device)):
            if v:
                opts[k] = str(v)
        return opts

    prepared = [prepare(s, **options_for(s)) for s in specs]
    with Store(store) as st:
        summary = execute(prepared, ds, st, operating_points=ops, jobs=jobs,
                          adapter_options={s.name: options_for(s) for s in specs}, executor=executor,
                          scheduler=scheduler, retries=retries, job_timeout=job_timeout,
                          keep_bitstreams=not no_bitstreams, progress=not no_progress and sys.stderr.isatty())
        if profile:
            _profile_run(st, prepared, ds, device)
        typer.echo(f"{ds.name}: {summary.planned} jobs, {summary.cached} cached, {summary.done} computed, "
                   f"{len(summary.failed)} failed" + (f", {summary.left} left (interrupted)" if summary.interrupted else ""))
        _print_rd_tables(st, ds.name, [s.name for s in specs], aggregation)
    for name, err in summary.load_errors:
        typer.echo(f"  unreadable image {name}: {err}", err=True)
    if summary.failed:
        typer.echo(f"{len(summary.failed)} job(s) failed:", err=True)
        for codec, op, image, err in summary.failed[:20]:
            typer.echo(f"  {codec} q={op:g} {image}: {err.splitlines()[0]}", err=True)
    if summary.interrupted:
        typer.echo(f"interrupted: {summary.left} job(s) not run; rerun the same command to finish", err=True)
        raise typer.Exit(130)
    if summary.failed or summary.load_errors:
        raise typer.Exit(1)


def _profile_run(st, prepared, ds, device: str) -> None:
    """Complexity of each learned codec at the dataset's first image size (padded), stored for reports."""
    from .imageio import load_rgb

    first = load_rgb(ds.images[0].path).pixels.shape
    for pc in prepared:
        if pc.spec.adapter != "learned":
            continue
        m = pc.codec.pad_multiple
        w, h = max(-(-first[1] // m) * m, pc.codec.min_padded_side), max(-(-first[0] // m) * m, pc.codec.min_padded_side)
        d = complexity_of(pc.spec, w, h, device, repeats=3, warmup=1, timed=True)
        st.put_complexity(pc.digest, f"{w}x{h}", device, d)
        typer.echo(f"{pc.spec.name}: complexity recorded at {w}x{h} on {device}")


def _print_rd_tables(st, dataset: str, names: list[str] | None, aggregation: str) -> None:
    from .curves import AGGREGATION_LABELS
    from .results import codec_results

    for cr in codec_results(st, dataset, names):
        rows = [[f"{p.op:g}", f"{p.n_images}/{cr.n_images}", p.bpp, p.psnr_rgb, p.ms_ssim, p.ms_ssim_db,
                 p.enc_s * 1e3 if p.n_images else math.nan, p.dec_s * 1e3 if p.n_images else math.nan,
                 str(p.n_failed), str(p.n_mismatch)] for p in cr.points(aggregation)]
        _print_table(f"{cr.name} on {dataset} (spec {cr.digest})",
                     ["op", "images", "bpp", "PSNR-RGB dB", "MS-SSIM", "MS-SSIM dB", "enc ms", "dec ms", "failed", "mismatch"],
                     rows, caption=f"aggregation: {AGGREGATION_LABELS[aggregation]}")


# ------------------------------------------------------------------ results

@app.command()
def results(
    dataset: str = typer.Option(..., "--dataset", "-d"),
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json|compressai"),
    aggregation: str = typer.Option("mean", "--aggregation", help="mean|pooled"),
    per_image: bool = typer.Option(False, "--per-image", help="per-image records instead of curves"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write to a file (compressai: a folder, one JSON per codec)"),
    store: Optional[Path] = StoreOpt,
):
    """Print or export stored results (curves or per-image records)."""
    from .curves import AGGREGATION_LABELS, AGGREGATIONS
    from .results import codec_results, curves_frame, records_frame, to_compressai
    from .specs import split_codec_list
    from .store import Store

    _check_format(fmt, ("table", "csv", "json", "compressai"))
    if aggregation not in AGGREGATIONS:
        _fail(f"--aggregation {aggregation!r}: choose mean or pooled")
    with Store(store, readonly=True) as st:
        crs = codec_results(st, dataset, split_codec_list(codecs) if codecs else None)
        if fmt == "table":
            _print_rd_tables(st, dataset, [c.name for c in crs], aggregation)
            return
    if fmt == "compressai":
        docs = {c.name: to_compressai(c.name, c.points(aggregation),
                                      f"lic-bench, {dataset}, spec {c.digest}; aggregation: {AGGREGATION_LABELS[aggregation]}")
                for c in crs}
        if output:
            output.mkdir(parents=True, exist_ok=True)
            for n, d in docs.items():
                (output / f"{n.replace(':', '_').replace('/', '_')}.json").write_text(json.dumps(d, indent=2))
            typer.echo(f"wrote {len(docs)} file(s) to {output}")
        else:
            typer.echo(json.dumps(docs[crs[0].name] if len(docs) == 1 else list(docs.values()), indent=2))
        return
    df = records_frame(crs) if per_image else curves_frame(crs, aggregation)
    text = df.to_csv(index=False) if fmt == "csv" else df.to_json(orient="records", indent=2)
    if output:
        output.write_text(text)
    else:
        typer.echo(text)


@app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., help="CompressAI results JSON"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="dataset the file reports on"),
    name: Optional[str] = typer.Option(None, "--name", help="curve name (default: the file's 'name')"),
    store: Optional[Path] = StoreOpt,
):
    """Import a CompressAI results JSON as a named reference curve (labelled as imported)."""
    from .results import read_compressai
    from .store import Store

    doc = read_compressai(path)
    cname = name or doc["name"]
    with Store(store) as st:
        st.put_curve(cname, dataset, "imported", {"source": str(path), "description": doc["description"],
                                                  "format": "compressai-results-json"}, doc["points"])
    typer.echo(f"imported {cname!r} ({len(doc['points']['bpp'])} points) for {dataset}")


# ------------------------------------------------------------------ BD-rate

def _open_store_if_any(store):
    from .store import Store, default_path

    path = Path(store) if store else default_path()
    return Store(path, readonly=True) if path.is_file() else None


def _default_test_curves(st, dataset: str, anchor_name: str) -> list[str]:
    names = []
    if st is not None:
        from .results import codec_results

        try:
            names = [c.name for c in codec_results(st, dataset) if not c.random_init]
        except LicBenchError:
            names = []
        names += [r[0] for r in st.db.execute("SELECT name FROM curves WHERE dataset=?", (dataset,))]
    return [n for n in dict.fromkeys(names) if n != anchor_name]


@app.command()
def bdrate(
    dataset: str = typer.Option(..., "--dataset", "-d"),
    anchor: str = typer.Option("vtm-12.1", "--anchor", help="anchor curve (store, imported, shipped; NAME@shipped forces the shipped one)"),
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="test curves; NAME@paper for paper-reported curves"),
    metric: str = typer.Option("psnr-rgb", "--metric", "-m", help="psnr-rgb|psnr-y|ms-ssim-db (comma-separated for several)"),
    method: str = typer.Option("pchip", "--method", help="pchip|cubic|akima|pchip-trapz100"),
    aggregation: str = typer.Option("mean", "--aggregation", help="mean|pooled"),
    per_image: bool = typer.Option(False, "--per-image", help="mean of per-image BD-rates instead"),
    allow_tiled: bool = typer.Option(False, "--allow-tiled", help="include images coded in tiles (GPU memory fallback)"),
    fmt: str = FormatOpt,
    store: Optional[Path] = StoreOpt,
):
    """BD-rate and BD-quality of codecs against an anchor, with every convention stated."""
    from .bd import METHODS
    from .bdcompare import compare, fmt_value
    from .references import METRICS, resolve_curve
    from .specs import split_codec_list

    _check_format(fmt, ("table", "csv", "json"))
    if method not in METHODS:
        _fail(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    metrics_ = [m.strip() for m in metric.split(",") if m.strip()]
    for m in metrics_:
        if m not in METRICS:
            _fail(f"--metric {m!r}: choose from {', '.join(METRICS)}")
    agg = "per-image" if per_image else aggregation
    if agg not in ("mean", "pooled", "per-image"):
        _fail(f"--aggregation {aggregation!r}: choose mean or pooled")
    st = _open_store_if_any(store)
    try:
        anchor_curve = resolve_curve(anchor, dataset, st, allow_tiled)
        names = split_codec_list(codecs) if codecs else _default_test_curves(st, dataset, anchor_curve.name)
        if not names:
            _fail(f"no test curves for {dataset!r}: run some codecs or pass --codecs (e.g. tcm-large@paper)")
        tests = [resolve_curve(n, dataset, st, allow_tiled) for n in names]
        rows = [compare(anchor_curve, t, m, method, agg) for t in tests for m in metrics_]
    finally:
        if st is not None:
            st.close()
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2, default=str))
    elif fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        keys = ["codec", "test_kind", "anchor", "anchor_kind", "dataset", "metric", "method", "aggregation", "bd_rate", "bd_quality", "overlap", "points", "status"]
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        typer.echo(buf.getvalue().rstrip())
    else:
        table = [[r["codec"] + ("" if r["test_kind"] == "measured" else f" ({r['test_kind']})"), r["metric"],
                  fmt_value(r["bd_rate"], " %"), fmt_value(r["bd_quality"], " dB"),
                  "—" if r["overlap"] is None else f"{r['overlap']:.0%}", r["points"] or "—", r["status"]] for r in rows]
        prov = anchor_curve.provenance
        caption = (f"anchor: {anchor_curve.label}; {prov.get('encoder') or prov.get('citation') or prov.get('spec_digest') or ''}\n"
                   f"method: {method}; aggregation: {rows[0]['aggregation_label']}; negative BD-rate = fewer bits than the anchor")
        _print_table(f"BD vs {anchor_curve.name} on {dataset}", ["codec", "metric", "BD-rate", "BD-quality", "overlap", "points", "status"],
                     table, caption=caption)
        for r in rows:
            for w_ in r["warnings"]:
                typer.echo(f"  warning [{r['codec']}, {r['metric']}]: {w_}", err=True)


@app.command()
def compare(
    codec: str = typer.Argument(..., help="your measured curve (codec name in the store)"),
    reference: str = typer.Argument(..., help="the curve to compare with, e.g. tcm-large@paper"),
    dataset: str = typer.Option(..., "--dataset", "-d"),
    metric: str = typer.Option("psnr-rgb", "--metric", "-m"),
    method: str = typer.Option("pchip", "--method"),
    fmt: str = FormatOpt,
    store: Optional[Path] = StoreOpt,
):
    """Your run of a codec against another curve (e.g. the paper's): ΔPSNR at equal rate and BD-rate."""
    from .bdcompare import compare as _compare, fmt_value
    from .references import resolve_curve

    _check_format(fmt, ("table", "json"))
    st = _open_store_if_any(store)
    try:
        ref, mine = resolve_curve(reference, dataset, st), resolve_curve(codec, dataset, st)
    finally:
        if st is not None:
            st.close()
    row = _compare(ref, mine, metric, method)
    if fmt == "json":
        typer.echo(json.dumps(row, indent=2, default=str))
        return
    typer.echo(f"{mine.label} vs {ref.label} on {dataset} ({metric}, {method}): "
               f"BD-rate {fmt_value(row['bd_rate'], ' %')}, Δquality at equal rate {fmt_value(row['bd_quality'], ' dB')}"
               + ("" if row["status"] == "ok" else f" — {row['status']}"))


# ------------------------------------------------------------------ complexity

def _parse_size(size: str) -> tuple[int, int]:
    import re

    m = re.fullmatch(r"(\d+)x(\d+)", size.strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        _fail(f"--size {size!r}: write WIDTHxHEIGHT, e.g. 768x512")
    return int(m.group(1)), int(m.group(2))


def complexity_of(spec, width: int, height: int, device: str, repeats: int, warmup: int, timed: bool) -> dict:
    """Complexity figures of a learned codec spec (random weights unless its checkpoint is available)."""
    from .complexity import analyse, time_codec
    from .learned.zoo import get_arch, load_model

    p = spec.params
    arch = get_arch(p.get("arch", ""), p.get("model_class", ""))
    q = arch.qualities[-1]  # the largest channel configuration (TIC: q5-8)
    if width % arch.pad_multiple or height % arch.pad_multiple or min(width, height) < arch.min_side:
        _fail(f"--size {width}x{height}: {arch.name} needs multiples of {arch.pad_multiple} and sides >= {arch.min_side}")
    model = load_model(arch.name, random_init=True, quality=q, model_class=p.get("model_class", ""))
    d = analyse(spec.name, model, width, height).to_dict()
    d["quality"] = q
    if timed:
        d.update(time_codec(model.to(device), width, height, device, repeats, warmup))
    return d


@app.command()
def complexity(
    codecs: str = typer.Option("tcm-small,tcm-medium,tcm-large,tic,tic-plus", "--codecs", "-c"),
    size: str = typer.Option("768x512", "--size", help="WIDTHxHEIGHT (multiples of the model's padding)"),
    device: str = typer.Option("cpu", "--device", help="cpu|cuda"),
    repeats: int = typer.Option(10, "--repeats", min=1),
    warmup: int = typer.Option(2, "--warmup", min=0),
    no_timing: bool = typer.Option(False, "--no-timing", help="parameters and MACs only"),
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads (1 = CompressAI's evaluation setting)"),
    fmt: str = FormatOpt,
):
    """Parameters, MACs (complete and paper convention), encode/decode time and peak memory (random weights)."""
    import torch

    from .specs import resolve_spec, split_codec_list

    torch.set_num_threads(threads)
    _check_format(fmt, ("table", "json"))
    w, h = _parse_size(size)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            _fail("--device cuda: no CUDA device is available to this torch build")
    out = []
    for name in split_codec_list(codecs):
        spec = resolve_spec(name)
        if spec.adapter != "learned":
            _fail(f"{name}: complexity is defined for learned codecs (adapter 'learned'), not {spec.adapter!r}")
        out.append(complexity_of(spec, w, h, device, repeats, warmup, not no_timing))
    if fmt == "json":
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    rows = [[f"{d['codec']} q{d['quality']}", f"{d['params'] / 1e6:.2f} M", f"{d['params_paper'] / 1e6:.2f} M", f"{d['macs_enc'] / 1e9:.1f}",
             f"{d['macs_dec'] / 1e9:.1f}", f"{d['macs_paper'] / 1e9:.2f}", f"{d['kmacs_per_pixel_enc']:.0f}", f"{d['kmacs_per_pixel_dec']:.0f}",
             "—" if "enc_ms" not in d else f"{d['enc_ms']:.0f} ±{d['enc_ms_iqr']:.0f}", "—" if "dec_ms" not in d else f"{d['dec_ms']:.0f} ±{d['dec_ms_iqr']:.0f}",
             "—" if "peak_mem_bytes" not in d else f"{d['peak_mem_bytes'] / 2**20:.0f} MiB"] for d in out]
    cap = (f"size {w}x{h}; random weights. GMAC enc/dec: complete count incl. attention (FlopCounterMode, 1 MAC = 2 FLOPs); "
           "paper GMAC: conv/linear only over the whole forward pass (thop, as TCM's Table 1); params paper: thop's leaf-module count. "
           + (out[0].get("timing_protocol", "") if out else "") + (f"; device {out[0]['machine']}" if out and "machine" in out[0] else ""))
    _print_table("complexity", ["codec", "params", "params (paper)", "GMAC enc", "GMAC dec", "GMAC (paper)", "kMAC/px enc",
                                "kMAC/px dec", "enc ms (IQR)", "dec ms (IQR)", "peak mem"], rows, caption=cap)


# ------------------------------------------------------------------ report

@app.command()
def report(
    dataset: str = typer.Option(..., "--dataset", "-d"),
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="measured codecs (default: all with results)"),
    anchor: str = typer.Option("vtm-12.1", "--anchor", help="anchor curve ('' for none)"),
    references: Optional[str] = typer.Option(None, "--references", help="reported/imported curves to draw (default: all for the dataset; '' for none)"),
    method: str = typer.Option("pchip", "--method"),
    image: Optional[str] = typer.Option(None, "--image", help="image for the visual comparison (default: first)"),
    target_bpp: Optional[float] = typer.Option(None, "--target-bpp", help="bpp to match in the visual comparison"),
    crop: Optional[str] = typer.Option(None, "--crop", help="top-left X,Y of the 192x192 crop (default: centre)"),
    output: Path = typer.Option(Path("reports") / "report.html", "-o", "--output"),
    store: Optional[Path] = StoreOpt,
):
    """Write one self-contained HTML report (plots inline, no network)."""
    from .report import ReportOptions, build, render
    from .specs import split_codec_list
    from .store import Store

    xy = None
    if crop:
        try:
            xy = tuple(int(v) for v in crop.split(","))
            assert len(xy) == 2
        except (ValueError, AssertionError):
            _fail(f"--crop {crop!r}: write X,Y")
    refs = None if references is None else [r for r in references.split(",") if r.strip()]
    opts = ReportOptions(dataset, split_codec_list(codecs) if codecs else None, anchor or None, refs, method,
                         image, target_bpp, xy)
    with Store(store, readonly=True) as st:
        html = render(build(st, opts))
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(output)
    typer.echo(f"wrote {output} ({len(html) // 1024} KiB)")


# ------------------------------------------------------------------ baselines and gate

baseline_app = typer.Typer(no_args_is_help=True, help="Create regression baselines (committed JSON files).")
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("save")
def baseline_save(
    dataset: str = typer.Option(..., "--dataset", "-d"),
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="codecs to save (default: all with results)"),
    out: Path = typer.Option(Path("results") / "baselines", "-o", "--output", help="folder; files go to <folder>/<dataset>/<codec>.json"),
    store: Optional[Path] = StoreOpt,
):
    """Save per-image records and provenance of codecs as baseline files for `lic-bench gate`."""
    from .gate import baseline_doc, baseline_filename
    from .results import codec_results
    from .specs import split_codec_list
    from .store import Store

    with Store(store, readonly=True) as st:
        crs = codec_results(st, dataset, split_codec_list(codecs) if codecs else None)
    folder = out / dataset
    folder.mkdir(parents=True, exist_ok=True)
    for cr in crs:
        if cr.random_init:
            _fail(f"{cr.name}: random-init results cannot be a baseline")
        path = folder / baseline_filename(cr.name)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(baseline_doc(cr), indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
        typer.echo(f"saved {path} ({len(cr.records)} records, spec {cr.digest})")


def _latest_record_time(cr) -> float:
    return max((r.get("created") or 0) for r in cr.records)


@app.command()
def gate(
    baseline: Path = typer.Option(..., "--baseline", help="baseline file or folder (searched recursively)"),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="default: the baseline's dataset"),
    codecs: Optional[str] = typer.Option(None, "--codecs", "-c", help="current specs to judge (default: latest run per codec)"),
    max_bd_rate: Optional[float] = typer.Option(None, "--max-bd-rate", help="fail above this BD-rate %% (default 0.5)"),
    max_psnr_drop: Optional[float] = typer.Option(None, "--max-psnr-drop", help="fail when BD-PSNR drops more (dB, default 0.02)"),
    max_time_ratio: Optional[float] = typer.Option(None, "--max-time-ratio", help="slowdown ratio flagged (default 1.2)"),
    timing: str = typer.Option("advisory", "--timing", help="advisory|enforce"),
    match: list[str] = typer.Option([], "--match", help="pair differently named specs: OLD=NEW (repeatable)"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML thresholds: default: {...}, codecs: {glob or re:regex: {...}}"),
    strict: bool = typer.Option(False, "--strict", help="not-comparable fails too"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|json"),
    md: Optional[Path] = typer.Option(None, "--markdown", help="also write a Markdown summary (CI job summary / PR comment)"),
    store: Optional[Path] = StoreOpt,
):
    """Fail (exit 1) when current results are worse than the baseline; 0 pass/improved; 2 usage/data error."""
    from .gate import Verdict, exit_code, judge, load_baselines, load_thresholds, markdown, thresholds_for
    from .results import codec_results
    from .specs import split_codec_list
    from .store import Store

    _check_format(fmt, ("table", "json"))
    if timing not in ("advisory", "enforce"):
        _fail(f"--timing {timing!r}: choose advisory or enforce")
    pairs = {}
    for m in match:
        old, sep, new = m.partition("=")
        if not sep or not old or not new:
            _fail(f"--match {m!r}: write OLD=NEW")
        pairs[old] = new
    defaults, rules = load_thresholds(config)
    for k, val in (("max_bd_rate", max_bd_rate), ("max_psnr_drop", max_psnr_drop), ("max_time_ratio", max_time_ratio)):
        if val is not None:
            defaults[k] = val
    docs = load_baselines(baseline)
    ds = dataset or docs[0]["dataset"]["name"]
    docs = [d for d in docs if d["dataset"]["name"] == ds]
    if not docs:
        _fail(f"--baseline {baseline}: no baseline for dataset {ds!r}")
    with Store(store, readonly=True) as st:
        current = codec_results(st, ds, split_codec_list(codecs) if codecs else None)
    verdicts = []
    for doc in docs:
        bname = doc["codec"]
        base = bname.split(":", 1)[0]
        if bname in pairs:
            cands = [c for c in current if c.name == pairs[bname]]
        else:
            cands = [c for c in current if c.name.split(":", 1)[0] == base]
        if not cands:
            verdicts.append(Verdict(pairs.get(bname, bname), bname, "missing", [f"no current results for {pairs.get(bname, base)!r} on {ds}"]))
            continue
        cr = max(cands, key=_latest_record_time)
        verdicts.append(judge(doc, cr, thresholds_for(cr.name, defaults, rules), timing))
    code = exit_code(verdicts, strict)
    if md:
        md.write_text(markdown(verdicts, ds), encoding="utf-8")
    if fmt == "json":
        typer.echo(json.dumps({"dataset": ds, "exit_code": code, "verdicts": [v.to_dict() for v in verdicts]}, indent=2, default=str))
    else:
        rows = [[v.codec, v.outcome, "—" if v.bd_rate is None else f"{v.bd_rate:+.3f} %",
                 "—" if v.bd_psnr is None else f"{v.bd_psnr:+.4f} dB", "; ".join(v.reasons) or "—"] for v in verdicts]
        _print_table(f"gate vs baseline on {ds}", ["codec", "outcome", "BD-rate", "BD-PSNR", "why"], rows,
                     caption="BD-rate: pchip, PSNR-RGB, mean of per-image values, current vs baseline")
        for v in verdicts:
            if v.changes:
                typer.echo(f"{v.codec}: changed: " + "; ".join(v.changes))
            for n in v.notes:
                typer.echo(f"{v.codec}: {n}")
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except LicBenchError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
