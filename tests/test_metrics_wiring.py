"""Issue 18 (pixel metrics as metric-table entries, stored with their identity, added to finished runs,
scored by hand) and issue 20's rate-matched operating points, through the CLI and the Python API."""

import io
import json
import os
import sqlite3

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import lic_bench
from lic_bench.cli import app

runner = CliRunner()


def ok(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


def _rows(*args):
    return json.loads(ok("results", *args, "-f", "json"))


def test_run_metrics_equal_scoring_the_decoded_bitstreams_by_hand(small_dataset):
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30,70", "--metrics", "ssimulacra2", "--no-progress")
    rows = _rows("-d", "imgs", "--per-image")
    assert len(rows) == 6
    from lic_bench.store import Store
    with Store(readonly=True) as st:
        for r in rows:
            data = st.bitstream(r["bitstream_sha256"])
            decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            by_hand = lic_bench.score("ssimulacra2", small_dataset / r["image"], decoded)["ssimulacra2"]
            assert r["ssimulacra2"] == by_hand
    curve = _rows("-d", "imgs")
    assert curve[0]["ssimulacra2"] < curve[1]["ssimulacra2"]  # more bits, better score
    assert "SSIMULACRA 2" in ok("results", "-d", "imgs")  # the table shows the metrics a run measured


def test_metrics_add_gives_the_values_a_run_computes_and_is_idempotent(small_dataset, tmp_path):
    ok("run", "--codecs", "jpeg", "-d", small_dataset, "-q", "40", "--metrics", "ssimulacra2", "--no-progress",
       "--store", tmp_path / "with.sqlite")
    ok("run", "--codecs", "jpeg", "-d", small_dataset, "-q", "40", "--no-progress")
    assert all(r["ssimulacra2"] is None for r in _rows("-d", "imgs", "--per-image"))
    out = ok("metrics", "add", "ssimulacra2", "-d", small_dataset)
    assert "3 record(s) scored" in out
    assert "0 record(s) scored, 3 already" in ok("metrics", "add", "ssimulacra2", "-d", "imgs")
    added = {r["image"]: r["ssimulacra2"] for r in _rows("-d", "imgs", "--per-image")}
    ran = {r["image"]: r["ssimulacra2"] for r in _rows("-d", "imgs", "--per-image", "--store", tmp_path / "with.sqlite")}
    assert added == ran and all(v is not None for v in added.values())
    # a rerun asking for the metric computes nothing and keeps it
    assert "3 cached, 0 computed" in ok("run", "--codecs", "jpeg", "-d", small_dataset, "-q", "40", "--metrics", "ssimulacra2", "--no-progress")


def test_a_value_of_another_metric_version_is_never_mixed_in(small_dataset):
    ok("run", "--codecs", "jpeg", "-d", small_dataset, "-q", "40", "--metrics", "ssimulacra2", "--no-progress")
    db = sqlite3.connect(os.environ["LIC_BENCH_STORE"])
    (ident,) = {r[0] for r in db.execute("SELECT identity FROM metric_values")}
    assert ident.startswith("ssimulacra2/own-1")
    before = {r["image"]: r["ssimulacra2"] for r in _rows("-d", "imgs", "--per-image")}
    db.execute("INSERT INTO metric_values SELECT metric_version, spec_digest, op, pixel_sha256, metric, 'ssimulacra2/other', -1, created "
               "FROM metric_values")
    db.commit()
    assert {r["image"]: r["ssimulacra2"] for r in _rows("-d", "imgs", "--per-image")} == before


def test_an_unavailable_metric_is_refused_before_any_job(small_dataset, monkeypatch):
    monkeypatch.setenv("LIC_BENCH_BUTTERAUGLI", "/nonexistent/butteraugli_main")
    monkeypatch.setenv("PATH", "/nonexistent")
    r = runner.invoke(app, ["run", "--codecs", "webp", "-d", str(small_dataset), "-q", "30", "--metrics", "butteraugli-max"])
    assert r.exit_code != 0 and "butteraugli" in str(r.exception)
    assert not os.path.exists(os.environ["LIC_BENCH_STORE"])
    r = runner.invoke(app, ["run", "--codecs", "webp", "-d", str(small_dataset), "--metrics", "vmaf"])
    assert r.exit_code == 2 and "--metrics 'vmaf'" in r.output


def test_a_lower_is_better_metric_gives_the_bd_rate_of_the_negated_axis():
    """BD-rate on FLIP (lower is better) set to −PSNR equals BD-rate on PSNR; BD-quality flips sign."""
    from lic_bench.bdcompare import compare
    from lic_bench.record import METRICS, Record
    from lic_bench.references import Curve

    def curve(name, scale):
        recs = []
        for op, (b, mse) in enumerate([(1000, 60.0), (2000, 30.0), (4000, 14.0), (8000, 6.0)], start=1):
            for img, k in (("a", 1.0), ("b", 1.3)):
                r = Record(op=float(op), pixel_sha256=img, status="ok", bytes=int(b * scale), height=100, width=100,
                           sse_r=mse * k * 1e4, sse_g=mse * k * 1e4, sse_b=mse * k * 1e4, image=img)
                r.metrics = {"flip": -METRICS["psnr-rgb"].per_image(r)}
                recs.append(r)
        return Curve(name, "d", "measured", {}, records=recs)

    anchor, test = curve("anchor", 1.0), curve("test", 0.8)
    p, f = compare(anchor, test, "psnr-rgb"), compare(anchor, test, "flip")
    assert p["bd_rate"] < 0 and f["bd_rate"] == pytest.approx(p["bd_rate"], abs=1e-12)
    assert f["bd_quality"] == pytest.approx(-p["bd_quality"], abs=1e-12)


def test_score_command_and_api():
    from conftest import sample_photo
    a = sample_photo("coffee.png")[:200, :240]
    b = np.clip(a.astype(int) + 7, 0, 255).astype(np.uint8)
    v = lic_bench.score("psnr-rgb,ms-ssim,ssimulacra2", a, b)
    assert v["psnr-rgb"] == pytest.approx(10 * np.log10(255 ** 2 / np.mean((a.astype(float) - b) ** 2)), abs=1e-9)
    assert 0 < v["ms-ssim"] < 1 and v["ssimulacra2"] < 100
    assert lic_bench.score("ssimulacra2", a, a)["ssimulacra2"] == pytest.approx(100.0)


# ---------------------------------------------------------------- rate matching (issue 20)

def test_rate_matched_run_meets_targets_per_image_and_is_cached(small_dataset):
    out = ok("run", "--codecs", "webp,jpeg", "-d", small_dataset, "-q", "bpp=0.5,1.0", "--no-progress")
    assert "webp:target=bpp" in out
    rows = _rows("-d", "imgs", "--codecs", "webp:target=bpp", "--per-image")
    assert len(rows) == 6
    for r in rows:
        assert r["bpp"] <= r["op"] + 1e-12 and r["matched_encodes"] >= 2  # the default rule: not above the target
        assert abs(r["bpp"] - r["matched_reached"]) == 0
    assert "6 cached, 0 computed" in ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "bpp=0.5,1.0", "--no-progress")
    out = ok("compare", "webp:target=bpp", "jpeg:target=bpp", "-d", "imgs")
    assert "at bpp = 0.5 (3 images)" in out and "better on" in out
    # the sweep and the matched curve are two curves, never merged
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "50", "--no-progress")
    assert [r["op"] for r in _rows("-d", "imgs", "--codecs", "webp")] == [50.0]


