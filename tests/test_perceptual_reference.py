"""Perceptual metrics against the reference tools' own scores (../shared/reference/perceptual), plus the
edge cases and the butteraugli_main wrapper's behaviour (with a fake binary)."""

import json
import math
import stat
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED
from lic_bench.errors import LicBenchError
from lic_bench.imageio import load_rgb
from lic_bench.perceptual import butteraugli, flip, score, ssimulacra2

FIXTURE = SHARED / "reference" / "perceptual"
FAKE = Path(__file__).parent / "fake_butteraugli.py"

needs_fixture = pytest.mark.skipif(not (FIXTURE / "scores.json").is_file(), reason="../shared/reference/perceptual absent")


def fixture_pairs() -> list[dict]:
    return json.loads((FIXTURE / "scores.json").read_text())["pairs"]


def _path(name: str) -> Path:
    return SHARED / "datasets" / name if name.startswith("kodak/") else FIXTURE / name


@lru_cache(maxsize=None)
def _image(name: str) -> np.ndarray:
    return load_rgb(_path(name)).pixels


def pair_images(pair: dict) -> tuple[np.ndarray, np.ndarray]:
    return _image(pair["reference"]), _image(pair["distorted"])


def _worst(metric: str, diffs: list[tuple[float, str]]) -> None:
    worst, where = max(diffs)
    print(f"\n{metric}: largest |difference| to the reference tool {worst:.3g} ({where}), {len(diffs)} pairs")


# --- SSIMULACRA 2 ---------------------------------------------------------------------------------------

@pytest.mark.slow
@needs_fixture
def test_ssimulacra2_every_pair_within_0_1_of_libjxl_0_11_2():
    diffs = []
    for pair in fixture_pairs():
        expected = pair["ssimulacra2_libjxl_0.11.2"]
        got = ssimulacra2.ssimulacra2(*pair_images(pair))
        assert abs(got - expected) <= 0.1, f"{pair['distorted']}: {got:.6f} vs libjxl {expected:.6f}"
        if expected == 100.0:
            assert got == 100.0
        diffs.append((abs(got - expected), pair["distorted"]))
    _worst("ssimulacra2", diffs)


def test_ssimulacra2_identical_odd_sizes_is_100(photo):
    for h, w in ((8, 8), (9, 13), (37, 23), (199, 301)):
        crop = np.ascontiguousarray(photo[:h, :w])
        assert ssimulacra2.ssimulacra2(crop, crop.copy()) == 100.0


def test_ssimulacra2_orders_distortions(photo):
    rng = np.random.default_rng(0)
    img = np.ascontiguousarray(photo[:120, :97])
    mild = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    strong = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    assert 100.0 > ssimulacra2.ssimulacra2(img, mild) > ssimulacra2.ssimulacra2(img, strong)


def test_ssimulacra2_refuses_what_the_tool_refuses(photo):
    small = np.ascontiguousarray(photo[:7, :20])
    with pytest.raises(LicBenchError, match="at least 8x8"):
        ssimulacra2.ssimulacra2(small, small)
    with pytest.raises(LicBenchError, match="sizes differ"):
        ssimulacra2.ssimulacra2(photo[:20, :20], photo[:20, :21])
    with pytest.raises(LicBenchError, match="uint8"):
        ssimulacra2.ssimulacra2(photo[:20, :20].astype(np.float32), photo[:20, :20])


def test_recursive_gaussian_is_a_normalised_gaussian_of_sigma_1_5():
    """The double-precision recursion's impulse response against a sampled Gaussian (independent maths)."""
    radius, n2, d1 = ssimulacra2.recursive_gaussian_coefficients(1.5)
    assert radius == 5  # libjxl: round(3.2795 * sigma + 0.2546)
    impulse = np.zeros(41)
    impulse[20] = 1.0
    response = ssimulacra2.recursive_gaussian_1d(impulse, radius, n2, d1)
    assert response.sum() == pytest.approx(1.0, abs=1e-12)
    x = np.arange(41) - 20
    gauss = np.exp(-x ** 2 / (2 * 1.5 ** 2))
    assert np.abs(response - gauss / gauss.sum()).max() < 0.01
    assert np.abs(response[np.abs(x) >= radius]).max() < 1e-12  # finite support: 2N-1 taps


def test_float32_recursion_follows_the_exact_filter():
    rng = np.random.default_rng(1)
    rec = ssimulacra2._FloatRecursion(1.5)
    radius, n2, d1 = ssimulacra2.recursive_gaussian_coefficients(1.5)
    rows = rng.random((6, 53)).astype(np.float32)  # odd length: scalar head, 4-lane blocks, scalar tail
    exact = ssimulacra2.recursive_gaussian_1d(rows, radius, n2, d1)
    assert np.abs(rec.along_rows(np.ascontiguousarray(rows.T)).T - exact).max() < 1e-5
    planes = rng.random((2, 29, 7)).astype(np.float32)
    exact_cols = ssimulacra2.recursive_gaussian_1d(planes.transpose(0, 2, 1), radius, n2, d1).transpose(0, 2, 1)
    assert np.abs(rec.along_columns(planes) - exact_cols).max() < 1e-5


