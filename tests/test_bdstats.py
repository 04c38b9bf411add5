"""Bootstrap intervals, per-image spread and restricted BD-rate (lic_bench.bdstats, bd rate_range).

References: today's `bdcompare.compare` / `Curve.rd` numbers (bit for bit), scipy.stats.bootstrap on the
same draws, scipy.integrate.quad for restricted integrals, stdlib `statistics` for quartiles, and a
simulation with a known population BD-rate.
"""

import inspect
import math
import random
import statistics

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lic_bench import bdstats
from lic_bench.bd import bd_quality, bd_rate
from lic_bench.bdcompare import compare
from lic_bench.errors import LicBenchError
from lic_bench.references import Curve, shipped_anchors

H, W = 512, 768
QUALITIES = [28.0, 31.0, 34.0, 37.0, 40.0]
RATES = [0.1, 0.2, 0.4, 0.8, 1.6]


def record(image, op, bpp, psnr, **extra):
    """A per-image record whose bpp and PSNR-RGB are (up to byte rounding) the given values."""
    n = H * W
    rec = {"image": image, "op": float(op), "status": "ok", "bytes": int(round(bpp * n / 8)), "height": H,
           "width": W, "sse_rgb": 3 * n * 255.0 ** 2 * 10 ** (-psnr / 10), "ms_ssim": None}
    rec.update(extra)
    return rec


def dataset(n_images, rate_scale, quality_shift, seed=0, names="img{:02d}"):
    """Records of n images: image i has rate profile RATES·scale_i and qualities QUALITIES + shift_i."""
    rng = np.random.default_rng(seed)
    scales = rate_scale(rng, n_images)
    shifts = quality_shift(rng, n_images)
    return [record(names.format(i), op, r * scales[i], q + shifts[i])
            for op, (r, q) in enumerate(zip(RATES, QUALITIES)) for i in range(n_images)]


def curve(records, name="c"):
    return Curve(name, "syn", "measured", {}, records=records)


def kodak_anchor():
    return shipped_anchors()[("vtm-12.1", "kodak")]


def kodak_like_test(seed=1):
    """A synthetic codec on the Kodak images: each anchor record with its bytes and SSE perturbed,
    named with a suffix, in shuffled order, one image failed at one QP."""
    rng = random.Random(seed)
    recs = [dict(r, image=r["image"] + ".png", bytes=int(r["bytes"] * rng.uniform(0.75, 1.3)),
                 sse_rgb=r["sse_rgb"] * rng.uniform(0.8, 1.25)) for r in kodak_anchor().records]
    rng.shuffle(recs)
    return recs


# ---------------------------------------------------------------- point estimate = today's number

@pytest.mark.parametrize("aggregation", ["mean", "pooled"])
def test_point_estimate_is_compare_exactly_on_the_kodak_anchor(aggregation):
    anchor, test = kodak_anchor(), kodak_like_test()
    row = compare(anchor, curve(test), "psnr-rgb", "pchip", aggregation)
    assert row["status"] == "ok"
    for kind, key in (("rate", "bd_rate"), ("quality", "bd_quality")):
        stat = bdstats.bd_statistic(anchor.records, test, "psnr-rgb", kind=kind, aggregation=aggregation)
        assert stat.n_images == 24 and stat.left_out == {"anchor": [], "test": []}
        assert stat(np.arange(24)) == row[key]  # bit for bit


