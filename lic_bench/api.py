"""The library behind every command: each CLI command parses, calls one function here, and formats.
The same functions are the Python API (re-exported by ``lic_bench``).

Names are resolved by :mod:`lic_bench.names` everywhere: a dataset by registered name, folder path
or content hash; a curve by spec (with or without inline options), ``NAME@DIGEST``, ``NAME@paper``,
``NAME@shipped``, an imported or shipped curve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LicBenchError, OptionError
from .store import Store, default_path

#: Run options filled into adapters that declare them (Param(runtime=...)): the CLI flags of `run`.
RUNTIME_OPTIONS = ("device", "vtm_dir", "weights_dir", "checkpoint", "decode_device")


def open_store_if_any(store=None) -> Store | None:
    """The store read-only when it exists (shipped and reported curves need none)."""
    path = Path(store) if store else default_path()
    return Store(path, readonly=True) if path.is_file() else None


def named_curve(st, ds, name: str, store=None, allow_tiled: bool = False):
    """What `name` means on `ds` for records() and curves(): measured results (names.CodecResults, as
    `results` reads them) when the store has them, else a shipped, published or imported curve."""
    import re

    from .names import measured, resolve_curve

    measured_error = None
    if st is not None and not isinstance(ds, str):
        try:
            return measured(st, name, ds)
        except LicBenchError as e:
            if "ambiguous" in str(e):
                raise
            measured_error = e
    try:
        return resolve_curve(st, name, ds, allow_tiled)
    except LicBenchError as e:
        if measured_error is not None and "@" in name and re.fullmatch(r"[0-9a-f]{4,64}", name.rpartition("@")[2]):
            raise measured_error from None  # NAME@DIGEST: the digest is the problem
        if st is None:
            raise LicBenchError(f"{e}; there is no results store at {Path(store) if store else default_path()} "
                                "(run `lic-bench run` first)") from None
        raise


def named_curves(dataset: str, codecs, store=None, data_dir=None, allow_tiled: bool = False) -> list:
    """named_curve of each of `codecs` on `dataset`, read with the store open only meanwhile."""
    from .names import dataset_or_name

    st = open_store_if_any(store)
    try:
        ds = dataset_or_name(st, dataset, data_dir)
        return [named_curve(st, ds, name, store, allow_tiled) for name in _split(codecs)]
    finally:
        if st is not None:
            st.close()


def _split(codecs) -> list[str] | None:
    from .specs import split_codec_list

    if codecs is None:
        return None
    return split_codec_list(codecs) if isinstance(codecs, str) else list(codecs)


# ---------------------------------------------------------------- run

@dataclass
class RunResult:
    summary: object  # runner.RunSummary
    dataset: object  # names.DatasetRef
    results: list = field(default_factory=list)  # names.CodecResults of the specs just run


def runtime_options_for(spec, runtime: dict) -> dict:
    """The runtime options an adapter declares, filled from the run's options (no adapter-specific code)."""
    from .registry import adapter_class

    declared = adapter_class(spec.adapter).runtime_options()
    return {param: str(runtime[opt]) for opt, param in declared.items() if runtime.get(opt)}


