"""Plan and execute evaluation jobs; only the calling process writes the store.

A job is (codec spec, operating point, image). Planning skips every key already finished in the
store; jobs run longest-first (largest image, most expensive operating point) in-process or in a
pool of worker processes; each finished record is committed at once.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import METRIC_VERSION
from .datasets import Dataset, ImageRef, index_dataset
from .errors import LicBenchError, OptionError
from .executors import (EXECUTORS, Terminated, failed_record, run_dask, run_in_process, run_process_pool,
                        terminate_as_interrupt)
from .imageio import DecodedImages, load_rgb
from .malloc import keep_freed_memory
from .specs import CodecSpec, spec_digest
from .store import Store


@dataclass
class PreparedCodec:
    spec: CodecSpec
    digest: str
    identity: dict
    codec: object  # adapter instance (in the planning process)


def prepare(spec: CodecSpec, **adapter_options) -> PreparedCodec:
    """Instantiate the adapter and compute the spec digest from everything that determines its output."""
    from .registry import adapter_class, BUILTIN_ADAPTERS, adapter_ref

    cls = adapter_class(spec.adapter)
    codec = cls(**{**spec.params, **adapter_options})
    identity = {
        "adapter": spec.adapter, "class": adapter_ref(spec.adapter), "params": codec.identity_params(),
        "versions": codec.versions(), "provenance": codec.provenance(),
        "color": (spec.color or "bt709-8bit") if cls.colorspace != "rgb" else None,
    }
    identity["builtin"] = spec.adapter in BUILTIN_ADAPTERS
    if spec.target:  # rate-matched: other results (targets, searched settings), so another identity
        if cls.quality_knob is None:
            raise LicBenchError(f"{spec.name}: this codec has no monotone quality knob (a learned model's fixed-λ "
                                "checkpoints are its operating points); it cannot be matched to a target")
        identity["target"] = dict(spec.target)
    return PreparedCodec(spec, spec_digest(identity), identity, codec)


@dataclass(order=True)
class Job:
    sort_key: tuple
    spec_name: str = field(compare=False)
    op: float = field(compare=False)
    image: ImageRef = field(compare=False)


@dataclass
class RunSummary:
    dataset: str
    content_sha256: str
    planned: int = 0
    cached: int = 0
    done: int = 0
    failed: list[tuple[str, float, str, str]] = field(default_factory=list)  # codec, op, image, error
    load_errors: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    terminated: bool = False  # stopped by SIGTERM (a subset of interrupted)
    left: int = 0
    notes: list[str] = field(default_factory=list)  # facts the user must see: duplicates, flagged images
    digests: dict[str, str] = field(default_factory=dict)
    # where the computed jobs' time went (seconds, summed over jobs): the codec's encode + decode, the
    # metrics, the rest of the job (load, colour, hashes, encoder/decoder check), the store writes
    codec_s: float = 0.0
    metrics_s: float = 0.0
    harness_s: float = 0.0  # the rest of the job
    store_s: float = 0.0

    def time_breakdown(self) -> str | None:
        """One line: where the computed jobs' time went (None when no job was computed)."""
        total = self.codec_s + self.metrics_s + self.harness_s + self.store_s
        if not self.done or total <= 0:
            return None
        parts = [("codec (encode + decode)", self.codec_s), ("metrics", self.metrics_s),
                 ("other harness work (load, colour, hashes, checks)", self.harness_s), ("store", self.store_s)]
        return "time in computed jobs: " + ", ".join(f"{what} {t:.2f} s ({t / total:.0%})" for what, t in parts)


# ---- worker side: adapters are built once per process and spec

WORKER_THREADS_ENV = "LIC_BENCH_WORKER_THREADS"


def _init_worker(threads: int) -> None:
    """One intra-op thread per worker process: N processes × M threads would oversubscribe the CPU.
    run_job applies WORKER_THREADS_ENV to torch in the thread that runs each job."""
    import os

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", WORKER_THREADS_ENV):
        os.environ[var] = str(threads)
    import torch  # noqa: F401  (start-up cost, paid here: a job's time limit counts from the job's start)

    keep_freed_memory()

    from . import evaluate  # noqa: F401


