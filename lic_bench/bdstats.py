"""How sure a BD-rate is: paired bootstrap intervals over images and the per-image spread. Pure.

A dataset BD-rate is a statistic of its images, so its uncertainty is estimated by resampling images:
draw N image indices with replacement, rebuild *both* curves from the drawn images' records with the
same aggregation as the headline figure, recompute BD. An image drawn twice counts twice. The draws
depend only on (seed, N, resamples), so intervals for several codecs and metrics over the same images
use the same resamples and stay paired.

Percentile interval: the α/2 and 1−α/2 quantiles (linear interpolation) of the usable resampled values.
BCa (Efron & Tibshirani 1993, §14.3): quantiles moved by the bias correction z0 (mid-rank share of
resampled values below the estimate) and the acceleration from the leave-one-image-out jackknife —
the same definitions as scipy.stats.bootstrap, which the tests check against on identical draws.

Resamples on which BD cannot be computed (no overlap, a curve that is not monotonic, an operating
point missing) are counted and named; with too few usable ones there is no interval, and the reason
says so.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Callable, Sequence

import numpy as np

from . import metrics
from .bd import BDResult, bd_quality, bd_rate
from .aggregate import aggregate
from .errors import LicBenchError
from .imageio import IMAGE_SUFFIXES

BOOTSTRAP_METHODS = ("percentile", "bca")
BOOTSTRAP_LABELS = {"percentile": "percentile", "bca": "BCa"}
KINDS = ("rate", "quality")
#: Fewer images than this: no interval (a bootstrap over 3 images says nothing).
MIN_IMAGES = 5
#: Below this share of usable resamples there is no interval (the rest would be a biased selection).
MIN_USABLE_FRACTION = 0.9

Statistic = Callable[[np.ndarray], "float | None"]


@dataclass
class Interval:
    """A bootstrap confidence interval, or the reason there is none (`reason` is then set)."""

    point: float | None  # the statistic on all images (the headline number)
    low: float | None
    high: float | None
    level: float
    method: str  # "percentile" or "bca"
    resamples: int  # requested
    usable: int  # resamples on which the statistic could be computed
    seed: int
    n_images: int
    reason: str | None = None
    unusable: dict[str, int] = field(default_factory=dict)  # why resamples were unusable -> count

    @property
    def ok(self) -> bool:
        return self.reason is None

    def describe(self) -> str:
        """What the interval is, stated fully enough to reproduce it."""
        text = (f"{self.level * 100:g} % paired bootstrap over {self.n_images} images, "
                f"{BOOTSTRAP_LABELS[self.method]}, {self.resamples} resamples ({self.usable} usable), seed {self.seed}")
        if self.unusable:
            text += "; unusable: " + ", ".join(f"{why} ×{k}" for why, k in self.unusable.items())
        if self.reason:
            text += f"; no interval: {self.reason}"
        return text

    def as_dict(self) -> dict:
        return dict(asdict(self), description=self.describe())


def resample_indices(n_images: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_images) image indices drawn with replacement; the same for every statistic."""
    return np.random.default_rng(seed).integers(0, n_images, size=(resamples, n_images))