def run(codecs, dataset: str = "sample", *, qualities=None, data_dir=None, jobs: int = 1, store=None,
        runtime: dict | None = None, model_class: str | None = None, keep_bitstreams: bool = True,
        progress: bool = False, executor: str = "local", scheduler: str | None = None, retries: int = 2,
        job_timeout: float | None = None, profile: bool = False, on_profile=None, metrics=None,
        target: str | None = None, device: str | None = None, decode_device: str | None = None, checkpoint=None,
        weights_dir=None, vtm_dir=None, metric_weights_dir=None, butteraugli=None) -> RunResult:
    """Evaluate codecs on a dataset; finished results are cached, failures recorded.

    device, decode_device, checkpoint, weights_dir, vtm_dir, metric_weights_dir, butteraugli: as the
    command's options of those names (none of them changes a result's identity); `runtime` is the same
    as a dict.

    target: "bpp" or "psnr": the qualities are per-image targets, each met by searching the codec's
    quality knob (the search is recorded and cached like any job; see lic_bench.ratematch).
    metrics: pixel metrics of the table to compute too (e.g. "ssimulacra2,flip"); PSNR and MS-SSIM are
    always measured. Records already in the store gain the missing ones from their stored bitstreams."""
    from .datasets import locate
    from .names import DatasetRef, results_of
    from .runner import execute, prepare
    from .specs import custom_model_spec, resolve_spec

    from .measure import check_available, parse_metrics

    given = {"device": device, "decode_device": decode_device, "checkpoint": checkpoint, "weights_dir": weights_dir,
             "vtm_dir": vtm_dir, "metric_weights_dir": metric_weights_dir, "butteraugli": butteraugli}
    runtime = {"device": "cpu", **(runtime or {}), **{k: v for k, v in given.items() if v is not None}}
    check_device(runtime.get("decode_device"), "--decode-device")  # (--device: by metric_options_from)
    pixel_metrics = parse_metrics(metrics)
    metric_options = metric_options_from(runtime)
    check_available(pixel_metrics, **metric_options)  # one line before any job
    specs = [resolve_spec(c) for c in (_split(codecs) or [])]
    if model_class:
        specs.append(custom_model_spec(model_class))
    if target:
        from .specs import with_target

        specs = [with_target(s, target) for s in specs]
        if not qualities:
            raise OptionError(f"-q {target}=…: give the targets, e.g. -q {target}=0.12,0.25,0.5")
    if not specs:
        raise LicBenchError("--codecs: give at least one codec (or --model-class)")
    ds = locate(dataset, data_dir)
    options = {s.name: runtime_options_for(s, runtime) for s in specs}
    prepared = [prepare(s, **options[s.name]) for s in specs]
    with Store(store) as st:
        summary = execute(prepared, ds, st, operating_points=qualities, jobs=jobs, adapter_options=options,
                          executor=executor, scheduler=scheduler, retries=retries, job_timeout=job_timeout,
                          keep_bitstreams=keep_bitstreams, progress=progress, pixel_metrics=pixel_metrics,
                          metric_options=metric_options)
        if profile:
            profile_run(st, prepared, ds, runtime["device"], on_profile)
        members = st.dataset_members(summary.content_sha256)
        ref = DatasetRef(ds.name, summary.content_sha256, str(ds.folder), {m["pixel_sha256"]: m["image"] for m in members},
                         {m["image"]: (m["width"], m["height"]) for m in members})
        results = [r for r in (results_of(st, pc.spec.name, [pc.digest], ref) for pc in prepared) if r is not None]
        if pixel_metrics and summary.cached:  # cached records gain the metrics from their stored bitstreams
            by_name = {pc.spec.name: pc for pc in prepared}
            for cr in results:
                _add_metrics(st, cr, by_name[cr.name].codec, pixel_metrics, metric_options, ref)
            results = [r for r in (results_of(st, pc.spec.name, [pc.digest], ref) for pc in prepared) if r is not None]
    return RunResult(summary, ref, results)


def check_device(device: str | None, option: str = "--device") -> None:
    """One line before any work when a CUDA device is asked for and torch has none."""
    if device and str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise OptionError(f"{option} {device}: torch {torch.__version__} sees no CUDA device (a CPU build, or no GPU "
                              "or driver); run where one is, or drop --device")


def metric_options_from(runtime: dict) -> dict:
    """Options of pixel metrics from run options (the device, checked; a weights folder; a Butteraugli binary)."""
    check_device(runtime.get("device"))
    return {k: (str(v) if v is not None else None) for k, v in (("device", runtime.get("device")),
                                                                   ("weights_dir", runtime.get("metric_weights_dir")),
                                                                   ("binary", runtime.get("butteraugli")))
            if v}


@dataclass
class MetricsAdded:
    added: int = 0
    already: int = 0
    problems: list = field(default_factory=list)  # (codec, op, image, why)


