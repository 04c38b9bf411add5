import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from lic_bench.adapters import Codec
from lic_bench.cli import app
from lic_bench.datasets import locate
from lic_bench.evaluate import evaluate
from lic_bench.results import codec_results
from lic_bench.runner import execute, prepare
from lic_bench.specs import resolve_spec
from lic_bench.store import Store

runner = CliRunner()


def _run(ds_folder, codecs=("webp",), ops=None, jobs=1):
    with Store() as st:
        return execute([prepare(resolve_spec(c)) for c in codecs], locate(str(ds_folder)), st,
                       operating_points=ops, jobs=jobs, progress=False)


def test_records_hold_raw_quantities_and_bpp_counts_whole_file(small_dataset):
    s = _run(small_dataset, ops=[20, 40])
    assert (s.planned, s.done, s.cached, s.failed) == (6, 6, 0, [])
    with Store() as st:
        (cr,) = codec_results(st, "imgs", ["webp"])
        for r in cr.records:
            data = st.bitstream(r["bitstream_sha256"])
            assert len(data) == r["bytes"] and data[:4] == b"RIFF"
            from PIL import Image as I
            import io
            dec = np.asarray(I.open(io.BytesIO(data)).convert("RGB"))
            orig = np.asarray(I.open(small_dataset / r["image"]).convert("RGB"))
            assert r["sse_r"] + r["sse_g"] + r["sse_b"] == float(((dec.astype(int) - orig) ** 2).sum())
        pts = cr.points("mean")
        assert [p.op for p in pts] == [20, 40] and pts[0].bpp < pts[1].bpp and pts[0].psnr_rgb < pts[1].psnr_rgb
        # images are 263x201, 171x193, 240x180: c.png has a side <= 160? no; all MS-SSIM finite
        assert all(0 < p.ms_ssim < 1 for p in pts)


def test_in_process_run_decodes_and_hashes_each_image_once(small_dataset, monkeypatch):
    """Indexing's decode is the jobs' decode (two codecs x two qualities x three images: three decodes and
    three pixel hashes in all), and nothing is kept after the run."""
    from lic_bench import datasets, imageio, runner as run_module

    decodes, hashes = [], []
    real_load, real_hash = imageio.load_rgb, imageio.pixel_sha256
    monkeypatch.setattr(datasets, "load_rgb", lambda p: decodes.append(p) or real_load(p))
    monkeypatch.setattr(run_module, "load_rgb", lambda p: decodes.append(p) or real_load(p))
    monkeypatch.setattr(imageio, "pixel_sha256", lambda px: hashes.append(px.shape) or real_hash(px))
    s = _run(small_dataset, codecs=("webp", "jpeg"), ops=[30, 60])
    assert (s.done, s.failed) == (12, []) and len(decodes) == 3 and len(hashes) == 3  # source pixels (evaluate hashes reconstructions)
    assert run_module._INDEXED.budget == 0 and not run_module._INDEXED._kept


def test_rerun_is_cached_and_changed_spec_is_new(small_dataset):
    _run(small_dataset, ops=[30])
    again = _run(small_dataset, ops=[30])
    assert (again.cached, again.done) == (3, 0)
    changed = _run(small_dataset, codecs=("webp:method=0",), ops=[30])
    assert changed.done == 3
    with Store() as st:
        assert st.count_records() == 6


def test_parallel_jobs_give_identical_records(small_dataset, tmp_path, monkeypatch):
    _run(small_dataset, codecs=("jpeg",), ops=[50, 80])
    monkeypatch.setenv("LIC_BENCH_STORE", str(tmp_path / "par.sqlite"))
    s = _run(small_dataset, codecs=("jpeg",), ops=[50, 80], jobs=2)
    assert s.done == 6
    a = sqlite3.connect(os.environ["LIC_BENCH_STORE"]).execute("SELECT op, pixel_sha256, bitstream_sha256, sse_r FROM records ORDER BY 1,2").fetchall()
    b = sqlite3.connect(str(tmp_path / "store.sqlite")).execute("SELECT op, pixel_sha256, bitstream_sha256, sse_r FROM records ORDER BY 1,2").fetchall()
    assert a == b and len(a) == 6


