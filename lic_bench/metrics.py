"""Image-quality and rate metrics. Pure functions on uint8 arrays; no I/O.

All metrics are computed on the 8-bit reconstruction against the original 8-bit RGB image.
Per-image records keep the raw quantities (bytes, H, W, per-channel SSE) so that every
aggregation (mean of per-image values, pooled MSE) is derived later, never baked in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .color import rgb_to_ycbcr_float

PEAK = 255.0
#: pytorch-msssim with its default 11-px window and 5 scales needs the smaller side > 160 px.
MSSSIM_MIN_SIDE = 161


def sse_per_channel(original: np.ndarray, reconstruction: np.ndarray) -> tuple[float, float, float]:
    """Sum of squared errors of each of the three channels (float64, exact for uint8 input)."""
    _check_pair(original, reconstruction)
    diff = original.astype(np.int32) - reconstruction.astype(np.int32)
    per = np.einsum("ijk,ijk->k", diff, diff, dtype=np.int64)  # exact integer sums
    return tuple(float(v) for v in per)  # type: ignore[return-value]


def sse_ycbcr(original: np.ndarray, reconstruction: np.ndarray) -> tuple[float, float, float]:
    """SSE of Y, Cb, Cr (BT.709 full range, float, no rounding) between two RGB images."""
    _check_pair(original, reconstruction)
    # the transform is affine: Ycc(a) − Ycc(b) = linear part applied to (a − b), offsets cancel
    d = rgb_to_ycbcr_float(original.astype(np.float64) - reconstruction.astype(np.float64)) - np.array([0.0, 128.0, 128.0])
    return tuple(float(v) for v in np.einsum("ijk,ijk->k", d, d))  # type: ignore[return-value]


def psnr_from_mse(mse: float, peak: float = PEAK) -> float:
    """PSNR in dB; identical images give +inf."""
    if mse < 0 or not math.isfinite(mse):
        raise ValueError(f"MSE must be finite and >= 0, got {mse}")
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def psnr_rgb(sse: tuple[float, float, float], n_pixels: int) -> float:
    """PSNR over R, G, B jointly: one MSE over all 3·H·W samples (CompressAI / LIC papers)."""
    return psnr_from_mse(sum(sse) / (3.0 * n_pixels))


def psnr_ycbcr_611(sse_ycc: tuple[float, float, float], n_pixels: int) -> float:
    """(6·PSNR_Y + PSNR_Cb + PSNR_Cr) / 8, the weighting used by JVET/JPEG AI."""
    y, cb, cr = (psnr_from_mse(s / n_pixels) for s in sse_ycc)
    return (6.0 * y + cb + cr) / 8.0


def bpp(n_bytes: int, height: int, width: int) -> float:
    """Bits per pixel over the *original* (unpadded) H×W."""
    if height <= 0 or width <= 0:
        raise ValueError("image must have positive size")
    return 8.0 * n_bytes / (height * width)


def ms_ssim_db(ms_ssim: float) -> float:
    """-10·log10(1 - MS-SSIM): the dB scale LIC papers plot."""
    if not math.isfinite(ms_ssim):
        return math.nan
    if ms_ssim >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - ms_ssim)


@dataclass(frozen=True)
class MsSsim:
    value: float  # NaN when not computable
    reason: str | None = None  # why it is NaN


def ms_ssim(original: np.ndarray, reconstruction: np.ndarray) -> MsSsim:
    """MS-SSIM of two uint8 RGB images with pytorch-msssim (float32 input as CompressAI, data_range=255, defaults).

    Images whose smaller side is ≤ 160 px cannot be evaluated with the default window and 5 scales:
    the result is NaN with the reason, never an exception.
    """
    _check_pair(original, reconstruction)
    h, w = original.shape[:2]
    if min(h, w) < MSSSIM_MIN_SIDE:
        return MsSsim(math.nan, f"smaller side {min(h, w)} px <= 160 px: MS-SSIM needs > 160 px")
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def to_tensor(a: np.ndarray):
        return torch.from_numpy(np.array(a, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)

    with torch.no_grad():
        v = _ms_ssim(to_tensor(original), to_tensor(reconstruction), data_range=PEAK).item()
    return MsSsim(float(v))


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: original {a.shape} vs reconstruction {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError("metrics are defined on uint8 images (round reconstructions to 8 bit first)")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected H×W×3 RGB, got shape {a.shape}")
