"""metrics.sse_ycbcr against its definition, bit for bit (``==`` on floats, never approx).

The definition is the formula every stored record and shipped anchor was made with; it is written
out here on its own (constants included) so that a change anywhere in lic_bench cannot move it.
The second half pins down how that formula sums: numpy's einsum adds fl(d·d) to one accumulator
per channel, pixel after pixel in raster order (a separate multiply and add on builds whose
baseline has no FMA, as x86-64 wheels), which is what the fast path reproduces."""

import io
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import KODAK
from PIL import Image, features

from lic_bench import color, metrics

KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB
CB_SCALE = 2.0 * (1.0 - KB)
CR_SCALE = 2.0 * (1.0 - KR)

#: ../shared/datasets/kodak next to the checkout, or a folder named by LIC_BENCH_KODAK_DIR (worktrees)
KODAK_DIR = next((d for d in (KODAK, Path(os.environ.get("LIC_BENCH_KODAK_DIR", "/nonexistent")))
                  if (d / "kodim01.png").is_file()), None)
requires_kodak = pytest.mark.skipif(KODAK_DIR is None, reason="Kodak images absent (../shared/datasets/kodak)")


def per_pixel_error(original: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """d of the definition: YCbCr of the float RGB error, chroma offset added and taken off again."""
    rgb = original.astype(np.float64) - reconstruction.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = KR * r + KG * g + KB * b
    cb = (b - y) / CB_SCALE + 128.0
    cr = (r - y) / CR_SCALE + 128.0
    return np.stack([y, cb, cr], axis=-1) - np.array([0.0, 128.0, 128.0])


def reference(original: np.ndarray, reconstruction: np.ndarray) -> tuple:
    """The definition (lic_bench's sse_ycbcr up to this change)."""
    d = per_pixel_error(original, reconstruction)
    return tuple(float(v) for v in np.einsum("ijk,ijk->k", d, d))


def assert_exact(original, reconstruction, what=""):
    want = reference(original, reconstruction)
    got = metrics.sse_ycbcr(original, reconstruction)
    assert type(got) is tuple and all(type(v) is float for v in got)
    assert got == want, (what, got, want)
    if metrics._fast_sse_ycbcr_exact() and metrics._raster_layout(original) and metrics._raster_layout(reconstruction):
        # the fast path itself, with blocks small enough that most images take several (and a short last one)
        assert metrics._sse_ycbcr_fast(original, reconstruction, block_pixels=1000) == want, what
    return got


def pair(shape, seed, lo=0, hi=256):
    rng = np.random.default_rng(seed)
    return (rng.integers(lo, hi, shape + (3,), dtype=np.uint8), rng.integers(lo, hi, shape + (3,), dtype=np.uint8))


def test_definition_constants_are_lic_bench_colour_constants():
    assert (color.KR, color.KG, color.KB, color.CB_SCALE, color.CR_SCALE) == (KR, KG, KB, CB_SCALE, CR_SCALE)
    a, b = pair((9, 11), 0)
    assert np.array_equal(per_pixel_error(a, b), color.rgb_to_ycbcr_float(a.astype(np.float64) - b.astype(np.float64))
                          - np.array([0.0, 128.0, 128.0]))


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (1, 997), (997, 1), (3, 5), (17, 31), (64, 64),
                                   (101, 257), (255, 383), (512, 768), (768, 512), (1, 70001), (70001, 1)])