class Flaky(Codec):
    """Fails on one image size; returns a wrong-size image on another."""

    default_operating_points = (1,)

    def encode(self, image, op):
        if image.shape[1] == 171:
            raise RuntimeError("synthetic encoder crash")
        return image.tobytes() + bytes([image.shape[0] % 256, image.shape[1] % 256])

    def decode(self, data):
        w = data[-1]
        arr = np.frombuffer(data[:-2], np.uint8)
        if w == 240 % 256:
            return arr.reshape(180, 240, 3)[:-1]  # wrong size
        return arr.reshape(-1, 263, 3)


def test_per_item_failures_are_recorded_and_run_goes_on(small_dataset):
    imgs = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in small_dataset.glob("*.png")}
    rec = evaluate(Flaky(), imgs["b.png"], 1)
    assert rec["status"] == "failed" and "synthetic encoder crash" in rec["error"]
    rec = evaluate(Flaky(), imgs["c.png"], 1)
    assert rec["status"] == "failed" and "decoder returned shape (179, 240, 3)" in rec["error"]
    rec = evaluate(Flaky(), imgs["a.png"], 1)
    assert rec["status"] == "ok" and rec["sse_r"] == 0


def test_cli_run_sample_prints_table_and_export_formats(small_dataset, tmp_path):
    r = runner.invoke(app, ["run", "--codecs", "webp,jpeg", "--dataset", str(small_dataset), "-q", "30,60"])
    assert r.exit_code == 0, r.output
    assert "webp on imgs" in r.output and "PSNR-RGB dB" in r.output and "mean of per-image" in r.output
    r = runner.invoke(app, ["results", "--dataset", "imgs", "--codecs", "webp", "--format", "compressai"])
    doc = json.loads(r.output)
    assert set(doc) == {"name", "description", "results"}
    assert set(doc["results"]) == {"psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time", "decoding_time"}
    assert doc["results"]["bpp"] == sorted(doc["results"]["bpp"]) and len(doc["results"]["bpp"]) == 2
    r = runner.invoke(app, ["results", "--dataset", "imgs", "--format", "csv", "--per-image"])
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("codec,spec_digest,dataset,image") and len(lines) == 1 + 12
    r = runner.invoke(app, ["results", "--dataset", "imgs", "--format", "json", "--aggregation", "pooled"])
    rows = json.loads(r.output)
    assert {row["aggregation"] for row in rows} == {"pooled"} and len(rows) == 4


def test_cli_bad_input_errors(small_dataset, tmp_path):
    r = runner.invoke(app, ["run", "--codecs", "wbp", "--dataset", str(small_dataset)])
    assert r.exit_code != 0
    r = runner.invoke(app, ["run", "--codecs", "webp", "--dataset", str(small_dataset), "-q", "500"])
    assert r.exit_code != 0
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        proc = subprocess.run([sys.executable, "-m", "lic_bench", "run", "--codecs", "webp", "-q", "10",
                               "--dataset", str(small_dataset), "--store", str(ro / "s.sqlite")], capture_output=True, text=True)
        if os.geteuid() != 0:  # root ignores directory permissions
            assert proc.returncode == 2 and "not writable" in proc.stderr
    finally:
        ro.chmod(0o700)


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lic_bench", *args], capture_output=True, text=True, **kw)


def test_unknown_codec_and_quality_give_one_line_errors(small_dataset):
    p = _cli("run", "--codecs", "wbp", "--dataset", str(small_dataset))
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "did you mean 'webp'" in p.stderr
    p = _cli("run", "--codecs", "webp", "-q", "500", "--dataset", str(small_dataset))
    assert p.returncode == 2 and "quality must be an integer in 0..100" in p.stderr
    p = _cli("run", "--codecs", "webp", "--dataset", "kodakk")
    assert p.returncode == 2 and "did you mean 'kodak'" in p.stderr


