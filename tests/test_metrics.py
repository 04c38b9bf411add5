import math

import numpy as np
import pytest

from lic_bench import metrics


def test_psnr_known_values():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 10  # SSE 100 over 48 samples
    sse = metrics.sse_per_channel(a, b)
    assert sse == (100.0, 0.0, 0.0)
    assert metrics.psnr_rgb(sse, 16) == pytest.approx(10 * math.log10(255**2 / (100 / 48)))
    assert metrics.psnr_rgb((0.0, 0.0, 0.0), 16) == math.inf


def test_sse_has_no_uint8_wraparound():
    a = np.zeros((1, 1, 3), np.uint8)
    b = np.full((1, 1, 3), 255, np.uint8)
    assert metrics.sse_per_channel(a, b) == (65025.0,) * 3


def test_psnr_ycbcr_weighting():
    sse = (1.0 * 100, 4.0 * 100, 0.25 * 100)
    y, cb, cr = (metrics.psnr_from_mse(s / 100) for s in sse)
    assert metrics.psnr_ycbcr_611(sse, 100) == pytest.approx((6 * y + cb + cr) / 8)


def test_bpp_uses_original_size():
    assert metrics.bpp(1000, 100, 80) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        metrics.bpp(10, 0, 5)


def test_ms_ssim_db():
    assert metrics.ms_ssim_db(0.99) == pytest.approx(20.0)
    assert math.isnan(metrics.ms_ssim_db(math.nan))


def test_ms_ssim_matches_pytorch_msssim_and_small_side_is_nan(photo):
    import torch
    from pytorch_msssim import ms_ssim

    rng = np.random.default_rng(1)
    noisy = np.clip(photo.astype(int) + rng.integers(-8, 9, photo.shape), 0, 255).astype(np.uint8)
    got = metrics.ms_ssim(photo, noisy)
    t = lambda x: torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None].contiguous()  # noqa: E731  (as CompressAI)
    assert got.value == ms_ssim(t(photo), t(noisy), data_range=255).item()
    assert 0.9 < got.value < 1.0
    assert metrics.ms_ssim(photo, photo).value == pytest.approx(1.0, abs=1e-6)
    small = metrics.ms_ssim(photo[:160, :300], noisy[:160, :300])
    assert math.isnan(small.value) and "160" in small.reason
    assert not math.isnan(metrics.ms_ssim(photo[:161, :300], noisy[:161, :300]).value)


def test_metrics_refuse_float_or_mismatched_input():
    a = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        metrics.sse_per_channel(a, a.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        metrics.sse_per_channel(a, a[:3])