@pytest.mark.parametrize("aggregation", ["mean", "pooled"])
@pytest.mark.parametrize("metric", ["psnr-y", "ms-ssim-db"])
def test_point_estimate_with_failures_and_other_metrics(aggregation, metric):
    """Records in shuffled order, a failed record (its op is left out, as compare does), YCbCr and MS-SSIM."""
    rng = random.Random(3)

    def full(recs):
        out = []
        for r in recs:
            s = r["sse_rgb"] / 3
            out.append(dict(r, sse_y=s * rng.uniform(0.5, 0.9), sse_cb=s * 0.3, sse_cr=s * 0.35,
                            ms_ssim=1 - 10 ** (-(r["op"] + 8) / 10) * rng.uniform(0.8, 1.2)))
        rng.shuffle(out)
        return out

    a = full(dataset(9, lambda g, n: g.lognormal(0, 0.3, n), lambda g, n: g.normal(0, 1, n)))
    t = full(dataset(9, lambda g, n: g.lognormal(-0.1, 0.3, n), lambda g, n: g.normal(0.2, 1, n), seed=4))
    next(r for r in t if r["op"] == 4.0).update(status="failed")
    row = compare(curve(a), curve(t), metric, "pchip", aggregation)
    assert row["status"] == "ok" and row["points"] == "5/4"
    for kind, key in (("rate", "bd_rate"), ("quality", "bd_quality")):
        stat = bdstats.bd_statistic(a, t, metric, kind=kind, aggregation=aggregation)
        assert stat(np.arange(9)) == row[key]


def test_resampled_curves_are_the_records_repeated_in_place():
    """Any draw (duplicates included) gives exactly Curve.rd on the original records, each repeated as
    often as its image was drawn — the definition of a resampled curve."""
    anchor, test = kodak_anchor().records, kodak_like_test()
    stat = bdstats.bd_statistic(anchor, test)
    assert stat._anchor.arrays and stat._test.arrays  # the fast path is the one checked here

    def oracle(records, idx):
        times = {stat.images[i]: int(k) for i, k in zip(*np.unique(idx, return_counts=True))}
        rep = [dict(r) for r in records for _ in range(times.get(bdstats.image_stem(r), 0))]
        rates, quals, _ = curve(rep).rd("psnr-rgb", "mean")
        return rates, quals

    for idx in bdstats.resample_indices(24, 25, seed=7):
        got = bd_rate(*oracle(anchor, idx), *oracle(test, idx))
        assert got.ok and stat(idx) == got.value


def test_two_records_for_one_image_and_point_count_twice_as_in_compare():
    a = dataset(6, lambda g, n: g.lognormal(0, 0.3, n), lambda g, n: g.normal(0, 1, n))
    t = dataset(6, lambda g, n: g.lognormal(-0.2, 0.3, n), lambda g, n: g.normal(0, 1, n), seed=3)
    # e.g. img00.png and img00.jpg, both with stem img00, at every operating point
    t += [dict(r, image="img00.jpg", bytes=r["bytes"] + 999) for r in t if r["image"] == "img00"]
    stat = bdstats.bd_statistic(a, t)
    assert stat._anchor.arrays and not stat._test.arrays
    row = compare(curve(a), curve(t))
    assert row["status"] == "ok" and stat(np.arange(6)) == row["bd_rate"]


# ---------------------------------------------------------------- interval properties

def test_constant_per_image_offset_gives_a_zero_width_interval():
    a = dataset(12, lambda g, n: g.lognormal(0, 0.4, n), lambda g, n: g.normal(0, 1.5, n))
    twice = [dict(r, bytes=2 * r["bytes"]) for r in a]  # every image needs exactly twice the bits
    plus_one_db = [dict(r, sse_rgb=r["sse_rgb"] * 10 ** -0.1) for r in a]  # every image +1 dB
    for method in ("percentile", "bca"):
        iv = bdstats.bd_interval(a, twice, resamples=300, ci_method=method, seed=5)
        assert iv.ok and iv.usable == 300
        assert iv.point == pytest.approx(100.0, abs=1e-9)
        assert iv.low == pytest.approx(100.0, abs=1e-9) and iv.high == pytest.approx(100.0, abs=1e-9)
        iq = bdstats.bd_interval(a, plus_one_db, kind="quality", resamples=300, ci_method=method)
        assert iq.high - iq.low < 1e-9 and iq.point == pytest.approx(1.0, abs=1e-9)


