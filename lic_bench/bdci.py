"""BD rows with their uncertainty: the options of `--ci`, `--rate-range`, `--anchor-points`, and the
columns they add to a BD row (interval, per-image spread). Pure: curves in, rows out.

The headline number of a row is always :func:`lic_bench.bdcompare.compare`'s (so ``--ci`` never
changes it); a rate range or an anchor-point subset changes what is integrated and is stated in the row.
The interval is a paired bootstrap over images (:mod:`lic_bench.bdstats`); when there is none, the
row says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import LicBenchError, OptionError

DEFAULT_RESAMPLES = 2000
#: CSV/table columns a row gains when an interval is asked for.
CI_FIELDS = ["bd_rate_low", "bd_rate_high", "bd_quality_low", "bd_quality_high", "ci_level", "ci_method",
             "ci_resamples", "ci_usable", "ci_seed", "ci_note", "images", "images_better", "images_worse",
             "per_image_median", "per_image_q1", "per_image_q3"]
RANGE_FIELDS = ["rate_range", "anchor_points"]


@dataclass(frozen=True)
class CIOptions:
    """How a BD row is restricted and how sure it is. ``level`` None: no interval."""

    level: float | None = None  # e.g. 0.95
    resamples: int = DEFAULT_RESAMPLES
    method: str = "percentile"
    seed: int = 0
    rate_range: tuple[float, float] | None = None
    anchor_points: tuple[float, ...] | None = None

    @property
    def interval(self) -> bool:
        return self.level is not None

    def describe(self) -> str:
        """One line stating the restriction and the interval, for captions."""
        from .bdstats import BOOTSTRAP_LABELS

        parts = []
        if self.rate_range:
            parts.append(f"integrated over {self.rate_range[0]:g}–{self.rate_range[1]:g} bpp only")
        if self.anchor_points:
            parts.append("anchor points " + ",".join(f"{p:g}" for p in self.anchor_points) + " only")
        if self.interval:
            parts.append(f"CI: {self.level * 100:g} % paired bootstrap over images, {BOOTSTRAP_LABELS[self.method]}, "
                         f"{self.resamples} resamples, seed {self.seed}")
        return "; ".join(parts)


def _numbers(text, option: str, example: str) -> list[float]:
    if isinstance(text, str):
        try:
            return [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise OptionError(f"{option} {text!r}: give comma-separated numbers, e.g. {example}") from None
    return [float(x) for x in text]


def ci_options(ci=None, resamples: int = DEFAULT_RESAMPLES, ci_method: str = "percentile", seed: int = 0,
               rate_range=None, anchor_points=None) -> CIOptions:
    """Check option values (as typed on the command line or given to the API) and bundle them.

    ci: a level in percent (95) or as a fraction (0.95); None or 0: no interval."""
    from .bdstats import BOOTSTRAP_METHODS

    level = None
    if ci not in (None, 0, "0", ""):
        try:
            level = float(ci)
        except (TypeError, ValueError):
            raise OptionError(f"--ci {ci!r}: give a level in percent, e.g. 95") from None
        level = level / 100.0 if level > 1 else level
        if not 0.5 <= level < 1:
            raise OptionError(f"--ci {ci!r}: give a level between 50 and 99.9 (percent), e.g. 95")
    if ci_method not in BOOTSTRAP_METHODS:
        raise OptionError(f"--ci-method {ci_method!r}: choose one of {', '.join(BOOTSTRAP_METHODS)}")
    if int(resamples) < 100:
        raise OptionError(f"--resamples {resamples}: give at least 100 (2000 is usual)")
    rr = None
    if rate_range is not None and rate_range != "":
        v = _numbers(rate_range, "--rate-range", "0.1,1.0")
        if len(v) != 2 or not (0 < v[0] < v[1]) or not all(map(math.isfinite, v)):
            raise OptionError(f"--rate-range {rate_range!r}: give LO,HI in bpp with 0 < LO < HI, e.g. 0.1,1.0")
        rr = (v[0], v[1])
    ops = None
    if anchor_points is not None and anchor_points != "":
        ops = tuple(_numbers(anchor_points, "--anchor-points", "22,27,32,37"))
        if len(ops) < 2:
            raise OptionError(f"--anchor-points {anchor_points!r}: give at least two anchor operating points, e.g. 22,27,32,37")
    return CIOptions(level, int(resamples), ci_method, int(seed), rr, ops)


def restrict_anchor(anchor, ops):
    """The anchor curve with only the records at operating points `ops` (e.g. QP 22–37)."""
    from .bdstats import select_ops
    from .references import Curve

    if anchor.records is None:
        raise OptionError(f"--anchor-points: {anchor.label} has only published points, not per-QP records; "
                          "drop --anchor-points or use an anchor with records")
    try:
        records = select_ops(anchor.records, ops, label=f"anchor {anchor.name}")
    except LicBenchError as e:
        raise OptionError(f"--anchor-points: {e}") from None
    return Curve(anchor.name, anchor.dataset, anchor.kind, anchor.provenance, records=records,
                 warnings=list(anchor.warnings))


def bd_row(anchor, test, metric: str, method: str, aggregation: str, opts: CIOptions | None = None) -> dict:
    """bdcompare.compare's row, restricted as `opts` asks, with an interval and per-image picture when asked."""
    from .bdcompare import compare

    opts = opts or CIOptions()
    if opts.anchor_points:
        anchor = restrict_anchor(anchor, opts.anchor_points)
    row = compare(anchor, test, metric, method, aggregation)
    row["rate_range"] = list(opts.rate_range) if opts.rate_range else None
    row["anchor_points"] = list(opts.anchor_points) if opts.anchor_points else None
    if opts.rate_range and row["status"] == "ok":
        _apply_rate_range(row, anchor, test, metric, method, aggregation, opts.rate_range)
    if opts.interval:
        add_interval(row, anchor, test, metric, method, aggregation, opts)
    return row


