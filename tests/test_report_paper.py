"""The report as a paper author would paste it: interval column and per-image plot, both anchors side by
side, one style per curve across panels, axis ranges, exports, and an outlier rule that stays quiet on
clean runs of real images (and still flags a broken decode)."""

import re

import pytest
from typer.testing import CliRunner

from conftest import KODAK, sample_photo
from lic_bench.anchors import load_anchor
from lic_bench.cli import app
from lic_bench.paperfigs import axis_limits, curve_styles, outliers

runner = CliRunner()


@pytest.fixture(scope="module")
def kodak_report(tmp_path_factory):
    """JPEG on Kodak, VTM-23.13 (shipped records) and a paper curve against both VTM anchors."""
    if not (KODAK / "kodim01.png").is_file():
        pytest.skip("../shared/datasets/kodak absent")
    top = tmp_path_factory.mktemp("rep")
    out, export = top / "r.html", top / "export"
    store = str(top / "s.sqlite")
    r = runner.invoke(app, ["run", "-c", "jpeg", "-q", "30,60,90", "-d", "kodak", "--data-dir", str(KODAK), "--jobs", "2",
                            "--no-progress", "--store", store])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["report", "-d", "kodak", "--data-dir", str(KODAK), "--codecs", "jpeg,vtm-23.13,tcm-large@paper",
                            "--anchor", "vtm-12.1,vtm-23.13", "--resamples", "300", "-o", str(out), "--export", str(export),
                            "--store", store])
    assert r.exit_code == 0, r.output
    return out.read_text(), export


def test_bd_table_has_interval_counts_and_both_anchors(kodak_report):
    h, _ = kodak_report
    bd = h[h.index('id="bd-table"'):h.index("</table>", h.index('id="bd-table"'))]
    assert "95 % CI" in bd and "PSNR-RGB vs vtm-23.13 (VTM 23.13)" in bd
    row = bd[bd.index(">vtm-23.13<"):]
    row = row[:row.index("</tr>")]
    # README of the VTM-23.13 anchor: −0.208 % PSNR-RGB, better on 19 of 24 images
    assert "-0.21 %" in row and "19 / 5 of 24" in row and re.search(r"\[-0\.\d\d, -0\.\d\d\] %", row)
    other = h[h.index('id="bd-other"'):h.index("</table>", h.index('id="bd-other"'))]
    orow = other[other.index(">vtm-23.13<"):]
    assert "-0.32 %" in orow[:orow.index("</tr>")]  # PSNR-Y, README: −0.317 %
    jrow = bd[bd.index(">jpeg<"):]
    jrow = jrow[:jrow.index("</tr>")]
    more = re.findall(r'<td class="more">([-+]\d+\.\d\d) %', jrow)
    assert len(more) == 2  # jpeg against VTM-23.13 on both metrics, beside its figures against VTM-12.1
    assert "no per-image records" in h and "VTM 12.1" in h and "not published" in bd
    assert 'data-plot="per-image BD-rate"' in h and h.count("<svg") == 3
    assert "0 flagged" in h and "jpeg" in bd


def test_exports_state_the_anchor_and_its_version(kodak_report):
    _, export = kodak_report
    names = sorted(p.name for p in export.iterdir())
    assert names == ["bd-table.md", "bd-table.tex", "ms-ssim-db-vs-bpp.pdf", "ms-ssim-db-vs-bpp.svg",
                     "per-image-bd-rate.pdf", "per-image-bd-rate.svg", "psnr-rgb-vs-bpp.pdf", "psnr-rgb-vs-bpp.svg"]
    md, tex = (export / "bd-table.md").read_text(), (export / "bd-table.tex").read_text()
    assert "vtm-12.1, VTM 12.1" in md and "| vtm-23.13 | psnr-rgb | -0.21 % |" in md
    assert r"\begin{tabular}" in tex and "VTM 12.1" in tex and "95 \\% paired bootstrap" in tex
    assert "no ms-ssim-db for tcm-large@paper" in md
    assert "VTM 12.1" in (export / "psnr-rgb-vs-bpp.svg").read_text()
    assert (export / "psnr-rgb-vs-bpp.pdf").read_bytes().startswith(b"%PDF")


def test_one_style_per_curve_distinct_in_greyscale():
    names = ["vtm-12.1", "webp", "avif", "jpeg", "jpeg2000", "tcm-large@paper"]
    st = curve_styles(names, ["vtm-12.1"])
    assert st["vtm-12.1"]["color"] == "black"
    others = [st[n] for n in names[1:]]
    assert len({s["marker"] for s in others}) == len(others) and len({str(s["ls"]) for s in others}) == len(others)
    assert curve_styles(names, ["vtm-12.1"]) == st


def test_axis_limits_follow_the_given_curves():
    (x0, x1), (y0, y1) = axis_limits([([0.1, 1.0], [28.0, 38.0]), ([0.2, 1.4], [29.0, 40.0])])
    assert 0 <= x0 < 0.1 and 1.4 < x1 < 1.5 and 27 < y0 < 28 and 40 < y1 < 40.6


def test_outliers_quiet_on_the_shipped_vtm_runs_of_kodak():
    for name in ("vtm-12.1", "vtm-23.13"):
        recs, _ = load_anchor(name)
        assert outliers(recs) == set()


def _record(img, op, bpp, psnr, pixels=100):
    mse = 255 ** 2 / 10 ** (psnr / 10)
    return {"image": img, "op": op, "status": "ok", "bytes": bpp * pixels / 8, "height": 10, "width": 10,
            "sse_r": mse * pixels, "sse_g": mse * pixels, "sse_b": mse * pixels, "sse_y": 1, "sse_cb": 1, "sse_cr": 1,
            "ms_ssim": 0.9}


def test_outliers_flag_broken_points_anywhere_on_the_curve_but_not_saturation():
    curve = [(0.1, 27.0), (0.2, 30.0), (0.4, 33.0), (0.8, 36.0), (1.6, 38.5), (3.2, 39.0)]  # saturating at the top
    recs = [_record("ok", i, b, p) for i, (b, p) in enumerate(curve)]
    for broken in (0, 2, 5):
        recs += [_record(f"broken{broken}", i, b, p - (12.0 if i == broken else 0.0)) for i, (b, p) in enumerate(curve)]
    assert outliers(recs) == {("broken0", 0), ("broken2", 2), ("broken5", 5)}


def test_clean_run_of_builtin_codecs_on_real_images_flags_nothing(tmp_path):
    from PIL import Image

    d = tmp_path / "photos"
    d.mkdir()
    for i, (name, y, x) in enumerate([("coffee.png", 0, 0), ("chelsea.png", 50, 60), ("astronaut.png", 100, 100)]):
        Image.fromarray(sample_photo(name)[y:y + 176, x:x + 224]).save(d / f"p{i}.png")
    r = runner.invoke(app, ["run", "--codecs", "webp,jpeg,avif,jpeg2000", "-d", str(d), "--no-progress"])
    assert r.exit_code == 0, r.output
    import lic_bench.api as api

    for cr in api.results("photos"):
        assert outliers(list(cr.records)) == set(), cr.name
