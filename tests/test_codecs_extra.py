"""HEIC (pillow-heif), JPEG XL and AVIF 4:4:4 (imagecodecs): round trips, determinism, rate order,
recorded versions, and the one-line refusal when the optional extra is missing."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from lic_bench import metrics
from lic_bench.errors import LicBenchError
from lic_bench.evaluate import evaluate
from lic_bench.runner import prepare
from lic_bench.specs import resolve_spec

KODAK = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"
if not KODAK.is_dir():
    KODAK = Path("/work/shared/datasets/kodak")
#: spec name -> the optional module it needs
NEEDS = {"heic": "pillow_heif", "heic:chroma=420": "pillow_heif", "jxl": "imagecodecs", "avif-444": "imagecodecs"}


def photo_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus texture: compresses like a photograph, unlike pure noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([128 + 90 * np.sin(x / 9 + c) * np.cos(y / 13 - c) for c in (0.0, 1.1, 2.3)], axis=-1)
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def sample_image() -> np.ndarray:
    """A 128x96 crop of kodim23 when Kodak is here, else the synthetic image."""
    path = KODAK / "kodim23.png"
    if path.exists():
        from PIL import Image

        with Image.open(path) as im:
            return np.array(im.convert("RGB"))[200:296, 300:428]
    return photo_like(96, 128)


def prepared(name: str):
    pytest.importorskip(NEEDS[name], reason=f"optional extra for {name} not installed")
    return prepare(resolve_spec(name))


@pytest.mark.parametrize("name", list(NEEDS))
@pytest.mark.parametrize("shape", [(37, 53), (1, 1), (16, 17)])
def test_round_trip_8bit_rgb(name, shape):
    pc = prepared(name)
    image = photo_like(*shape)
    op = pc.spec.operating_points[len(pc.spec.operating_points) // 2]
    data = pc.codec.encode(image, op)
    decoded = pc.codec.decode(bytes(data))  # from the bytes alone
    assert decoded.dtype == np.uint8 and decoded.shape == image.shape
    rec = evaluate(pc.codec, image, op)
    assert rec["status"] == "ok", rec["error"]
    if min(shape) > 8:  # a mid operating point is a real lossy copy, not garbage
        assert metrics.psnr_rgb(metrics.sse_per_channel(image, decoded), shape[0] * shape[1]) > 24


@pytest.mark.parametrize("name", list(NEEDS))
def test_same_bytes_twice(name):
    pc = prepared(name)
    image = sample_image()
    op = pc.spec.operating_points[0]
    assert pc.codec.encode(image, op) == type(pc.codec)(**pc.spec.params).encode(image, op)


@pytest.mark.parametrize("name", ["heic", "jxl", "avif-444"])
def test_rate_and_quality_follow_the_knob(name):
    pc = prepared(name)
    image = sample_image()
    knob = type(pc.codec).quality_knob
    ops = sorted(pc.spec.operating_points, reverse=not knob.increasing)  # worst quality first
    sizes, psnrs = [], []
    for op in ops:
        data = pc.codec.encode(image, op)
        sizes.append(len(data))
        psnrs.append(metrics.psnr_rgb(metrics.sse_per_channel(image, pc.codec.decode(data)), image.shape[0] * image.shape[1]))
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes
    assert psnrs == sorted(psnrs), psnrs


def test_heic_chroma_and_colour_are_what_the_adapter_states():
    heif = pytest.importorskip("pillow_heif")
    pc = prepared("heic")
    image = sample_image()
    data = pc.codec.encode(image, 40)
    assert data[4:12] == b"ftypheix"  # HEIF brand of HEVC range extensions (4:4:4); 'heic' is Main (4:2:0)
    decoded = heif.open_heif(io.BytesIO(data))
    nclx = decoded.info["nclx_profile"]
    assert (nclx["matrix_coefficients"], nclx["full_range_flag"]) == (6, 1)  # BT.601, full range
    assert decoded.info.get("chroma") == 444
    main = prepared("heic:chroma=420").codec.encode(image, 40)
    assert main[4:12] == b"ftypheic"
    assert heif.open_heif(io.BytesIO(main)).info.get("chroma") == 420


def test_avif_444_decodes_the_same_with_pillows_libavif():
    """An independent decoder (Pillow's own libavif build) reads the stream to the same pixels."""
    from PIL import Image, features

    pc = prepared("avif-444")
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF")
    image = sample_image()
    data = pc.codec.encode(image, 50)
    with Image.open(io.BytesIO(data)) as im:
        by_pillow = np.array(im.convert("RGB"))
    ours = pc.codec.decode(data)
    assert np.abs(by_pillow.astype(int) - ours.astype(int)).max() <= 1


def test_jxl_is_a_jpeg_xl_stream_and_threads_do_not_change_it():
    ic = pytest.importorskip("imagecodecs")
    pc = prepared("jxl")
    image = sample_image()
    data = pc.codec.encode(image, 2.0)
    assert ic.jpegxl_check(data)
    four = prepare(resolve_spec("jxl:threads=4"))
    assert four.digest == pc.digest  # threads are not identity ...
    assert four.codec.encode(image, 2.0) == data  # ... because they do not change the bytes


def test_versions_recorded_in_identity():
    heif = pytest.importorskip("pillow_heif")
    ic = pytest.importorskip("imagecodecs")
    v = prepare(resolve_spec("heic")).identity["versions"]
    assert v["pillow_heif"] == heif.__version__ and v["libheif"] == heif.libheif_version()
    assert "x265" in v["heif_encoder"] and "libde265" in v["heif_decoder"]
    known = ic.version(dict)
    assert prepare(resolve_spec("jxl")).identity["versions"] == {"imagecodecs": ic.__version__, "libjxl": known["libjxl"]}
    avif = prepare(resolve_spec("avif-444")).identity["versions"]
    assert avif["imagecodecs"] == ic.__version__ and avif["libavif"] == known["libavif"]


@pytest.mark.parametrize("spec,module,extra", [
    ("heic", "pillow_heif", "heif"), ("jxl", "imagecodecs", "imagecodecs"), ("avif-444", "imagecodecs", "imagecodecs"),
])
def test_refused_in_one_line_without_the_extra(monkeypatch, spec, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(LicBenchError) as err:
        prepare(resolve_spec(spec))
    message = str(err.value)
    assert "\n" not in message and f"pip install 'lic-bench[{extra}]'" in message
    codec = resolve_spec(spec)
    from lic_bench.registry import adapter_class

    with pytest.raises(LicBenchError, match=extra):
        adapter_class(codec.adapter)(**codec.params).encode(photo_like(8, 8), codec.operating_points[0])


def test_knobs_declared():
    from lic_bench.registry import adapter_class

    for name in ("webp", "jpeg", "avif", "jpeg2000", "heic", "jxl", "avif-imagecodecs"):
        knob = adapter_class(name).quality_knob
        assert knob is not None, name
    assert adapter_class("jxl").quality_knob.increasing is False  # lower distance = more bits
    assert adapter_class("jpeg2000").quality_knob.increasing is False
    assert adapter_class("heic").quality_knob.integer is True


def test_bad_operating_points_refused():
    pytest.importorskip("imagecodecs")
    with pytest.raises(LicBenchError, match="distance"):
        prepare(resolve_spec("jxl")).codec.check_operating_point(30)
    with pytest.raises(LicBenchError, match="0..99"):
        prepare(resolve_spec("avif-444")).codec.check_operating_point(100)


def test_heic_psy_switch_reaches_x265():
    """libheif forces psy-rd/psy-rdoq/aq-mode on; the adapter's x265: overrides must really change the stream."""
    pc = prepared("heic")
    image = sample_image()
    with_psy = prepare(resolve_spec("heic:psy=true"))
    assert with_psy.digest != pc.digest
    assert with_psy.codec.encode(image, 30) != pc.codec.encode(image, 30)
