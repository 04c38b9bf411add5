"""End to end on the real Kodak files (skips when ../shared is absent)."""

import json
import subprocess
import sys


from conftest import KODAK, requires_kodak


@requires_kodak()
def test_kodak_verify_and_webp_run(tmp_path):
    cli = [sys.executable, "-m", "lic_bench"]
    v = subprocess.run([*cli, "datasets", "verify", "kodak", "--data-dir", str(KODAK.parent)], capture_output=True, text=True)
    assert v.returncode == 0 and "24 ok" in v.stdout and "verified" in v.stdout
    r = subprocess.run([*cli, "run", "--codecs", "webp", "--dataset", "kodak", "--data-dir", str(KODAK.parent),
                        "-q", "5,50", "--jobs", "2", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "48 jobs, 0 cached, 48 computed, 0 failed" in r.stdout
    out = subprocess.run([*cli, "results", "--dataset", "kodak", "--format", "json"], capture_output=True, text=True)
    pts = {p["op"]: p for p in json.loads(out.stdout)}
    assert pts[5]["n_images"] == 24 and pts[50]["n_images"] == 24
    # libwebp 1.x at the TCM paper's extreme qualities (measured: 0.234 bpp / 28.33 dB, 0.722 bpp / 33.24 dB)
    assert 0.15 < pts[5]["bpp"] < 0.35 and 27 < pts[5]["psnr_rgb"] < 30
    assert 0.55 < pts[50]["bpp"] < 0.9 and 32 < pts[50]["psnr_rgb"] < 35
    again = subprocess.run([*cli, "run", "--codecs", "webp", "--dataset", "kodak", "--data-dir", str(KODAK.parent),
                            "-q", "5,50", "--no-progress"], capture_output=True, text=True)
    assert "48 cached, 0 computed" in again.stdout
