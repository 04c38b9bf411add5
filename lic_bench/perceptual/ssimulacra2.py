"""SSIMULACRA 2 as computed by libjxl 0.11.2's `ssimulacra2` tool (April-2023 weights).

Written from the algorithm of libjxl `tools/ssimulacra2.cc` and `tools/gauss_blur.cc`: XYB colour (rescaled
to about 0..1, B minus Y), six scales halved in linear RGB, per scale and channel an SSIM map without the
luma denominator and two edge maps (ringing, blurring), each reduced to its 1- and 4-norm; a weighted sum
of the 108 norms goes through libjxl's cubic and power law.

libjxl blurs with the recursive Gaussian of Charalampidis (2016) at sigma 1.5 and zero padding. In exact
arithmetic that IIR filter equals a symmetric 9-tap kernel, but the tool runs it in float32 with poles on
the unit circle, and its rounding noise moves scores by up to 0.15; so we run the same float32 recursion,
rounding where the tool rounds, vectorised across rows (see _FloatRecursion). Pure computation: arrays in,
a float out.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from lic_bench.errors import LicBenchError

IMPLEMENTATION = "own-1"
FOLLOWS = "libjxl 0.11.2 ssimulacra2.cc, 2023-04 weights"

NUM_SCALES = 6
MIN_SIZE = 8  # the tool refuses smaller images
_C2 = np.float32(0.0009)
_SIGMA = 1.5

# libjxl lib/jxl/cms/opsin_params.h: opsin absorbance matrix (rows: L, M, S mixes of linear R, G, B) and bias.
_M02, _M00 = 0.078, 0.30
_M12, _M10 = 0.078, 0.23
_M20, _M21 = 0.24342268924547819, 0.20476744424496821
_OPSIN = np.array([[_M00, 1.0 - _M02 - _M00, _M02],
                   [_M10, 1.0 - _M12 - _M10, _M12],
                   [_M20, _M21, 1.0 - _M20 - _M21]], dtype=np.float32)
_OPSIN_BIAS = np.float32(0.0037930732552754493)

# The 108 weights of Msssim::Score() (April 2023), in its order: channel X, Y, B; scale 1:1 .. 1:32;
# 1-norm then 4-norm; for each: SSIM', ringing, blurring. Zeros included so the indexing stays literal.
_WEIGHTS = np.array([
    0.0, 0.0007376606707406586, 0.0,
    0.0, 0.0007793481682867309, 0.0,
    0.0, 0.0004371155730107379, 0.0,
    1.1041726426657346, 0.00066284834129271, 0.00015231632783718752,
    0.0, 0.0016406437456599754, 0.0,
    1.8422455520539298, 11.441172603757666, 0.0,
    0.0007989109436015163, 0.000176816438078653, 0.0,
    1.8787594979546387, 10.94906990605142, 0.0,
    0.0007289346991508072, 0.9677937080626833, 0.0,
    0.00014003424285435884, 0.9981766977854967, 0.00031949755934435053,
    0.0004550992113792063, 0.0, 0.0,
    0.0013648766163243398, 0.0, 0.0,
    0.0, 0.0, 0.0,
    7.466890328078848, 0.0, 17.445833984131262,
    0.0006235601634041466, 0.0, 0.0,
    6.683678146179332, 0.00037724407979611296, 1.027889937768264,
    225.20515300849274, 0.0, 0.0,
    19.213238186143016, 0.0011401524586618361, 0.001237755635509985,
    176.39317598450694, 0.0, 0.0,
    24.43300999870476, 0.28520802612117757, 0.0004485436923833408,
    0.0, 0.0, 0.0,
    34.77906344483772, 44.835625328877896, 0.0,
    0.0, 0.0, 0.0,
    0.0, 0.0, 0.0,
    0.0, 0.0008680556573291698, 0.0,
    0.0, 0.0, 0.0,
    0.0, 0.0005313191874358747, 0.0,
    0.00016533814161379112, 0.0, 0.0,
    0.0, 0.0, 0.0,
    0.0004179171803251336, 0.0017290828234722833, 0.0,
    0.0020827005846636437, 0.0, 0.0,
    8.826982764996862, 23.19243343998926, 0.0,
    95.1080498811086, 0.9863978034400682, 0.9834382792465353,
    0.0012286405048278493, 171.2667255897307, 0.9807858872435379,
    0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537,
])
assert _WEIGHTS.size == 108


def recursive_gaussian_coefficients(sigma: float) -> tuple[int, np.ndarray, np.ndarray]:
    """(radius N, n2[3], d1[3]) of libjxl's CreateRecursiveGaussian: three 2nd-order IIR filters, k = 1, 3, 5."""
    radius = float(math.floor(3.2795 * sigma + 0.2546 + 0.5))  # (57), roundf: halves away from zero
    omega = np.array([1.0, 3.0, 5.0]) * math.pi / (2.0 * radius)
    p = np.array([1.0, -1.0, 1.0]) / np.tan(0.5 * omega)  # (37)
    r = np.array([1.0, -1.0, 1.0]) * p * p / np.sin(omega)  # (44)
    rho = np.exp(-0.5 * sigma * sigma * omega * omega) / radius  # (50)
    d13 = p[0] * r[1] - r[0] * p[1]
    d35 = p[1] * r[2] - r[1] * p[2]
    d51 = p[2] * r[0] - r[2] * p[0]
    zeta15, zeta35 = d35 / d13, d51 / d13  # (52)
    system = np.array([p, r, [zeta15, zeta35, 1.0]])  # (56)
    gamma = np.array([1.0, radius * radius - sigma * sigma, zeta15 * rho[0] + zeta35 * rho[1] + rho[2]])  # (55)
    beta = np.linalg.solve(system, gamma)  # (53)
    # (33). libjxl stores these as float; we keep double, which makes the kernel exactly finite (with float
    # coefficients the tool's recursion leaves a residual oscillation of relative size ~1e-8).
    n2 = -beta * np.cos(omega * (radius + 1.0))
    d1 = -2.0 * np.cos(omega)
    return int(radius), n2, d1