def _add_metrics(st, cr, codec, names: list[str], options: dict, ds, out: MetricsAdded | None = None) -> MetricsAdded:
    """Decode each stored bitstream of `cr` again (harness colour and crop rules) and record the
    missing pixel metrics; the decoded pixels must hash as when they were measured."""
    from .evaluate import reconstruct
    from .imageio import load_rgb, pixel_sha256
    from .measure import compute

    out = out or MetricsAdded()
    folder = Path(ds.folder or "")
    originals: dict[str, object] = {}
    for r in cr.records:
        todo = [n for n in names if n not in r.metrics]
        if not r.ok or not todo:
            out.already += r.ok
            continue
        data = st.bitstream(r.bitstream_sha256) if r.bitstream_sha256 else None
        if data is None:
            out.problems.append((cr.name, r.op, r.image, "bitstream not stored (run without --no-bitstreams)"))
            continue
        if r.image not in originals:
            try:
                img = load_rgb(folder / r.image)
            except LicBenchError as e:
                originals[r.image] = e
            else:
                originals[r.image] = img.pixels if img.sha256 == r.pixel_sha256 else LicBenchError(
                    f"{folder / r.image} is not the image that was coded (its pixels changed)")
        original = originals[r.image]
        if isinstance(original, LicBenchError):
            out.problems.append((cr.name, r.op, r.image, str(original)))
            continue
        rgb = reconstruct(codec, data, r.height, r.width, cr.identity.get("color"))
        if r.decoded_sha256 and pixel_sha256(rgb) != r.decoded_sha256:
            out.problems.append((cr.name, r.op, r.image, "decoding the stored bitstream gives other pixels than when measured"))
            continue
        values, ids = compute(todo, original, rgb, **options)
        st.put_metric_values(r.spec_digest, r.with_(metrics=values, metric_ids=ids))
        out.added += 1
    return out


def metrics_add(metrics, dataset: str, codecs=None, store=None, data_dir=None, runtime: dict | None = None,
                images=None) -> MetricsAdded:
    """Add pixel metrics to finished results without re-encoding: every stored bitstream is decoded
    again through the harness's own path and scored. A shipped anchor named in `codecs` (vtm-12.1) is
    scored from its shipped bitstreams, decoded by the user's VTM (runtime vtm_dir); `images` limits
    an anchor to some images (a spot check)."""
    from .measure import check_available, parse_metrics
    from .names import measured, measured_on, resolve_dataset
    from .runner import prepare
    from .specs import CodecSpec

    runtime = {"device": "cpu", **(runtime or {})}
    names = parse_metrics(metrics)
    if not names:
        raise OptionError("metrics add: name at least one pixel metric (e.g. ssimulacra2); PSNR and MS-SSIM are always stored")
    options = metric_options_from(runtime)
    check_available(names, **options)
    out = MetricsAdded()
    from .references import shipped_anchors

    names_given = _split(codecs) or []
    anchors = [n for n in names_given if (n.removesuffix("@shipped"), dataset) in shipped_anchors()]
    with Store(store) as st:
        for name in anchors:  # a shipped anchor: from its shipped bitstreams, decoded by the user's VTM
            _add_anchor_metrics(st, name.removesuffix("@shipped"), dataset, names, options, runtime, data_dir, out, images)
        measured_names = [n for n in names_given if n not in anchors]
        if codecs and not measured_names:
            return out
        ds = resolve_dataset(st, dataset, data_dir)
        crs = [measured(st, c, ds) for c in measured_names] if measured_names else measured_on(st, ds)
        for cr in crs:
            spec = CodecSpec.from_dict(cr.spec)
            codec = prepare(spec, **runtime_options_for(spec, runtime)).codec
            _add_metrics(st, cr, codec, names, options, ds, out)
    return out


def anchor_metric_key(name: str) -> str:
    """Where pixel-metric values of a shipped anchor live in the store (its records have no spec digest)."""
    return f"anchor:{name}"


def _add_anchor_metrics(st, name, dataset, names, options, runtime, data_dir, out: MetricsAdded, images=None) -> None:
    from . import METRIC_VERSION
    from .anchors import decoded_records
    from .datasets import locate
    from .measure import compute
    from .record import Record

    have = st.metric_rows(METRIC_VERSION, anchor_metric_key(name))
    folder = locate(dataset, data_dir).folder
    for raw, original, rgb, problem in decoded_records(name, dataset, runtime.get("vtm_dir"), folder, images=images):
        key = (raw["op"], f"image:{raw['image']}")
        todo = [n for n in names if n not in {m for m, _, _ in have.get(key, [])}]
        if not todo:
            out.already += 1
            continue
        if problem:
            out.problems.append((name, raw["op"], raw["image"], problem))
            continue
        values, ids = compute(todo, original, rgb, **options)
        st.put_metric_values(anchor_metric_key(name), Record(op=raw["op"], pixel_sha256=key[1], metrics=values, metric_ids=ids))
        out.added += 1