_WORKER_CODECS: dict[str, object] = {}
_LAST_IMAGE: tuple | None = None  # (path, pixel sha256, LoadedImage) of the previous job in this process
_INDEXED = DecodedImages(0)  # what indexing decoded, when this process also runs the jobs
KEEP_DECODED_BYTES = 256 << 20  # Kodak is 28 MB; beyond the budget images are decoded again by their jobs


@contextmanager
def _decoded_images_kept(in_process: bool):
    """During a run whose jobs run in this process, indexing's decoded images are kept for them."""
    _INDEXED.reset(KEEP_DECODED_BYTES if in_process else 0)
    try:
        yield
    finally:
        _INDEXED.reset(0)


def _worker_codec(spec_dict: dict, options: dict):
    key = spec_dict["name"]  # one instance per spec and process
    if key not in _WORKER_CODECS:
        _WORKER_CODECS[key] = prepare(CodecSpec.from_dict(spec_dict), **options).codec
    return _WORKER_CODECS[key]


def run_job(spec_dict: dict, options: dict, op: float, path: str, pixel_sha256: str, pixel_metrics=(),
            metric_options: dict | None = None):
    """Evaluate one job from picklable arguments (runs in a worker or in-process)."""
    import os

    from .evaluate import evaluate

    if os.environ.get(WORKER_THREADS_ENV):  # per job: thread pools (Dask's task threads) keep their own setting
        import torch

        torch.set_num_threads(int(os.environ[WORKER_THREADS_ENV]))
    global _LAST_IMAGE
    started = time.perf_counter()
    try:
        codec = _worker_codec(spec_dict, options)
        if _LAST_IMAGE and _LAST_IMAGE[0] == path and _LAST_IMAGE[1] == pixel_sha256:
            img = _LAST_IMAGE[2]
        else:
            img = _INDEXED.get(path, pixel_sha256) or load_rgb(path)
            _LAST_IMAGE = (path, img.sha256, img)
    except LicBenchError as e:
        return failed_record(op, pixel_sha256, str(e))
    if img.sha256 != pixel_sha256:
        return failed_record(op, pixel_sha256, f"{path}: file changed during the run")
    target = spec_dict.get("target")
    if target:  # search the knob for this image, then evaluate the chosen setting as a normal job
        from .ratematch import match_operating_point

        try:
            m = match_operating_point(codec, img.pixels, target["kind"], op, target["rule"], color_policy=spec_dict.get("color"))
        except Exception as e:  # noqa: BLE001 - recorded like any job failure
            return failed_record(op, pixel_sha256, f"rate matching: {e}")
        rec = evaluate(codec, img.pixels, m.setting, spec_dict.get("color"), image_sha256=img.sha256,
                       pixel_metrics=pixel_metrics, metric_options=metric_options)
        rec.op = float(op)
        rec.extra = {**rec.extra, "rate_match": {"kind": m.kind, "target": m.target, "rule": m.rule, "setting": m.setting,
                                                 "reached": m.reached, "n_encodes": m.n_encodes, "tolerance": m.tolerance,
                                                 "within_tolerance": m.within_tolerance, "feasible": m.feasible}}
        if not m.feasible:
            rec.flags.append(f"target-out-of-reach:{m.kind}={op:g}")
    else:
        rec = evaluate(codec, img.pixels, op, spec_dict.get("color"), image_sha256=img.sha256,
                       pixel_metrics=pixel_metrics, metric_options=metric_options)
    rec.flags = img.flags + rec.flags
    if rec.status == "ok" and not target:  # the job's time in this process, the codec's included (run summaries)
        rec.extra = {**rec.extra, "job_s": time.perf_counter() - started}
    return rec