def test_same_seed_same_interval_and_draws_shared_by_statistics():
    a = dataset(10, lambda g, n: g.lognormal(0, 0.4, n), lambda g, n: g.normal(0, 1, n))
    t = dataset(10, lambda g, n: g.lognormal(-0.2, 0.4, n), lambda g, n: g.normal(0, 1, n), seed=9)
    first = bdstats.bd_interval(a, t, resamples=250, ci_method="bca", seed=11)
    again = bdstats.bd_interval(a, t, resamples=250, ci_method="bca", seed=11)
    other = bdstats.bd_interval(a, t, resamples=250, ci_method="bca", seed=12)
    assert first == again and (first.low, first.high) != (other.low, other.high)
    seen = {}
    for name in ("rate", "quality"):
        log = seen.setdefault(name, [])
        bdstats.paired_bootstrap(10, lambda idx, log=log: log.append(idx.copy()) or 0.0, resamples=50, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(seen["rate"], seen["quality"]))
    assert np.array_equal(np.stack(seen["rate"][1:]), bdstats.resample_indices(10, 50, 3))


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_matches_scipy_bootstrap_on_the_same_draws(method):
    """scipy.stats.bootstrap (paired, same Generator seed draws the same index matrix) is the reference."""
    from scipy.stats import bootstrap

    a = dataset(12, lambda g, n: g.lognormal(0, 0.5, n), lambda g, n: g.normal(0, 1.5, n))
    t = dataset(12, lambda g, n: g.lognormal(-0.15, 0.5, n) * g.lognormal(0, 0.3, n), lambda g, n: g.normal(0, 1.5, n), seed=2)
    stat = bdstats.bd_statistic(a, t)
    ours = bdstats.paired_bootstrap(12, stat, resamples=400, method=method.lower(), seed=21)
    seed_kw = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"
    ref = bootstrap((np.arange(12),), lambda i: stat(i.astype(int)), paired=True, vectorized=False, n_resamples=400,
                    method=method, confidence_level=0.95, **{seed_kw: np.random.default_rng(21)})
    assert ours.ok and ours.usable == 400
    assert ours.low == pytest.approx(ref.confidence_interval.low, rel=1e-9)
    assert ours.high == pytest.approx(ref.confidence_interval.high, rel=1e-9)


def test_interval_covers_the_population_bd_rate_at_about_the_stated_rate():
    """Image i: anchor rates c_i·g_j, test rates c_i·g_j·exp(u_i), equal qualities; u ~ N(μ, σ) and c
    independent, so the population BD-rate (mean aggregation) is exp(μ + σ²/2) − 1. 100 Kodak-sized
    datasets; the percentile bootstrap is known to under-cover slightly at N = 24 (about 93 %)."""
    mu, sigma, n, datasets = -0.1, 0.15, 24, 100
    truth = (math.exp(mu + sigma ** 2 / 2) - 1) * 100
    rng = np.random.default_rng(0)
    covered, points, widths = 0, [], []
    for k in range(datasets):
        c, u, e = rng.lognormal(0, 0.3, n), rng.normal(mu, sigma, n), rng.normal(0, 1, n)
        a = [record(f"i{i}", j, RATES[j] * c[i], QUALITIES[j] + e[i]) for j in range(5) for i in range(n)]
        t = [record(f"i{i}", j, RATES[j] * c[i] * math.exp(u[i]), QUALITIES[j] + e[i]) for j in range(5) for i in range(n)]
        iv = bdstats.bd_interval(a, t, resamples=100, seed=k)
        covered += iv.low <= truth <= iv.high
        points.append(iv.point)
        widths.append(iv.high - iv.low)
    tolerance = 3 * math.sqrt(0.95 * 0.05 / datasets)  # binomial, three standard deviations
    assert covered / datasets >= 0.95 - tolerance
    # and not by being wide: about the width of ±1.96 of the estimator's spread across datasets
    assert 0.75 < np.mean(widths) / (2 * 1.96 * np.std(points, ddof=1)) < 1.25