def _apply_rate_range(row, anchor, test, metric, method, aggregation, rate_range) -> None:
    """Replace the row's figures with those integrated over `rate_range` only."""
    from .bd import bd_quality, bd_rate
    from .bdstats import per_image_bd

    try:
        if aggregation == "per-image":
            rates = [r.value for r in per_image_bd(anchor.records, test.records, metric, method=method,
                                                     rate_range=rate_range).values() if not isinstance(r, str)]
            quals = [r.value for r in per_image_bd(anchor.records, test.records, metric, kind="quality", method=method,
                                                     rate_range=rate_range).values() if not isinstance(r, str)]
            if not rates:
                raise LicBenchError(f"no image has curves overlapping within {rate_range[0]:g}–{rate_range[1]:g} bpp")
            row["bd_rate"], row["bd_quality"] = float(np.mean(rates)), (float(np.mean(quals)) if quals else None)
            row["points"] = f"{len(rates)} images"
            return
        ar, aq, _ = anchor.rd(metric, aggregation)
        tr, tq, _ = test.rd(metric, aggregation)
        r = bd_rate(ar, aq, tr, tq, method, rate_range=rate_range)
        q = bd_quality(ar, aq, tr, tq, method, rate_range=rate_range)
    except LicBenchError as e:
        row.update(bd_rate=None, bd_quality=None, status=f"not computable: {e}")
        return
    row["warnings"] += [w for w in r.warnings if w not in row["warnings"]]
    if not r.ok:
        row.update(bd_rate=None, bd_quality=None, status=r.status)
    else:
        row.update(bd_rate=r.value, bd_quality=q.value if q.ok else None, overlap=r.overlap)


def _per_image_mean_stat(values: list[float]):
    v = np.asarray(values, dtype=float)
    return lambda idx: float(np.mean(v[np.asarray(idx)]))


def _interval(anchor, test, metric, method, aggregation, opts, kind, point):
    from .bdstats import bd_statistic, no_interval, paired_bootstrap, per_image_bd

    kw = dict(resamples=opts.resamples, level=opts.level, method=opts.method, seed=opts.seed)
    missing = [c.label for c in (anchor, test) if c.records is None]
    if missing:
        return no_interval(f"{' and '.join(missing)} {'has' if len(missing) == 1 else 'have'} no per-image records "
                           "(published points only), so there is nothing to resample", **kw)
    if point is None:
        return no_interval("no point estimate (the BD figure itself is not computable)", **kw)
    try:
        if aggregation == "per-image":
            per = per_image_bd(anchor.records, test.records, metric, kind=kind, method=method, rate_range=opts.rate_range)
            values = [r.value for r in per.values() if not isinstance(r, str)]
            return paired_bootstrap(len(values), _per_image_mean_stat(values), **kw)
        stat = bd_statistic(anchor.records, test.records, metric, kind=kind, method=method, aggregation=aggregation,
                            rate_range=opts.rate_range)
        iv = paired_bootstrap(stat.n_images, stat, **kw)
        if stat.left_out["anchor"] or stat.left_out["test"]:
            n = len(stat.left_out["anchor"]) + len(stat.left_out["test"])
            iv.unusable = dict(iv.unusable, **{f"{n} image(s) in only one curve left out of the bootstrap": 0})
        return iv
    except LicBenchError as e:
        return no_interval(str(e), **kw)