def test_random_pairs(shape):
    a, b = pair(shape, 100003 * shape[0] + shape[1])
    assert_exact(a, b, shape)
    # small errors, as codecs make them
    rng = np.random.default_rng(7)
    near = np.clip(a.astype(np.int16) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    assert_exact(a, near, shape)


def test_identical_images_give_exact_zeros():
    for shape in [(1, 1), (5, 7), (200, 301)]:
        a, _ = pair(shape, 1)
        got = assert_exact(a, a.copy(), shape)
        assert got == (0.0, 0.0, 0.0) and all(str(v) == "0.0" for v in got)  # +0.0, not -0.0


def test_extreme_values():
    z = np.zeros((37, 53, 3), np.uint8)
    f = np.full((37, 53, 3), 255, np.uint8)
    assert_exact(z, f)
    assert_exact(f, z)
    for k in range(3):  # one channel at full swing, both signs
        one = z.copy()
        one[..., k] = 255
        assert_exact(one, z, k)
        assert_exact(z, one, k)
    checker = np.where((np.indices((37, 53)).sum(0) % 2)[..., None].astype(bool), f, z)
    assert_exact(checker, checker[::-1].copy())
    assert_exact(checker, 255 - checker)
    lo, hi = pair((77, 131), 2, 0, 2)  # tiny errors: 0/1 everywhere
    assert_exact(lo, hi)
    lo, hi = pair((77, 131), 3, 250, 256)
    assert_exact(lo, 255 - hi)


def test_empty_image():
    for shape in [(0, 5, 3), (5, 0, 3), (0, 0, 3)]:
        e = np.zeros(shape, np.uint8)
        assert metrics.sse_ycbcr(e, e) == reference(e, e) == (0.0, 0.0, 0.0)
        assert metrics._sse_ycbcr_fast(e, e) == (0.0, 0.0, 0.0)


def test_views_and_layouts():
    """Crops (what the runner passes after padding) take the fast path; layouts the definition would
    sum in another order (transposed, flipped) give the definition's bits through the definition."""
    a, b = pair((130, 170), 4)
    pa, pb = np.pad(a, ((5, 6), (7, 8), (0, 0))), np.pad(b, ((3, 2), (1, 9), (0, 0)))
    ca, cb = pa[5:-6, 7:-8], pb[3:-2, 1:-9]
    assert not ca.flags.c_contiguous and metrics._raster_layout(ca) and metrics._raster_layout(cb)
    assert_exact(ca, cb, "crop")
    assert_exact(a, cb, "crop")
    transposed = np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2)  # same pixels, columns in memory
    assert not metrics._raster_layout(transposed)
    assert_exact(transposed, b, "transposed")
    assert_exact(a[::-1], b[::-1], "flipped")
    assert_exact(a[:, ::2], b[:, ::2], "every other column")


def test_other_layouts_never_take_the_fast_path(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("fast path used")

    a, b = pair((40, 60), 5)
    monkeypatch.setattr(metrics, "_sse_ycbcr_fast", boom)
    for x, y in [(np.asfortranarray(a), b), (a[::-1], b), (a, b[:, ::-1]), (a[:, ::2], b[:, ::2])]:
        assert metrics.sse_ycbcr(x, y) == reference(x, y)
    with pytest.raises(AssertionError, match="fast path used"):
        metrics.sse_ycbcr(a, b)


def test_a_build_that_sums_differently_gets_the_definition(monkeypatch):
    a, b = pair((40, 60), 6)
    monkeypatch.setattr(metrics, "_fast_sse_ycbcr_exact", lambda: False)
    monkeypatch.setattr(metrics, "_sse_ycbcr_fast", lambda *args, **kw: (1.0, 2.0, 3.0))
    assert metrics.sse_ycbcr(a, b) == reference(a, b)


def test_sse_rgb_and_ycbcr_is_both():
    a, b = pair((33, 47), 8)
    assert metrics.sse_rgb_and_ycbcr(a, b) == (metrics.sse_per_channel(a, b), reference(a, b))


def roundtrip(img: np.ndarray, fmt: str, **params) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, **params)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


CODECS = [("JPEG", {"quality": 5}), ("JPEG", {"quality": 50}), ("JPEG", {"quality": 95, "subsampling": 0}),
          ("WEBP", {"quality": 5}), ("WEBP", {"quality": 50}), ("WEBP", {"quality": 100, "lossless": True})]


@requires_kodak
@pytest.mark.parametrize("name", ["kodim01", "kodim04", "kodim13", "kodim23"])
def test_kodak_reconstructions(name):
    original = np.asarray(Image.open(KODAK_DIR / f"{name}.png").convert("RGB"))
    for fmt, params in CODECS:
        if fmt == "WEBP" and not features.check("webp"):
            continue
        rec = roundtrip(original, fmt, **params)
        got = assert_exact(original, rec, (name, fmt, params))
        assert (got == (0.0, 0.0, 0.0)) == bool(params.get("lossless"))
    # the runner's path for a padded codec: a crop of a larger decoded image
    padded = np.pad(roundtrip(original, "JPEG", quality=30), ((0, 16), (0, 8), (0, 0)), mode="edge")
    assert_exact(original, padded[: original.shape[0], : original.shape[1]], (name, "crop"))