def plan(prepared: list[PreparedCodec], images: list[ImageRef], store: Store,
         operating_points: list[float] | None) -> tuple[list[Job], int]:
    jobs, cached = [], 0
    unique, seen = [], set()
    for im in images:  # identical pixels under two names: one key, so one job (run summary says so)
        if im.pixel_sha256 not in seen:
            seen.add(im.pixel_sha256)
            unique.append(im)
    images = unique
    for pc in prepared:
        ops = list(operating_points) if operating_points else list(pc.spec.operating_points or pc.codec.default_operating_points)
        if not ops:
            raise LicBenchError(f"codec {pc.spec.name!r} has no default operating points; pass -q/--qualities")
        for op in ops:
            if not math.isfinite(float(op)):
                raise LicBenchError(f"{pc.spec.name}: operating point {float(op):g} is not a finite number")
            if pc.spec.target:
                if not float(op) > 0:
                    raise LicBenchError(f"{pc.spec.name}: target {pc.spec.target['kind']}={op:g}: give positive numbers")
            else:
                pc.codec.check_operating_point(float(op))
        if len({float(o) for o in ops}) < len(ops):
            raise LicBenchError(f"{pc.spec.name}: an operating point is listed more than once ({', '.join(f'{float(o):g}' for o in ops)})")
        done = store.done_keys(METRIC_VERSION, pc.digest)
        for op in ops:
            for im in images:
                if (float(op), im.pixel_sha256) in done:
                    cached += 1
                    continue
                cost = pc.codec.job_cost(float(op), im.width * im.height)
                # longest first; among equal costs, one image's jobs run back to back (its decode is reused)
                jobs.append(Job((-cost, im.name, pc.spec.name, float(op)), pc.spec.name, float(op), im))
    jobs.sort()
    return jobs, cached


