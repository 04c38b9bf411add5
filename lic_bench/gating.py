"""Regression gate: compare current results with committed baselines, codec by codec.

What changed in a codec (weights, version, parameters) is what the gate judges — listed, never a
reason to skip. Only different *evaluation conditions* (dataset content, metric version, colour
policy, aggregation) make a pair ``not-comparable``, naming the field.

Outcomes: pass · improved · fail (BD-rate over threshold, BD-PSNR drop over threshold, encoder/decoder
mismatch, failed items, or an enforced significant slowdown) · not-comparable · missing.
Exit codes: 0 pass/improved (and not-comparable unless --strict) · 1 fail/missing · 2 usage/data error.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import METRIC_VERSION, __version__
from .bd import bd_quality, bd_rate
from .aggregate import aggregate, image_quality
from .errors import LicBenchError
from .record import EXPORT_FIELDS, METRICS

BASELINE_SCHEMA = "lic-bench-baseline"
BASELINE_VERSION = 1
DEFAULT_THRESHOLDS = {"max_bd_rate": 0.5, "max_psnr_drop": 0.02, "max_time_ratio": 1.2, "alpha": 0.01}
#: A baseline stores each record's export fields (the record's one field list, lic_bench.record).
RECORD_FIELDS = EXPORT_FIELDS


# ---------------------------------------------------------------- baselines

def baseline_doc(cr) -> dict:
    """A baseline (versioned, self-contained JSON) from one codec's stored results."""
    return {
        "schema": BASELINE_SCHEMA, "schema_version": BASELINE_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "lic_bench_version": __version__, "codec": cr.name, "spec_digest": cr.digest, "identity": cr.identity, "spec": cr.spec,
        "conditions": conditions_of(cr.identity, cr.content_sha256),
        "dataset": {"name": cr.dataset, "content_sha256": cr.content_sha256},
        "records": [_baseline_record(r) for r in sorted(cr.records, key=lambda r: (r.op, r.image))],
    }


def _baseline_record(r) -> dict:
    """A record's exported fields, and the pixel metrics it has (SSIMULACRA 2, …) with what computed them."""
    out = {k: r.get(k) for k in RECORD_FIELDS}
    if r.metrics:
        out.update(metrics=dict(r.metrics), metric_ids=dict(r.metric_ids))
    return out


def conditions_of(identity: dict, content_sha256: str, aggregation: str = "mean") -> dict:
    return {"dataset_content_sha256": content_sha256, "metric_version": METRIC_VERSION,
            "colour_policy": identity.get("color") or "rgb (codec input)", "aggregation": aggregation}


