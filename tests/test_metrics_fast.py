"""The fast metrics against their references: pytorch-msssim for MS-SSIM (on Kodak reconstructions of
real codecs and on edge cases), the plain per-pixel formulas and exact rational arithmetic for the SSEs."""

import io
import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import KODAK
from PIL import Image, features

from lic_bench import color, metrics
from lic_bench.color import rgb_to_ycbcr_float

torch = pytest.importorskip("torch")
pytorch_msssim = pytest.importorskip("pytorch_msssim")

#: ../shared/datasets/kodak next to the checkout, or a folder named by LIC_BENCH_KODAK_DIR (worktrees)
KODAK_DIR = next((d for d in (KODAK, Path(os.environ.get("LIC_BENCH_KODAK_DIR", "/nonexistent")))
                  if (d / "kodim01.png").is_file()), None)
requires_kodak = pytest.mark.skipif(KODAK_DIR is None, reason="Kodak images absent (../shared/datasets/kodak)")

TOLERANCE = 1e-6


def reference_ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-msssim exactly as CompressAI calls it: contiguous float32 NCHW in 0..255, data_range=255.
    (A permuted HWC view gives channels-last maps whose means torch sums in another order: 1 ulp apart.)"""
    t = lambda x: torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None].contiguous()  # noqa: E731
    with torch.no_grad():
        return float(pytorch_msssim.ms_ssim(t(a), t(b), data_range=255).item())


def roundtrip(img: np.ndarray, fmt: str, **params) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, **params)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


CODECS = [("JPEG", {"quality": 10}), ("JPEG", {"quality": 50}), ("JPEG", {"quality": 90}),
          ("WEBP", {"quality": 30}), ("JPEG2000", {"quality_mode": "rates", "quality_layers": [40]})]


def _available(fmt: str) -> bool:
    return {"JPEG": features.check("jpg"), "WEBP": features.check("webp"), "JPEG2000": features.check("jpg_2000")}[fmt]


@requires_kodak
@pytest.mark.parametrize("name, codecs", [("kodim01", CODECS), ("kodim04", CODECS[1:2]), ("kodim23", CODECS[3:4])])
def test_ms_ssim_equals_pytorch_msssim_on_kodak_reconstructions(name, codecs):
    original = np.asarray(Image.open(KODAK_DIR / f"{name}.png").convert("RGB"))
    for fmt, params in codecs:
        if not _available(fmt):
            continue
        rec = roundtrip(original, fmt, **params)
        want = reference_ms_ssim(original, rec)
        assert 0.5 < want < 1.0
        assert metrics.ms_ssim(original, rec).value == want, (name, fmt, params)  # bit for bit


@pytest.mark.parametrize("shape", [(161, 161), (161, 237), (237, 161), (333, 500), (512, 512), (170, 1001)])
def test_ms_ssim_odd_and_minimal_sizes(photo, shape):
    h, w = shape
    original = np.ascontiguousarray(np.tile(photo, (1, 2, 1))[:h, :w])
    rec = roundtrip(original, "JPEG", quality=20)
    assert metrics.ms_ssim(original, rec).value == reference_ms_ssim(original, rec)
    small = metrics.ms_ssim(original[:160], rec[:160])
    assert math.isnan(small.value) and "160" in small.reason


def test_ms_ssim_identical_constant_and_extreme_pairs():
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    black, white = np.zeros_like(noise), np.full_like(noise, 255)
    grey, grey2 = np.full_like(noise, 128), np.full_like(noise, 131)
    assert metrics.ms_ssim(noise, noise).value == pytest.approx(1.0, abs=TOLERANCE)
    assert metrics.ms_ssim(grey, grey).value == pytest.approx(1.0, abs=TOLERANCE)
    for a, b in [(noise, noise), (grey, grey), (grey, grey2), (black, white), (white, black), (noise, black),
                 (noise, 255 - noise)]:
        assert metrics.ms_ssim(a, b).value == reference_ms_ssim(a, b)


def _sse_reference(a: np.ndarray, b: np.ndarray) -> tuple:
    """The previous per-pixel formulas: exact integer sums for RGB, per-pixel float64 YCbCr differences."""
    diff = a.astype(np.int32) - b.astype(np.int32)
    rgb = tuple(float(v) for v in np.einsum("ijk,ijk->k", diff, diff, dtype=np.int64))
    d = rgb_to_ycbcr_float(a.astype(np.float64) - b.astype(np.float64)) - np.array([0.0, 128.0, 128.0])
    return rgb, tuple(float(v) for v in np.einsum("ijk,ijk->k", d, d))


def _image_pairs():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    yield a, np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    yield a, 255 - a
    yield np.zeros((64, 48, 3), np.uint8), np.full((64, 48, 3), 255, np.uint8)
    yield a, a


def test_sse_rgb_is_bit_identical_to_the_integer_formula():
    for a, b in _image_pairs():
        assert metrics.sse_per_channel(a, b) == _sse_reference(a, b)[0]
        assert metrics.sse_rgb_and_ycbcr(a, b) == (metrics.sse_per_channel(a, b), metrics.sse_ycbcr(a, b))


def test_sse_rgb_stays_exact_past_32_bit_sums():
    """Black vs white at 2000x1200 sums to 1.56e11 per channel: int32 would wrap, float32 would round."""
    black, white = np.zeros((1200, 2000, 3), np.uint8), np.full((1200, 2000, 3), 255, np.uint8)
    assert metrics.sse_per_channel(black, white) == (65025.0 * 2_400_000,) * 3
    assert metrics.sse_rgb_and_ycbcr(black, white)[0] == (65025.0 * 2_400_000,) * 3
    rng = np.random.default_rng(5)
    a, b = (rng.integers(0, 256, (1200, 2000, 3), dtype=np.uint8) for _ in range(2))
    assert metrics.sse_per_channel(a, b) == _sse_reference(a, b)[0]
    assert metrics.sse_rgb_and_ycbcr(a, b) == _sse_reference(a, b)


def _exact_ycbcr_sse(a: np.ndarray, b: np.ndarray) -> list:
    """color.py's defining formula (y = KR·r + KG·g + KB·b, cb = (b − y)/CB_SCALE, cr = (r − y)/CR_SCALE,
    offsets cancel) in exact rational arithmetic on its float64 constants, summed over the pixels."""
    kr, kg, kb, cbs, crs = (Fraction(v) for v in (color.KR, color.KG, color.KB, color.CB_SCALE, color.CR_SCALE))
    err = (a.astype(np.int64) - b.astype(np.int64)).reshape(-1, 3)
    vectors, counts = np.unique(err, axis=0, return_counts=True)
    sums = [Fraction(0)] * 3
    for (r, g, bl), n in zip(vectors.tolist(), counts.tolist()):
        y = kr * r + kg * g + kb * bl
        for k, v in enumerate((y, (bl - y) / cbs, (r - y) / crs)):
            sums[k] += n * v * v
    return [float(v) for v in sums]


def test_sse_ycbcr_is_the_stored_per_pixel_formula_and_close_to_exact():
    """Bit-identical to the per-pixel float64 formula stored records were made with; within 1e-12 of the
    exact rational value of color.py's definition."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    pairs = [(a, np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)),
             (a, 255 - a), (np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)), (a, a)]
    for x, y in [*pairs, *_image_pairs()]:
        got, scale = metrics.sse_ycbcr(x, y), sum(metrics.sse_per_channel(x, y))
        assert got == _sse_reference(x, y)[1]
        assert got == pytest.approx(_exact_ycbcr_sse(x, y), rel=1e-12, abs=1e-14 * scale + 1e-20)


def test_sse_has_no_overflow_on_a_large_worst_case():
    a, b = np.zeros((2000, 3000, 3), np.uint8), np.full((2000, 3000, 3), 255, np.uint8)
    assert metrics.sse_per_channel(a, b) == (65025.0 * 6e6,) * 3
