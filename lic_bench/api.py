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
        job_timeout: float | None = None, profile: bool = False, on_profile=None) -> RunResult:
    """Evaluate codecs on a dataset; finished results are cached, failures recorded."""
    from .datasets import locate
    from .names import DatasetRef, results_of
    from .runner import execute, prepare
    from .specs import custom_model_spec, resolve_spec

    runtime = {"device": "cpu", **(runtime or {})}
    specs = [resolve_spec(c) for c in (_split(codecs) or [])]
    if model_class:
        specs.append(custom_model_spec(model_class))
    if not specs:
        raise LicBenchError("--codecs: give at least one codec (or --model-class)")
    ds = locate(dataset, data_dir)
    options = {s.name: runtime_options_for(s, runtime) for s in specs}
    prepared = [prepare(s, **options[s.name]) for s in specs]
    with Store(store) as st:
        summary = execute(prepared, ds, st, operating_points=qualities, jobs=jobs, adapter_options=options,
                          executor=executor, scheduler=scheduler, retries=retries, job_timeout=job_timeout,
                          keep_bitstreams=keep_bitstreams, progress=progress)
        if profile:
            profile_run(st, prepared, ds, runtime["device"], on_profile)
        members = st.dataset_members(summary.content_sha256)
        ref = DatasetRef(ds.name, summary.content_sha256, str(ds.folder), {m["pixel_sha256"]: m["image"] for m in members},
                         {m["image"]: (m["width"], m["height"]) for m in members})
        results = [results_of(st, pc.spec.name, [pc.digest], ref) for pc in prepared]
    return RunResult(summary, ref, [r for r in results if r is not None])


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
        if not dry_run:
            st.delete_records([tuple(r[k] for k in KEY_FIELDS) for r in chosen])
    return chosen


def records(dataset: str, codecs=None, store=None, data_dir=None):
    """Per-image records (one row per codec, operating point and image) with every metric, as a DataFrame."""
    from .results import records_frame

    return records_frame(results(dataset, codecs, store, data_dir))


def curves(dataset: str, codecs=None, store=None, aggregation: str = "mean", data_dir=None):
    """One row per codec and operating point, aggregated as named (column 'aggregation'), as a DataFrame."""
    from .aggregate import AGGREGATIONS
    from .results import curves_frame

    if aggregation not in AGGREGATIONS:
        raise OptionError(f"aggregation {aggregation!r}: choose {' or '.join(AGGREGATIONS)}")
    return curves_frame(results(dataset, codecs, store, data_dir), aggregation)


def import_curve(path, dataset: str, name: str | None = None, store=None) -> tuple[str, int]:
    """Import a CompressAI results JSON as a named curve of `dataset` (labelled as imported)."""
    from .results import read_compressai

    doc = read_compressai(path)
    cname = name or doc["name"]
    with Store(store) as st:
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
           data_dir=None) -> BDTable:
    """BD-rate and BD-quality of curves against an anchor, one self-describing row per curve and metric."""
    from .bd import METHODS
    from .bdcompare import compare as bd_row
    from .names import dataset_or_name, resolve_curve

    if method not in METHODS:
        raise OptionError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    metric_names = check_metrics(metrics)
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
        rows = [bd_row(anchor_curve, t, m, method, agg) for t in tests for m in metric_names]
    finally:
        if st is not None:
            st.close()
    return BDTable(anchor_curve, getattr(ds, "name", ds), method, agg, rows)


def compare(codec: str, reference: str, dataset: str, metric: str = "psnr-rgb", method: str = "pchip",
            store=None, data_dir=None) -> dict:
    """One curve against another (e.g. your run against the paper's): BD-rate and Δquality at equal rate."""
    from .bdcompare import compare as bd_row
    from .names import dataset_or_name, resolve_curve

    (metric,) = check_metrics(metric)
    st = open_store_if_any(store)
    try:
        ds = dataset_or_name(st, dataset, data_dir)
        ref, mine = resolve_curve(st, reference, ds), resolve_curve(st, codec, ds)
    finally:
        if st is not None:
            st.close()
    row = bd_row(ref, mine, metric, method)
    row.update(test_label=mine.label, reference_label=ref.label)
    return row


# ---------------------------------------------------------------- report, baselines, gate

def report(dataset: str, codecs=None, anchor: str | None = "vtm-12.1", references=None, method: str = "pchip",
           image: str | None = None, target_bpp: float | None = None, crop=None, output="reports/report.html",
           store=None, data_dir=None) -> tuple[Path, int]:
    """Write one self-contained HTML report; returns (path, size in bytes). `codecs` may name any curve
    (measured, NAME@paper, imported, shipped); `references` adds curves to draw."""
    from .formats import write_text_atomic
    from .reporting import ReportOptions, build, render

    opts = ReportOptions(dataset, _split(codecs), anchor or None, _split(references) if references is not None else None,
                         method, image, target_bpp, crop, data_dir=data_dir)
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
    verdicts = []
    for doc in docs:
        cr, why = pair(doc, current, match)
        if cr is None:
            verdicts.append(Verdict(match.get(doc["codec"], doc["codec"]), doc["codec"], "missing", [f"{why} on {ds.name}"]))
            continue
        verdicts.append(judge(doc, cr, thresholds_for(cr.name, defaults, rules), timing))
    return GateResult(ds.name, verdicts, exit_code(verdicts, strict))