def add_interval(row: dict, anchor, test, metric: str, method: str, aggregation: str, opts: CIOptions) -> None:
    """Add the bootstrap intervals (BD-rate and BD-quality) and the per-image picture to `row`."""
    from .bdstats import per_image_summary

    ivr = _interval(anchor, test, metric, method, aggregation, opts, "rate", row["bd_rate"])
    ivq = _interval(anchor, test, metric, method, aggregation, opts, "quality", row["bd_quality"])
    for iv, key in ((ivr, "bd_rate"), (ivq, "bd_quality")):
        if iv.ok and iv.point is not None and row[key] is not None and abs(iv.point - row[key]) > 1e-9:
            row["warnings"].append(f"the bootstrap's estimate of {key} ({iv.point:+.4f}) differs from the headline "
                                   "(images present in only one curve)")
    row["ci"], row["ci_quality"] = ivr.as_dict(), ivq.as_dict()
    row.update(bd_rate_low=ivr.low, bd_rate_high=ivr.high, bd_quality_low=ivq.low, bd_quality_high=ivq.high,
               ci_level=ivr.level, ci_method=ivr.method, ci_resamples=ivr.resamples, ci_usable=ivr.usable,
               ci_seed=ivr.seed, ci_note=ivr.reason or "")
    summary = None
    if anchor.records is not None and test.records is not None:
        try:
            summary = per_image_summary(anchor.records, test.records, metric, method=method, rate_range=opts.rate_range)
        except LicBenchError as e:
            row["warnings"].append(f"per-image BD-rates not computable: {e}")
    row["per_image"] = summary.as_dict() if summary else None
    row.update(images=summary.n_images if summary else None, images_better=summary.n_improved if summary else None,
               images_worse=summary.n_worse if summary else None,
               per_image_median=summary.median if summary else None, per_image_q1=summary.q1 if summary else None,
               per_image_q3=summary.q3 if summary else None)


def fmt_interval(low, high, unit: str, digits: int = 2) -> str:
    if low is None or high is None:
        return "—"
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]{unit}"


def ci_cell(row: dict) -> str:
    """The interval for a table cell, or '—'."""
    return fmt_interval(row.get("bd_rate_low"), row.get("bd_rate_high"), " %")


def images_cell(row: dict) -> str:
    """'better 20 / worse 4 of 24' for a table cell."""
    if row.get("images") is None:
        return "—"
    return f"{row['images_better']}↓ {row['images_worse']}↑ of {row['images']}"


def ci_lines(row: dict) -> list[str]:
    """Notes under a table: how the interval was made, why there is none, the per-image picture."""
    out = []
    if "ci" not in row:
        return out
    tag = f"[{row['codec']}, {row['metric']}]"
    iv = row["ci"]
    out.append(f"{tag} BD-rate CI {fmt_interval(iv['low'], iv['high'], ' %')}: {iv['description']}")
    ivq = row["ci_quality"]
    if ivq["reason"] != iv["reason"] or ivq["low"] is not None:
        out.append(f"{tag} BD-quality CI {fmt_interval(ivq['low'], ivq['high'], ' dB', 3)}"
                   + (f" (no interval: {ivq['reason']})" if ivq["reason"] else ""))
    if row.get("per_image"):
        out.append(f"{tag} per-image BD-rates: {row['per_image']['description']}")
    return out


# ---------------------------------------------------------------- gate: current run vs its baseline

GATE_DEFAULTS = {"ci_level": 0.95, "resamples": DEFAULT_RESAMPLES, "ci_method": "percentile", "seed": 0,
                 "require_significant": False}


def gate_uncertainty(base_records, cur_records, t: dict) -> dict:
    """Interval of the gate's headline BD-rate (t["metric"], default PSNR-RGB; pchip, mean) and how many
    images got worse.

    Returns {"interval": Interval, "per_image": PerImageSummary | None, "note": str}."""
    from .bdstats import bd_interval, no_interval, per_image_summary

    kw = {k: t.get(k, v) for k, v in GATE_DEFAULTS.items()}
    ok = lambda recs: [r for r in recs if r["status"] == "ok"]  # noqa: E731  (failed items are judged elsewhere)
    try:
        iv = bd_interval(ok(base_records), ok(cur_records), t.get("metric", "psnr-rgb"), resamples=int(kw["resamples"]),
                         level=float(kw["ci_level"]), ci_method=kw["ci_method"], seed=int(kw["seed"]))
    except LicBenchError as e:
        iv = no_interval(str(e), resamples=int(kw["resamples"]), level=float(kw["ci_level"]), method=kw["ci_method"],
                         seed=int(kw["seed"]))
    try:
        summary = per_image_summary(ok(base_records), ok(cur_records), t.get("metric", "psnr-rgb"))
    except LicBenchError:
        summary = None
    parts = []
    if summary is not None:
        parts.append(f"worse on {summary.n_worse} of {summary.n_images} images (per-image BD-rate > 0), "
                     f"better on {summary.n_improved}")
    parts.append(f"BD-rate {fmt_interval(iv.low, iv.high, ' %', 3)}: {iv.describe()}" if iv.ok else
                 f"no BD-rate interval: {iv.reason}")
    return {"interval": iv, "per_image": summary, "note": "; ".join(parts)}