# --- how the definition sums (the finding the fast path rests on) ---------------------------------

def _sequential(d: np.ndarray, fused: bool) -> tuple:
    """Σ d·d per channel, pixel by pixel in raster order from 0.0, with every step rounded to float64:
    fl(acc + fl(v·v)), or fl(acc + v·v) (one rounding, a fused multiply-add) with fused=True."""
    out = []
    for k in range(3):
        acc = 0.0
        for v in d[..., k].ravel().tolist():
            acc = float(Fraction(v) * Fraction(v) + Fraction(acc)) if fused else acc + v * v
        out.append(acc)
    return tuple(out)


def _pairwise(d: np.ndarray) -> tuple:
    """numpy's own sum of each contiguous channel plane (pairwise, unrolled by 8): another order."""
    return tuple(float(np.sum(np.ascontiguousarray(d[..., k] * d[..., k]))) for k in range(3))


def test_the_definition_sums_pixel_after_pixel_in_raster_order():
    unfused = fused = 0
    discriminating = {"fma": False, "pairwise": False, "column order": False}
    for i, shape in enumerate([(1, 9), (9, 1), (7, 13), (23, 41), (40, 50)]):
        a, b = pair(shape, 100 + i)
        d = per_pixel_error(a, b)
        want = reference(a, b)
        seq, fma = _sequential(d, False), _sequential(d, True)
        # the whole chain must be one of these two, never some other grouping
        assert want in (seq, fma), shape
        unfused += want == seq
        fused += want == fma
        discriminating["fma"] |= seq != fma
        discriminating["pairwise"] |= _pairwise(d) != seq
        discriminating["column order"] |= _sequential(d.transpose(1, 0, 2), False) != seq
        # np.cumsum is a plain running sum too: same bits on this data
        assert tuple(float(v) for v in np.cumsum((d * d).reshape(-1, 3), axis=0)[-1]) == seq
    assert all(discriminating.values()), discriminating  # the data tells the orders apart
    assert (unfused, fused) in ((5, 0), (0, 5)), (unfused, fused)  # one behaviour per build
    # the fast path adds fl(d·d) separately; it is enabled exactly where the definition does the same
    assert metrics._fast_sse_ycbcr_exact() == (unfused == 5)


def test_the_running_sum_holds_on_large_images():
    """On full-size images too (einsum's buffer is 8192 elements: a blocked sum would show here)."""
    for shape in [(512, 768), (300, 1001)]:
        a, b = pair(shape, 200 + shape[1])
        d = per_pixel_error(a, b)
        want = reference(a, b)
        if metrics._fast_sse_ycbcr_exact():
            assert tuple(float(v) for v in np.cumsum((d * d).reshape(-1, 3), axis=0)[-1]) == want
            assert _pairwise(d) != want
        assert metrics.sse_ycbcr(a, b) == want


def test_the_fast_path_is_on_for_this_numpy():
    """On x86-64 wheels (baseline without FMA: the project's CI) the probe must pass, or the speed-up
    is silently lost."""
    import platform

    try:
        from numpy._core._multiarray_umath import __cpu_baseline__ as baseline
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_baseline__ as baseline
    if platform.machine().lower() not in ("x86_64", "amd64") or {"FMA3", "AVX2", "X86_V3", "X86_V4"} & set(baseline):
        pytest.skip(f"numpy for {platform.machine()} with baseline {baseline} may fuse einsum's multiply-add")
    assert metrics._fast_sse_ycbcr_exact()


def test_the_probe_rejects_a_build_whose_einsum_fuses(monkeypatch):
    """Where einsum's kernel fuses the multiply-add (aarch64 and x86-64-v3 builds use FMA for
    npyv_muladd), the definition's bits are the fused chain's; the probe must then see a difference."""
    def fused_reference(a, b):
        return _sequential(per_pixel_error(a, b), fused=True)

    monkeypatch.setattr(metrics, "_sse_ycbcr_reference", fused_reference)
    assert metrics._fast_sse_ycbcr_exact.__wrapped__() is False
    monkeypatch.setattr(metrics, "_sse_ycbcr_reference", lambda a, b: _sequential(per_pixel_error(a, b), fused=False))
    assert metrics._fast_sse_ycbcr_exact.__wrapped__() is True