def recursive_gaussian_1d(signal: np.ndarray, radius: int, n2: np.ndarray, d1: np.ndarray) -> np.ndarray:
    """libjxl's FastGaussian1D along the last axis, step by step (vectorised over the other axes).

    Each output n sums the inputs n-N-1 and n+N-1 (zero outside), feeds three recursions
    y_k[n] = n2_k * sum - d1_k * y_k[n-1] - y_k[n-2] started at n = -N+1, and adds them. This is the
    filter in double precision; tests check the float32 emulation below against it.
    """
    x = np.asarray(signal, dtype=np.float64)
    width = x.shape[-1]
    out = np.zeros_like(x)
    prev = np.zeros((3,) + x.shape[:-1])
    prev2 = np.zeros_like(prev)
    zero = np.zeros(x.shape[:-1])
    n2 = n2.reshape((3,) + (1,) * (x.ndim - 1))
    d1 = d1.reshape(n2.shape)
    for n in range(-radius + 1, width):
        left, right = n - radius - 1, n + radius - 1
        total = (x[..., left] if left >= 0 else zero) + (x[..., right] if right < width else zero)
        current = n2 * total - d1 * prev - prev2
        prev2, prev = prev, current
        if n >= 0:
            out[..., n] = current.sum(axis=0)
    return out