def score(metrics, reference, distorted, **options) -> dict[str, float]:
    """Score one image pair with metrics of the table (paths or uint8 RGB arrays): PSNR-RGB/Y/YCbCr,
    MS-SSIM and every pixel metric — the same code a run uses."""
    from . import metrics as M
    from .measure import BUILTIN_ALIASES, check_available, compute
    from .perceptual import as_rgb
    from .record import METRICS, QUALITY_METRICS, Record

    names = [n.strip() for n in (metrics.split(",") if isinstance(metrics, str) else metrics) if n.strip()]
    names = [BUILTIN_ALIASES.get(n, n) for n in names]
    for n in names:
        if n not in QUALITY_METRICS:
            from .errors import did_you_mean
            raise OptionError(f"--metric {n!r}{did_you_mean(n, QUALITY_METRICS)}: choose from {', '.join(QUALITY_METRICS)}")
    ref, dist = as_rgb(reference, "reference"), as_rgb(distorted, "distorted")
    if ref.shape != dist.shape:
        raise LicBenchError(f"score: reference is {ref.shape[1]}x{ref.shape[0]} but distorted is {dist.shape[1]}x{dist.shape[0]}")
    pixel = [n for n in names if METRICS[n].computed_by]
    check_available(pixel, **options)
    values, _ = compute(pixel, ref, dist, **options)
    if len(pixel) < len(names):
        sse, ycc = M.sse_per_channel(ref, dist), M.sse_ycbcr(ref, dist)
        ms = M.ms_ssim(ref, dist)
        rec = Record(op=0.0, pixel_sha256="", status="ok", bytes=0, height=ref.shape[0], width=ref.shape[1],
                     sse_r=sse[0], sse_g=sse[1], sse_b=sse[2], sse_y=ycc[0], sse_cb=ycc[1], sse_cr=ycc[2], ms_ssim=ms.value)
        values.update({n: METRICS[n].per_image(rec) for n in names if n not in values})
    return {n: values[n] for n in names}


