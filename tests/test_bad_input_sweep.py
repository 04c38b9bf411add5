"""Hostile inputs across datasets, specs, checkpoints, bitstreams, curves and CLI options.

Each case runs the real CLI in a subprocess and asserts: the exit code, a clear message on stderr that
names what is wrong (one line for usage/data errors), and — where a store exists — that it is
consistent (SQLite integrity check, no duplicate keys, every 'ok' record complete).
"""

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import sample_photo


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lic_bench", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def store_consistent():
    path = os.environ["LIC_BENCH_STORE"]
    if not Path(path).exists():
        return True
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) - COUNT(DISTINCT metric_version || spec_digest || op || pixel_sha256) FROM records").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM records WHERE status='ok' AND (bytes IS NULL OR sse_r IS NULL OR bitstream_sha256 IS NULL)").fetchone()[0] == 0
    return True


def one_line_error(p, *needles, code=2):
    assert p.returncode == code, (p.returncode, p.stdout[-500:], p.stderr[-1500:])
    lines = [x for x in p.stderr.strip().splitlines() if x.startswith("error:")]
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def folder_with(tmp_path, name, content=None, image=True):
    d = tmp_path / "ds"
    d.mkdir(exist_ok=True)
    if image:
        Image.fromarray(sample_photo("coffee.png")[:200, :240]).save(d / "good.png")
    if content is not None:
        (d / name).write_bytes(content) if isinstance(content, bytes) else content(d / name)
    return d


# ---- datasets and images: recorded per item, the rest evaluated (exit 1)