def paired_bootstrap(n_images: int, statistic: Statistic, *, resamples: int = 2000, level: float = 0.95,
                     method: str = "percentile", seed: int = 0, min_images: int = MIN_IMAGES,
                     min_usable: float = MIN_USABLE_FRACTION) -> Interval:
    """Interval for `statistic` (image indices -> value, or None when not computable on them).

    A statistic may set ``last_failure`` (a short reason) when it returns None; those reasons are
    counted in ``Interval.unusable``."""
    if method not in BOOTSTRAP_METHODS:
        raise LicBenchError(f"unknown interval method {method!r}; choose one of {', '.join(BOOTSTRAP_METHODS)}")
    if not 0 < level < 1:
        raise LicBenchError(f"confidence level {level:g} must be between 0 and 1 (e.g. 0.95 for --ci 95)")
    if resamples < 1:
        raise LicBenchError(f"{resamples} bootstrap resamples: give at least 1 (2000 is usual)")
    out = Interval(None, None, None, level, method, resamples, 0, seed, n_images)
    all_images = np.arange(n_images)
    out.point = _value(statistic, all_images) if n_images else None
    if n_images < min_images:
        out.reason = f"{n_images} image(s) with per-image records in both curves; an interval needs at least {min_images}"
        return out
    if out.point is None:
        out.reason = f"not computable on all images ({_failure(statistic)})"
        return out
    values, unusable = [], Counter()
    for idx in resample_indices(n_images, resamples, seed):
        v = _value(statistic, idx)
        if v is None:
            unusable[_failure(statistic)] += 1
        else:
            values.append(v)
    out.usable, out.unusable = len(values), dict(unusable.most_common())
    if out.usable < min_usable * resamples:
        out.reason = (f"only {out.usable} of {resamples} resamples could be computed "
                      f"(at least {min_usable:.0%} needed)")
        return out
    theta = np.asarray(values)
    alpha = (1.0 - level) / 2.0
    probs: tuple[float, float] = (alpha, 1.0 - alpha)
    if method == "bca":
        probs, why = _bca_probabilities(statistic, n_images, out.point, theta, alpha)
        if why:
            out.reason = why
            return out
    out.low, out.high = (float(v) for v in np.quantile(theta, probs))
    return out


def _value(statistic: Statistic, idx: np.ndarray) -> float | None:
    v = statistic(idx)
    return None if v is None or not math.isfinite(v) else float(v)


def _failure(statistic) -> str:
    why = getattr(statistic, "last_failure", None)
    return why or "not computable"


def _bca_probabilities(statistic, n: int, point: float, theta: np.ndarray, alpha: float):
    """Adjusted quantile levels (Efron's BCa), or a reason they cannot be had."""
    from scipy.special import ndtr, ndtri

    share_below = (np.count_nonzero(theta < point) + np.count_nonzero(theta <= point)) / (2.0 * theta.size)
    z0 = float(ndtri(share_below))
    if not math.isfinite(z0):
        return (alpha, 1 - alpha), "BCa: the estimate lies outside the whole bootstrap distribution"
    jack = []
    for i in range(n):
        v = _value(statistic, np.delete(np.arange(n), i))
        if v is None:
            return (alpha, 1 - alpha), (f"BCa needs every leave-one-image-out value; without image {i} it is "
                                        f"not computable ({_failure(statistic)})")
        jack.append(v)
    u = np.mean(jack) - np.asarray(jack)
    den = float(np.sum(u ** 2)) ** 1.5
    accel = float(np.sum(u ** 3)) / (6.0 * den) if den > 0 else 0.0
    probs = []
    for z in (float(ndtri(alpha)), -float(ndtri(alpha))):
        probs.append(float(ndtr(z0 + (z0 + z) / (1.0 - accel * (z0 + z)))))
    if not (0.0 <= probs[0] <= probs[1] <= 1.0):
        return (alpha, 1 - alpha), f"BCa: acceleration {accel:.3g} is too large for a usable interval"
    return tuple(probs), None


# ---------------------------------------------------------------- BD on resampled images

def image_stem(record: dict) -> str:
    """Image key for pairing curves: ``kodim01.png`` and ``kodim01`` match (as Curve.by_image)."""
    name = PurePath(record["image"])
    return name.stem if name.suffix.lower() in IMAGE_SUFFIXES else record["image"]


def select_ops(records: Sequence[dict], ops: Sequence[float], label: str = "anchor") -> list[dict]:
    """Only the records at the given operating points (e.g. anchor QPs 22–37), before any BD."""
    have = sorted({float(r["op"]) for r in records})
    missing = [op for op in ops if float(op) not in have]
    if missing:
        raise LicBenchError(f"{label} has no operating point {', '.join(f'{m:g}' for m in missing)}; "
                            f"it has {', '.join(f'{h:g}' for h in have)}")
    wanted = {float(op) for op in ops}
    return [r for r in records if float(r["op"]) in wanted]