@st.composite
def curve_pairs(draw):
    n = draw(st.integers(5, 8))
    seeds = draw(st.tuples(st.integers(0, 1000), st.integers(0, 1000)))
    mu = draw(st.floats(-0.5, 0.5))
    a = dataset(n, lambda g, k: g.lognormal(0, 0.4, k), lambda g, k: g.normal(0, 1, k), seed=seeds[0])
    t = dataset(n, lambda g, k: g.lognormal(mu, 0.4, k), lambda g, k: g.normal(0, 1, k), seed=seeds[1])
    return n, a, t


@settings(max_examples=25, deadline=None)
@given(curve_pairs(), st.sampled_from(["mean", "pooled"]), st.sampled_from(["pchip", "akima"]))
def test_swapping_anchor_and_test_negates_log_rate(pair, aggregation, method):
    """ln(1 + BD_AB) = −ln(1 + BD_BA) on every resample (the quality overlap is the same), hence for
    the percentile interval low_AB ↔ −high_BA in log-rate terms."""
    n, a, t = pair
    ab = bdstats.bd_statistic(a, t, aggregation=aggregation, method=method)
    ba = bdstats.bd_statistic(t, a, aggregation=aggregation, method=method)
    for idx in [np.arange(n), *bdstats.resample_indices(n, 8, seed=1)]:
        x, y = ab(idx), ba(idx)
        assert (x is None) == (y is None)
        if x is not None:
            assert math.log1p(x / 100) == pytest.approx(-math.log1p(y / 100), rel=1e-9, abs=1e-12)


def test_swapped_interval_mirrors_in_log_rate():
    """The percentile interval interpolates between order statistics in % terms, so the mirror is exact
    only up to the curvature of ln(1 + x) between two neighbouring resampled values."""
    a = dataset(12, lambda g, n: g.lognormal(0, 0.4, n), lambda g, n: g.normal(0, 1, n))
    t = dataset(12, lambda g, n: g.lognormal(-0.3, 0.4, n), lambda g, n: g.normal(0, 1, n), seed=8)
    fwd = bdstats.bd_interval(a, t, resamples=500, seed=2)
    back = bdstats.bd_interval(t, a, resamples=500, seed=2)
    width = math.log1p(fwd.high / 100) - math.log1p(fwd.low / 100)
    assert math.log1p(fwd.point / 100) == pytest.approx(-math.log1p(back.point / 100), rel=1e-12)
    assert math.log1p(fwd.low / 100) == pytest.approx(-math.log1p(back.high / 100), abs=1e-3 * width)
    assert math.log1p(fwd.high / 100) == pytest.approx(-math.log1p(back.low / 100), abs=1e-3 * width)


# ---------------------------------------------------------------- reasons

def test_too_few_images_keeps_the_point_and_says_why():
    a = dataset(4, lambda g, n: np.ones(n), lambda g, n: np.zeros(n))
    t = [dict(r, bytes=int(r["bytes"] * 0.9)) for r in a]
    iv = bdstats.bd_interval(a, t)
    assert not iv.ok and iv.low is None and iv.point == pytest.approx(-10, abs=0.01)
    assert "4 image(s)" in iv.reason and "at least 5" in iv.reason and "no interval" in iv.describe()


def test_resamples_without_overlap_are_counted_and_named():
    """Other images are 13 dB better than the anchor's 12 dB range; only img00 brings the mean test curve
    into it, so draws without img00 do not overlap (about (5/6)^6 = 33 % of them): too many for an interval."""
    a = dataset(6, lambda g, n: np.ones(n), lambda g, n: np.zeros(n))
    t = [dict(r, sse_rgb=r["sse_rgb"] * (1 if r["image"] == "img00" else 10 ** -1.3)) for r in a]
    iv = bdstats.bd_interval(a, t, resamples=400, seed=1)
    assert iv.point is not None and iv.low is None
    assert iv.unusable == {"the curves do not overlap": 400 - iv.usable}
    assert 0.25 < 1 - iv.usable / 400 < 0.42
    assert f"only {iv.usable} of 400 resamples" in iv.reason
    text = iv.describe()
    for part in ("95 % paired bootstrap over 6 images", "percentile", "400 resamples", "seed 1",
                 "the curves do not overlap ×"):
        assert part in text


