import json

import pytest
from typer.testing import CliRunner

from conftest import SHARED
from lic_bench.bdcompare import compare
from lic_bench.cli import app
from lic_bench.references import reported_bd_rates, resolve_curve, shipped_anchors

runner = CliRunner()
COMPRESSAI_KODAK = SHARED / "reference" / "compressai-results" / "kodak"


def test_shipped_anchor_is_per_image_with_provenance():
    a = shipped_anchors()[("vtm-12.1", "kodak")]
    assert len(a.records) == 144 and {r["op"] for r in a.records} == {22, 27, 32, 37, 42, 47}
    assert "VTM Encoder Version 12.1" in a.provenance["encoder"]
    pts = {p.op: p for p in a.aggregated("mean")}
    # means published in the anchor's README (../shared/anchors/kodak-vtm-12.1/README.md)
    assert pts[22].bpp == pytest.approx(1.4315, abs=5e-5) and pts[22].psnr_rgb == pytest.approx(40.441, abs=5e-4)
    assert pts[47].bpp == pytest.approx(0.0480, abs=5e-5) and pts[47].psnr_rgb == pytest.approx(26.135, abs=5e-4)
    pooled = {p.op: p for p in a.aggregated("pooled")}
    assert pooled[22].psnr_rgb < pts[22].psnr_rgb  # pooled MSE is dominated by the hard images


def test_paper_curves_against_shipped_anchor():
    """Cross-check published with the anchor (its README): Large −11.39 %, Medium −8.76 %, Small −6.33 %."""
    anchor = resolve_curve("vtm-12.1", "kodak")
    got = {n: compare(anchor, resolve_curve(n, "kodak"))["bd_rate"] for n in ("tcm-large@paper", "tcm-medium@paper", "tcm-small@paper")}
    assert got["tcm-large@paper"] == pytest.approx(-11.39, abs=0.005)
    assert got["tcm-medium@paper"] == pytest.approx(-8.76, abs=0.005)
    assert got["tcm-small@paper"] == pytest.approx(-6.33, abs=0.005)
    assert reported_bd_rates()["kodak"]["tcm-large@paper"] == -12.30


def test_cli_bdrate_json_fields_and_reported_label():
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "tcm-small@paper", "--metric", "psnr-rgb,ms-ssim-db", "-f", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert len(rows) == 2
    for k in ("codec", "anchor", "dataset", "metric", "method", "bd_rate", "bd_quality", "overlap", "status"):
        assert k in rows[0]
    assert rows[0]["status"] == "ok" and rows[0]["test_kind"] == "reported" and rows[0]["method"] == "pchip"
    assert rows[1]["status"].startswith("not computable") and "ms-ssim-db" in rows[1]["status"]
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "tcm-small@paper"])
    assert "(reported)" in r.output and "aggregation: mean of per-image" in r.output


@pytest.mark.skipif(not (COMPRESSAI_KODAK / "vtm.json").is_file(), reason="shared CompressAI results absent")
def test_imported_compressai_curve_against_anchor():
    r = runner.invoke(app, ["import", str(COMPRESSAI_KODAK / "vtm.json"), "--dataset", "kodak", "--name", "vtm9"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "vtm9", "-f", "json"])
    (row,) = json.loads(r.output)
    assert row["test_kind"] == "imported" and row["bd_rate"] == pytest.approx(0.36, abs=0.005)  # anchor README: +0.36 %
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "vtm9", "--aggregation", "pooled", "-f", "json"])
    assert "cannot be derived" in json.loads(r.output)[0]["status"]


def test_measured_curve_from_store_and_per_image(small_dataset):
    r = runner.invoke(app, ["run", "--codecs", "jpeg,webp", "--dataset", str(small_dataset), "-q", "20,40,60,80", "--no-progress"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["bdrate", "--dataset", "imgs", "--anchor", "jpeg", "--codecs", "webp", "--metric", "psnr-rgb,ms-ssim-db", "-f", "json"])
    rows = json.loads(r.output)
    assert all(row["status"] == "ok" for row in rows), rows
    assert rows[0]["bd_rate"] < 0  # WebP beats baseline JPEG
    r = runner.invoke(app, ["bdrate", "--dataset", "imgs", "--anchor", "jpeg", "--codecs", "webp", "--per-image", "-f", "json"])
    (row,) = json.loads(r.output)
    assert row["aggregation"] == "per-image" and row["points"] == "3 images"
    r = runner.invoke(app, ["compare", "webp", "jpeg", "--dataset", "imgs"])
    assert "BD-rate" in r.output and "Δquality" in r.output


def test_unknown_curve_and_bad_options():
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "tcm-larg@paper"])
    assert r.exit_code != 0 and "did you mean 'tcm-large@paper'" in str(r.exception)
    r = runner.invoke(app, ["bdrate", "--dataset", "kodak", "--codecs", "tcm-large@paper", "--method", "spline"])
    assert r.exit_code == 2


def test_tiled_records_are_excluded_from_headline_unless_allowed():
    from lic_bench.references import measured_curve
    from lic_bench.results import CodecResults
    recs = []
    for op, (b, mse) in enumerate([(1000, 40.0), (2000, 20.0), (4000, 10.0), (8000, 5.0)], start=1):
        for img in ("a", "b"):
            recs.append({"image": img, "op": op, "status": "ok", "bytes": b, "height": 100, "width": 100,
                         "sse_rgb": mse * 3e4, "ms_ssim": None, "flags": ["tiled:512"] if (img, op) == ("b", 4) else []})
    cr = CodecResults("x", "d", {}, {}, "ds", "c", recs, 2)
    strict = measured_curve(cr)
    rates, _, notes = strict.rd("psnr-rgb")
    assert len(rates) == 3 and any("op 4 left out" in n for n in notes) and "excluded" in strict.warnings[0]
    rates, _, _ = measured_curve(cr, allow_tiled=True).rd("psnr-rgb")
    assert len(rates) == 4