def test_bad_image_in_folder_is_reported_rest_evaluated(small_dataset):
    (small_dataset / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    p = _cli("run", "--codecs", "jpeg", "-q", "50", "--dataset", str(small_dataset), "--no-progress")
    assert p.returncode == 1 and "zz_broken.png" in p.stderr
    with Store() as st:
        assert st.count_records() == 3


def test_sigkill_mid_run_then_rerun_completes_without_duplicates(tmp_path):
    """Kill the CLI while it writes, rerun, and check every key exactly once."""
    from conftest import sample_photo

    d = tmp_path / "many"
    d.mkdir()
    img = sample_photo("astronaut.png")
    for i in range(8):
        Image.fromarray(np.roll(img, 37 * i, axis=1)[:300, :300]).save(d / f"i{i}.png")
    store = Path(os.environ["LIC_BENCH_STORE"])
    # WebP's slowest method: jobs slow enough that the kill lands mid-run however fast the harness gets
    args = ["run", "--codecs", "webp:method=6", "-q", "5,10,15,20,25,30", "--dataset", str(d), "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "lic_bench", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    n = 0
    while time.time() < deadline:
        time.sleep(0.05)
        try:
            n = sqlite3.connect(store, timeout=5).execute("SELECT COUNT(*) FROM records").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if n >= 5:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 5 <= n < 48, "the run was not killed mid-way"
    p = _cli(*args)
    assert p.returncode == 0, p.stderr
    assert "cached" in p.stdout
    db = sqlite3.connect(store)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT op || pixel_sha256) FROM records").fetchone() == (48, 48)
    assert db.execute("SELECT COUNT(*) FROM records WHERE status != 'ok'").fetchone()[0] == 0


def test_a_codec_that_writes_into_its_input_fails_loudly(small_dataset, tmp_path, monkeypatch):
    """Source pixels are hashed once and shared by an image's jobs: they are read-only, so an adapter that
    modifies its input is a recorded failure, never a record of other pixels under the source's hash."""
    from lic_bench.adapters.pillow import _PillowCodec as PillowCodec

    real = PillowCodec.encode

    def scribbling(self, image, op):
        image[0, 0] = 0
        return real(self, image, op)
    monkeypatch.setattr(PillowCodec, "encode", scribbling)
    s = _run(small_dataset, ops=[30])
    assert s.done == 0 and len(s.failed) == 3 and all("read-only" in why for *_, why in s.failed)


def test_outputs_say_whether_encoder_and_decoder_were_compared(small_dataset):
    _run(small_dataset, ops=[30])
    table = runner.invoke(app, ["results", "-d", str(small_dataset), "--codecs", "webp"])
    assert table.exit_code == 0 and "none checked" in table.output  # not "0": nothing was compared
    rows = json.loads(runner.invoke(app, ["results", "-d", str(small_dataset), "--per-image", "-f", "json"]).output)
    assert {(r["mismatch"], r["enc_dec_check"], r["metrics_device"]) for r in rows} == {(None, "not offered by the codec", "cpu")}


def test_device_cuda_without_cuda_is_one_line_before_any_job(small_dataset):
    import torch

    if torch.cuda.is_available():
        import pytest
        pytest.skip("a CUDA device is present")
    r = runner.invoke(app, ["run", "--codecs", "webp", "-q", "30", "-d", str(small_dataset), "--device", "cuda", "--no-progress"])
    assert r.exit_code == 2 and "--device cuda" in r.output and "no CUDA device" in r.output
    r = runner.invoke(app, ["run", "--codecs", "webp", "-q", "30", "-d", str(small_dataset), "--decode-device", "cuda:1",
                            "--no-progress"])
    assert r.exit_code == 2 and "--decode-device cuda:1" in r.output
    with Store() as st:
        assert st.count_records() == 0


def test_repeated_q_options_add_up(small_dataset):
    r = runner.invoke(app, ["run", "--codecs", "webp", "-q", "30", "-q", "60", "-d", str(small_dataset), "--no-progress"])
    assert r.exit_code == 0 and "6 computed" in r.output
    r = runner.invoke(app, ["run", "--codecs", "webp", "-q", "30", "-q", "bpp=0.5", "-d", str(small_dataset), "--no-progress"])
    assert r.exit_code == 2 and "of one kind" in r.output


def test_run_says_where_the_jobs_time_went(small_dataset):
    s = _run(small_dataset, ops=[30])
    assert s.codec_s > 0 and s.metrics_s > 0 and s.harness_s > 0 and s.store_s > 0
    line = s.time_breakdown()
    assert line.startswith("time in computed jobs: codec (encode + decode)") and all(
        w in line for w in ("metrics", "other harness work", "store"))
    with Store() as st:
        recs = codec_results(st, "imgs", ["webp"])[0].records
        assert all(r.extra["job_s"] >= r.enc_s + r.dec_s + r.extra["metrics_s"] for r in recs)  # parts of the job
    assert _run(small_dataset, ops=[30]).time_breakdown() is None  # all cached: nothing to say
    r = runner.invoke(app, ["run", "--codecs", "jpeg", "-q", "50", "-d", str(small_dataset), "--no-progress"])
    assert r.exit_code == 0 and "time in computed jobs: codec" in r.output