def test_not_computable_on_all_images_and_curves_without_per_image_data():
    a = dataset(6, lambda g, n: np.ones(n), lambda g, n: np.zeros(n))
    far = [dict(r, sse_rgb=r["sse_rgb"] * 1e-3) for r in a]  # +30 dB: no overlap at all
    iv = bdstats.bd_interval(a, far, ci_method="bca")
    assert iv.point is None and iv.reason == "not computable on all images (the curves do not overlap)"
    paper = bdstats.no_interval("reported in a paper: no per-image data", seed=4)
    assert not paper.ok and "no interval: reported in a paper" in paper.describe() and "seed 4" in paper.describe()


def test_option_errors_are_one_line():
    with pytest.raises(LicBenchError, match="unknown interval method 'bootstrap-t'"):
        bdstats.paired_bootstrap(10, lambda i: 0.0, method="bootstrap-t")
    with pytest.raises(LicBenchError, match="confidence level 95"):
        bdstats.paired_bootstrap(10, lambda i: 0.0, level=95)


# ---------------------------------------------------------------- per-image picture

def test_per_image_summary_matches_compare_per_image_and_stdlib_quartiles():
    anchor, test = kodak_anchor(), kodak_like_test(seed=5)
    s = bdstats.per_image_summary(anchor.records, test)
    row = compare(anchor, curve(test), aggregation="per-image")
    vals = [s.values[k] for k in sorted(s.values)]
    assert s.n_images == 24 and not s.not_computable and sum(vals) / len(vals) == row["bd_rate"]
    q1, med, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    assert (s.q1, s.median, s.q3) == pytest.approx((q1, med, q3), rel=1e-12)
    assert s.median == pytest.approx(statistics.median(vals), rel=1e-12)
    assert s.n_improved == sum(v < 0 for v in vals) and s.n_worse == sum(v > 0 for v in vals)
    assert f"worse on {s.n_worse} of 24 images" in s.describe()
    q = bdstats.per_image_summary(anchor.records, test, kind="quality")
    assert q.n_improved == sum(v > 0 for v in q.values.values())


def test_per_image_summary_names_images_that_cannot_be_compared():
    a = dataset(6, lambda g, n: np.ones(n), lambda g, n: np.zeros(n))
    t = [dict(r, sse_rgb=r["sse_rgb"] * (1e-3 if r["image"] == "img03" else 0.9)) for r in a]
    s = bdstats.per_image_summary(a, t)
    assert set(s.not_computable) == {"img03"} and "do not overlap" in s.not_computable["img03"]
    assert s.n_images == 6 and len(s.values) == 5 and s.n_improved == 5


# ---------------------------------------------------------------- rate range and anchor points

ANCHOR = ([0.05, 0.11, 0.25, 0.49, 0.87, 1.43], [26.1, 28.5, 31.2, 34.3, 37.4, 40.4])
TEST = ([0.04, 0.09, 0.2, 0.41, 0.75, 1.3], [26.0, 28.7, 31.6, 34.5, 37.9, 40.6])


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima", "pchip-trapz100"])
def test_full_rate_range_is_the_unrestricted_number(method):
    for fn in (bd_rate, bd_quality):
        full = fn(*ANCHOR, *TEST, method)
        wide = fn(*ANCHOR, *TEST, method, rate_range=(1e-6, 1e6))
        assert wide.value == full.value and wide.interval == full.interval


def _interpolant(x, y, method):
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    if method == "cubic":
        return np.poly1d(np.polyfit(x, y, 3))
    return PchipInterpolator(x, y) if method == "pchip" else Akima1DInterpolator(x, y, method="akima")


