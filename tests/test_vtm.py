import json
import os
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import KODAK, SHARED
from lic_bench.adapters.vtm import VTM
from lic_bench.color import rgb_to_ycbcr_u8
from lic_bench.datasets import locate
from lic_bench.errors import LicBenchError
from lic_bench.evaluate import evaluate
from lic_bench.runner import execute, prepare
from lic_bench.specs import resolve_spec
from lic_bench.store import Store
from lic_bench.vvc import picture_size

FAKE = Path(__file__).parent / "fake_vtm.py"


@pytest.fixture
def vtm_dir(tmp_path):
    """A VTM-like build folder with the fake tools and a config file."""
    root = tmp_path / "vtm"
    (root / "bin").mkdir(parents=True)
    (root / "cfg").mkdir()
    (root / "cfg" / "encoder_intra_vtm.cfg").write_text("#======== fake all-intra cfg ========\nIntraPeriod : 1\n")
    for name in ("EncoderAppStatic", "DecoderAppStatic"):
        p = root / "bin" / name
        p.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return root


def test_command_line_yuv_layout_and_round_trip(vtm_dir, tmp_path, monkeypatch, photo):
    log = tmp_path / "argv.log"
    monkeypatch.setenv("FAKE_VTM_LOG", str(log))
    img = photo[:201, :327]  # odd sizes: needs the conformance window
    codec = VTM(vtm_dir=str(vtm_dir))
    rec = evaluate(codec, img, 22, "bt709-8bit")
    assert rec["status"] == "ok", rec["error"]
    enc_args, dec_args = log.read_text().splitlines()
    a = enc_args.split()
    assert a[a.index("-wdt") + 1] == "327" and a[a.index("-hgt") + 1] == "201" and a[a.index("-q") + 1] == "22"
    assert a[a.index("-o") + 1] == os.devnull and a[a.index("-c") + 1].endswith("cfg/encoder_intra_vtm.cfg")
    assert a[-3:] == ["--InputChromaFormat=444", "--InputBitDepth=8", "--ConformanceWindowMode=1"]
    assert dec_args.split()[-2:] == ["-d", "8"]
    # QP 22 in the fake is lossless in YCbCr: only the canonical colour round trip remains (>= 52 dB)
    n = img.shape[0] * img.shape[1]
    from lic_bench.metrics import psnr_rgb
    assert psnr_rgb((rec["sse_r"], rec["sse_g"], rec["sse_b"]), n) >= 52
    assert "color:bt709-8bit" in rec["flags"]
    assert picture_size(codec.encode(rgb_to_ycbcr_u8(img), 30)) == (327, 201, 3)


def test_compressai_policy_is_labelled_and_caps_quality(vtm_dir, photo):
    rec = evaluate(VTM(vtm_dir=str(vtm_dir)), photo, 22, "compressai")
    from lic_bench.metrics import psnr_rgb
    p = psnr_rgb((rec["sse_r"], rec["sse_g"], rec["sse_b"]), photo.shape[0] * photo.shape[1])
    assert "color:compressai" in rec["flags"] and 42 < p < 46


