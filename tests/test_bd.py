import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lic_bench.bd import CurveError, bd_quality, bd_rate

VECTORS = json.loads((Path(__file__).parent / "data" / "bd_vectors.json").read_text())["vectors"]
CASES = [(v, m) for v in VECTORS for m in v["methods"]]


@pytest.mark.parametrize("v,method", CASES, ids=[f"{v['name'][:50]}-{m}" for v, m in CASES])
def test_reference_vectors(v, method):
    a, t = v["anchor"], v["test"]
    r = bd_rate(a["rate"], a["quality"], t["rate"], t["quality"], method)
    assert r.ok and r.value == pytest.approx(v["expected_bd_rate_percent"], abs=v["tolerance_abs"])
    if v["expected_bd_psnr_db"] is not None:
        q = bd_quality(a["rate"], a["quality"], t["rate"], t["quality"], method)
        assert q.value == pytest.approx(v["expected_bd_psnr_db"], abs=v["tolerance_abs"])


def test_exact_integration_differs_from_trapezoid():
    v = next(v for v in VECTORS if v["name"].startswith("vmaf set_a vs set_b 'slightly different' (99"))
    a, t = v["anchor"], v["test"]
    exact = bd_rate(a["rate"], a["quality"], t["rate"], t["quality"], "pchip").value
    trapz = bd_rate(a["rate"], a["quality"], t["rate"], t["quality"], "pchip-trapz100").value
    assert exact == pytest.approx(0.03232105064476798, abs=1e-6) and trapz == pytest.approx(0.0537973253591284, abs=1e-6)


ANCHOR = ([0.05, 0.11, 0.25, 0.49, 0.87, 1.43], [26.1, 28.5, 31.2, 34.3, 37.4, 40.4])


def _curves():
    """Random strictly increasing RD curves (rate increases with quality)."""
    n = st.integers(4, 8)
    return n.flatmap(lambda k: st.tuples(
        st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k),
        st.lists(st.floats(0.2, 3.0), min_size=k, max_size=k),
        st.floats(0.01, 0.5), st.floats(20, 30)))


def _build(c):
    dr, dq, r0, q0 = c
    return np.exp(np.log(r0) + np.cumsum(dr)), q0 + np.cumsum(dq)


@settings(max_examples=60, deadline=None)
@given(_curves(), st.floats(0.3, 3.0), st.sampled_from(["pchip", "cubic", "akima"]))
def test_properties(c, k, method):
    r, q = _build(c)
    assert bd_rate(r, q, r, q, method).value == pytest.approx(0.0, abs=1e-9)
    assert bd_quality(r, q, r, q, method).value == pytest.approx(0.0, abs=1e-9)
    # scaling every test rate by k gives (k - 1)·100 %
    assert bd_rate(r, q, r * k, q, method).value == pytest.approx((k - 1) * 100, abs=1e-6)  # percent; float integration noise ~1e-7
    # shifting every test quality by +d at equal rate gives BD-quality +d
    assert bd_quality(r, q, r, q + 0.25, method).value == pytest.approx(0.25, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(_curves(), _curves(), st.sampled_from(["pchip", "cubic", "akima"]), st.randoms())
def test_swap_inverts_ratio_order_and_base_do_not_matter(c1, c2, method, rnd):
    r1, q1 = _build(c1)
    r2, q2 = _build(c2)
    fwd = bd_rate(r1, q1, r2, q2, method)
    if not fwd.ok:
        return
    back = bd_rate(r2, q2, r1, q1, method)
    assert (1 + fwd.value / 100) * (1 + back.value / 100) == pytest.approx(1.0, rel=1e-9)
    idx = list(range(len(r2)))
    rnd.shuffle(idx)
    assert bd_rate(r1, q1, r2[idx], q2[idx], method).value == pytest.approx(fwd.value, rel=1e-9, abs=1e-9)
    # units of rate do not matter (bits vs bpp vs kbit/s): a common factor cancels
    assert bd_rate(r1 * 1000, q1, r2 * 1000, q2, method).value == pytest.approx(fwd.value, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("rate,quality,match", [
    ([0.1, float("nan"), 0.3, 0.4], [30, 31, 32, 33], "point 1 .* not finite"),
    ([0.1, 0.2, 0.0, 0.4], [30, 31, 32, 33], "point 2 has rate 0.0 <= 0"),
    ([0.1, 0.2, 0.3, 0.4], [30, 31, 31, 33], "duplicate quality 31"),
    ([0.1, 0.3, 0.2, 0.4], [30, 31, 32, 33], "not monotonic: quality 32 at rate 0.2"),
    ([0.1], [30], "needs at least 2"),
])
def test_invalid_curves_name_the_point(rate, quality, match):
    with pytest.raises(CurveError, match=match):
        bd_rate(*ANCHOR, rate, quality)


def test_cubic_needs_four_points_and_unknown_method():
    with pytest.raises(CurveError, match="'cubic' needs at least 4"):
        bd_rate(*ANCHOR, [0.1, 0.2, 0.4], [30, 32, 34], "cubic")
    from lic_bench.errors import LicBenchError
    with pytest.raises(LicBenchError, match="unknown BD method 'spline'"):
        bd_rate(*ANCHOR, *ANCHOR, "spline")


def test_no_overlap_is_not_computable_not_nan():
    r = bd_rate(*ANCHOR, [2, 3, 4, 5], [41, 42, 43, 44])
    assert not r.ok and r.value is None and "do not overlap" in r.status and "40.400" in r.status


def test_small_overlap_warns_and_reports_fraction():
    r = bd_rate(*ANCHOR, [0.8, 1.0, 1.3, 1.7], [39.0, 40.0, 41.0, 42.0])
    assert r.ok and r.overlap == pytest.approx(1.4 / 14.3) and r.warnings and "overlap" in r.warnings[0]
    assert r.interval == (39.0, 40.4) and (r.n_anchor, r.n_test) == (6, 4)


def test_two_point_curves_work_for_pchip_and_akima():
    for m in ("pchip", "akima"):
        res = bd_rate([0.1, 1.0], [30, 40], [0.05, 0.5], [30, 40], m)
        assert res.value == pytest.approx(-50.0)
