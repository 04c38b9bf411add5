"""Issue 19 through the commands: published curves listed, shown, cited, ranked, compared with
measured runs and drawn in reports with citations — via the one resolver."""

import json

import pytest
from typer.testing import CliRunner

import lic_bench
from lic_bench.cli import app

runner = CliRunner()


def ok(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


def test_references_list_show_cite():
    rows = json.loads(ok("references", "list", "--dataset", "kodak", "-f", "json"))
    assert len(rows) > 50 and all(r["provenance"] and r["licence"] and r["dataset"] == "kodak" for r in rows)
    assert {"author-reported", "digitized from a plot"} <= {r["provenance"] for r in rows}
    only = json.loads(ok("references", "list", "--dataset", "kodak", "--provenance", "digitized", "-f", "json"))
    assert only and all(r["provenance"].startswith("digitized") for r in only)
    shown = json.loads(ok("references", "show", "tcm-large@paper", "-d", "kodak", "-f", "json"))
    assert "LIC_TCM" in json.dumps(shown["sources"]) and shown["licence"]
    bib = ok("references", "cite", "mlic++@paper", "tcm-large@paper")
    assert bib.count("@") >= 2 and "title" in bib


def test_leaderboard_agrees_with_bdrate_and_says_why_a_curve_has_no_number():
    board = json.loads(ok("leaderboard", "-d", "kodak", "-f", "json"))
    numbers = [r["bd_rate"] for r in board if r["bd_rate"] is not None]
    assert numbers == sorted(numbers) and len(numbers) > 50
    missing = [r for r in board if r["bd_rate"] is None]
    assert missing and all(r["status"].startswith("not computable") for r in missing)
    top = board[0]
    row = json.loads(ok("bdrate", "-d", "kodak", "--codecs", top["codec"], "-f", "json"))[0]
    assert row["bd_rate"] == top["bd_rate"]
    tcm = {r["codec"]: r["bd_rate"] for r in board if r["codec"].startswith("tcm-")}
    assert tcm["tcm-large@paper"] == pytest.approx(-11.389, abs=5e-4) and tcm["tcm-small@paper"] == pytest.approx(-6.329, abs=5e-4)
    ms = json.loads(ok("leaderboard", "-d", "kodak", "--metric", "ms-ssim-db", "-f", "json"))
    assert any(r["bd_rate"] is not None for r in ms)
    assert "VTM 12.1" in ok("leaderboard", "-d", "kodak", "--top", "3")


def test_published_curves_resolve_everywhere_and_other_datasets_are_refused(tmp_path):
    r = runner.invoke(app, ["bdrate", "-d", "kodak", "--codecs", "mlic++@paper,vtm@compressai", "-f", "json"])
    rows = json.loads(r.output)
    assert [x["test_kind"] for x in rows] == ["published", "published"] and rows[1]["bd_rate"] == pytest.approx(0.36, abs=0.01)
    assert "re-measured" in rows[1]["label"]
    r = runner.invoke(app, ["bdrate", "-d", "tecnick", "--anchor", "tcm-large@paper", "--codecs", "cool-chic-5.0@paper"])
    assert r.exit_code != 0 and "'tecnick'" in str(r.exception) and "kodak" in str(r.exception)
    assert lic_bench.compare("mlic++@paper", "vtm-12.1", "kodak")["bd_rate"] == rows[0]["bd_rate"]


def test_report_with_a_pixel_metric_panel_and_published_curves_with_citations(tmp_path):
    folder = tmp_path / "kodak"
    folder.mkdir()
    from conftest import KODAK
    if not (KODAK / "kodim01.png").is_file():
        pytest.skip("../shared/datasets/kodak absent")
    import shutil
    for n in ("kodim01", "kodim02"):
        shutil.copy(KODAK / f"{n}.png", folder)
    ok("run", "--codecs", "webp,jpeg", "-d", folder, "-q", "20,60", "--metrics", "ssimulacra2", "--no-progress")
    ok("report", "-d", "kodak", "--anchor", "jpeg", "--references", "mlic++@paper", "-o", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    import re
    assert "SSIMULACRA 2 vs bpp" in html and 'id="references"' in html and "mlic++@paper" in html
    assert re.search(r"@(article|inproceedings|misc)\{", html, re.I)


def test_python_curves_take_every_kind_of_curve_name(small_dataset):
    """lic_bench.curves names curves as bdrate/compare/report do: measured, shipped anchor, published."""
    from lic_bench.errors import LicBenchError
    from lic_bench.names import resolve_curve

    assert runner.invoke(app, ["run", "--codecs", "webp", "-d", str(small_dataset), "-q", "40", "--no-progress"]).exit_code == 0
    df = lic_bench.curves(str(small_dataset), codecs="webp")
    assert list(df["kind"]) == ["measured"] and df["op"][0] == 40 and df["spec_digest"][0]
    import pandas as pd
    pd.testing.assert_frame_equal(df, lic_bench.curves(str(small_dataset)), check_like=True)
    mixed = lic_bench.curves("kodak", codecs=["vtm-12.1", "mlic++@paper"])
    anchor, paper = mixed[mixed["codec"] == "vtm-12.1"], mixed[mixed["codec"] == "mlic++@paper"]
    assert set(anchor["kind"]) == {"anchor"} and list(anchor["op"]) == [22, 27, 32, 37, 42, 47]
    assert anchor["n_images"].tolist() == [24] * 6 and (anchor["psnr_rgb"] > 25).all()
    published = resolve_curve(None, "mlic++@paper", "kodak").points
    assert set(paper["kind"]) == {"published"} and paper["bpp"].tolist() == published["bpp"]
    assert paper["psnr_rgb"].tolist() == published["psnr-rgb"] and set(paper["aggregation"]) == {"mean (as published)"}
    assert set(lic_bench.curves("kodak", codecs="vtm-12.1", aggregation="pooled")["aggregation"]) == {"pooled"}
    with pytest.raises(LicBenchError, match="means of per-image values only"):
        lic_bench.curves("kodak", codecs="mlic++@paper", aggregation="pooled")
    recs = lic_bench.records("kodak", codecs="vtm-12.1")  # records take anchors' per-image records too
    assert len(recs) == 144 and set(recs["codec"]) == {"vtm-12.1"} and recs["bitstream_md5"].str.len().eq(32).all()
    assert lic_bench.records(str(small_dataset), codecs="webp")["op"].tolist() == [40.0] * 3
    with pytest.raises(LicBenchError, match="means only"):
        lic_bench.records("kodak", codecs="mlic++@paper")
    with pytest.raises(LicBenchError, match="no stored spec digest"):  # the digest is what is wrong
        lic_bench.records(str(small_dataset), codecs="webp@ffff")
    with pytest.raises(LicBenchError, match="no results store at"):
        lic_bench.curves("imgs", codecs="webp", store=small_dataset / "none.sqlite")