class _Resampler:
    """One curve's records laid out by (image, operating point), rebuilt into RD points for any draw.

    Within each operating point the drawn records are summed in the order the curve lists them, so
    the full draw reproduces `Curve.rd` (and so `bdcompare.compare`) bit for bit. The ``mean``
    aggregation runs on arrays; ``pooled`` (or a curve with two records for one image and point)
    rebuilds records and calls `Curve.rd` itself."""

    def __init__(self, records: Sequence[dict], images: list[str], image_key, metric: str, aggregation: str):
        from .references import METRICS

        if metric not in METRICS:
            raise LicBenchError(f"unknown metric {metric!r}; choose {', '.join(METRICS)}")
        self.metric, self.aggregation = metric, aggregation
        row = {img: i for i, img in enumerate(images)}
        self.by_image: list[list[tuple[int, dict]]] = [[] for _ in images]
        for pos, r in enumerate(records):
            i = row.get(image_key(r))
            if i is not None:
                self.by_image[i].append((pos, r))
        self.ops = sorted({float(r["op"]) for recs in self.by_image for _, r in recs})
        col = {op: j for j, op in enumerate(self.ops)}
        shape = (len(images), len(self.ops))
        self.present = np.zeros(shape, dtype=bool)
        self.ok = np.zeros(shape, dtype=bool)
        self.pos = np.full(shape, np.iinfo(np.int64).max, dtype=np.int64)
        self.rate = np.full(shape, np.nan)
        self.quality = np.full(shape, np.nan)
        from .record import METRICS, Record

        # the array path needs a 'mean' that is the mean of per-image values (MS-SSIM dB: dB of the mean MS-SSIM)
        per_image = METRICS["ms-ssim" if metric == "ms-ssim-db" else metric]
        self.arrays = aggregation == "mean" and (metric == "ms-ssim-db" or METRICS[metric].mean is None)
        for i, recs in enumerate(self.by_image):
            for pos, r in recs:
                j = col[float(r["op"])]
                if self.present[i, j]:
                    self.arrays = False  # two records for one cell: only the record path counts both
                self.present[i, j], self.pos[i, j], self.ok[i, j] = True, pos, r["status"] == "ok"
                if self.ok[i, j] and self.arrays:
                    rec = r if isinstance(r, Record) else Record.from_mapping(r)
                    self.rate[i, j], self.quality[i, j] = METRICS["bpp"].per_image(rec), per_image.per_image(rec)

    def rd(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rates, qualities) of the complete operating points of the drawn images, as Curve.rd."""
        if not self.arrays:
            return self._rd_records(idx)
        count = self.present[idx].sum(axis=0)
        n_ok = self.ok[idx].sum(axis=0)
        keep = np.flatnonzero((count > 0) & (n_ok == count) & (count == count.max(initial=0)))
        order = np.argsort(self.pos[idx][:, keep], axis=0, kind="stable")
        rates = _nan_mean(np.take_along_axis(self.rate[idx][:, keep], order, axis=0))
        quals = _nan_mean(np.take_along_axis(self.quality[idx][:, keep], order, axis=0))
        if self.metric == "ms-ssim-db":
            quals = np.array([metrics.ms_ssim_db(float(q)) for q in quals])
        if np.isnan(quals).any():
            raise LicBenchError(f"resample has no {self.metric} values")
        return rates, quals

    def _rd_records(self, idx: np.ndarray) -> tuple[list[float], list[float]]:
        from .references import Curve

        drawn = sorted((pos, d, r) for d, i in enumerate(idx) for pos, r in self.by_image[i])
        curve = Curve("resample", "", "measured", {}, records=[dict(r) for _, _, r in drawn])
        rates, quals, _ = curve.rd(self.metric, self.aggregation)
        return rates, quals


def _nan_mean(v: np.ndarray) -> np.ndarray:
    """Column means over non-NaN values, summed strictly in row order (as curves._mean's sum())."""
    have = ~np.isnan(v)
    if v.shape[0] == 0:
        return np.zeros(v.shape[1])
    total = np.cumsum(np.where(have, v, 0.0), axis=0)[-1]
    n = have.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


class BDStatistic:
    """``statistic(indices) -> BD value | None`` over the images both curves have, for paired_bootstrap.

    ``images`` is the sorted list of common images (index i is images[i]); ``left_out`` names images
    only one curve has (the headline `compare` figure uses those too, so it then differs). After a
    call returning None, ``last_failure`` says why."""

    def __init__(self, anchor_records: Sequence[dict], test_records: Sequence[dict], metric: str = "psnr-rgb", *,
                 kind: str = "rate", method: str = "pchip", aggregation: str = "mean",
                 rate_range: tuple[float, float] | None = None, image_key: Callable[[dict], str] = image_stem):
        from .aggregate import AGGREGATIONS

        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: choose {', '.join(KINDS)}")
        if aggregation not in AGGREGATIONS:
            raise LicBenchError(f"aggregation {aggregation!r} has no bootstrap; choose {', '.join(AGGREGATIONS)}")
        if anchor_records is None or test_records is None:
            raise LicBenchError("a curve without per-image records (reported or imported) has no bootstrap interval")
        a_imgs = {image_key(r) for r in anchor_records}
        t_imgs = {image_key(r) for r in test_records}
        self.images = sorted(a_imgs & t_imgs)
        self.left_out = {"anchor": sorted(a_imgs - t_imgs), "test": sorted(t_imgs - a_imgs)}
        self.kind, self.metric, self.method, self.aggregation, self.rate_range = kind, metric, method, aggregation, rate_range
        self._anchor = _Resampler(anchor_records, self.images, image_key, metric, aggregation)
        self._test = _Resampler(test_records, self.images, image_key, metric, aggregation)
        self.last_failure: str | None = None

    @property
    def n_images(self) -> int:
        return len(self.images)

    def result(self, indices: np.ndarray) -> BDResult:
        """The full BD result on the drawn images (raises LicBenchError when a curve is unusable)."""
        from .bdcompare import oriented, oriented_delta

        ar, aq = self._anchor.rd(indices)
        tr, tq = self._test.rd(indices)
        aq, tq = oriented(self.metric, aq), oriented(self.metric, tq)
        if self.kind == "rate":
            return bd_rate(ar, aq, tr, tq, self.method, rate_range=self.rate_range)
        return oriented_delta(self.metric, bd_quality(ar, aq, tr, tq, self.method, rate_range=self.rate_range))

    def __call__(self, indices: np.ndarray) -> float | None:
        try:
            res = self.result(np.asarray(indices))
        except LicBenchError as e:
            self.last_failure = _short(str(e))
            return None
        if not res.ok:
            self.last_failure = _short(res.status.removeprefix("not computable: "))
            return None
        self.last_failure = None
        return res.value


def _short(why: str) -> str:
    """A reason without its numbers, so that reasons from different resamples can be counted."""
    for cut in (" (", ":"):
        why = why.split(cut)[0]
    return why


def bd_statistic(anchor_records: Sequence[dict], test_records: Sequence[dict], metric: str = "psnr-rgb", *,
                 kind: str = "rate", method: str = "pchip", aggregation: str = "mean",
                 rate_range: tuple[float, float] | None = None,
                 image_key: Callable[[dict], str] = image_stem) -> BDStatistic:
    """The BD-rate (kind='rate', %) or BD-quality (kind='quality', dB) statistic for paired_bootstrap."""
    return BDStatistic(anchor_records, test_records, metric, kind=kind, method=method, aggregation=aggregation,
                       rate_range=rate_range, image_key=image_key)


def bd_interval(anchor_records: Sequence[dict], test_records: Sequence[dict], metric: str = "psnr-rgb", *,
                kind: str = "rate", method: str = "pchip", aggregation: str = "mean",
                rate_range: tuple[float, float] | None = None, image_key: Callable[[dict], str] = image_stem,
                resamples: int = 2000, level: float = 0.95, ci_method: str = "percentile", seed: int = 0) -> Interval:
    """Paired-bootstrap interval of one BD figure, in one call."""
    stat = bd_statistic(anchor_records, test_records, metric, kind=kind, method=method, aggregation=aggregation,
                        rate_range=rate_range, image_key=image_key)
    return paired_bootstrap(stat.n_images, stat, resamples=resamples, level=level, method=ci_method, seed=seed)


def no_interval(reason: str, *, resamples: int = 2000, level: float = 0.95, method: str = "percentile",
                seed: int = 0) -> Interval:
    """The Interval to show when there is nothing to resample (e.g. a paper curve without per-image data)."""
    return Interval(None, None, None, level, method, resamples, 0, seed, 0, reason=reason)


# ---------------------------------------------------------------- per-image spread

@dataclass
class PerImageSummary:
    """Per-image BD figures and their spread: the picture behind one dataset BD number."""

    kind: str
    metric: str
    method: str
    values: dict[str, float]  # image -> per-image BD-rate (%) or BD-quality (dB)
    not_computable: dict[str, str]  # image -> why
    n_images: int
    median: float | None
    q1: float | None  # quartiles: numpy's linear interpolation between order statistics
    q3: float | None
    n_improved: int  # BD-rate < 0, or BD-quality > 0
    n_worse: int
    n_unchanged: int

    def describe(self) -> str:
        unit = " %" if self.kind == "rate" else " dB"
        text = f"better on {self.n_improved}, worse on {self.n_worse} of {self.n_images} images"
        if self.median is not None:
            text += f"; median {self.median:+.2f}{unit} (IQR {self.q1:+.2f} … {self.q3:+.2f}{unit})"
        if self.not_computable:
            text += f"; {len(self.not_computable)} not computable"
        return text

    def as_dict(self) -> dict:
        return dict(asdict(self), description=self.describe())


#: |per-image BD| below this is counted as unchanged (float integration noise, not a difference).
NO_CHANGE = 1e-9


def per_image_bd(anchor_records: Sequence[dict], test_records: Sequence[dict], metric: str = "psnr-rgb", *,
                 kind: str = "rate", method: str = "pchip", rate_range: tuple[float, float] | None = None,
                 image_key: Callable[[dict], str] = image_stem) -> dict[str, BDResult | str]:
    """Image -> BD result of its own two curves (as bdcompare's per-image mode), or why not."""
    from .bdcompare import oriented, oriented_delta

    a_by, t_by = _group(anchor_records, image_key), _group(test_records, image_key)
    fn = bd_rate if kind == "rate" else bd_quality
    out: dict[str, BDResult | str] = {}
    for img in sorted(set(a_by) & set(t_by)):
        pa = [p for p in aggregate(a_by[img]) if p.n_images]
        pt = [p for p in aggregate(t_by[img]) if p.n_images]
        try:
            res = fn([p.bpp for p in pa], oriented(metric, [p.quality(metric) for p in pa]), [p.bpp for p in pt],
                     oriented(metric, [p.quality(metric) for p in pt]), method, rate_range=rate_range)
            if fn is bd_quality:
                res = oriented_delta(metric, res)
        except LicBenchError as e:
            out[img] = str(e)
            continue
        out[img] = res if res.ok else res.status.removeprefix("not computable: ")
    return out


def per_image_summary(anchor_records: Sequence[dict], test_records: Sequence[dict], metric: str = "psnr-rgb", *,
                      kind: str = "rate", method: str = "pchip", rate_range: tuple[float, float] | None = None,
                      image_key: Callable[[dict], str] = image_stem) -> PerImageSummary:
    """Median, quartiles and better/worse counts of the per-image BD figures."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: choose {', '.join(KINDS)}")
    per = per_image_bd(anchor_records, test_records, metric, kind=kind, method=method, rate_range=rate_range,
                       image_key=image_key)
    values = {img: r.value for img, r in per.items() if isinstance(r, BDResult)}
    reasons = {img: r for img, r in per.items() if isinstance(r, str)}
    v = np.array(list(values.values()))
    q1 = med = q3 = None
    if v.size:
        q1, med, q3 = (float(x) for x in np.percentile(v, [25, 50, 75]))
    # a difference within float integration noise is no change (byte-identical curves give ±1e-13 %)
    v_eff = np.where(np.abs(v) < NO_CHANGE, 0.0, v) if v.size else v
    better = int(np.count_nonzero(v_eff < 0 if kind == "rate" else v_eff > 0))
    worse = int(np.count_nonzero(v_eff > 0 if kind == "rate" else v_eff < 0))
    return PerImageSummary(kind, metric, method, values, reasons, len(per), med, q1, q3, better, worse,
                           int(v.size) - better - worse)


def _group(records: Sequence[dict], image_key) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(image_key(r), []).append(r)
    return out