def execute(prepared: list[PreparedCodec], ds: Dataset, store: Store, *, operating_points=None, jobs: int = 1,
            adapter_options: dict[str, dict] | None = None, keep_bitstreams: bool = True, progress: bool = True,
            executor: str = "local", scheduler: str | None = None, retries: int = 2,
            job_timeout: float | None = None, pixel_metrics=(), metric_options: dict | None = None) -> RunSummary:
    """adapter_options: spec name -> options that do not change the output (paths, devices).

    This process keeps freed memory for reuse (lic_bench.malloc; ``LIC_BENCH_MALLOC=default`` opts out):
    it indexes the dataset and, with one job at a time, runs the jobs."""
    keep_freed_memory()
    options = adapter_options or {}
    if job_timeout is not None and not (math.isfinite(job_timeout) and job_timeout > 0):
        raise OptionError(f"--job-timeout {job_timeout:g}: give a positive, finite number of seconds")
    if job_timeout is not None and executor != "local":
        raise OptionError("--job-timeout works with --executor local only (Dask has its own worker limits); drop it or use local")
    for pc in prepared:
        if pc.identity.get("provenance", {}).get("random_init"):
            raise LicBenchError(f"{pc.spec.name}: random weights are for complexity and timing only; RD results are refused "
                                "(use `lic-bench complexity`, or give real checkpoints)")
    in_process = executor == "local" and jobs <= 1 and not job_timeout
    with _decoded_images_kept(in_process):
        content, images, load_errors = index_dataset(ds, store, keep=_INDEXED)
        if not images:
            raise LicBenchError(f"dataset {ds.name!r}: no readable images in {ds.folder}" +
                                (f" ({load_errors[0][0]}: {load_errors[0][1]})" if load_errors else ""))
        store.put_dataset(content, ds.name, str(ds.folder),
                          [(r.name, r.pixel_sha256, r.width, r.height, json.dumps(r.flags)) for r in images])
        by_name = {pc.spec.name: pc for pc in prepared}
        for pc in prepared:
            store.put_spec(pc.digest, pc.spec.name, pc.spec.adapter, pc.identity, pc.spec.to_dict())
        todo, cached = plan(prepared, images, store, operating_points)
        for pc in prepared:  # weights and user classes load once, before any job: a problem is one error, not one per image
            ops = sorted({j.op for j in todo if j.spec_name == pc.spec.name})
            if ops:
                pc.codec.preflight(ops)
                if not in_process:
                    pc.codec.release()
        summary = RunSummary(ds.name, content, planned=len(todo) + cached, cached=cached, load_errors=load_errors,
                             digests={n: pc.digest for n, pc in by_name.items()}, notes=image_notes(images))

        def record(job: Job, rec: dict) -> None:
            t = time.perf_counter()
            store.put_record(by_name[job.spec_name].digest, rec, keep_bitstream=keep_bitstreams)
            summary.store_s += time.perf_counter() - t
            if rec.status == "ok":
                summary.done += 1
                job_s, metrics_s = rec.extra.get("job_s"), rec.extra.get("metrics_s", 0.0)
                if job_s is not None and rec.enc_s is not None and rec.dec_s is not None:
                    summary.codec_s += rec.enc_s + rec.dec_s
                    summary.metrics_s += metrics_s
                    summary.harness_s += max(0.0, job_s - rec.enc_s - rec.dec_s - metrics_s)
            else:
                summary.failed.append((job.spec_name, job.op, job.image.name, rec.error or "unknown error"))

        args = lambda j: (by_name[j.spec_name].spec.to_dict(), options.get(j.spec_name, {}), j.op, str(j.image.path),  # noqa: E731
                          j.image.pixel_sha256, tuple(pixel_metrics), metric_options or {})
        bar = _Progress(len(todo), enabled=progress and bool(todo))
        remaining = {id(j): j for j in todo}
        if in_process:
            for pc in prepared:  # reuse the planning instances in-process
                _WORKER_CODECS[pc.spec.name] = pc.codec
            if todo:
                import torch  # noqa: F401  (MS-SSIM needs it: imported before the first job, so it counts as start-up)
            stream = run_in_process(todo, run_job, args)
        elif executor == "local":
            stream = run_process_pool(todo, run_job, args, jobs, retries, job_timeout, _init_worker)
        elif executor in ("dask", "dask-local"):
            stream = run_dask(todo, run_job, args, scheduler if executor == "dask" else None, jobs, retries, _init_worker)
        else:
            raise LicBenchError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
        try:
            with terminate_as_interrupt():
                try:
                    for j, rec in stream:
                        record(j, rec)
                        remaining.pop(id(j), None)
                        bar.advance(f"{j.spec_name} q={j.op:g} {j.image.name}")
                finally:
                    stream.close()  # stops workers (and their tools) and cancels what is queued
        except KeyboardInterrupt as e:
            summary.interrupted = True
            summary.terminated = isinstance(e, Terminated)
        finally:
            bar.close()
            _WORKER_CODECS.clear()
        summary.left = len(remaining)
        return summary


def image_notes(images: list[ImageRef]) -> list[str]:
    """What the run summary must tell about the dataset: images with identical pixels (one key, evaluated
    once, both names kept in the dataset) and images whose EXIF orientation was ignored."""
    notes, first = [], {}
    for im in images:
        if im.pixel_sha256 in first:
            notes.append(f"{im.name} has the same pixels as {first[im.pixel_sha256]}: evaluated once, "
                         "its results are that image's (both names stay in the dataset)")
        else:
            first[im.pixel_sha256] = im.name
    rotated = [f"{im.name} ({f})" for im in images for f in im.flags if f.startswith("exif-orientation:")]
    if rotated:
        notes.append(f"EXIF orientation ignored (pixels evaluated as stored, flagged): {', '.join(rotated)}")
    return notes


class _Progress:
    """A rich progress bar with ETA on stderr (quiet when disabled)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.p = None
        if enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                              console=Console(stderr=True), transient=False)
            self.p.start()
            self.task = self.p.add_task("evaluating", total=total)

    def advance(self, label: str) -> None:
        if self.p:
            self.p.update(self.task, advance=1, description=label[:48].ljust(48))

    def close(self) -> None:
        if self.p:
            self.p.stop()
            self.p = None
