"""Bjøntegaard delta metrics (BD-rate, BD-quality). Pure computation: numbers in, BDResult out.

Rates are taken as natural logs (the result does not depend on the base); integration covers only
the overlap of the two curves' ranges — never an extrapolation — with an exact analytic integral of
the interpolant:

* ``pchip`` (default): JCT-VC/JVET CTC Excel ``bdrint``: piecewise cubic Hermite, Fritsch–Carlson
  weighted-harmonic-mean interior slopes, ``pchipend`` end slopes (identical to scipy's
  PchipInterpolator on monotonic data); integrated exactly per segment.
* ``cubic``: VCEG-M33, one least-squares cubic polynomial per curve (needs ≥ 4 points).
* ``akima``: scipy's Akima1DInterpolator (method 'akima'), exact integral.
* ``pchip-trapz100``: compatibility only — pchip sampled at 100 points and integrated with the
  trapezoid rule, as Netflix vmaf's ``calculate_bd_rate``; not exact, never the default.

BD-rate (%) = (exp(mean Δ ln R over the quality overlap) − 1)·100; negative = test needs fewer bits.
BD-quality (dB) = mean Δ quality over the ln-rate overlap; positive = test is better.

``rate_range=(lo, hi)`` (same unit as the rates) narrows the integration, since papers differ on the
range they integrate over. BD-quality integrates over [ln lo, ln hi] ∩ overlap. BD-rate integrates over
quality, so the range is carried over through the *anchor's* interpolant: the qualities at which the
anchor's fitted rate lies in [lo, hi] (outermost crossings if a cubic/akima fit is not monotonic), ∩
overlap. The rates actually bounding the integration are reported in ``BDResult.rate_range``; the
overlap fraction and its warning still describe the whole overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import LicBenchError

METHODS = ("pchip", "cubic", "akima", "pchip-trapz100")
MIN_POINTS = {"pchip": 2, "akima": 2, "cubic": 4, "pchip-trapz100": 2}
#: Below this overlap fraction (overlap length / the longer of the two ranges) a warning is attached.
OVERLAP_WARN = 0.5


class CurveError(LicBenchError):
    """An RD curve that cannot be used (non-finite, non-positive rate, duplicates, not monotonic)."""


@dataclass
class BDResult:
    kind: str  # "rate" (value in %) or "quality" (value in dB)
    value: float | None  # None when not computable
    method: str
    status: str = "ok"  # "ok" or "not computable: <why>"
    interval: tuple[float, float] | None = None  # quality interval (rate) / rate interval (quality)
    overlap: float = 0.0
    n_anchor: int = 0
    n_test: int = 0
    warnings: list[str] = field(default_factory=list)
    rate_range: tuple[float, float] | None = None  # rates bounding the integration, when a range was asked for

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def validate_curve(rate, quality, label: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (by quality) float arrays, or CurveError naming the offending point."""
    r = np.asarray(rate, dtype=float).ravel()
    q = np.asarray(quality, dtype=float).ravel()
    if r.shape != q.shape:
        raise CurveError(f"{label} curve: {r.size} rates but {q.size} quality values")
    for i, (ri, qi) in enumerate(zip(r, q)):
        if not (math.isfinite(ri) and math.isfinite(qi)):
            raise CurveError(f"{label} curve point {i} (rate={ri}, quality={qi}) is not finite")
        if ri <= 0:
            raise CurveError(f"{label} curve point {i} has rate {ri} <= 0")
    need = MIN_POINTS[method]
    if r.size < need:
        raise CurveError(f"{label} curve has {r.size} point(s); method {method!r} needs at least {need}")
    order = np.argsort(q, kind="stable")
    r, q = r[order], q[order]
    for i in range(1, r.size):
        if q[i] == q[i - 1]:
            raise CurveError(f"{label} curve has duplicate quality {q[i]:g} (points at rates {r[i-1]:g} and {r[i]:g})")
        if r[i] <= r[i - 1]:
            raise CurveError(f"{label} curve is not monotonic: quality {q[i]:g} at rate {r[i]:g} does not need more "
                             f"bits than quality {q[i-1]:g} at rate {r[i-1]:g}")
    return r, q


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Exact integral over [lo, hi] of the interpolant of y(x) (x strictly increasing)."""
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    if method == "pchip":
        return float(PchipInterpolator(x, y, extrapolate=False).integrate(lo, hi))
    if method == "akima":
        if x.size == 2:  # Akima through two points is the straight line (scipy needs more)
            return _poly_integral(np.polyfit(x, y, 1), lo, hi)
        return float(Akima1DInterpolator(x, y, method="akima").integrate(lo, hi))
    if method == "cubic":
        return _poly_integral(np.polyfit(x, y, 3), lo, hi)
    if method == "pchip-trapz100":
        xs, dx = np.linspace(lo, hi, num=100, retstep=True)
        trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
        return float(trapezoid(PchipInterpolator(x, y)(xs), dx=dx))
    raise ValueError(method)


def _poly_integral(coeffs, lo: float, hi: float) -> float:
    p = np.polyint(coeffs)
    return float(np.polyval(p, hi) - np.polyval(p, lo))


def _fit(x: np.ndarray, y: np.ndarray, method: str):
    """The interpolant `_integral` integrates, as (evaluate(x), crossings(level) within [x0, xN])."""
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    if method in ("pchip", "pchip-trapz100") or (method == "akima" and x.size > 2):
        pp = PchipInterpolator(x, y) if method != "akima" else Akima1DInterpolator(x, y, method="akima")
        return pp, lambda level: np.asarray(pp.solve(level, discontinuity=False, extrapolate=False), dtype=float)
    coeffs = np.polyfit(x, y, 1 if method == "akima" else 3)

    def crossings(level):
        roots = np.roots(np.polysub(coeffs, [level]))
        real = roots[np.abs(roots.imag) <= 1e-9 * max(1.0, np.abs(roots).max(initial=0.0))].real
        return np.sort(real[(real >= x[0]) & (real <= x[-1])])
    return (lambda v: np.polyval(coeffs, v)), crossings


def _quality_limits(aq: np.ndarray, alr: np.ndarray, method: str, log_lo: float, log_hi: float) -> tuple[float, float]:
    """Quality interval over which the anchor's fitted ln-rate lies in [log_lo, log_hi] (lo >= hi: none)."""
    f, crossings = _fit(aq, alr, method)
    lo, hi = float(aq[0]), float(aq[-1])
    if f(lo) < log_lo:
        c = crossings(log_lo)
        lo = float(c[0]) if c.size else math.inf
    if f(hi) > log_hi:
        c = crossings(log_hi)
        hi = float(c[-1]) if c.size else -math.inf
    return lo, hi