def test_temp_files_are_removed(vtm_dir, photo, monkeypatch, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    evaluate(VTM(vtm_dir=str(vtm_dir)), photo[:64, :64], 37)
    monkeypatch.setenv("FAKE_VTM_MODE", "crash")
    evaluate(VTM(vtm_dir=str(vtm_dir)), photo[:64, :64], 37)
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("mode,match", [
    ("crash", "exited with status 134: ERROR: In function \"main\": simulated crash"),
    ("nooutput", "wrote no bitstream"),
    ("garbage", "expected 12288 for 64x64"),
    ("wrongsize", "expected 12288 for 64x64"),
])
def test_failures_are_recorded_with_stderr(vtm_dir, photo, monkeypatch, mode, match):
    monkeypatch.setenv("FAKE_VTM_MODE", mode)
    rec = evaluate(VTM(vtm_dir=str(vtm_dir)), photo[:64, :64], 37)
    assert rec["status"] == "failed" and match in rec["error"]


def test_timeout(vtm_dir, photo, monkeypatch):
    monkeypatch.setenv("FAKE_VTM_MODE", "hang")
    rec = evaluate(VTM(vtm_dir=str(vtm_dir), timeout_s=1.0), photo[:64, :64], 37)
    assert rec["status"] == "failed" and "timed out after 1 s" in rec["error"]


def test_garbage_bitstream_is_a_clear_error(vtm_dir):
    with pytest.raises(LicBenchError, match="not a decodable VVC bitstream"):
        VTM(vtm_dir=str(vtm_dir)).decode(b"\x00\x01\x02 not vvc")


def test_version_probe_and_mismatch(vtm_dir, monkeypatch):
    assert VTM(vtm_dir=str(vtm_dir)).versions()["vtm_encoder"].startswith("VVCSoftware: VTM Encoder Version 12.1")
    monkeypatch.setenv("FAKE_VTM_VERSION", "23.0")
    with pytest.raises(LicBenchError, match="is VTM '23.0'.*requires 12.1.*allow_other_version=true"):
        VTM(vtm_dir=str(vtm_dir)).versions()
    ok = VTM(vtm_dir=str(vtm_dir), allow_other_version=True)
    assert ok.versions()["vtm"] == "23.0" and ok.provenance()["version_override"] is True


def test_discovery_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("LIC_BENCH_VTM_DIR", raising=False)
    with pytest.raises(LicBenchError, match="VTM not configured: pass --vtm-dir"):
        VTM()
    with pytest.raises(LicBenchError, match="no executable EncoderAppStatic or EncoderApp"):
        VTM(vtm_dir=str(tmp_path))


def test_provenance_key_covers_version_and_cfg(vtm_dir, monkeypatch):
    monkeypatch.setenv("LIC_BENCH_VTM_DIR", str(vtm_dir))
    d1 = prepare(resolve_spec("vtm-12.1")).digest
    assert prepare(resolve_spec("vtm-12.1"), vtm_dir=str(vtm_dir)).digest == d1  # paths are not identity
    (vtm_dir / "cfg" / "encoder_intra_vtm.cfg").write_text("IntraPeriod : 1\nQP : 40\n")
    d2 = prepare(resolve_spec("vtm-12.1")).digest
    monkeypatch.setenv("FAKE_VTM_VERSION", "12.2")
    d3 = prepare(resolve_spec("vtm-12.1:allow_other_version=true")).digest
    assert len({d1, d2, d3}) == 3


def test_parallel_run_longest_first_and_bdrate_against_it(vtm_dir, small_dataset, monkeypatch, tmp_path):
    log = tmp_path / "argv.log"
    monkeypatch.setenv("FAKE_VTM_LOG", str(log))
    monkeypatch.setenv("LIC_BENCH_VTM_DIR", str(vtm_dir))
    with Store() as st:
        s = execute([prepare(resolve_spec("vtm-12.1"))], locate(str(small_dataset)), st, operating_points=[27, 37, 47], jobs=2, progress=False)
        assert (s.done, s.failed) == (9, [])
    enc = [line.split() for line in log.read_text().splitlines() if "-wdt" in line]
    started = {(a[a.index("-q") + 1], a[a.index("-wdt") + 1]) for a in enc[:2]}  # two workers start together
    assert ("27", "263") in started  # largest image, lowest QP first
    from typer.testing import CliRunner
    from lic_bench.cli import app
    r = CliRunner().invoke(app, ["run", "--codecs", "webp", "-d", str(small_dataset), "-q", "10,30,60,90", "--no-progress"])
    r = CliRunner().invoke(app, ["bdrate", "-d", "imgs", "--anchor", "vtm-12.1", "--codecs", "webp", "-f", "json"])
    row = json.loads(r.output)[0]
    assert row["anchor_kind"] == "measured" and row["anchor_provenance"]["provenance"]["cfg_sha256"]


@pytest.mark.skipif(not os.environ.get("LIC_BENCH_VTM_DIR") or not (KODAK / "kodim01.png").is_file()
                    or not os.path.isfile(os.path.join(os.environ.get("LIC_BENCH_VTM_DIR", ""), "bin", "EncoderAppStatic")),
                    reason="opt-in: set LIC_BENCH_VTM_DIR to a real VTM-12.1 build (and have ../shared)")
def test_real_vtm_reproduces_shipped_anchor_bitstream():
    """QP 47 on kodim01 must give the shipped anchor's bytes and md5 exactly."""
    rows = [json.loads(x) for x in (SHARED / "anchors" / "kodak-vtm-12.1" / "records.jsonl").read_text().splitlines() if x.strip()]
    want = next(r for r in rows if r["image"] == "kodim20" and r["qp"] == 47)
    img = np.asarray(Image.open(KODAK / "kodim20.png").convert("RGB"))
    rec = evaluate(VTM(), img, 47)
    assert rec["status"] == "ok", rec["error"]
    assert rec["bytes"] == want["bytes"] and rec["bitstream_md5"] == want["bitstream_md5"]
