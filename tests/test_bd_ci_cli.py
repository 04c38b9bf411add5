"""`--ci`, `--rate-range`, `--anchor-points` in bdrate / compare / the Python API, on the two shipped
Kodak anchors (per-image records, no codec to run). Figures checked against the VTM-23.13 anchor's README
(../shared/anchors/kodak-vtm-23.13/README.md): BD-rate −0.208 % PSNR-RGB, −0.772 % MS-SSIM dB, per image
median −0.24 %, from −0.77 % to +0.60 %, better on 19 of 24."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

import lic_bench
from lic_bench.cli import app

runner = CliRunner()
BASE = ["bdrate", "--dataset", "kodak", "--codecs", "vtm-23.13", "--anchor", "vtm-12.1"]


def rows(*extra):
    r = runner.invoke(app, BASE + list(extra) + ["-f", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_interval_and_per_image_picture_match_the_anchor_readme():
    plain = {r["metric"]: r for r in rows("--metric", "psnr-rgb,ms-ssim-db")}
    ci = {r["metric"]: r for r in rows("--metric", "psnr-rgb,ms-ssim-db", "--ci", "95", "--resamples", "400")}
    for m in ("psnr-rgb", "ms-ssim-db"):
        assert ci[m]["bd_rate"] == plain[m]["bd_rate"] and ci[m]["bd_quality"] == plain[m]["bd_quality"]  # point unchanged
        assert ci[m]["bd_rate_low"] < ci[m]["bd_rate"] < ci[m]["bd_rate_high"]
        assert ci[m]["bd_quality_low"] < ci[m]["bd_quality"] < ci[m]["bd_quality_high"]
        iv = ci[m]["ci"]
        assert (iv["level"], iv["method"], iv["resamples"], iv["seed"], iv["n_images"]) == (0.95, "percentile", 400, 0, 24)
        assert iv["usable"] == 400 and iv["reason"] is None
    assert plain["psnr-rgb"]["bd_rate"] == pytest.approx(-0.208, abs=5e-4)
    assert plain["ms-ssim-db"]["bd_rate"] == pytest.approx(-0.772, abs=5e-4)
    p = ci["psnr-rgb"]
    assert (p["images"], p["images_better"], p["images_worse"]) == (24, 19, 5)
    assert p["per_image_median"] == pytest.approx(-0.24, abs=0.005)
    vals = p["per_image"]["values"].values()
    assert min(vals) == pytest.approx(-0.77, abs=0.005) and max(vals) == pytest.approx(0.60, abs=0.005)
    assert p["per_image_q1"] <= p["per_image_median"] <= p["per_image_q3"]


def test_same_seed_reproduces_and_the_table_states_everything():
    a = rows("--ci", "90", "--resamples", "300", "--seed", "7", "--ci-method", "bca")[0]
    b = rows("--ci", "90", "--resamples", "300", "--seed", "7", "--ci-method", "bca")[0]
    c = rows("--ci", "90", "--resamples", "300", "--seed", "8", "--ci-method", "bca")[0]
    assert (a["bd_rate_low"], a["bd_rate_high"]) == (b["bd_rate_low"], b["bd_rate_high"])
    assert (a["bd_rate_low"], a["bd_rate_high"]) != (c["bd_rate_low"], c["bd_rate_high"])
    assert a["ci_method"] == "bca" and a["ci_level"] == 0.9
    r = runner.invoke(app, BASE + ["--ci", "95", "--resamples", "300"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    for want in ("95 % CI", "19↓ 5↑ of 24", "300 resamples (300 usable), seed 0", "percentile",
                 "better on 19, worse on 5 of 24 images", "VTM 12.1"):
        assert want in text, want
    r = runner.invoke(app, BASE + ["--ci", "95", "--resamples", "300", "-f", "csv"])
    (row,) = list(csv.DictReader(io.StringIO(r.output)))
    assert row["ci_seed"] == "0" and row["ci_usable"] == "300" and row["images_worse"] == "5" and float(row["bd_rate_low"]) < 0


def test_a_paper_curve_has_no_interval_and_says_why():
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "tcm-large@paper", "--ci", "95", "--resamples", "200", "-f", "json"])
    (row,) = json.loads(r.output)
    assert row["bd_rate"] == pytest.approx(-11.39, abs=0.005)  # unchanged (anchor README figure)
    assert row["bd_rate_low"] is None and "no per-image records" in row["ci_note"] and row["per_image"] is None
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "tcm-large@paper", "--ci", "95", "--resamples", "200"])
    assert "no per-image records" in " ".join(r.output.split())


def test_rate_range_and_anchor_points_change_the_number_and_are_stated():
    full = rows()[0]
    rr = rows("--rate-range", "0.1,0.8", "--ci", "95", "--resamples", "200")[0]
    ap = rows("--anchor-points", "22,27,32,37")[0]
    assert rr["rate_range"] == [0.1, 0.8] and rr["bd_rate"] != full["bd_rate"]
    assert rr["bd_rate_low"] <= rr["bd_rate"] <= rr["bd_rate_high"]
    assert ap["anchor_points"] == [22, 27, 32, 37] and ap["bd_rate"] != full["bd_rate"] and ap["points"].startswith("4/")
    r = runner.invoke(app, BASE + ["--anchor-points", "22,27,32,37", "--rate-range", "0.1,0.8"])
    text = " ".join(r.output.split())
    assert "0.1–0.8 bpp only" in text and "anchor points 22,27,32,37 only" in text
    for bad in (["--rate-range", "0.8,0.1"], ["--anchor-points", "22,23"], ["--ci", "abc"], ["--ci-method", "bootstrap"],
                ["--resamples", "5"]):
        r = runner.invoke(app, BASE + bad)
        assert r.exit_code == 2 and bad[0] in r.output, (bad, r.output)


def test_compare_and_python_api_give_the_same_rows():
    r = runner.invoke(app, ["compare", "vtm-23.13", "vtm-12.1", "--dataset", "kodak", "--ci", "95", "--resamples", "300", "-f", "json"])
    assert r.exit_code == 0, r.output
    cmp_row = json.loads(r.output)
    t = lic_bench.bdrate("kodak", "vtm-23.13", "vtm-12.1", ci=95, resamples=300)
    (api_row,) = t.rows
    for k in ("bd_rate", "bd_rate_low", "bd_rate_high", "images_worse"):
        assert cmp_row[k] == api_row[k]
    assert t.options.level == 0.95
    r = runner.invoke(app, ["compare", "vtm-23.13", "vtm-12.1", "--dataset", "kodak", "--ci", "95", "--resamples", "300"])
    assert "worse on 5 of 24 images" in r.output and "[" in r.output


def test_every_table_metric_against_the_anchor_and_its_version():
    got = {r["metric"]: r for r in rows("--metric", "psnr-rgb,psnr-y,psnr-ycbcr,ms-ssim,ms-ssim-db", "--ci", "95",
                                        "--resamples", "200")}
    assert all(r["status"] == "ok" for r in got.values())
    for r in got.values():  # the bootstrap rebuilds every metric exactly as the headline does
        assert r["ci"]["point"] == pytest.approx(r["bd_rate"], abs=1e-9) and r["bd_rate_low"] < r["bd_rate"] < r["bd_rate_high"]
        assert r["anchor_version"].startswith("VTM 12.1")
    assert got["psnr-y"]["bd_rate"] == pytest.approx(-0.317, abs=5e-4)  # README
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "vtm-12.1", "--anchor", "vtm-23.13"])
    assert "VTM 23.13" in r.output
