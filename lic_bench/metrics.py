"""Image-quality and rate metrics. Pure functions on uint8 arrays; no I/O.

All metrics are computed on the 8-bit reconstruction against the original 8-bit RGB image.
Per-image records keep the raw quantities (bytes, H, W, per-channel SSE) so that every
aggregation (mean of per-image values, pooled MSE) is derived later, never baked in.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .color import CB_SCALE, CR_SCALE, KB, KG, KR, rgb_to_ycbcr_float

PEAK = 255.0
#: pytorch-msssim with its default 11-px window and 5 scales needs the smaller side > 160 px.
MSSSIM_MIN_SIDE = 161


def sse_per_channel(original: np.ndarray, reconstruction: np.ndarray) -> tuple[float, float, float]:
    """Sum of squared errors of each of the three channels, exact: every square is an integer
    ≤ 65025 and every partial sum an integer below 2^53, so BLAS may sum in any order."""
    _check_pair(original, reconstruction)
    err = np.subtract(original, reconstruction, dtype=np.float32).reshape(-1, 3)  # integers in [-255, 255]
    return tuple(float(np.dot(e, e)) for e in (err[:, c].astype(np.float64) for c in range(3)))  # type: ignore[return-value]


def sse_ycbcr(original: np.ndarray, reconstruction: np.ndarray) -> tuple[float, float, float]:
    """SSE of Y, Cb, Cr (BT.709 full range, float, no rounding) between two RGB images.

    Summed per pixel in float64 exactly as stored records (and the shipped anchors) were made: a
    closed form from the integer error Gram matrix is more exact but differs in the last bits, and
    stored numbers stay bit-identical.

    The definition is :func:`_sse_ycbcr_reference`. :func:`_sse_ycbcr_fast` (about 4x faster) gives
    the same bits and is used wherever a start-up probe shows this numpy build sums as the reference
    does (see there); otherwise, and for inputs whose memory layout the reference would not sum in
    raster order, the reference itself runs."""
    _check_pair(original, reconstruction)
    if _raster_layout(original) and _raster_layout(reconstruction) and _fast_sse_ycbcr_exact():
        return _sse_ycbcr_fast(original, reconstruction)
    return _sse_ycbcr_reference(original, reconstruction)


def _sse_ycbcr_reference(original: np.ndarray, reconstruction: np.ndarray) -> tuple[float, float, float]:
    """The definition (how every stored SSE-YCbCr was made): the per-pixel error d in float64, then
    Σ d·d per channel by einsum, which adds the products to one accumulator per channel in raster
    order (one multiply then one add per pixel on builds without a fused multiply-add baseline)."""
    # the transform is affine: Ycc(a) − Ycc(b) = linear part applied to (a − b), offsets cancel
    d = rgb_to_ycbcr_float(original.astype(np.float64) - reconstruction.astype(np.float64)) - np.array([0.0, 128.0, 128.0])
    return tuple(float(v) for v in np.einsum("ijk,ijk->k", d, d))  # type: ignore[return-value]


#: Pixels per block of the fast path's per-pixel stage (its scratch stays a few MB).
_SSE_BLOCK_PIXELS = 65536
_KR_KB = np.array([[KR], [KB]])
_CR_CB_SCALE = np.array([[CR_SCALE], [CB_SCALE]])
_KR_KB.flags.writeable = _CR_CB_SCALE.flags.writeable = False


def _raster_layout(image: np.ndarray) -> bool:
    """Rows of packed RGB pixels, rows in order (C-contiguous, or a crop of such an array): the
    reference then sums in raster order. Other layouts (transposed, flipped) take the reference."""
    s0, s1, s2 = image.strides
    return s2 == 1 and s1 == 3 and s0 >= 3 * image.shape[1]


def _sse_ycbcr_fast(original: np.ndarray, reconstruction: np.ndarray,
                    block_pixels: int = _SSE_BLOCK_PIXELS, rgb_sse: list | None = None) -> tuple[float, float, float]:
    """:func:`_sse_ycbcr_reference`'s bits, without its temporaries. With `rgb_sse` (three floats) it
    also adds each channel's RGB SSE into it from the same planar errors (exact integer sums).

    Per pixel the same IEEE operations on the same operands give the same d: the integer error
    (exact in int16, then float64), ``y = (KR*r + KG*g) + KB*b``, ``(c - y) / SCALE + 128 - 128``
    for each chroma, each rounded once as numpy's ufuncs do. The planes are filled block by block
    into one buffer stored back to front, so that ``z[:, ::-1]`` (stride -8) walks the pixels in
    raster order: einsum then picks its generic strided kernel, which keeps one accumulator per
    plane and adds fl(d·d) to it pixel after pixel from the first (a C loop ``accum += a*b``; a
    unit stride would select a SIMD kernel with four partial sums instead). A 2-D operand that
    needs no buffering is run plane by plane, each whole plane in one call (a 1-D one would be cut
    into 8192-element partial sums), and ``order='C'`` pins that axis order and the view's
    direction (numpy 1.24 to 2.4 keep it with the default order too), so the order is the
    reference's. Where that reasoning does not hold, the probe below turns this path off."""
    h, w = original.shape[:2]
    n = h * w
    rows = max(1, min(h, block_pixels // max(w, 1)))
    z = np.empty((3, n))  # rows: r -> Cr, g -> Y, b -> Cb; pixel i at column n-1-i
    err = np.empty((rows, w, 3), np.int16)
    prod = np.empty((2, rows * w))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        m = (r1 - r0) * w
        e = err[: r1 - r0]
        np.subtract(original[r0:r1], reconstruction[r0:r1], out=e, dtype=np.int16)
        zb = z[:, n - r1 * w: n - r0 * w]
        np.copyto(zb, e.reshape(m, 3).T[:, ::-1])  # planar float64 r, g, b, back to front
        if rgb_sse is not None:
            for c in range(3):
                rgb_sse[c] += float(np.dot(zb[c], zb[c]))
        y, rb, p = zb[1], zb[::2], prod[:, :m]
        np.multiply(rb, _KR_KB, out=p)  # KR*r, KB*b
        np.multiply(y, KG, out=y)  # KG*g
        np.add(p[0], y, out=y)  # KR*r + KG*g
        np.add(y, p[1], out=y)  # + KB*b
        np.subtract(rb, y, out=rb)  # r - y, b - y
        np.divide(rb, _CR_CB_SCALE, out=rb)
        np.add(rb, 128.0, out=rb)
        np.subtract(rb, 128.0, out=rb)  # d_Cr, d_Cb
    zf = z[:, ::-1]
    cr, y_, cb = np.einsum("ij,ij->i", zf, zf, order="C")
    return float(y_), float(cb), float(cr)


@functools.lru_cache(maxsize=None)
def _fast_sse_ycbcr_exact() -> bool:
    """Whether :func:`_sse_ycbcr_fast` gives the reference's bits with this numpy build.

    The reference's einsum kernel uses numpy's ``npyv_muladd``: a separate multiply and add on
    x86-64 wheels (baseline without FMA), a fused multiply-add where the build's baseline has one
    (aarch64, x86-64-v3 builds); the fast path's C loop may differ there, and einsum's loop
    structure is numpy's internal business. One probe on random images (larger than einsum's
    8192-element buffer, odd sizes) shows either bits that agree or sums that differ."""
    rng = np.random.default_rng(20240607)
    a = rng.integers(0, 256, (41, 317, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (41, 317, 3), dtype=np.uint8)
    return _sse_ycbcr_fast(a, b, block_pixels=4096) == _sse_ycbcr_reference(a, b)


def sse_rgb_and_ycbcr(original: np.ndarray, reconstruction: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(sse_per_channel, sse_ycbcr), what a job needs: one pass over the error where the fast path runs."""
    _check_pair(original, reconstruction)
    if _raster_layout(original) and _raster_layout(reconstruction) and _fast_sse_ycbcr_exact():
        rgb = [0.0, 0.0, 0.0]
        ycc = _sse_ycbcr_fast(original, reconstruction, rgb_sse=rgb)
        return (rgb[0], rgb[1], rgb[2]), ycc
    return sse_per_channel(original, reconstruction), _sse_ycbcr_reference(original, reconstruction)


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


def ms_ssim(original: np.ndarray, reconstruction: np.ndarray, device: str = "cpu") -> MsSsim:
    """MS-SSIM of two uint8 RGB images: pytorch-msssim's value (contiguous float32 NCHW input as CompressAI
    gives it, data_range=255, defaults), bit for bit on a CPU, computed about 5x faster on one thread
    (benchmarks/harness_overhead.py). `device` is a torch device ('cuda' runs it on the GPU, within 2e-7).

    Images whose smaller side is ≤ 160 px cannot be evaluated with the default window and 5 scales:
    the result is NaN with the reason, never an exception.
    """
    _check_pair(original, reconstruction)
    h, w = original.shape[:2]
    if min(h, w) < MSSSIM_MIN_SIDE:
        return MsSsim(math.nan, f"smaller side {min(h, w)} px <= 160 px: MS-SSIM needs > 160 px")
    if not str(device).startswith("cpu"):
        return MsSsim(_ms_ssim(original, reconstruction, device))
    import torch

    threads = torch.get_num_threads()
    if threads == 1:
        return MsSsim(_ms_ssim(original, reconstruction, device))
    # its small strip operations are many times slower with intra-op threads (measured 24 ms on one
    # thread vs 280 ms on two on a 2-core machine): one thread, and the caller's setting restored
    torch.set_num_threads(1)
    try:
        return MsSsim(_ms_ssim(original, reconstruction, device))
    finally:
        torch.set_num_threads(threads)


#: pytorch-msssim's defaults (CompressAI and LIC papers report MS-SSIM with these)
MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MSSSIM_WINDOW = 11
MSSSIM_SIGMA = 1.5
MSSSIM_K = (0.01, 0.03)
#: planes blurred per scale: x, y, x², y², xy of three channels and one zero plane (16 vectorise best)
_PLANES = 16
#: output rows per strip on a CPU: a strip's planes stay in cache between blur and formula
_CPU_STRIP_ROWS = 64


@functools.lru_cache(maxsize=None)
def _windows(device: str):
    """Depthwise kernels (vertical, horizontal) made as pytorch-msssim makes its window: float32 exp,
    normalised in float32 (the sum is not exactly 1; keeping that rounding keeps the value identical)."""
    import torch

    coords = torch.arange(MSSSIM_WINDOW, dtype=torch.float32) - MSSSIM_WINDOW // 2
    g = torch.exp(-(coords**2) / (2 * MSSSIM_SIGMA**2))
    g = g / g.sum()
    return (g.view(1, 1, -1, 1).repeat(_PLANES, 1, 1, 1).to(device),
            g.view(1, 1, 1, -1).repeat(_PLANES, 1, 1, 1).to(device))


def _scale_means(x, y, last: bool, strip_rows: int):
    """Per-channel mean of the cs map (the SSIM map at the last scale) of H×W×3 float32 images.

    pytorch-msssim's float32 operations in its order, reorganised: the fifteen planes are blurred by one
    depthwise convolution in channels-last layout (oneDNN's fast kernel; five channels-first calls are
    ~10x slower with bit-identical output), strip by strip so the planes stay in cache."""
    import torch
    import torch.nn.functional as F

    h, w, _ = x.shape
    k = MSSSIM_WINDOW - 1
    vertical, horizontal = _windows(str(x.device))
    c1 = (MSSSIM_K[0] * PEAK) ** 2
    c2 = (MSSSIM_K[1] * PEAK) ** 2
    maps = torch.empty(3, h - k, w - k, dtype=torch.float32, device=x.device)
    # one buffer for every strip: fresh temporaries of megabytes each cost page faults
    buffer = torch.empty(1, min(strip_rows, h - k) + k, w, _PLANES, dtype=torch.float32, device=x.device)
    buffer[..., 15] = 0
    for top in range(0, h - k, strip_rows):
        rows = min(strip_rows, h - k - top)
        xs, ys = x[top:top + rows + k], y[top:top + rows + k]
        planes = buffer[:, :rows + k]
        planes[0, ..., 0:3], planes[0, ..., 3:6] = xs, ys
        torch.mul(planes[..., 0:6], planes[..., 0:6], out=planes[..., 6:12])  # x² | y²
        torch.mul(xs, ys, out=planes[0, ..., 12:15])
        blurred = F.conv2d(F.conv2d(planes.permute(0, 3, 1, 2), vertical, groups=_PLANES), horizontal, groups=_PLANES)
        b = blurred[0].permute(1, 2, 0)  # rows × W' × 16, a view
        mu_sq = b[..., 0:6] * b[..., 0:6]  # mu1² | mu2²
        sigma_sq = b[..., 6:12] - mu_sq  # sigma1² | sigma2²
        mu1_mu2 = b[..., 0:3] * b[..., 3:6]
        cs = (b[..., 12:15] - mu1_mu2).mul_(2).add_(c2)
        cs.div_((sigma_sq[..., 0:3] + sigma_sq[..., 3:6]).add_(c2))
        if last:
            cs.mul_((2 * mu1_mu2 + c1) / (mu_sq[..., 0:3] + mu_sq[..., 3:6] + c1))
        maps[:, top:top + rows].copy_(cs.permute(2, 0, 1))
    return maps.view(3, -1).mean(-1)  # channel-major and contiguous: pytorch-msssim's summation order


def _half(x):
    """torch's avg_pool2d(kernel 2, padding = side % 2) with the padding zeros counted, on H×W×C.
    Exact in float32 (pooled values keep at most 16 significant bits), so the order of the sum is free."""
    import torch.nn.functional as F

    h, w, _ = x.shape
    x = F.pad(x, (0, 0, w % 2, 0, h % 2, 0))  # the one padding zero an odd side uses comes first
    return (x[0::2, 0::2] + x[0::2, 1::2] + x[1::2, 0::2] + x[1::2, 1::2]) / 4


def _ms_ssim(original: np.ndarray, reconstruction: np.ndarray, device: str) -> float:
    import torch

    strip_rows = _CPU_STRIP_ROWS if torch.device(device).type == "cpu" else 1 << 30
    with torch.no_grad():
        x = torch.from_numpy(original.astype(np.float32)).to(device)  # a writable copy: torch warns on read-only arrays
        y = torch.from_numpy(reconstruction.astype(np.float32)).to(device)
        terms = []
        for scale in range(len(MSSSIM_WEIGHTS)):
            last = scale == len(MSSSIM_WEIGHTS) - 1
            terms.append(torch.relu(_scale_means(x, y, last, strip_rows)))
            if not last:
                x, y = _half(x), _half(y)
        weights = torch.tensor(MSSSIM_WEIGHTS, dtype=torch.float32, device=device)
        value = torch.prod(torch.stack(terms) ** weights.view(-1, 1), dim=0).mean()
    return float(value.item())


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: original {a.shape} vs reconstruction {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError("metrics are defined on uint8 images (round reconstructions to 8 bit first)")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected H×W×3 RGB, got shape {a.shape}")
