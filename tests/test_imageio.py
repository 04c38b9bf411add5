import numpy as np
import pytest
from PIL import Image

from lic_bench.errors import LicBenchError
from lic_bench.imageio import crop, load_rgb, pad, pad_amounts, pixel_sha256


def test_rgb_loaded_as_is(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "x.png")
    im = load_rgb(tmp_path / "x.png")
    assert im.flags == [] and np.array_equal(im.pixels, photo)
    assert im.sha256 == pixel_sha256(photo)


def test_conversion_rules_are_recorded(tmp_path, photo):
    Image.fromarray(photo).convert("L").save(tmp_path / "g.png")
    g = load_rgb(tmp_path / "g.png")
    assert g.flags == ["gray->rgb"] and np.array_equal(g.pixels[..., 0], g.pixels[..., 2])
    Image.fromarray(photo).convert("P").save(tmp_path / "p.png")
    assert load_rgb(tmp_path / "p.png").flags == ["palette->rgb"]
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = load_rgb(tmp_path / "a.png")
    assert a.flags == ["alpha-dropped"] and np.array_equal(a.pixels, photo)


def test_transparent_rgba_rejected(tmp_path, photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[0, 0, 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    with pytest.raises(LicBenchError, match="t.png: image has transparent pixels"):
        load_rgb(tmp_path / "t.png")


def test_16bit_rejected(tmp_path):
    Image.fromarray(np.full((8, 8), 4000, np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(LicBenchError, match="deep.png: 16-bit PNG"):
        load_rgb(tmp_path / "deep.png")


@pytest.mark.parametrize("content,match", [
    (b"", "empty file"),
    (b"hello, I am not an image", "not a readable image"),
])
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(LicBenchError, match=match):
        load_rgb(p)


def test_truncated_png(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(LicBenchError, match="cut.png: not a readable image"):
        load_rgb(tmp_path / "cut.png")


@pytest.mark.parametrize("h,w,m", [(200, 328, 128), (512, 768, 64), (7, 5, 16), (1, 1, 256), (64, 64, 64)])
def test_pad_is_centred_and_crop_inverts(h, w, m):
    rng = np.random.default_rng(0)
    img = rng.integers(1, 256, (h, w, 3)).astype(np.uint8)
    p = pad(img, m)
    assert p.shape[0] % m == 0 and p.shape[1] % m == 0
    t, b, l, r = pad_amounts(h, w, m)
    assert b - t in (0, 1) and r - l in (0, 1)  # odd pixel goes bottom/right
    assert np.array_equal(crop(p, h, w, m), img)
    assert p.sum() == img.sum()  # zeros added only