# --- Butteraugli (the real binary when installed) ---------------------------------------------------------

def _real_butteraugli_version():
    try:
        return butteraugli.tool_version()
    except LicBenchError:
        return None


@pytest.mark.slow
@needs_fixture
def test_butteraugli_every_pair_at_printed_precision():
    try:
        butteraugli.check_available()
    except LicBenchError as e:
        pytest.skip(f"no butteraugli_main: {e}")
    version = butteraugli.tool_version()
    field_max = f"butteraugli_max_libjxl_{version}"
    field_norm = f"butteraugli_3norm_libjxl_{version}"
    if version is None or field_max not in fixture_pairs()[0]:
        pytest.skip(f"butteraugli_main is libjxl {version}; the fixture has scores for 0.7.0 and 0.11.2 only")
    assert butteraugli.version() == f"libjxl {version} butteraugli_main"
    diffs = []
    for pair in fixture_pairs():
        got = butteraugli.compute(*pair_images(pair))
        # printed as "%.10f" and "%f": equal to within one unit of the last digit
        assert got["butteraugli-max"] == pytest.approx(pair[field_max], abs=1e-10), pair["distorted"]
        assert got["butteraugli-pnorm3"] == pytest.approx(pair[field_norm], abs=1e-6), pair["distorted"]
        diffs.append((abs(got["butteraugli-max"] - pair[field_max]), pair["distorted"]))
    _worst(f"butteraugli {version} max", diffs)


# --- FLIP -------------------------------------------------------------------------------------------------

@pytest.mark.slow
@needs_fixture
def test_flip_every_pair_within_1e_5():
    pytest.importorskip("flip_evaluator")
    assert flip.version().startswith("flip-evaluator ")
    if not flip.version().startswith("flip-evaluator 1.7"):
        pytest.skip(f"{flip.version()} installed; the fixture was made with flip-evaluator 1.7")
    diffs = []
    for pair in fixture_pairs():
        expected = pair["flip_mean_flip-evaluator_1.7"]
        got = flip.compute(*pair_images(pair))
        assert abs(got - expected) <= 1e-5, f"{pair['distorted']}: {got} vs {expected}"
        diffs.append((abs(got - expected), pair["distorted"]))
    _worst("flip", diffs)


def test_flip_default_viewing_conditions():
    assert flip.PIXELS_PER_DEGREE == pytest.approx(67.0206, abs=1e-4)  # FLIP paper: 0.7 m, 3840 px, 0.7 m wide


def test_flip_without_package_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "flip_evaluator", None)
    with pytest.raises(LicBenchError, match="pip install flip-evaluator") as e:
        flip.check_available()
    assert "\n" not in str(e.value)


# --- butteraugli_main wrapper, with a fake binary ---------------------------------------------------------

@pytest.fixture
def fake_butteraugli(tmp_path, monkeypatch):
    folder = tmp_path / "jxl-tools"
    folder.mkdir()
    binary = folder / "butteraugli_main"
    binary.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_BUTTERAUGLI_LOG", str(tmp_path / "argv.log"))
    monkeypatch.delenv("FAKE_BUTTERAUGLI_MODE", raising=False)
    monkeypatch.delenv("FAKE_BUTTERAUGLI_VERSION", raising=False)
    butteraugli._probe.cache_clear()
    return binary


def _pair(photo):
    ref = np.ascontiguousarray(photo[:33, :41])
    dist = ref.copy()
    dist[5:9, 7:12] = 0
    return ref, dist


def test_fake_butteraugli_parsed_and_temp_files_removed(fake_butteraugli, tmp_path, photo):
    ref, dist = _pair(photo)
    got = butteraugli.compute(ref, dist, binary=fake_butteraugli)
    diff = np.abs(ref.astype(float) - dist.astype(float))
    assert got["butteraugli-max"] == pytest.approx(round(diff.max() / 10, 10))
    assert got["butteraugli-pnorm3"] == pytest.approx(round(diff.mean() / 10, 6))
    argv = (tmp_path / "argv.log").read_text().split()
    assert argv[2:] == ["--pnorm", "3"] and argv[0].endswith(".png") and argv[1].endswith(".png")
    assert not Path(argv[0]).parent.exists()


def test_parse_output_of_both_libjxl_versions():
    # 0.11.2 and 0.7.0 print the same two lines (scores of kodim01/webp q10 from the fixture README's tools)
    assert butteraugli.parse_output("7.7857289314\n3-norm: 3.119393\n") == {
        "butteraugli-max": 7.7857289314, "butteraugli-pnorm3": 3.119393}
    assert butteraugli.parse_output("0.0000000000\n3-norm: 0.000000") == {"butteraugli-max": 0.0, "butteraugli-pnorm3": 0.0}
    with pytest.raises(ValueError):
        butteraugli.parse_output("3-norm: 1.0\n")