def baseline_filename(codec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", codec) + ".json"


def load_baselines(path: Path) -> list[dict]:
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    if not files:
        raise LicBenchError(f"--baseline {path}: no baseline JSON files found")
    out = []
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise LicBenchError(f"{f}: not a readable baseline ({e})") from None
        if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA:
            raise LicBenchError(f"{f}: not a lic-bench baseline (create one with `lic-bench baseline save`)")
        if doc.get("schema_version") != BASELINE_VERSION:
            raise LicBenchError(f"{f}: baseline schema version {doc.get('schema_version')}, this lic-bench reads {BASELINE_VERSION}")
        problem = _baseline_problem(doc)
        if problem:
            raise LicBenchError(f"{f}: malformed baseline ({problem}); recreate it with `lic-bench baseline save`")
        doc["_path"] = str(f)
        out.append(doc)
    return out


#: Top-level keys of a baseline and the JSON types they must have.
_BASELINE_KEYS = {"codec": str, "spec_digest": str, "identity": dict, "spec": dict, "conditions": dict,
                  "dataset": dict, "records": list}
_NUMBER_FIELDS = {"op", "bytes", "payload_bytes", "height", "width", "sse_r", "sse_g", "sse_b", "sse_y", "sse_cb", "sse_cr",
                  "ms_ssim", "enc_s", "dec_s"}


def _baseline_problem(doc: dict) -> str | None:
    """What is wrong with a parsed baseline's shape (None when it can be judged): a hand-edited or
    truncated file is a data error (exit 2), never a traceback a CI job would read as a regression."""
    def number(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    for k, typ in _BASELINE_KEYS.items():
        if k not in doc:
            return f"no {k!r} key"
        if not isinstance(doc[k], typ):
            return f"{k!r} is {type(doc[k]).__name__}, expected {'object' if typ is dict else 'list' if typ is list else 'string'}"
    for k in ("name", "content_sha256"):
        if not isinstance(doc["dataset"].get(k), str):
            return f"dataset.{k} missing or not a string"
    for i, r in enumerate(doc["records"]):
        if not isinstance(r, dict):
            return f"records[{i}] is not an object"
        if not number(r.get("op")) or not isinstance(r.get("status"), str) or not isinstance(r.get("image"), str):
            return f"records[{i}] needs a numeric 'op', a string 'status' and a string 'image'"
        bad = [k for k in _NUMBER_FIELDS & set(r) if r[k] is not None and not number(r[k])]
        if bad:
            return f"records[{i}].{sorted(bad)[0]} is not a number"
    return None


# ---------------------------------------------------------------- thresholds

def load_thresholds(path: Path | None) -> tuple[dict, list[tuple[str, dict]]]:
    """(defaults, [(pattern, overrides)]) from a YAML file: ``default: {...}`` and ``codecs: {glob|re:regex: {...}}``."""
    if path is None:
        return dict(DEFAULT_THRESHOLDS), []
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise LicBenchError(f"--config {path}: cannot read thresholds ({str(e).splitlines()[0]})") from None
    bad = set(doc) - {"default", "codecs"}
    if bad:
        raise LicBenchError(f"--config {path}: unknown key {sorted(bad)[0]!r}; use 'default' and 'codecs'")
    defaults = {**DEFAULT_THRESHOLDS, **_check_keys(doc.get("default") or {}, path)}
    rules = [(pat, _check_keys(v or {}, path)) for pat, v in (doc.get("codecs") or {}).items()]
    return defaults, rules


def _check_keys(d: dict, path) -> dict:
    for k, v in d.items():
        if k not in DEFAULT_THRESHOLDS:
            raise LicBenchError(f"--config {path}: unknown threshold {k!r}; known: {', '.join(DEFAULT_THRESHOLDS)}")
        if not isinstance(v, (int, float)):
            raise LicBenchError(f"--config {path}: threshold {k} must be a number")
    return d


def thresholds_for(codec: str, defaults: dict, rules: list[tuple[str, dict]]) -> dict:
    t = dict(defaults)
    for pat, over in rules:
        hit = re.search(pat[3:], codec) if pat.startswith("re:") else fnmatch.fnmatchcase(codec, pat)
        if hit:
            t.update(over)
    return t


# ---------------------------------------------------------------- verdicts

@dataclass
class Verdict:
    codec: str
    baseline_codec: str
    outcome: str  # pass | improved | fail | not-comparable | missing
    reasons: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bd_rate: float | None = None
    bd_psnr: float | None = None
    time_ratio: float | None = None
    time_p_value: float | None = None
    thresholds: dict = field(default_factory=dict)
    bd_rate_low: float | None = None  # bootstrap interval of bd_rate over images (lic_bench.bdci)
    bd_rate_high: float | None = None
    images_worse: int | None = None
    images: int | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def identity_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += identity_changes(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def timing_verdict(base: list[float], cur: list[float], max_ratio: float, alpha: float) -> tuple[float, float, bool]:
    """(median ratio, one-sided Mann-Whitney U p-value, slower-and-significant)."""
    from scipy.stats import mannwhitneyu

    base = [x for x in base if x is not None and x > 0]
    cur = [x for x in cur if x is not None and x > 0]
    if len(base) < 3 or len(cur) < 3:
        return math.nan, math.nan, False
    ratio = statistics.median(cur) / statistics.median(base)
    p = float(mannwhitneyu(cur, base, alternative="greater").pvalue)
    return ratio, p, ratio > max_ratio and p < alpha


def judge(baseline: dict, cr, t: dict, timing: str = "advisory") -> Verdict:
    v = Verdict(cr.name, baseline["codec"], "pass", thresholds=t)
    cur_cond = conditions_of(cr.identity, cr.content_sha256, baseline["conditions"].get("aggregation", "mean"))
    diffs = [f"{k}: baseline {baseline['conditions'].get(k)!r} vs current {cur_cond[k]!r}"
             for k in cur_cond if baseline["conditions"].get(k) != cur_cond[k]]
    v.changes = identity_changes(baseline["identity"], cr.identity)
    if cr.name != baseline["codec"]:
        v.changes.insert(0, f"spec: {baseline['codec']} -> {cr.name}")
    if diffs:
        v.outcome = "not-comparable"
        v.reasons = diffs
        return v
    base_recs, cur_recs = baseline["records"], cr.records
    failed = [r for r in cur_recs if r["status"] != "ok"]
    mism = [r for r in cur_recs if r.get("mismatch")]
    if failed:
        v.reasons.append(f"{len(failed)} failed item(s), e.g. {failed[0]['image']} op {failed[0]['op']:g}: {(failed[0]['error'] or '').splitlines()[0][:120]}")
    if mism:
        v.reasons.append(f"{len(mism)} encoder/decoder mismatch(es), e.g. {mism[0]['image']} op {mism[0]['op']:g}")
    # headline: BD-rate of current vs baseline (pchip, mean aggregation; PSNR-RGB unless t["metric"] names another)
    metric = t.get("metric", "psnr-rgb")
    lacking = [who for who, recs in (("baseline", base_recs), ("current results", cur_recs))
               if METRICS[metric].computed_by and any(r["status"] == "ok" and metric not in (r.get("metrics") or {}) for r in recs)]
    if lacking:
        v.outcome = "not-comparable"
        v.reasons = [f"the {' and the '.join(lacking)} hold no {metric} values for every record; add them "
                     f"(`lic-bench metrics add {metric} ...`) and save the baseline again, or gate on another --metric"]
        return v
    bp = [p for p in aggregate(base_recs) if p.n_images and not p.n_failed]
    cp = [p for p in aggregate(cur_recs) if p.n_images and not p.n_failed]
    try:
        r = bd_rate([p.bpp for p in bp], [p.quality(metric) for p in bp], [p.bpp for p in cp], [p.quality(metric) for p in cp])
        q = bd_quality([p.bpp for p in bp], [p.quality(metric) for p in bp], [p.bpp for p in cp], [p.quality(metric) for p in cp])
        if r.ok:
            v.bd_rate, v.bd_psnr = r.value, (q.value if q.ok else None)
            sure = _uncertainty(v, base_recs, cur_recs, t)
            if r.value > t["max_bd_rate"] and not sure:
                v.notes.append(f"BD-rate {r.value:+.3f} % > +{t['max_bd_rate']} %, but the interval reaches "
                               f"{v.bd_rate_low:+.3f} % (--require-significant: not a failure)")
            elif r.value > t["max_bd_rate"]:
                v.reasons.append(f"BD-rate {r.value:+.3f} % > +{t['max_bd_rate']} %")
            if v.bd_psnr is not None and v.bd_psnr < -t["max_psnr_drop"]:
                v.reasons.append(f"BD-PSNR {v.bd_psnr:+.4f} dB drop > {t['max_psnr_drop']} dB")
        else:
            v.reasons.append(f"BD-rate {r.status}")
    except LicBenchError as e:
        v.reasons.append(f"BD-rate not computable: {e}")
    # per-image deltas at equal operating points
    base_by = {(r["image"], r["op"]): r for r in base_recs if r["status"] == "ok"}
    changed_md5, dpsnr, dbpp = 0, [], []
    for r in cur_recs:
        b = base_by.get((r["image"], r["op"]))
        if b is None or r["status"] != "ok":
            continue
        if b.get("bitstream_md5") and b["bitstream_md5"] != r.get("bitstream_md5"):
            changed_md5 += 1
        qb, qc = image_quality(b), image_quality(r)
        dpsnr.append(qc["psnr_rgb"] - qb["psnr_rgb"])
        dbpp.append(qc["bpp"] - qb["bpp"])
    if dpsnr:
        v.notes.append(f"per-image at equal op ({len(dpsnr)} pairs): ΔPSNR min {min(dpsnr):+.4f} / max {max(dpsnr):+.4f} dB, "
                       f"Δbpp min {min(dbpp):+.5f} / max {max(dbpp):+.5f}; {changed_md5} bitstream md5 changed")
    # timing
    ratio, p, slow = timing_verdict([(r["enc_s"] or 0) + (r["dec_s"] or 0) for r in base_recs if r["status"] == "ok"],
                                    [(r["enc_s"] or 0) + (r["dec_s"] or 0) for r in cur_recs if r["status"] == "ok"],
                                    t["max_time_ratio"], t["alpha"])
    v.time_ratio, v.time_p_value = ratio, p
    if not math.isnan(ratio):
        msg = f"time ratio {ratio:.2f}× (Mann-Whitney U p={p:.3g})"
        if slow:
            if timing == "enforce":
                v.reasons.append(f"slower: {msg} > {t['max_time_ratio']}× and significant")
            else:
                v.notes.append(f"advisory: slower, {msg} > {t['max_time_ratio']}× and significant")
        elif ratio > t["max_time_ratio"]:
            v.notes.append(f"advisory: {msg} over {t['max_time_ratio']}× but not significant (noise)")
        else:
            v.notes.append(msg)
    if v.reasons:
        v.outcome = "fail"
    elif v.bd_rate is not None and v.bd_rate < -t["max_bd_rate"]:
        v.outcome = "improved"
    return v


def _uncertainty(v: Verdict, base_recs, cur_recs, t: dict) -> bool:
    """Add the interval and 'worse on k of N images' to the verdict; False only when --require-significant
    asks for the whole interval beyond the threshold and it is not."""
    from .bdci import gate_uncertainty

    if not t.get("ci_level", 0.95):
        return True
    u = gate_uncertainty(base_recs, cur_recs, t)
    iv, per = u["interval"], u["per_image"]
    v.bd_rate_low, v.bd_rate_high = iv.low, iv.high
    if per is not None:
        v.images_worse, v.images = per.n_worse, per.n_images
    v.notes.append(u["note"])
    if t.get("require_significant") and iv.ok:
        return iv.low > t["max_bd_rate"]
    return True


def pair(doc: dict, current: list, match: dict[str, str]) -> tuple[object | None, str | None]:
    """The current results a baseline is judged against, or (None, why not).

    Pairs on which codec it is (adapter and architecture: names.codec_key of the spec the baseline
    was saved under), never on the text of its name. Results identical to the baseline (same spec digest) are the baseline itself: when other
    results of the same codec exist, those are what is judged. More than one left is ambiguous."""
    from .names import codec_key, codec_key_of_name

    bname = doc["codec"]
    if bname in match:
        cands = [c for c in current if c.name == match[bname]]
        return (cands[0], None) if cands else (None, f"no current results for {match[bname]!r} (--match {bname}={match[bname]})")
    key = codec_key_of_name(bname) or codec_key(doc["identity"])  # the spec the baseline names, as its identity says
    cands = [c for c in current if codec_key(c.identity) == key]
    changed = [c for c in cands if c.digest != doc["spec_digest"]]
    if len(cands) > 1 and changed:
        cands = changed
    if len(cands) == 1:
        return cands[0], None
    if not cands:
        return None, f"no current results of the same codec as {bname!r} (adapter {doc['identity'].get('adapter')!r})"
    raise LicBenchError(f"baseline {bname!r}: {len(cands)} current results of this codec: "
                        f"{', '.join(f'{c.name} ({c.digest[:12]})' for c in cands)}; choose with --match {bname}=NAME or --codecs")


def exit_code(verdicts: list[Verdict], strict: bool) -> int:
    bad = {"fail", "missing"} | ({"not-comparable"} if strict else set())
    return 1 if any(v.outcome in bad for v in verdicts) else 0


def _ci_md(v: Verdict) -> str:
    out = "" if v.bd_rate_low is None else f" [{v.bd_rate_low:+.3f}, {v.bd_rate_high:+.3f}]"
    return out + ("" if v.images is None else f", worse on {v.images_worse} of {v.images} images")


def markdown(verdicts: list[Verdict], dataset: str) -> str:
    icon = {"pass": "✅", "improved": "🟢", "fail": "❌", "not-comparable": "⚠️", "missing": "❓"}
    lines = [f"### lic-bench gate — {dataset}", "", "| codec | outcome | BD-rate vs baseline | BD-PSNR | time ratio | why |",
             "|---|---|---|---|---|---|"]
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    for v in verdicts:
        lines.append(f"| `{esc(v.codec)}` | {icon.get(v.outcome, '')} {v.outcome} | "
                     f"{'—' if v.bd_rate is None else f'{v.bd_rate:+.3f} %'}{_ci_md(v)} | {'—' if v.bd_psnr is None else f'{v.bd_psnr:+.4f} dB'} | "
                     f"{'—' if v.time_ratio is None or math.isnan(v.time_ratio) else f'{v.time_ratio:.2f}×'} | {esc('; '.join(v.reasons)) or '—'} |")
    for v in verdicts:
        if v.changes or v.notes:
            lines += ["", f"**{esc(v.codec)}** — changes: {esc('; '.join(v.changes)) or 'none'}"]
            lines += [f"- {esc(n)}" for n in v.notes]
    lines += ["", "BD-rate: pchip, PSNR-RGB, mean of per-image values; negative = fewer bits than the baseline."]
    return "\n".join(lines) + "\n"
