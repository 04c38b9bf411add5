import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from lic_bench.cli import app
from lic_bench.reporting import outliers

runner = CliRunner()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def report_html(small_dataset, tmp_path):
    from PIL import Image
    evil = small_dataset / "<img src=x onerror=alert(1)>.png"
    Image.open(small_dataset / "a.png").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(evil)
    r = runner.invoke(app, ["run", "--codecs", "webp,jpeg", "-d", str(small_dataset), "-q", "20,40,60,80", "--no-progress"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "r.html"
    r = runner.invoke(app, ["report", "-d", "imgs", "--anchor", "jpeg", "--image", "b.png", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out.read_text()


def test_structure_tables_and_numbers(report_html):
    h = report_html
    for section in ('id="rd"', 'id="bd"', 'id="complexity"', 'id="visual"', 'id="per-image"', 'id="provenance"'):
        assert section in h
    # two RD panels and the per-image BD-rate plot (3 images: dots and box, no interval)
    assert h.count("<svg") == 3 and "PSNR-RGB vs bpp" in h and "MS-SSIM (dB) vs bpp" in h
    bd = h[h.index('id="bd-table"'):h.index("</table>", h.index('id="bd-table"'))]
    assert re.search(r'<td class="best">[-+]\d+\.\d\d %</td>', bd)  # webp beats jpeg: highlighted
    assert "webp" in bd and "measured" in bd
    # per-image cells: bpp (3 decimals) / PSNR (2) / MS-SSIM (4)
    assert re.search(r"<td class=\"\">\d\.\d{3} / \d\d\.\d\d / 0\.\d{4}</td>", h)
    # visual comparison: original + 2 codecs, captions "codec | bpp | PSNR | MS-SSIM"
    assert h.count('src="data:image/png;base64,') == 3 and re.search(r"webp \| \d\.\d{3} bpp \| \d\d\.\d\d dB \| MS-SSIM 0\.\d{4}", h)
    assert re.search(r"content sha256 <code>[0-9a-f]{64}</code>", h) and "lic-bench 0.1.0" in h


def test_user_controlled_text_is_escaped(report_html):
    assert "<img src=x onerror" not in report_html
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in report_html


def test_no_external_requests(report_html):
    urls = re.findall(r"""(?:src|href)\s*=\s*["']?(https?:|//)""", report_html)
    assert urls == []
    assert "<script" not in report_html and "<link" not in report_html
    other = set(re.findall(r"https?://[^\s\"'<>)]+", report_html)) - {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert other == set()


def test_outlier_detection_flags_a_broken_point():
    recs = []
    for img, off in (("a", 0.0), ("b", 3.0), ("c", -2.0)):
        for op, base in ((1, 30.0), (2, 33.0), (3, 36.0)):
            psnr = base + off - (6.0 if (img, op) == ("c", 2) else 0.0)
            mse = 255**2 / 10 ** (psnr / 10)
            recs.append({"image": img, "op": op, "status": "ok", "bytes": 100 * op, "height": 10, "width": 10,
                         "sse_r": mse * 100, "sse_g": mse * 100, "sse_b": mse * 100, "sse_y": 1, "sse_cb": 1, "sse_cr": 1, "ms_ssim": 0.9})
    assert ("c", 2) in outliers(recs)
    assert ("b", 1) not in outliers(recs)  # consistently easy images are not outliers


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")
def test_renders_in_headless_chromium(report_html, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(report_html)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert dom.stdout.count("<svg") == 3 and 'id="bd-table"' in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120)
    import numpy as np
    from PIL import Image
    img = np.asarray(Image.open(shot).convert("L"))
    assert img.shape[0] >= 1000 and (img < 128).mean() > 0.005  # plot lines and text drawn, not a blank page