@pytest.mark.parametrize("mode, message", [("crash", "exit code 1: Failed to decode"), ("garbage", "unexpected butteraugli_main output")])
def test_fake_butteraugli_failures_are_one_line_and_clean(fake_butteraugli, tmp_path, monkeypatch, photo, mode, message):
    monkeypatch.setenv("FAKE_BUTTERAUGLI_MODE", mode)
    with pytest.raises(LicBenchError, match=message) as e:
        butteraugli.compute(*_pair(photo), binary=fake_butteraugli)
    assert "\n" not in str(e.value)
    assert not Path((tmp_path / "argv.log").read_text().split()[0]).parent.exists()


def test_fake_butteraugli_timeout(fake_butteraugli, tmp_path, monkeypatch, photo):
    monkeypatch.setenv("FAKE_BUTTERAUGLI_MODE", "hang")
    with pytest.raises(LicBenchError, match="took longer than 1 s"):
        butteraugli.compute(*_pair(photo), binary=fake_butteraugli, timeout=1)
    assert not Path((tmp_path / "argv.log").read_text().split()[0]).parent.exists()


def test_version_from_tool_from_sibling_cjxl_else_sha256(fake_butteraugli, monkeypatch):
    identity = butteraugli.version(binary=fake_butteraugli)  # a temp file: no dpkg owner, no cjxl beside it
    assert identity.startswith("libjxl butteraugli_main (version unknown, sha256 ")
    assert butteraugli.tool_version(fake_butteraugli) is None
    cjxl = fake_butteraugli.parent / "cjxl"
    cjxl.write_text(f"#!{sys.executable}\nprint('cjxl v0.9.1 [AVX2,SSE4,SSE2]')\n")
    cjxl.chmod(0o755)
    butteraugli._probe.cache_clear()
    assert butteraugli.version(binary=fake_butteraugli) == "libjxl 0.9.1 butteraugli_main"
    monkeypatch.setenv("FAKE_BUTTERAUGLI_VERSION", "0.11.2")
    butteraugli._probe.cache_clear()
    assert butteraugli.version(binary=fake_butteraugli) == "libjxl 0.11.2 butteraugli_main"


def test_binary_from_argument_env_or_path(fake_butteraugli, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(butteraugli.ENV, raising=False)
    with pytest.raises(LicBenchError) as e:
        butteraugli.check_available()
    message = str(e.value)
    assert "\n" not in message and "butteraugli_main" in message and "LIC_BENCH_BUTTERAUGLI" in message
    assert "apt-get install libjxl-devtools" in message
    monkeypatch.setenv("PATH", str(fake_butteraugli.parent))
    assert butteraugli.find_binary() == fake_butteraugli
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv(butteraugli.ENV, str(fake_butteraugli))
    assert butteraugli.find_binary() == fake_butteraugli
    monkeypatch.setenv(butteraugli.ENV, str(tmp_path / "missing"))
    with pytest.raises(LicBenchError, match="missing is not an executable"):
        butteraugli.check_available()
    assert butteraugli.find_binary(fake_butteraugli.parent) == fake_butteraugli  # explicit wins, folder accepted


# --- score() and the uniform surface ----------------------------------------------------------------------

def test_score_paths_and_arrays(fake_butteraugli, tmp_path, photo):
    from PIL import Image

    ref, dist = _pair(photo)
    Image.fromarray(ref).save(tmp_path / "ref.png")
    Image.fromarray(dist).save(tmp_path / "dist.png")
    by_path = score("ssimulacra2", tmp_path / "ref.png", str(tmp_path / "dist.png"))
    assert by_path == score("ssimulacra2", ref, dist) < 100
    both = score("butteraugli", ref, dist, binary=fake_butteraugli)
    assert set(both) == set(butteraugli.NAMES)
    assert score("butteraugli-pnorm3", ref, dist, binary=fake_butteraugli) == both["butteraugli-pnorm3"]
    with pytest.raises(LicBenchError, match="did you mean 'ssimulacra2'"):
        score("ssimulacra", ref, dist)
    with pytest.raises(LicBenchError, match="uint8"):
        score("ssimulacra2", ref.astype(np.float32), dist)


def test_metric_surface_is_uniform():
    for module, higher in ((ssimulacra2, True), (butteraugli, False), (flip, False)):
        assert module.HIGHER_IS_BETTER is higher
        assert module.COST in ("cheap", "moderate", "expensive")
        assert callable(module.compute) and callable(module.version) and callable(module.check_available)
    assert ssimulacra2.version() == "own-1 (libjxl 0.11.2 ssimulacra2.cc, 2023-04 weights)"
    assert math.isfinite(ssimulacra2.compute(np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 9, np.uint8)))
