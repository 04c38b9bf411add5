import numpy as np
import pytest

from lic_bench import color, metrics


def test_primaries_and_neutral_axis():
    grey = np.full((1, 1, 3), 77, np.uint8)
    ycc = color.rgb_to_ycbcr_u8(grey)
    assert ycc.tolist() == [[[77, 128, 128]]]
    white = color.rgb_to_ycbcr_float(np.array([[[255, 255, 255]]]))
    assert white[0, 0] == pytest.approx([255, 128, 128])
    blue = color.rgb_to_ycbcr_float(np.array([[[0, 0, 255]]]))
    assert blue[0, 0, 0] == pytest.approx(0.0722 * 255)
    assert blue[0, 0, 1] == pytest.approx(255 * (1 - 0.0722) / 1.8556 + 128)  # Cb max = 255.5 -> clipped later


def test_float_round_trip_is_exact():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3)).astype(np.float64)
    assert np.allclose(color.ycbcr_to_rgb_float(color.rgb_to_ycbcr_float(rgb)), rgb, atol=1e-9)


def test_rounding_not_truncation():
    # Y of (10, 10, 11) is 10.0722 -> rounds to 10; a value like 10.9 must round up, not truncate.
    px = np.array([[[11, 11, 0]]], np.uint8)  # Y = 0.9278*11 = 10.2
    y = color.rgb_to_ycbcr_float(px)[0, 0, 0]
    assert color.rgb_to_ycbcr_u8(px)[0, 0, 0] == int(np.rint(y))
    px2 = np.array([[[12, 12, 0]]], np.uint8)  # Y = 11.13
    hi = np.array([[[255, 255, 0]]], np.uint8)  # Y = 236.59 -> 237 rounded, 236 truncated
    assert color.rgb_to_ycbcr_u8(hi)[0, 0, 0] == 237
    assert color.rgb_to_ycbcr_u8(hi, "compressai")[0, 0, 0] == 236
    assert color.rgb_to_ycbcr_u8(px2)[0, 0, 0] == 11


def _round_trip_psnr(img, policy):
    rec = color.ycbcr_to_rgb_u8(color.rgb_to_ycbcr_u8(img, policy), policy)
    return metrics.psnr_rgb(metrics.sse_per_channel(img, rec), img.shape[0] * img.shape[1])


def test_conversion_only_ceilings_on_a_photo(photo):
    canonical = _round_trip_psnr(photo, "bt709-8bit")
    truncating = _round_trip_psnr(photo, "compressai")
    assert canonical >= 52.0
    assert 42.0 <= truncating <= 46.0  # ~44 dB: truncation bias in both directions


def test_unknown_policy():
    with pytest.raises(ValueError, match="unknown colour policy"):
        color.rgb_to_ycbcr_u8(np.zeros((2, 2, 3), np.uint8), "bt601")