def _mean_over(f, lo, hi, knots):
    """Mean of f over [lo, hi] by adaptive quadrature, split at the interpolants' knots."""
    from scipy.integrate import quad

    inside = [k for k in knots if lo < k < hi]
    return quad(f, lo, hi, points=inside or None, epsabs=1e-13, limit=200)[0] / (hi - lo)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_restricted_range_matches_numerical_integration(method):
    from scipy.optimize import brentq

    lo, hi = 0.15, 0.6
    ar, aq = np.log(ANCHOR[0]), np.array(ANCHOR[1])
    tr, tq = np.log(TEST[0]), np.array(TEST[1])
    # BD-quality: mean quality difference over ln-rate in [ln lo, ln hi] (inside the overlap here)
    fa, ft = _interpolant(ar, aq, method), _interpolant(tr, tq, method)
    want = _mean_over(lambda x: ft(x) - fa(x), math.log(lo), math.log(hi), np.r_[ar, tr])
    got = bd_quality(*ANCHOR, *TEST, method, rate_range=(lo, hi))
    assert got.value == pytest.approx(want, abs=1e-10) and got.rate_range == pytest.approx((lo, hi))
    # BD-rate: over the qualities at which the anchor's fitted rate is within [lo, hi]
    ga, gt = _interpolant(aq, ar, method), _interpolant(tq, tr, method)
    q_lo = brentq(lambda q: ga(q) - math.log(lo), aq[0], aq[-1], xtol=1e-14)
    q_hi = brentq(lambda q: ga(q) - math.log(hi), aq[0], aq[-1], xtol=1e-14)
    mean_dlr = _mean_over(lambda q: gt(q) - ga(q), q_lo, q_hi, np.r_[aq, tq])
    got = bd_rate(*ANCHOR, *TEST, method, rate_range=(lo, hi))
    assert got.value == pytest.approx((math.exp(mean_dlr) - 1) * 100, abs=1e-8)
    assert got.interval == pytest.approx((q_lo, q_hi), abs=1e-9) and got.rate_range == pytest.approx((lo, hi))


def test_rate_range_is_clipped_to_the_overlap_and_reports_what_was_used():
    r = bd_rate(*ANCHOR, *TEST, rate_range=(0.2, 100))
    assert r.ok and r.interval[1] == 40.4 and r.rate_range[1] == pytest.approx(1.43)
    q = bd_quality(*ANCHOR, *TEST, rate_range=(0.01, 0.3))
    assert q.rate_range == pytest.approx((0.05, 0.3))
    none = bd_rate(*ANCHOR, *TEST, rate_range=(2.0, 3.0))
    assert not none.ok and "rate range 2–3 does not meet" in none.status
    with pytest.raises(LicBenchError, match="0 < LO < HI"):
        bd_rate(*ANCHOR, *TEST, rate_range=(0.5, 0.1))


def test_anchor_point_subset():
    anchor, test = kodak_anchor(), kodak_like_test()
    low_qps = bdstats.select_ops(anchor.records, [22, 27, 32, 37])
    row = compare(curve(low_qps), curve(test))
    stat = bdstats.bd_statistic(low_qps, test)
    assert row["status"] == "ok" and row["points"] == "4/6" and stat(np.arange(24)) == row["bd_rate"]
    with pytest.raises(LicBenchError, match="anchor has no operating point 30; it has 22, 27, 32, 37, 42, 47"):
        bdstats.select_ops(anchor.records, [22, 30])


def test_interval_with_rate_range_restricts_every_resample():
    a = dataset(8, lambda g, n: g.lognormal(0, 0.3, n), lambda g, n: g.normal(0, 1, n))
    t = dataset(8, lambda g, n: g.lognormal(-0.1, 0.3, n), lambda g, n: g.normal(0.3, 1, n), seed=6)
    stat = bdstats.bd_statistic(a, t, rate_range=(0.15, 0.5))
    res = stat.result(np.arange(8))
    assert res.rate_range[0] == pytest.approx(0.15) and res.rate_range[1] == pytest.approx(0.5)
    iv = bdstats.paired_bootstrap(8, stat, resamples=100)
    assert iv.ok and iv.point == res.value
