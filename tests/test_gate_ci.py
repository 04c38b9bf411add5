"""gate: the BD-rate interval over images, "worse on k of N images", and --require-significant (fails only
when the whole interval is above the threshold; without it, the point estimate decides as before)."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

import lic_bench.api
from conftest import sample_photo
from lic_bench.bdstats import per_image_summary
from lic_bench.cli import app

runner = CliRunner()
Q = "10,25,40,60,80"


@pytest.fixture
def six_images(tmp_path):
    d = tmp_path / "six"
    d.mkdir()
    for i, (name, y, x) in enumerate([("coffee.png", 0, 0), ("coffee.png", 150, 200), ("chelsea.png", 0, 0),
                                      ("chelsea.png", 100, 150), ("astronaut.png", 0, 0), ("astronaut.png", 250, 250)]):
        Image.fromarray(sample_photo(name)[y:y + 150, x:x + 190]).save(d / f"im{i}.png")
    return d


def gate(path, *extra):
    r = runner.invoke(app, ["gate", "--baseline", str(path), "-f", "json", "--resamples", "400", *extra])
    return r.exit_code, json.loads(r.output)["verdicts"][0]


def test_gate_interval_counts_and_require_significant(six_images, tmp_path):
    for args in (["run", "--codecs", "webp", "-d", str(six_images), "-q", Q, "--no-progress"],
                 ["baseline", "save", "-d", "six", "--codecs", "webp", "-o", str(tmp_path / "b")],
                 ["run", "--codecs", "webp:method=0", "-d", str(six_images), "-q", Q, "--no-progress"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
    path = tmp_path / "b" / "six" / "webp.json"
    code, v = gate(path, "--max-bd-rate", "100", "--max-psnr-drop", "100")
    assert code == 0 and v["images"] == 6
    # k of N from the per-image BD-rates computed independently from the two sets of records
    base = json.loads(path.read_text())["records"]
    (cr,) = lic_bench.api.results("six", "webp:method=0")
    assert v["images_worse"] == per_image_summary(base, list(cr.records), "psnr-rgb").n_worse
    assert any(f"worse on {v['images_worse']} of 6 images" in n for n in v["notes"])
    low, point, high = v["bd_rate_low"], v["bd_rate"], v["bd_rate_high"]
    assert low < point < high and any("400 resamples" in n for n in v["notes"])
    between = (low + point) / 2
    code, v = gate(path, "--max-bd-rate", f"{between}", "--max-psnr-drop", "100")
    assert code == 1 and v["outcome"] == "fail"  # default: the point estimate decides, as before
    code, v = gate(path, "--max-bd-rate", f"{between}", "--max-psnr-drop", "100", "--require-significant")
    assert code == 0 and v["outcome"] == "pass" and any("not a failure" in n for n in v["notes"])
    below = low - abs(low) / 2 - 0.01
    code, v = gate(path, "--max-bd-rate", f"{below}", "--max-psnr-drop", "100", "--require-significant")
    assert code == 1 and v["outcome"] == "fail"
    code, ms = gate(path, "--max-bd-rate", "100", "--max-psnr-drop", "100", "--metric", "psnr-y")
    assert code == 0 and ms["thresholds"]["metric"] == "psnr-y" and ms["bd_rate"] != point, ms
    assert ms["images_worse"] == per_image_summary(base, list(cr.records), "psnr-y").n_worse
    r = runner.invoke(app, ["gate", "--baseline", str(path), "--resamples", "400", "--max-bd-rate", "100", "--max-psnr-drop", "100"])
    assert "95 % CI" in r.output and "worse on" in r.output


def test_gate_with_three_images_says_why_there_is_no_interval(small_dataset, tmp_path):
    for args in (["run", "--codecs", "webp", "-d", str(small_dataset), "-q", Q, "--no-progress"],
                 ["baseline", "save", "-d", "imgs", "--codecs", "webp", "-o", str(tmp_path / "b")]):
        assert runner.invoke(app, args).exit_code == 0
    code, v = gate(tmp_path / "b" / "imgs" / "webp.json")
    assert code == 0 and v["bd_rate_low"] is None and v["images"] == 3 and v["images_worse"] == 0
    assert any("needs at least 5" in n for n in v["notes"])