def profile_run(st, prepared, ds, device: str, on_profile=None) -> None:
    """Complexity of each learned codec at the dataset's first image size (padded), stored for reports."""
    from .complexity import complexity_of
    from .imageio import load_rgb

    first = load_rgb(ds.images[0].path).pixels.shape
    for pc in prepared:
        if pc.spec.adapter != "learned":
            continue
        m = pc.codec.pad_multiple
        w, h = max(-(-first[1] // m) * m, pc.codec.min_padded_side), max(-(-first[0] // m) * m, pc.codec.min_padded_side)
        d = complexity_of(pc.spec, w, h, device, repeats=3, warmup=1, timed=True)
        st.put_complexity(pc.digest, f"{w}x{h}", device, d)
        if on_profile:
            on_profile(pc.spec.name, w, h, device)


# ---------------------------------------------------------------- results

def results(dataset: str, codecs=None, store=None, data_dir=None) -> list:
    """Measured results (names.CodecResults) of `codecs` (all when None) on `dataset`."""
    from .results import codec_results

    with Store(store, readonly=True) as st:
        return codec_results(st, dataset, _split(codecs), data_dir)


def prune(dataset: str, codecs, *, qualities=None, status: str | None = None, store=None, data_dir=None,
          dry_run: bool = False) -> list:
    """Delete chosen records: those of `codecs` (required; names resolved as `results` does) on `dataset`,
    only at `qualities` and/or with `status` when given. One transaction; returns the records chosen
    (each with .image), deleted unless `dry_run`. A later `run` recomputes what was deleted."""
    from .record import KEY_FIELDS
    from .results import codec_results

    names = _split(codecs)
    if not names:
        raise OptionError("--codecs: name the results to delete (nothing is deleted without a codec)")
    if status is not None and status not in ("ok", "failed", "excluded"):
        raise OptionError(f"--status {status!r}: choose ok, failed or excluded")
    wanted = None if qualities is None else {float(q) for q in qualities}
    with Store(store) as st:
        crs = codec_results(st, dataset, names, data_dir)
        chosen = [r for cr in crs for r in cr.records
                  if (wanted is None or r.op in wanted) and (status is None or r.status == status)]
        # records are keyed by image pixels: other datasets holding the same images lose them too — say so
        here = crs[0].content_sha256 if crs else None
        shared = [f"{d['name']} (content {d['content_sha256'][:12]})" for d in st.datasets_with_images({r.pixel_sha256 for r in chosen})
                  if d["content_sha256"] != here]
        for r in chosen:
            r.extra = {**r.extra, "also_in_datasets": shared}
        if not dry_run:
            st.delete_records([tuple(r[k] for k in KEY_FIELDS) for r in chosen])
    return chosen


def records(dataset: str, codecs=None, store=None, data_dir=None):
    """Per-image records (one row per codec, operating point and image) with every metric, as a DataFrame:
    of every measured curve, or of the named ones — measured, or a shipped anchor (``vtm-12.1``)."""
    from types import SimpleNamespace

    from .results import records_frame

    if codecs is None:
        return records_frame(results(dataset, codecs, store, data_dir))
    found = []
    for got in named_curves(dataset, codecs, store, data_dir):
        if getattr(got, "kind", "measured") != "measured":  # a references.Curve
            if got.records is None:
                raise LicBenchError(f"{got.label} is published as means only, no per-image records; "
                                    "lic_bench.curves(dataset, codecs=[...]) shows its points")
            got = SimpleNamespace(name=got.name, digest=None, dataset=got.dataset, records=got.records,
                                  content_sha256=got.provenance.get("dataset_content_sha256"))
        found.append(got)
    return records_frame(found)


def curves(dataset: str, codecs=None, store=None, aggregation: str = "mean", data_dir=None, allow_tiled: bool = False):
    """One row per curve and operating point as a DataFrame, aggregated as named (column 'aggregation').

    Without `codecs`: every measured curve of the dataset. With them: any name bdrate, compare and report
    take — measured results, shipped anchors (``vtm-12.1``), published curves (``mlic++@paper``),
    imported ones — each row saying its kind and where it comes from."""
    from .aggregate import AGGREGATIONS
    from .names import CodecResults
    from .results import curve_rows, curves_frame, curves_rows

    if aggregation not in AGGREGATIONS:
        raise OptionError(f"aggregation {aggregation!r}: choose {' or '.join(AGGREGATIONS)}")
    if codecs is None:
        return curves_frame(results(dataset, codecs, store, data_dir), aggregation)
    import pandas as pd

    return pd.DataFrame([row for got in named_curves(dataset, codecs, store, data_dir, allow_tiled)
                         for row in (curves_rows([got], aggregation) if isinstance(got, CodecResults)
                                     else curve_rows(got, aggregation))])


def import_curve(path, dataset: str, name: str | None = None, store=None, replace: bool = False) -> tuple[str, int]:
    """Import a CompressAI results JSON as a named curve of `dataset` (labelled as imported); an existing
    curve of that name is replaced only when asked."""
    from .results import read_compressai

    doc = read_compressai(path)
    cname = name or doc["name"]
    with Store(store) as st:
        old = st.curve(cname, dataset)
        if old is not None and not replace and json.loads(old["points"]) != doc["points"]:
            raise LicBenchError(f"a curve {cname!r} of {dataset} is already imported (from {json.loads(old['provenance']).get('source')}); "
                                "pass --replace to replace it, or --name to import under another name")
        st.put_curve(cname, dataset, "imported", {"source": str(path), "description": doc["description"],
                                                  "format": "compressai-results-json"}, doc["points"])
    return cname, len(doc["points"]["bpp"])


# ---------------------------------------------------------------- BD-rate

@dataclass
class BDTable:
    anchor: object  # references.Curve
    dataset: str
    method: str
    aggregation: str
    rows: list[dict]
    options: object = None  # bdci.CIOptions: interval and restriction asked for

    def frame(self):
        """The rows as a pandas DataFrame (one per test curve and metric, every column of `bdrate -f json`)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def __repr__(self) -> str:
        shown = ", ".join(f"{r['codec']} {r['metric']} {r['bd_rate']:+.2f}%" if r.get("bd_rate") is not None
                          else f"{r['codec']} {r['metric']} ({r.get('status')})" for r in self.rows)
        return (f"BDTable(anchor={self.anchor.name!r}, dataset={self.dataset!r}, method={self.method!r}, "
                f"aggregation={self.aggregation!r}, rows=[{shown}]; .frame() for every column)")


def check_metrics(metrics) -> list[str]:
    from .errors import did_you_mean
    from .record import QUALITY_METRICS

    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    for m in names:
        if m not in QUALITY_METRICS:
            raise OptionError(f"--metric {m!r}{did_you_mean(m, QUALITY_METRICS)}: choose from {', '.join(QUALITY_METRICS)}")
    return names


def _default_test_curves(st, ds, anchor_name: str) -> list[str]:
    from .names import DatasetRef, measured_on

    names = []
    if st is not None:
        if isinstance(ds, DatasetRef):
            names = [c.name for c in measured_on(st, ds) if not c.random_init]
        names += [r["name"] for r in st.curves_for(ds.name if isinstance(ds, DatasetRef) else ds)]
    return [n for n in dict.fromkeys(names) if n != anchor_name]


def bdrate(dataset: str, codecs=None, anchor: str = "vtm-12.1", metrics="psnr-rgb", method: str = "pchip",
           aggregation: str = "mean", per_image: bool = False, allow_tiled: bool = False, store=None,
           data_dir=None, *, ci=None, resamples: int = 2000, ci_method: str = "percentile", seed: int = 0,
           rate_range=None, anchor_points=None, metric=None) -> BDTable:
    """BD-rate and BD-quality of curves against an anchor, one self-describing row per curve and metric.

    metrics (or metric, as `compare` and the CLI's --metric call it): one name or several.

    ci=95: add a paired-bootstrap interval and the per-image picture to each row (see lic_bench.bdci);
    rate_range=(lo, hi) / anchor_points=[22, 27, 32]: restrict what is integrated (stated in each row)."""
    from .bd import METHODS
    from .bdci import bd_row, ci_options
    from .names import dataset_or_name, resolve_curve

    if method not in METHODS:
        raise OptionError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    metric_names = check_metrics(metric if metric is not None else metrics)
    opts = ci_options(ci, resamples, ci_method, seed, rate_range, anchor_points)
    agg = "per-image" if per_image else aggregation
    if agg not in ("mean", "pooled", "per-image"):
        raise OptionError(f"--aggregation {aggregation!r}: choose mean or pooled")
    st = open_store_if_any(store)
    try:
        ds = dataset_or_name(st, dataset, data_dir)
        anchor_curve = resolve_curve(st, anchor, ds, allow_tiled)
        names = _split(codecs) or _default_test_curves(st, ds, anchor_curve.name)
        if not names:
            raise LicBenchError(f"no test curves for {dataset!r}: run some codecs or pass --codecs (e.g. tcm-large@paper)")
        tests = [resolve_curve(st, n, ds, allow_tiled) for n in names]
        rows = [bd_row(anchor_curve, t, m, method, agg, opts) for t in tests for m in metric_names]
    finally:
        if st is not None:
            st.close()
    return BDTable(anchor_curve, getattr(ds, "name", ds), method, agg, rows, opts)


def compare(codec: str, reference: str, dataset: str, metric: str = "psnr-rgb", method: str = "pchip",
            store=None, data_dir=None, *, ci=None, resamples: int = 2000, ci_method: str = "percentile", seed: int = 0,
            rate_range=None, anchor_points=None) -> dict:
    """One curve against another (e.g. your run against the paper's): BD-rate and Δquality at equal rate
    (with ci=95, rate_range, anchor_points as for bdrate)."""
    from .bdci import bd_row, ci_options
    from .names import dataset_or_name, resolve_curve

    (metric,) = check_metrics(metric)
    opts = ci_options(ci, resamples, ci_method, seed, rate_range, anchor_points)
    st = open_store_if_any(store)
    try:
        ds = dataset_or_name(st, dataset, data_dir)
        ref, mine = resolve_curve(st, reference, ds), resolve_curve(st, codec, ds)
    finally:
        if st is not None:
            st.close()
    from .bdcompare import matched_deltas
    from .bdtext import anchor_caption

    row = bd_row(ref, mine, metric, method, "mean", opts)
    row.update(test_label=mine.label, reference_label=ref.label, matched=matched_deltas(ref, mine, metric),
               options=opts.describe(), reference_version=anchor_caption(ref))
    return row


# ---------------------------------------------------------------- report, baselines, gate

def report(dataset: str, codecs=None, anchor: str | None = "vtm-12.1", references=None, method: str = "pchip",
           image: str | None = None, target_bpp: float | None = None, crop=None, output="reports/report.html",
           store=None, data_dir=None, *, ci=95, resamples: int = 2000, ci_method: str = "percentile", seed: int = 0,
           wide_axes: bool = False, export=None, metrics=None, published_top: int = 0) -> tuple[Path, int]:
    """Write one self-contained HTML report; returns (path, size in bytes). `codecs` may name any curve
    (measured, NAME@paper, imported, shipped); `references` adds curves to draw. anchor "a,b": BD-rates
    against both, side by side (the first is drawn). ci: level of the BD intervals (None/0: none).
    export=DIR: also SVG/PDF figures and LaTeX/Markdown BD tables there. metrics: pixel metrics with a
    panel (default: those the measured records have). published_top=N: also the N best published curves
    of the dataset's leaderboard (against the anchor, PSNR-RGB), with their citations."""
    from .bdci import ci_options
    from .formats import write_text_atomic
    from .reporting import ReportOptions, build, render

    opts = ReportOptions(dataset, _split(codecs), anchor or None, _split(references) if references is not None else None,
                         method, image, target_bpp, crop, data_dir=data_dir,
                         ci=ci_options(ci, resamples, ci_method, seed), wide_axes=wide_axes,
                         export_dir=str(export) if export else None,
                         metrics=[m for m in (_split(metrics) or []) if check_metrics(m)] or None)
    if published_top:
        board = leaderboard(dataset, (anchor or "vtm-12.1").split(",")[0], "psnr-rgb", method, store=store, data_dir=data_dir)
        best = [r["codec"] for r in board.rows if r["test_kind"] == "published" and r["bd_rate"] is not None][:published_top]
        opts.references = (opts.references or []) + best
    with Store(store, readonly=True) as st:
        html = render(build(st, opts))
    path = write_text_atomic(Path(output), html)
    return path, len(html.encode("utf-8"))


def baseline_save(dataset: str, codecs=None, out="results/baselines", store=None, data_dir=None) -> list[tuple[Path, object]]:
    """Save per-image records and provenance of measured codecs as baseline files for `gate`."""
    from .formats import write_text_atomic
    from .gating import baseline_doc, baseline_filename

    crs = results(dataset, codecs, store, data_dir)
    for cr in crs:
        if cr.random_init:
            raise LicBenchError(f"{cr.name}: random-init results cannot be a baseline")
    folder = Path(out) / (crs[0].dataset if crs else Path(dataset).name)
    saved = []
    for cr in crs:
        path = write_text_atomic(folder / baseline_filename(cr.name), json.dumps(baseline_doc(cr), indent=1, sort_keys=True) + "\n")
        saved.append((path, cr))
    return saved


@dataclass
class GateResult:
    dataset: str
    verdicts: list
    exit_code: int


def gate(baseline, dataset: str | None = None, codecs=None, thresholds: dict | None = None, timing: str = "advisory",
         match: dict[str, str] | None = None, config=None, strict: bool = False, store=None, data_dir=None) -> GateResult:
    """Judge current results against baselines: pass / improved / fail / not-comparable / missing."""
    from .gating import Verdict, exit_code, judge, load_baselines, load_thresholds, pair, thresholds_for
    from .names import measured, measured_on, resolve_dataset

    if timing not in ("advisory", "enforce"):
        raise OptionError(f"--timing {timing!r}: choose advisory or enforce")
    match = dict(match or {})
    defaults, rules = load_thresholds(Path(config) if config else None)
    defaults.update({k: v for k, v in (thresholds or {}).items() if v is not None})
    docs = load_baselines(Path(baseline))
    wanted = dataset or docs[0]["dataset"]["name"]
    with Store(store, readonly=True) as st:
        ds = resolve_dataset(st, wanted, data_dir)
        docs = [d for d in docs if d["dataset"]["name"] == ds.name or d["dataset"]["content_sha256"] == ds.content_sha256
                or d["dataset"]["name"] == wanted]
        if not docs:
            raise LicBenchError(f"--baseline {baseline}: no baseline for dataset {wanted!r}")
        names = _split(codecs)
        current = [measured(st, n, ds) for n in names] if names else measured_on(st, ds)
        for new in match.values():
            if not any(c.name == new for c in current):
                current.append(measured(st, new, ds))
    if names:  # --codecs chooses what is judged: baselines of other codecs are not asked about
        from .names import codec_key, codec_key_of_name

        keys = {codec_key(c.identity) for c in current}
        docs = [d for d in docs if d["codec"] in match or (codec_key_of_name(d["codec"]) or codec_key(d["identity"])) in keys]
        if not docs:
            raise LicBenchError(f"--baseline {baseline}: no baseline of the codecs named by --codecs ({', '.join(names)})")
    verdicts = []
    for doc in docs:
        cr, why = pair(doc, current, match)
        if cr is None:
            verdicts.append(Verdict(match.get(doc["codec"], doc["codec"]), doc["codec"], "missing", [f"{why} on {ds.name}"]))
            continue
        verdicts.append(judge(doc, cr, thresholds_for(cr.name, defaults, rules), timing))
    return GateResult(ds.name, verdicts, exit_code(verdicts, strict))


# ---------------------------------------------------------------- published curves and the leaderboard

def references_list(dataset: str | None = None, metric: str | None = None, provenance: str | None = None) -> list[dict]:
    """Published curves shipped with lic-bench (name, method, year, points, metrics, provenance, licence)."""
    from .published import list_rows

    return list_rows(dataset, metric, provenance)


def references_show(name: str, dataset: str | None = None) -> dict:
    from .published import show

    return show(name, dataset)


def references_cite(names) -> str:
    """BibTeX of every named published curve, each entry once."""
    from .published import bibtex

    return bibtex(_split(names))


def leaderboard(dataset: str = "kodak", anchor: str = "vtm-12.1", metric: str = "psnr-rgb", method: str = "pchip",
                provenance: str | None = None, store=None, data_dir=None) -> BDTable:
    """BD-rate of every published curve of `dataset` and every measured run against the anchor, best
    first; curves without a number (too little overlap, no such metric) last, with the reason."""
    from .bdcompare import compare as bd_row
    from .names import DatasetRef, dataset_or_name, measured_on, resolve_curve
    from .published import curves_for, to_curve
    from .references import measured_curve

    (metric,) = check_metrics(metric)
    st = open_store_if_any(store)
    try:
        ds = dataset_or_name(st, dataset, data_dir)
        anchor_curve = resolve_curve(st, anchor, ds)
        name = ds.name if isinstance(ds, DatasetRef) else ds
        curves = [to_curve(pc) for pc in curves_for(name, None, provenance)] if name in _published_datasets() else []
        if st is not None and isinstance(ds, DatasetRef) and provenance is None:
            curves += [measured_curve(c) for c in measured_on(st, ds) if not c.random_init]
    finally:
        if st is not None:
            st.close()
    rows = [bd_row(anchor_curve, c, metric, method) for c in curves if c.name != anchor_curve.name]
    for r, c in zip(rows, [c for c in curves if c.name != anchor_curve.name]):
        r["provenance"] = c.provenance.get("provenance", "measured here" if c.kind == "measured" else c.kind)
        r["year"] = _year(c)
        r["licence"] = c.provenance.get("licence")
    rows.sort(key=lambda r: (r["bd_rate"] is None, r["bd_rate"] if r["bd_rate"] is not None else 0.0, r["codec"]))
    return BDTable(anchor_curve, name, method, "mean", rows)


def _published_datasets():
    from .published import datasets

    return datasets()


def _year(curve):
    import re

    m = re.search(r"\((\d{4})\)$", curve.provenance.get("citation") or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- shipped anchors

def anchors_list(anchors_dir=None) -> list[dict]:
    """Every shipped anchor: name, dataset, codec, codec_version, qps, metrics, bitstreams, n_records, images."""
    from .anchors import list_anchors

    return list_anchors(anchors_dir)


def anchors_verify(name: str, dataset: str = "kodak", vtm_dir=None, images_dir=None, jobs: int = 1,
                   images=None, qps=None, anchors_dir=None):
    """Decode a shipped anchor's bitstreams with the user's VTM and recompute every record -> anchors.VerifyReport
    (.passed, .rows() naming each differing record and field, .summary(), .to_dict())."""
    from .anchors import verify_anchor

    if jobs < 1:
        raise OptionError(f"--jobs {jobs}: give a positive number of parallel decodes")
    return verify_anchor(name, dataset, vtm_dir=vtm_dir, images_dir=images_dir, jobs=jobs, images=images, qps=qps,
                         anchors_dir=anchors_dir)