def test_codecs_without_a_knob_say_so():
    r = runner.invoke(app, ["run", "--codecs", "tcm-small", "-d", "sample", "-q", "bpp=0.25"])
    assert r.exit_code != 0 and "no monotone quality knob" in str(r.exception)


# ---------------------------------------------------------------- the shipped anchor gains metrics from its bitstreams

def test_metrics_add_on_the_shipped_anchor_equals_scoring_its_decoded_bitstreams_by_hand(tmp_path):
    """FFmpeg's VVC decoder (PyAV) behind VTM's command line stands in for the user's VTM."""
    from conftest import KODAK
    from test_anchors import ffmpeg_vtm_dir
    av = pytest.importorskip("av")
    if "vvc" not in av.codecs_available or not (KODAK / "kodim01.png").is_file():
        pytest.skip("needs PyAV with VVC and ../shared/datasets/kodak")
    root = ffmpeg_vtm_dir(tmp_path / "vvc")
    out = ok("metrics", "add", "ssimulacra2", "-d", "kodak", "--data-dir", KODAK, "--codecs", "vtm-12.1",
             "--vtm-dir", root, "--images", "kodim01")
    assert "6 record(s) scored" in out
    from lic_bench.anchors import anchor_bitstream
    from lic_bench.names import resolve_curve
    from lic_bench.store import Store
    with Store(readonly=True) as st:
        curve = resolve_curve(st, "vtm-12.1", "kodak")
    got = {r.op: r.metrics["ssimulacra2"] for r in curve.records if r.image == "kodim01"}
    (tmp_path / "q47.bin").write_bytes(anchor_bitstream("vtm-12.1", "kodim01", 47))
    yuv = tmp_path / "q47.yuv"
    import subprocess
    subprocess.run([str(root / "bin" / "DecoderAppStatic"), "-b", str(tmp_path / "q47.bin"), "-o", str(yuv), "-d", "8"], check=True)
    from lic_bench import color
    ycc = np.fromfile(yuv, np.uint8).reshape(3, 512, 768).transpose(1, 2, 0)
    by_hand = lic_bench.score("ssimulacra2", KODAK / "kodim01.png", color.ycbcr_to_rgb_u8(ycc, "bt709-8bit"))["ssimulacra2"]
    assert sorted(got) == [22, 27, 32, 37, 42, 47] and got[47] == by_hand


def test_report_compares_rate_matched_curves_per_image(small_dataset, tmp_path):
    ok("run", "--codecs", "webp,jpeg", "-d", small_dataset, "-q", "bpp=0.6", "--no-progress")
    ok("report", "-d", "imgs", "--anchor", "", "-o", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert 'id="matched-table"' in html and "bpp = 0.6" in html and "of 3" in html