class _FloatRecursion:
    """libjxl's float32 recursive Gaussian, rounding where the tool rounds.

    The three recursions have their poles on the unit circle, so float32 rounding errors never decay: they
    random-walk along each row and column and reach ~1e-5, which moves the variance terms of the SSIM map
    (C2 = 0.0009) enough to shift scores by up to ~0.15. To stay within 0.1 of the tool we therefore run
    the recursion itself in float32 with its operation order and fused multiply-adds (emulated exactly: a
    product of two floats is exact in double, and the sum is rounded to float once): horizontally
    FastGaussian1D's 4-lane unrolled form, vertically the plain per-column recursion of VerticalStrip.
    Both are vectorised across all rows (resp. columns) of all planes at once.
    """

    LANES = 4  # JXL_GAUSS_MAX_LANES

    def __init__(self, sigma: float):
        radius, n2, d1 = recursive_gaussian_coefficients(sigma)
        self.radius = radius
        f32 = lambda v: np.asarray(v, dtype=np.float32).astype(np.float64)  # noqa: E731 - values as stored
        d2 = d1 * d1
        self.n2 = f32(n2)[:, None]
        self.d1 = f32(d1)[:, None]
        self.neg_d1 = f32(-d1)[:, None]
        # Coefficients of four consecutive outputs from four inputs and the two previous outputs (the sympy
        # expansion in CreateRecursiveGaussian), indexed [k, lane].
        mul_in = f32(np.stack([n2, -d1 * n2, d2 * n2 - n2, -d2 * d1 * n2 + 2.0 * d1 * n2], axis=1))
        mul_prev = f32(np.stack([-d1, d2 - 1.0, -d2 * d1 + 2.0 * d1, d2 * d2 - 3.0 * d2 + 1.0], axis=1))
        mul_prev2 = f32(np.stack([-np.ones(3), d1, -d2 + 1.0, d2 * d1 - 2.0 * d1], axis=1))
        # Input j reaches lane l through mul_in[l - j] (zero for l < j): ShiftLeftLanes<j>.
        shifted = [np.zeros((3, 4)) for _ in range(4)]
        for j in range(4):
            shifted[j][:, j:] = mul_in[:, :4 - j]
        self.block_in = [m[:, :, None] for m in shifted]
        self.block_prev = mul_prev[:, :, None]
        self.block_prev2 = mul_prev2[:, :, None]

    def _padded(self, x: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
        """Zeros before and after `axis` so every input the recursion reads is in range (the tool's borders)."""
        n = self.radius
        shape = list(x.shape)
        shape[axis] += 3 * n
        padded = np.zeros(shape, dtype=np.float32)
        index = [slice(None)] * x.ndim
        index[axis] = slice(2 * n, 2 * n + x.shape[axis])
        padded[tuple(index)] = x
        return padded, 2 * n

    @staticmethod
    def _fma(a, b, c, out):
        """out = float32(a * b + c), one rounding as a fused multiply-add (products of floats are exact in double)."""
        product = np.multiply(a, b, dtype=np.float64)
        np.add(product, c, out=out, casting="unsafe")

    def along_rows(self, x: np.ndarray) -> np.ndarray:
        """FastGaussian1D along axis 0 of a (width, rows) float32 array: image rows stored column-wise."""
        length, count = x.shape
        n_rad = self.radius
        padded, origin = self._padded(x, 0)
        out = np.empty_like(x)
        prev = np.zeros((3, count), dtype=np.float32)
        prev2 = np.zeros_like(prev)
        y = np.empty_like(prev)

        def single(n):
            nonlocal prev, prev2, y
            total = padded[origin + n - n_rad - 1] + padded[origin + n + n_rad - 1]
            np.multiply(self.n2, total, out=y, casting="unsafe")  # Mul
            self._fma(-1.0, prev2, y, y)  # mul_prev2 lane 0 is -1
            self._fma(self.neg_d1, prev, y, y)
            if n >= 0:
                np.add(y[0], y[1] + y[2], out=out[n])
            prev2, prev, y = prev, y, prev2

        n = -n_rad + 1
        first_aligned = -(-(n_rad + 1) // self.LANES) * self.LANES
        while n < min(first_aligned, length):
            single(n)
            n += 1
        acc = np.empty((3, 4, count), dtype=np.float32)
        while n < length - n_rad + 1 - (self.LANES - 1):
            left = origin + n - n_rad - 1
            right = origin + n + n_rad - 1
            sums = padded[left:left + 4] + padded[right:right + 4]
            np.multiply(self.block_in[0], sums[0], out=acc, casting="unsafe")
            for j in range(1, 4):  # input j reaches lanes j..3 only
                self._fma(self.block_in[j][:, j:], sums[j], acc[:, j:], acc[:, j:])
            self._fma(self.block_prev2, prev2[:, None, :], acc, acc)
            self._fma(self.block_prev, prev[:, None, :], acc, acc)
            prev2[...] = acc[:, 2]
            prev[...] = acc[:, 3]
            np.add(acc[0], acc[1] + acc[2], out=out[n:n + 4])
            n += 4
        while n < length:
            single(n)
            n += 1
        return out

    def along_columns(self, x: np.ndarray) -> np.ndarray:
        """VerticalStrip along axis 1 of a (planes, height, width) float32 array.

        y_k = n2_k * sum - d1_k * y_k[n-1] - y_k[n-2], as the tool's two fused operations per step.
        """
        length = x.shape[1]
        n_rad = self.radius
        padded, origin = self._padded(x, 1)
        out = np.empty_like(x)
        n2 = self.n2[:, :, None]
        d1 = self.d1[:, :, None]
        prev = np.zeros((3, x.shape[0], x.shape[2]), dtype=np.float32)
        prev2 = np.zeros_like(prev)
        inner = np.empty_like(prev)
        for n in range(-n_rad + 1, length):
            total = padded[:, origin + n - n_rad - 1] + padded[:, origin + n + n_rad - 1]
            # NegMulSub(d1, y[n-1], y[n-2]) = -(d1 * y[n-1] + y[n-2]), rounded once; then MulAdd(n2, sum, .).
            self._fma(d1, prev, prev2, inner)
            self._fma(n2, total, -inner, prev2)  # prev2 is free now: it becomes y[n]
            prev2, prev = prev, prev2
            if n >= 0:
                np.add(prev[0], prev[1] + prev[2], out=out[:, n])
        return out


@lru_cache(maxsize=None)
def _recursion(sigma: float = _SIGMA) -> _FloatRecursion:
    return _FloatRecursion(sigma)


def _blur(width_major: np.ndarray) -> np.ndarray:
    """libjxl FastGaussian of each plane: a (W, P, H) float32 stack in, (P, H, W) out.

    The horizontal pass runs on the width-major layout so that each step reads contiguous memory; one
    transpose then gives the plane-major layout in which the vertical pass steps over contiguous rows.
    """
    width, count, height = width_major.shape
    rec = _recursion()
    horizontal = rec.along_rows(width_major.reshape(width, count * height)).reshape(width, count, height)
    return rec.along_columns(np.ascontiguousarray(horizontal.transpose(1, 2, 0)))


@lru_cache(maxsize=1)
def _srgb_to_linear_table() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _linear_planes(image: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 sRGB -> 3xHxW float32 linear sRGB."""
    return np.ascontiguousarray(_srgb_to_linear_table()[image].transpose(2, 0, 1))


def _positive_xyb(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB planes -> libjxl XYB, then MakePositiveXYB (X*14+0.42, Y+0.01, B-Y+0.55)."""
    mixed = np.tensordot(_OPSIN, linear, axes=1) + _OPSIN_BIAS
    np.maximum(mixed, 0, out=mixed)
    mixed = np.cbrt(mixed) - np.cbrt(_OPSIN_BIAS)
    x = np.float32(0.5) * (mixed[0] - mixed[1])
    y = np.float32(0.5) * (mixed[0] + mixed[1])
    return np.stack([x * np.float32(14.0) + np.float32(0.42),
                     y + np.float32(0.01),
                     (mixed[2] - y) + np.float32(0.55)])


def _downsample(linear: np.ndarray) -> np.ndarray:
    """2x2 box average; an odd last row/column is averaged with itself (libjxl clamps the index)."""
    _, h, w = linear.shape
    if h % 2 or w % 2:
        linear = np.pad(linear, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    c, h2, w2 = linear.shape
    blocks = linear.reshape(c, h2 // 2, 2, w2 // 2, 2)
    return (blocks[:, :, 0, :, 0] + blocks[:, :, 0, :, 1] + blocks[:, :, 1, :, 0] + blocks[:, :, 1, :, 1]) * np.float32(0.25)


def _norms(error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel: mean and 4th root of the mean 4th power, accumulated in float64."""
    e = error.reshape(error.shape[0], -1).astype(np.float64)
    sq = e * e
    return e.mean(axis=1), np.sqrt(np.sqrt((sq * sq).mean(axis=1)))


def _scale_norms(img1: np.ndarray, img2: np.ndarray) -> np.ndarray:
    """The 3 channels x 2 norms x (SSIM', ringing, blurring) of one scale, as an array [c, n, map]."""
    t1 = np.ascontiguousarray(img1.transpose(2, 0, 1))  # width-major for the horizontal blur
    t2 = np.ascontiguousarray(img2.transpose(2, 0, 1))
    blurred = _blur(np.concatenate([t1 * t1, t2 * t2, t1 * t2, t1, t2], axis=1))
    s11, s22, s12, mu1, mu2 = np.split(blurred, 5)
    num_m = np.float32(1.0) - (mu1 - mu2) * (mu1 - mu2)
    num_s = np.float32(2.0) * (s12 - mu1 * mu2) + _C2
    denom_s = (s11 - mu1 * mu1) + (s22 - mu2 * mu2) + _C2
    ssim_error = np.maximum(1.0 - (num_m * num_s / denom_s).astype(np.float64), 0.0)
    d1 = (1.0 + np.abs(img2 - mu2)).astype(np.float64) / (1.0 + np.abs(img1 - mu1)).astype(np.float64) - 1.0
    ringing = np.maximum(d1, 0.0)
    blurring = np.maximum(-d1, 0.0)
    out = np.empty((3, 2, 3))
    for m, error in enumerate((ssim_error, ringing, blurring)):
        mean, norm4 = _norms(error)
        out[:, 0, m] = mean
        out[:, 1, m] = norm4
    return out


def _score(scales: list[np.ndarray]) -> float:
    """Msssim::Score(): weighted sum in libjxl's order, then its cubic and power law.

    The weight index runs on contiguously over the scales actually computed, exactly as the tool does, so
    an image too small for six scales is scored with the tool's (shifted) weights.
    """
    total = 0.0
    i = 0
    for c in range(3):
        for norms in scales:
            for n in range(2):
                for m in range(3):
                    total += _WEIGHTS[i] * abs(norms[c, n, m])
                    i += 1
    total *= 0.9562382616834844
    total = 2.326765642916932 * total - 0.020884521182843837 * total ** 2 + 6.248496625763138e-05 * total ** 3
    if total > 0:
        return 100.0 - 10.0 * total ** 0.6276336467831387
    return 100.0


def _check_pair(reference: np.ndarray, distorted: np.ndarray) -> None:
    for name, image in (("reference", reference), ("distorted", distorted)):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise LicBenchError(f"ssimulacra2: {name} image must be uint8 HxWx3 RGB, got {image.dtype} {image.shape}")
    if reference.shape != distorted.shape:
        raise LicBenchError(f"ssimulacra2: image sizes differ ({reference.shape[1]}x{reference.shape[0]} vs "
                            f"{distorted.shape[1]}x{distorted.shape[0]}); score images of the same size")
    h, w = reference.shape[:2]
    if h < MIN_SIZE or w < MIN_SIZE:
        raise LicBenchError(f"ssimulacra2: image is {w}x{h}; the metric needs at least {MIN_SIZE}x{MIN_SIZE} pixels")


def ssimulacra2(reference: np.ndarray, distorted: np.ndarray) -> float:
    """SSIMULACRA 2 score of `distorted` against `reference` (uint8 HxWx3 sRGB): 100 = identical, higher is better."""
    reference = np.asarray(reference)
    distorted = np.asarray(distorted)
    _check_pair(reference, distorted)
    linear1, linear2 = _linear_planes(reference), _linear_planes(distorted)
    scales: list[np.ndarray] = []
    for scale in range(NUM_SCALES):
        # The tool checks the size before halving, so the last scale may be smaller than 8 pixels.
        if linear1.shape[1] < MIN_SIZE or linear1.shape[2] < MIN_SIZE:
            break
        if scale:
            linear1, linear2 = _downsample(linear1), _downsample(linear2)
        scales.append(_scale_norms(_positive_xyb(linear1), _positive_xyb(linear2)))
    return float(_score(scales))


# The uniform surface of a metric (see lic_bench.perceptual).
NAME = "ssimulacra2"
LABEL = "SSIMULACRA 2"
UNIT = ""
HIGHER_IS_BETTER = True
COST = "moderate"


def compute(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Same as ssimulacra2(): the metric-table entry point."""
    return ssimulacra2(reference, distorted)


def version() -> str:
    """Identity of this implementation; bump IMPLEMENTATION whenever its numbers may change."""
    return f"{IMPLEMENTATION} ({FOLLOWS})"


def check_available() -> None:
    """Always available: pure numpy."""