@pytest.mark.parametrize("name,content,needle", [
    ("zero.png", b"", "empty file (0 bytes)"),
    ("truncated.png", lambda p: p.write_bytes((lambda b: b[: len(b) // 2])(
        (Image.fromarray(sample_photo()).save(p.with_suffix(".tmp.png")), p.with_suffix(".tmp.png").read_bytes())[1])), "not a readable image"),
    ("notanimage.png", b"%PDF-1.4 this is a pdf", "not a readable image"),
    ("deep.png", lambda p: Image.fromarray(np.full((64, 64), 60000, np.uint16)).save(p), "16-bit PNG"),
    ("alpha.png", lambda p: Image.fromarray(np.dstack([sample_photo()[:64, :64], np.full((64, 64), 7, np.uint8)]), "RGBA").save(p), "transparent pixels"),
    ("huge.png", lambda p: Image.new("RGB", (10000, 5000)).save(p), "50.0 MP exceeds the 40 MP limit"),
])
def test_bad_image_in_dataset_is_recorded_and_others_run(tmp_path, name, content, needle):
    d = folder_with(tmp_path, name, content)
    for extra in d.glob("*.tmp.png"):
        extra.unlink()
    p = cli("run", "--codecs", "jpeg", "-q", "50", "-d", d, "--no-progress")
    assert p.returncode == 1 and name in p.stderr and needle in p.stderr, p.stderr
    assert store_consistent()
    db = sqlite3.connect(os.environ["LIC_BENCH_STORE"])
    assert db.execute("SELECT COUNT(*) FROM records WHERE status='ok'").fetchone()[0] == 1


def test_non_utf8_file_name(tmp_path):
    d = folder_with(tmp_path, "x", None)
    raw = os.fsencode(str(d)) + b"/\xff\xfeodd.png"
    Image.fromarray(sample_photo("chelsea.png")[:200, :200]).save(os.fsdecode(raw))
    p = cli("run", "--codecs", "jpeg", "-q", "50", "-d", d, "--no-progress")
    assert p.returncode == 0, p.stderr
    p = cli("results", "-d", "ds", "--per-image", "-f", "csv")
    assert "\\udcff\\udcfeodd.png" in p.stdout or "\\xff" in p.stdout
    assert store_consistent()


def test_empty_folder_and_unknown_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    one_line_error(cli("run", "--codecs", "webp", "-d", tmp_path / "empty"), "no image files")
    one_line_error(cli("run", "--codecs", "webp", "-d", "clic2020"), "unknown dataset 'clic2020'", "did you mean")


def test_archive_with_parent_paths_is_refused(tmp_path):
    from lic_bench.datasets import DatasetInfo, fetch, file_sha256
    from lic_bench.errors import LicBenchError
    arc = tmp_path / "evil.zip"
    with zipfile.ZipFile(arc, "w") as z:
        z.writestr("valid/a.png", b"x")
        z.writestr("valid/../../../outside.png", b"x")
    info = DatasetInfo("evil", archive={"url": arc.as_uri(), "sha256": file_sha256(arc), "members": "valid/*.png"})
    with pytest.raises(LicBenchError, match="refusing unsafe member path"):
        fetch(info, tmp_path / "cache")
    assert not (tmp_path / "outside.png").exists() and not (tmp_path / "cache" / "evil").exists()


# ---- codec specs and options: usage errors (exit 2, one line)

@pytest.mark.parametrize("yaml_text,needle", [
    ("name: w\nadapter: webp\nqualitys: [5]\n", "unknown key 'qualitys'"),
    ("name: w\nadapter: webp\nparams: !!python/object/apply:os.system ['echo pwned']\n", "invalid YAML"),
    ("name: w\nadapter: webpp\n", "unknown codec adapter 'webpp'"),
])
def test_bad_codec_spec_files(tmp_path, yaml_text, needle):
    (tmp_path / "codecs").mkdir()
    (tmp_path / "codecs" / "w.yaml").write_text(yaml_text)
    p = cli("run", "--codecs", "w", "-d", "sample", cwd=tmp_path)
    one_line_error(p, needle)
    assert "pwned" not in p.stdout


@pytest.mark.parametrize("args,needle", [
    (["run", "--codecs", "webp:method", "-d", "sample"], "key=value"),
    (["run", "--codecs", "webp:method=11", "-d", "sample"], "method=11"),
    (["run", "--codecs", "jpeg", "-q", "high", "-d", "sample"], "-q/--qualities"),
    (["run", "--codecs", "vtm-12.1", "-d", "sample"], "VTM not configured"),
    (["run", "--codecs", "webp", "--executor", "spark", "-d", "sample"], "--executor 'spark'"),
    (["bdrate", "-d", "kodak", "--codecs", "tcm-large@paper", "--metric", "vmaf"], "--metric 'vmaf'"),
    (["results", "-d", "kodak", "-f", "xml"], "--format 'xml'"),
])
def test_bad_options(args, needle):
    one_line_error(cli(*args), needle)


def test_corrupt_store_file(tmp_path):
    bad = tmp_path / "s.sqlite"
    bad.write_bytes(b"definitely not sqlite" * 100)
    one_line_error(cli("run", "--codecs", "webp", "-q", "5", "-d", "sample", "--store", bad), str(bad))
    assert bad.read_bytes().startswith(b"definitely not sqlite")  # never overwritten


# ---- curves

def test_nan_in_an_imported_curve(tmp_path):
    doc = {"name": "broken", "description": "", "results": {"bpp": [0.1, 0.2, 0.4, 0.8], "psnr-rgb": [28.0, float("nan"), 33.0, 36.0]}}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    assert cli("import", tmp_path / "c.json", "-d", "kodak").returncode == 0
    p = cli("bdrate", "-d", "kodak", "--codecs", "broken", "-f", "json")
    (row,) = json.loads(p.stdout)
    assert row["bd_rate"] is None and "not computable" in row["status"] and "point 1" in row["status"] and "not finite" in row["status"]
    assert store_consistent()


def test_malformed_compressai_json(tmp_path):
    (tmp_path / "m.json").write_text('{"name": "x", "results": {"psnr-rgb": [30]}}')
    one_line_error(cli("import", tmp_path / "m.json", "-d", "kodak"), "m.json", "not a CompressAI results file")


# ---- checkpoints and bitstreams

needs_compressai = pytest.mark.skipif(importlib.util.find_spec("compressai") is None, reason="compressai not installed")


@needs_compressai
def test_checkpoint_of_another_architecture_is_a_recorded_failure(tmp_path):
    import torch
    from lic_bench.learned.tic import DEPTHS, TIC
    torch.save({"state_dict": TIC(128, 192, DEPTHS["tic"]).state_dict()}, tmp_path / "tic.pth")
    d = tmp_path / "big"
    d.mkdir()
    Image.fromarray(sample_photo("astronaut.png")[:300, :300]).save(d / "a.png")
    p = cli("run", "--codecs", "tcm-small", "--checkpoint", tmp_path / "tic.pth", "-q", "3", "-d", d, "--no-progress")
    assert p.returncode == 1 and "does not fit tcm-small" in p.stderr and "looks like tic" in p.stderr
    assert store_consistent()


@needs_compressai
@pytest.mark.parametrize("mutate,needle", [
    (lambda b: b[: len(b) - 40], "checksum mismatch"),
    (lambda b: b"JPG" + b[3:], "bad magic"),
    (lambda b: b[:3] + bytes([9]) + b[4:], "container version 9"),
    (lambda b: b[:4] + bytes([7]) + b[5:], "checksum mismatch"),  # another valid quality: would crash compressai's rANS
    (lambda b: b[:30] + bytes([b[30] ^ 0x10]) + b[31:], "checksum mismatch"),
])
def test_damaged_learned_bitstreams(mutate, needle):
    from lic_bench.adapters.learned import Learned
    from lic_bench.errors import LicBenchError
    codec = Learned(arch="compressai:bmshj2018-hyperprior", random_init=True)
    data = codec.encode(sample_photo()[:128, :128], 1).data
    with pytest.raises(LicBenchError, match=needle):
        codec.decode(mutate(data))