def _range_label(rate_range) -> str:
    return "" if rate_range is None else f"{float(rate_range[0]):g}–{float(rate_range[1]):g}"


def _check_rate_range(rate_range) -> tuple[float, float]:
    lo, hi = (float(v) for v in rate_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise LicBenchError(f"rate range {lo:g},{hi:g}: give two rates LO,HI with 0 < LO < HI")
    return lo, hi


#: points per curve the BD method is defined on (VCEG-M33's four QPs; JVET's common test conditions)
MIN_POINTS_USUAL = 4


def _delta(ax, ay, tx, ty, method, kind, n_a, n_t, unit_fmt, limits=None, limits_label="") -> BDResult:
    lo, hi = max(ax[0], tx[0]), min(ax[-1], tx[-1])
    longest = max(ax[-1] - ax[0], tx[-1] - tx[0])
    res = BDResult(kind, None, method, n_anchor=n_a, n_test=n_t)
    if hi <= lo:
        res.status = (f"not computable: the curves do not overlap (anchor {unit_fmt(ax[0])}–{unit_fmt(ax[-1])}, "
                      f"test {unit_fmt(tx[0])}–{unit_fmt(tx[-1])})")
        return res
    res.interval = (lo, hi)
    res.overlap = (hi - lo) / longest if longest > 0 else 1.0
    if res.overlap < OVERLAP_WARN:
        res.warnings.append(f"overlap is only {res.overlap:.0%} of the longer curve (< {OVERLAP_WARN:.0%}): the figure covers a narrow range")
    few = [f"{who} has {n}" for who, n in (("anchor", n_a), ("test", n_t)) if n < MIN_POINTS_USUAL]
    if few:
        res.warnings.append(f"{' and '.join(few)} points: BD figures are defined on {MIN_POINTS_USUAL} or more per curve "
                            f"(VCEG-M33, JVET CTC); with fewer the fitted curve has little shape to go on")
    if limits is not None:
        if max(lo, limits[0]) >= min(hi, limits[1]):
            res.status = (f"not computable: the rate range {limits_label} does not meet the curves' overlap "
                          f"({unit_fmt(lo)}–{unit_fmt(hi)})")
            res.interval = None
            return res
        lo, hi = max(lo, limits[0]), min(hi, limits[1])
        res.interval = (lo, hi)
    d = (_integral(tx, ty, lo, hi, method) - _integral(ax, ay, lo, hi, method)) / (hi - lo)
    res.value = d
    return res


def bd_rate(anchor_rate, anchor_quality, test_rate, test_quality, method: str = "pchip", *,
            rate_range: tuple[float, float] | None = None) -> BDResult:
    """Average rate difference (%) of test vs anchor at equal quality (optionally within `rate_range`)."""
    _check_method(method)
    ar, aq = validate_curve(anchor_rate, anchor_quality, "anchor", method)
    tr, tq = validate_curve(test_rate, test_quality, "test", method)
    alr = np.log(ar)
    limits = None
    if rate_range is not None:
        lo, hi = _check_rate_range(rate_range)
        limits = _quality_limits(aq, alr, method, math.log(lo), math.log(hi))
    res = _delta(aq, alr, tq, np.log(tr), method, "rate", ar.size, tr.size, lambda v: f"{v:.3f}", limits,
                 _range_label(rate_range))
    if res.value is not None:
        res.value = (math.exp(res.value) - 1.0) * 100.0
    if rate_range is not None and res.interval is not None:
        f, _ = _fit(aq, alr, method)
        res.rate_range = (math.exp(float(f(res.interval[0]))), math.exp(float(f(res.interval[1]))))
    return res


def bd_quality(anchor_rate, anchor_quality, test_rate, test_quality, method: str = "pchip", *,
               rate_range: tuple[float, float] | None = None) -> BDResult:
    """Average quality difference (dB) of test vs anchor at equal log-rate (BD-PSNR, BD-MS-SSIM-dB),
    optionally within `rate_range`."""
    _check_method(method)
    ar, aq = validate_curve(anchor_rate, anchor_quality, "anchor", method)
    tr, tq = validate_curve(test_rate, test_quality, "test", method)
    limits = None
    if rate_range is not None:
        lo, hi = _check_rate_range(rate_range)
        limits = (math.log(lo), math.log(hi))
    res = _delta(np.log(ar), aq, np.log(tr), tq, method, "quality", ar.size, tr.size, lambda v: f"{math.exp(v):.4g}", limits,
                 _range_label(rate_range))
    if res.interval:
        res.interval = (math.exp(res.interval[0]), math.exp(res.interval[1]))
        if rate_range is not None:
            res.rate_range = res.interval
    return res


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise LicBenchError(f"unknown BD method {method!r}; choose one of {', '.join(METHODS)}")
