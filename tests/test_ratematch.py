"""Rate matching: the search against brute force over known rate functions, and one real WebP search on Kodak."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from lic_bench import metrics
from lic_bench.adapters.base import Codec, Knob
from lic_bench.errors import LicBenchError
from lic_bench.ratematch import match_operating_point, search

QUALITY = Knob(0, 100, integer=True, increasing=True)
DISTANCE = Knob(0.1, 25.0, integer=False, increasing=False, resolution=1e-4)
KODAK = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"
if not KODAK.is_dir():
    KODAK = Path("/work/shared/datasets/kodak")
# a safeguarded bisection over 101 settings: 2 end points + at most two steps per halving
MAX_INTEGER_ENCODES = 2 + 2 * math.ceil(math.log2(101))


def rate_of_quality(q: float) -> float:
    """A strictly increasing, convex, WebP-like bpp(q)."""
    return 0.05 * math.exp(q / 30.0) + 0.001 * q


def brute_force(values: dict[float, float], target: float, rule: str) -> float:
    """The setting the rule asks for, found by looking at every setting (the reference)."""
    if rule == "not-above":
        ok = {s: v for s, v in values.items() if v <= target}
        return max(ok, key=lambda s: (ok[s], -s))
    if rule == "not-below":
        ok = {s: v for s, v in values.items() if v >= target}
        return min(ok, key=lambda s: (ok[s], s))
    return min(values, key=lambda s: (abs(values[s] - target), values[s], s))


@pytest.mark.parametrize("rule", ["not-above", "closest", "not-below"])
@pytest.mark.parametrize("target", [0.06, 0.12, 0.2, 0.25, 0.5, 0.75, 1.0, 1.5])
def test_integer_knob_finds_the_exact_setting(rule, target):
    calls = []
    match = search(lambda q: calls.append(q) or rate_of_quality(q), QUALITY, target, rule)
    every = {float(q): rate_of_quality(q) for q in range(101)}
    assert match.setting == brute_force(every, target, rule)
    assert match.reached == rate_of_quality(match.setting)
    assert match.feasible
    assert match.n_encodes == len(calls) == len(set(calls)) <= MAX_INTEGER_ENCODES  # never the same setting twice
    if rule == "not-above":
        assert match.reached <= target
    if rule == "not-below":
        assert match.reached >= target


def test_step_rate_function():
    """A knob mapped onto a coarser internal scale (here an integer QP): plateaus must not break the search."""

    def rate(q):
        qp = round(51 * (100 - q) / 100)
        return 4.0 * 2 ** (-qp / 6)

    every = {float(q): rate(q) for q in range(101)}
    for target in (0.1, 0.25, 0.5, 0.77):
        match = search(rate, QUALITY, target, "not-above")
        assert match.reached == every[brute_force(every, target, "not-above")]
        assert match.reached <= target


@pytest.mark.parametrize("rule", ["not-above", "closest", "not-below"])
@pytest.mark.parametrize("target", [0.2, 0.25, 0.5, 1.2])  # distance 25 gives 0.166
def test_continuous_decreasing_knob_reaches_tolerance(rule, target):
    """A JPEG-XL-like knob: distance up = bits down; the analytic inverse is known."""

    def rate(d):
        return 3.0 * d ** -0.9

    tol = 0.01 * target
    match = search(rate, DISTANCE, target, rule, tolerance=tol)
    exact = (3.0 / target) ** (1 / 0.9)
    assert match.within_tolerance and abs(match.reached - target) <= tol
    assert abs(math.log(match.setting / exact)) < 0.02
    assert match.n_encodes <= 12
    if rule == "not-above":
        assert match.reached <= target
    if rule == "not-below":
        assert match.reached >= target


def test_unreachable_targets_are_reported():
    low = search(rate_of_quality, QUALITY, 0.01, "not-above")  # below quality 0's rate
    assert not low.feasible and not low.within_tolerance
    assert low.setting == 0 and low.n_encodes == 1
    high = search(rate_of_quality, QUALITY, 100.0, "not-below")  # above quality 100's rate
    assert not high.feasible and high.setting == 100
    top = search(rate_of_quality, QUALITY, 100.0, "not-above")  # reachable, but far: the best there is
    assert top.feasible and top.setting == 100 and not top.within_tolerance


def test_non_monotone_codec_never_breaks_the_rule():
    def wobbly(q):
        return rate_of_quality(q) * (1.08 if int(q) % 7 == 0 else 1.0)

    for target in (0.1, 0.3, 0.6):
        match = search(wobbly, QUALITY, target, "not-above")
        assert match.reached <= target
        assert match.reached == max(v for _, v in match.trail if v <= target)


def test_bad_rule_is_one_line_error():
    with pytest.raises(LicBenchError, match="not-above"):
        search(rate_of_quality, QUALITY, 0.2, "below")


class FakeCodec(Codec):
    """Bytes = a known function of quality; the decoder offsets a grey image by a known amount."""

    quality_knob = QUALITY
    pad_multiple = 16

    def encode(self, image, op):
        n = int(round(200 * math.exp(op / 25.0)))
        return bytes([int(op)]) + bytes(n - 1)

    def decode(self, data):
        q = data[0]
        return np.full((32, 48, 3), 128 + (100 - q) // 10, np.uint8)


def test_match_operating_point_on_a_fake_codec():
    image = np.full((30, 45, 3), 128, np.uint8)  # padded to 32x48 by the harness, bpp over 30x45
    match = match_operating_point(FakeCodec(), image, "bpp", 2.0)
    every = {float(q): 8 * round(200 * math.exp(q / 25.0)) / (30 * 45) for q in range(101)}
    assert match.setting == brute_force(every, 2.0, "not-above")
    assert match.kind == "bpp" and match.rule == "not-above"
    assert match.tolerance == pytest.approx(0.1)

    psnr = match_operating_point(FakeCodec(), image, "psnr", 40.0)  # offset d gives 20·log10(255/d) dB
    every_db = {float(q): (math.inf if (100 - q) // 10 == 0 else 20 * math.log10(255 / ((100 - q) // 10))) for q in range(101)}
    assert psnr.rule == "not-below" and psnr.reached >= 40.0
    assert psnr.reached == pytest.approx(every_db[brute_force(every_db, 40.0, "not-below")], rel=1e-12)


def test_codec_without_a_knob_says_so():
    class Fixed(FakeCodec):
        quality_knob = None

    with pytest.raises(LicBenchError, match="no monotone quality knob"):
        match_operating_point(Fixed(), np.zeros((8, 8, 3), np.uint8), "bpp", 0.25)


def test_learned_adapter_declares_no_knob():
    from lic_bench.adapters.learned import Learned

    assert Learned.quality_knob is None


# kodim01 (the costliest Kodak image) cannot meet 0.25 bpp within 5 %: WebP quality 1 -> 0.235, 2 -> 0.269
@pytest.mark.parametrize("name,target", [("kodim04", 0.25), ("kodim01", 0.5)])
def test_webp_on_kodak(name, target):
    from PIL import Image

    from lic_bench.adapters.pillow import WebP

    path = KODAK / f"{name}.png"
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/datasets/kodak)")
    with Image.open(path) as im:
        image = np.array(im.convert("RGB"))
    h, w = image.shape[:2]
    match = match_operating_point(WebP(), image, "bpp", target)
    assert match.within_tolerance and match.reached <= target

    def pillow_bpp(q):  # Pillow directly, not through the adapter
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="WEBP", quality=int(q), method=4)
        return metrics.bpp(len(buf.getvalue()), h, w)

    assert pillow_bpp(match.setting) == match.reached
    assert pillow_bpp(match.setting + 1) > target  # the highest quality not above the target
