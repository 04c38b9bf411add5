"""Hostile inputs across datasets, specs, checkpoints, bitstreams, curves and CLI options.

Each case runs the real CLI in a subprocess and asserts: the exit code, a clear message on stderr that
names what is wrong (one line for usage/data errors), and — where a store exists — that it is
consistent (SQLite integrity check, no duplicate keys, every 'ok' record complete).
"""

import importlib.util
import json
import math
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
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
def test_checkpoint_of_another_architecture_is_one_upfront_error(tmp_path):
    import torch
    from lic_bench.learned.tic import DEPTHS, TIC
    torch.save({"state_dict": TIC(128, 192, DEPTHS["tic"]).state_dict()}, tmp_path / "tic.pth")
    d = tmp_path / "big"
    d.mkdir()
    Image.fromarray(sample_photo("astronaut.png")[:300, :300]).save(d / "a.png")
    p = cli("run", "--codecs", "tcm-small", "--checkpoint", tmp_path / "tic.pth", "-q", "3", "-d", d, "--no-progress")
    one_line_error(p, "does not fit tcm-small", "looks like tic")  # before any job (issue 15), not once per image
    assert sqlite3.connect(os.environ["LIC_BENCH_STORE"]).execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0
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


# ---- issue 15: hostile input and job control — one clear line, nothing leaks, nothing not ours touched

HERE = Path(__file__).parent


def descendants(pid):
    psutil = pytest.importorskip("psutil")
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def all_gone(procs, timeout=20):
    """Every process of `procs` has exited (the resource tracker notices its pipe closing, hence a wait)."""
    psutil = pytest.importorskip("psutil")
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return [p.pid for p in alive] == []


def rerun_completes(*args):
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    assert store_consistent()
    return p


def small_folder(tmp_path, n=2, name="ds"):
    d = tmp_path / name
    d.mkdir()
    for i in range(n):
        Image.fromarray(np.roll(sample_photo("coffee.png"), 37 * i, axis=1)[:120, :160]).save(d / f"i{i}.png")
    return d


# case 1: another application's SQLite file
def test_foreign_sqlite_file_is_refused_and_left_byte_identical(tmp_path):
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users VALUES (1, 'ada')")
    db.commit()
    db.close()
    before = other.read_bytes()
    p = cli("run", "--codecs", "jpeg", "-q", "50", "-d", small_folder(tmp_path), "--store", other, "--no-progress")
    one_line_error(p, str(other), "not a lic-bench results store", "left untouched")
    assert other.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith("other")) == ["other.sqlite"]  # no -wal/-shm
    rerun_completes("run", "--codecs", "jpeg", "-q", "50", "-d", tmp_path / "ds", "--no-progress")


# case 2: SIGTERM to a parallel run; a VTM job killed by its timeout
def test_sigterm_stops_workers_and_resource_tracker_and_rerun_finishes(tmp_path):
    psutil = pytest.importorskip("psutil")
    earlier = {c.pid for c in psutil.Process().children(recursive=True)}  # left by other tests, not ours to judge
    d = tmp_path / "ds"  # enough work (8 photos of 600x400, WebP's slowest method) that the run is still going
    d.mkdir()
    for i in range(8):
        Image.fromarray(np.roll(sample_photo("coffee.png"), 37 * i, axis=1)).save(d / f"i{i}.png")
    store = os.environ["LIC_BENCH_STORE"]
    args = [sys.executable, "-m", "lic_bench", "run", "--codecs", "webp:method=6", "-q", "5,10,15,20,25,30", "-d", str(d),
            "--jobs", "2", "--no-progress"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = {}
    for _ in range(1200):  # until at least one record is stored, remembering every descendant seen
        for c in descendants(p.pid):
            seen[c.pid] = c
        try:
            if sqlite3.connect(store, timeout=5).execute("SELECT COUNT(*) FROM records").fetchone()[0] >= 1 and len(seen) >= 3:
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    assert len(seen) >= 3, "expected two workers and the resource tracker"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143, (out, err)
    assert "terminated" in err and "rerun" in err
    assert all_gone(list(seen.values())), [c.pid for c in seen.values() if c.is_running()]
    assert store_consistent()
    rerun_completes(*args[3:])
    assert [c for c in psutil.Process().children(recursive=True) if c.pid not in earlier] == []


@pytest.fixture
def wrapped_vtm(tmp_path, monkeypatch):
    """A VTM folder whose encoder is a wrapper script that leaves a child of its own running (like a
    user's nice/taskset wrapper), then runs the fake VTM; every pid goes to a file."""
    root = tmp_path / "vtm"
    (root / "bin").mkdir(parents=True)
    (root / "cfg").mkdir()
    (root / "cfg" / "encoder_intra_vtm.cfg").write_text("IntraPeriod : 1\n")
    fake = (HERE / "fake_vtm.py").read_text()
    for name in ("EncoderAppStatic.py", "DecoderAppStatic"):
        (root / "bin" / name).write_text(f"#!{sys.executable}\n" + fake)
        (root / "bin" / name).chmod(0o755)
    pids = tmp_path / "pids"
    (root / "bin" / "EncoderAppStatic").write_text(
        f"#!/bin/sh\nsleep 300 </dev/null >/dev/null 2>&1 &\necho $! >> {pids}\nexec {sys.executable} {root / 'bin' / 'EncoderAppStatic.py'} \"$@\"\n")
    (root / "bin" / "EncoderAppStatic").chmod(0o755)
    monkeypatch.setenv("FAKE_VTM_PIDFILE", str(pids))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return root, pids, scratch


def _pids_dead(pids_file):
    psutil = pytest.importorskip("psutil")
    pids = [int(x) for x in pids_file.read_text().split()] if pids_file.exists() else []
    assert pids, "the fake VTM never started"
    deadline = time.time() + 20
    while time.time() < deadline and any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE] == []


def test_vtm_timeout_kills_the_whole_process_group_and_removes_temp_files(wrapped_vtm, monkeypatch):
    from lic_bench.adapters.vtm import VTM
    from lic_bench.errors import LicBenchError
    root, pids, scratch = wrapped_vtm
    monkeypatch.setenv("FAKE_VTM_MODE", "hang")
    codec = VTM(vtm_dir=str(root), timeout_s=2)
    with pytest.raises(LicBenchError, match="timed out after 2 s"):
        codec.encode(np.zeros((16, 16, 3), np.uint8), 32)
    assert _pids_dead(pids)
    assert list(scratch.iterdir()) == []


def test_job_timeout_stops_a_vtm_job_its_tools_and_temp_files(wrapped_vtm, tmp_path):
    root, pids, scratch = wrapped_vtm
    os.environ["FAKE_VTM_MODE"] = "hang"
    try:
        d = small_folder(tmp_path, 1)
        p = cli("run", "--codecs", "vtm-12.1", "--vtm-dir", root, "-q", "32", "-d", d, "--jobs", "2", "--job-timeout", "3",
                "--retries", "0", "--no-progress")
    finally:
        del os.environ["FAKE_VTM_MODE"]
    assert p.returncode == 1 and "timed out after 3 s" in p.stderr, p.stderr
    assert _pids_dead(pids)
    assert list(scratch.iterdir()) == []
    assert store_consistent()
    rerun_completes("run", "--codecs", "vtm-12.1", "--vtm-dir", root, "-q", "32", "-d", d, "--no-progress")


# case 3: --job-timeout values, with --jobs 1, and counted from the job's start
@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_bad_job_timeout_is_one_line(value):
    one_line_error(cli("run", "--codecs", "jpeg", "-q", "50", "-d", "sample", "--jobs", "2", "--job-timeout", value),
                   "--job-timeout", "positive, finite")


@pytest.fixture
def raw_codec(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.syspath_prepend(str(HERE))
    (Path.cwd() / "codecs").mkdir()
    (Path.cwd() / "codecs" / "raw.yaml").write_text("name: raw\nadapter: 'scale_codecs:Raw'\noperating_points: [1]\n")


def test_job_timeout_works_with_one_job(small_dataset, raw_codec, monkeypatch):
    monkeypatch.setenv("SCALE_HANG", "1")
    p = cli("run", "--codecs", "raw", "-d", small_dataset, "--jobs", "1", "--job-timeout", "3", "--retries", "0", "--no-progress")
    assert p.returncode == 1 and "c.png: timed out after 3 s" in p.stderr, p.stderr
    assert "3 jobs, 0 cached, 2 computed, 1 failed" in p.stdout
    assert store_consistent()
    monkeypatch.delenv("SCALE_HANG")
    rerun_completes("run", "--codecs", "raw", "-d", small_dataset, "--no-progress")


def test_job_timeout_counts_from_the_job_start_not_the_worker_start_up(small_dataset, raw_codec):
    """Workers that take 4 s to start, a 2 s limit, jobs that take milliseconds: nothing may time out."""
    from lic_bench.executors import run_process_pool
    from scale_codecs import slow_start, square
    out = list(run_process_pool([3, 4, 5], square, lambda j: (j,), workers=2, retries=0, job_timeout=2, initializer=slow_start))
    assert sorted(r for _, r in out) == [9, 16, 25]


# case 4: outputs are regular files written atomically; anything else is refused untouched
@pytest.fixture
def jpeg_results(tmp_path):
    d = small_folder(tmp_path)
    assert cli("run", "--codecs", "jpeg", "-q", "30,50,70,90", "-d", d, "--no-progress").returncode == 0
    return d


def test_report_output_that_is_a_folder_a_symlink_or_a_device(jpeg_results, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    one_line_error(cli("report", "-d", "ds", "--anchor", "", "-o", folder), str(folder), "is a folder")
    assert list(folder.iterdir()) == [] and not list(tmp_path.glob("out*.tmp")) and not list(tmp_path.glob(".out*"))
    target = tmp_path / "keep.html"
    target.write_text("mine")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    one_line_error(cli("report", "-d", "ds", "--anchor", "", "-o", link), "symbolic link")
    assert link.is_symlink() and target.read_text() == "mine"
    if Path("/dev/full").exists():
        before = os.stat("/dev/full")
        one_line_error(cli("report", "-d", "ds", "--anchor", "", "-o", "/dev/full"), "/dev/full", "not a regular file")
        after = os.stat("/dev/full")
        assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
        assert not [x for x in os.listdir("/dev") if x.startswith(".full")]
    assert cli("report", "-d", "ds", "--anchor", "", "-o", tmp_path / "r.html").returncode == 0
    assert [x.name for x in tmp_path.iterdir() if x.name.endswith(".tmp")] == []
    assert store_consistent()


# case 5: malformed baselines are data errors (exit 2), never a traceback a CI job reads as a regression
@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d.pop("records"), "no 'records' key"),
    (lambda d: d.update(records="all"), "'records' is str"),
    (lambda d: d.update(identity=[]), "'identity' is list"),
    (lambda d: d["records"][0].update(op="high"), "records[0] needs a numeric 'op'"),
    (lambda d: d["records"][0].update(bytes="12"), "records[0].bytes is not a number"),
    (lambda d: d.update(dataset={"name": 3}), "dataset.name"),
])
def test_malformed_baseline_is_one_line_exit_2(jpeg_results, tmp_path, mutate, needle):
    p = cli("baseline", "save", "-d", "ds", "--codecs", "jpeg", "-o", tmp_path / "b")
    assert p.returncode == 0, p.stderr
    (f,) = (tmp_path / "b").rglob("*.json")
    doc = json.loads(f.read_text())
    mutate(doc)
    f.write_text(json.dumps(doc))
    one_line_error(cli("gate", "--baseline", f, "-d", "ds"), str(f), "malformed baseline", needle)
    assert store_consistent()


# case 6: operating points validated per codec; chosen records can be deleted
@pytest.mark.parametrize("codec,q,needle", [
    ("jpeg2000", "inf", "not a finite number"),
    ("jpeg2000", "1e308", "compression ratio in (1, 10000]"),
    ("jpeg", "inf", "not a finite number"),
    ("webp", "50.5", "integer"),
])
def test_operating_points_are_validated(tmp_path, codec, q, needle):
    one_line_error(cli("run", "--codecs", codec, "-q", q, "-d", small_folder(tmp_path), "--no-progress"), needle)
    assert store_consistent()


def test_prune_deletes_chosen_records_and_a_rerun_recomputes_them(jpeg_results):
    from lic_bench.runner import prepare
    from lic_bench.specs import resolve_spec
    from lic_bench.store import Store
    with Store() as st:  # a point stored by an older lic-bench before operating points were validated
        digest = prepare(resolve_spec("jpeg")).digest
        good = st.records_for("1", digest)[0]
        bad = good.__class__.from_mapping({**{k: good[k] for k in ("pixel_sha256", "status", "bytes", "height", "width",
                                                                 "sse_r", "sse_g", "sse_b", "bitstream_sha256")}, "op": math.inf})
        assert st.put_record(digest, bad)
    p = cli("prune", "-d", "ds", "--codecs", "jpeg", "-q", "inf,70")
    assert p.returncode == 0 and "would delete 3 record(s)" in p.stdout, p.stdout + p.stderr
    assert sqlite3.connect(os.environ["LIC_BENCH_STORE"]).execute("SELECT COUNT(*) FROM records").fetchone()[0] == 9
    p = cli("prune", "-d", "ds", "--codecs", "jpeg", "-q", "inf,70", "--yes")
    assert p.returncode == 0 and "deleted 3 record(s)" in p.stdout, p.stderr
    db = sqlite3.connect(os.environ["LIC_BENCH_STORE"])
    assert sorted({r[0] for r in db.execute("SELECT op FROM records")}) == [30.0, 50.0, 90.0]
    assert store_consistent()
    p = rerun_completes("run", "--codecs", "jpeg", "-q", "30,50,70,90", "-d", jpeg_results, "--no-progress")
    assert "8 jobs, 6 cached, 2 computed, 0 failed" in p.stdout
    one_line_error(cli("prune", "-d", "ds", "--codecs", ""), "--codecs")


# case 7: a full disk
def test_full_disk_is_one_line_and_the_store_stays_consistent(tmp_path, monkeypatch):
    from lic_bench import api
    from lic_bench.errors import LicBenchError
    from lic_bench.store import Store
    d = small_folder(tmp_path, 3)
    api.run("jpeg", str(d), qualities=[50])  # a store with some results already
    opened = Store.__init__

    def tiny(self, *a, **kw):  # SQLite's own limit on the file size: real SQLITE_FULL errors
        opened(self, *a, **kw)
        if not self.readonly:
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            self.db.execute(f"PRAGMA max_page_count = {pages + 2}")
    monkeypatch.setattr(Store, "__init__", tiny)
    with pytest.raises(LicBenchError) as e:
        api.run("jpeg", str(d), qualities=[60, 70, 80, 90, 95])
    assert "database or disk is full" in str(e.value) and "rerun the same command" in str(e.value)
    assert "\n" not in str(e.value)
    monkeypatch.setattr(Store, "__init__", opened)
    assert store_consistent()
    res = api.run("jpeg", str(d), qualities=[50, 60, 70, 80, 90, 95])
    assert res.summary.cached >= 3 and not res.summary.failed and res.summary.cached + res.summary.done == 18


# case 8: two identical image files
def test_identical_images_keep_both_names_and_are_reported(tmp_path):
    d = small_folder(tmp_path, 2)
    (d / "copy.png").write_bytes((d / "i0.png").read_bytes())
    p = cli("run", "--codecs", "jpeg", "-q", "50", "-d", d, "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "2 jobs, 0 cached, 2 computed" in p.stdout
    assert "note: i0.png has the same pixels as copy.png: evaluated once" in p.stderr
    db = sqlite3.connect(os.environ["LIC_BENCH_STORE"])
    assert sorted(r[0] for r in db.execute("SELECT image FROM dataset_images")) == ["copy.png", "i0.png", "i1.png"]
    assert store_consistent()
    p = rerun_completes("run", "--codecs", "jpeg", "-q", "50", "-d", d, "--no-progress")
    assert "2 jobs, 2 cached" in p.stdout and "has the same pixels" in p.stderr


# case 9: animated / multi-page files, EXIF orientation, symlinks that cannot be followed
def _apng(p):
    a = sample_photo()[:64, :64]
    Image.fromarray(a).save(p, save_all=True, append_images=[Image.fromarray(255 - a)], duration=100)


def _tiff(p):
    a = sample_photo()[:64, :64]
    Image.fromarray(a).save(p, save_all=True, append_images=[Image.fromarray(a[::-1])])


@pytest.mark.parametrize("name,make,needle", [
    ("anim.png", _apng, "PNG with 2 frames"),
    ("pages.tif", _tiff, "TIFF with 2 frames"),
    ("dangling.png", lambda p: p.symlink_to(p.parent / "gone.png"), "symbolic link that cannot be followed"),
    ("loop.png", lambda p: (p.symlink_to(p.parent / "loop2.png"), (p.parent / "loop2.png").symlink_to(p)), "symbolic link that cannot be followed"),
])
def test_multi_frame_files_and_broken_links_are_listed(tmp_path, name, make, needle):
    d = folder_with(tmp_path, name, make)
    p = cli("run", "--codecs", "jpeg", "-q", "50", "-d", d, "--no-progress")
    assert p.returncode == 1, p.stderr
    line = [x for x in p.stderr.splitlines() if name in x]
    assert line and needle in line[0], p.stderr
    assert store_consistent()
    assert cli("run", "--codecs", "jpeg", "-q", "50", "-d", d, "--no-progress").returncode == 1  # same answer, no crash


def test_exif_orientation_is_ignored_flagged_and_listed(tmp_path):
    d = folder_with(tmp_path, "x", None)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(sample_photo("chelsea.png")[:100, :160]).save(d / "rotated.png", exif=exif)
    p = cli("run", "--codecs", "jpeg", "-q", "50", "-d", d, "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "EXIF orientation ignored" in p.stderr and "rotated.png (exif-orientation:6)" in p.stderr
    rows = json.loads(cli("results", "-d", "ds", "--per-image", "-f", "json").stdout)
    (rot,) = [r for r in rows if r["image"] == "rotated.png"]
    assert "exif-orientation:6" in rot["flags"] and rot["width"] == 160  # evaluated as stored
    assert store_consistent()


# case 10: duplicate operating points, booleans for numbers, a bad pixel limit
@pytest.mark.parametrize("yaml_text,needle", [
    ("name: w\nadapter: webp\noperating_points: [5, 5]\n", "lists 5 more than once"),
    ("name: w\nadapter: webp\nparams: {method: true}\n", "method=True: expected int, got a boolean"),
])
def test_spec_duplicates_and_booleans(tmp_path, yaml_text, needle):
    (tmp_path / "codecs").mkdir()
    (tmp_path / "codecs" / "w.yaml").write_text(yaml_text)
    one_line_error(cli("run", "--codecs", "w", "-d", "sample", cwd=tmp_path), needle)


def test_duplicate_qualities_on_the_command_line():
    one_line_error(cli("run", "--codecs", "webp", "-q", "5,5", "-d", "sample"), "-q/--qualities", "more than once")


@pytest.mark.parametrize("value", ["abc", "-1", "0"])
def test_bad_max_pixels_is_blamed_on_the_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv("LIC_BENCH_MAX_PIXELS", value)
    one_line_error(cli("run", "--codecs", "jpeg", "-q", "50", "-d", small_folder(tmp_path), "--no-progress"),
                   f"LIC_BENCH_MAX_PIXELS={value!r}", "positive whole number")
    assert store_consistent()


# case 11: learned codecs' weights and user classes are checked once, up front
@needs_compressai
def test_unsafe_checkpoint_is_one_upfront_error_that_never_suggests_unsafe_loading(tmp_path):
    import torch
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": _Payload()}, tmp_path / "evil.pth")
    p = cli("run", "--codecs", "tcm-small", "--checkpoint", tmp_path / "evil.pth", "-q", "3", "-d", small_folder(tmp_path, 3),
            "--no-progress")
    one_line_error(p, "evil.pth", "never unpickles")
    assert "weights_only=False" not in p.stderr and "weights_only` set to `False" not in p.stderr
    assert not (tmp_path / "ran").exists()
    assert sqlite3.connect(os.environ["LIC_BENCH_STORE"]).execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0
    assert store_consistent()


class _Payload:
    def __reduce__(self):
        return (open, ("ran", "w"))


@needs_compressai
def test_unimportable_model_class_is_one_upfront_error(tmp_path, monkeypatch):
    import torch
    (tmp_path / "broken_model.py").write_text("raise RuntimeError('my model module is broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ["PYTHONPATH"])
    torch.save({"w": torch.zeros(1)}, tmp_path / "m.pth")
    p = cli("run", "--model-class", "broken_model:Net", "--checkpoint", tmp_path / "m.pth", "-q", "1",
            "-d", small_folder(tmp_path, 3), "--no-progress")
    one_line_error(p, "broken_model", "my model module is broken")
    assert "failed" not in p.stdout
    assert store_consistent()


# case 12: VVC streams with general constraint info; the decoder's version
@pytest.mark.parametrize("extra_bits", [0, 6, 9])
def test_sps_with_general_constraint_info_is_parsed(extra_bits):
    sys.path.insert(0, str(HERE))
    try:
        from fake_vtm import sps
    finally:
        sys.path.remove(str(HERE))
    from lic_bench.vvc import picture_size
    assert picture_size(sps(327, 201, gci=True, gci_extra_bits=extra_bits)) == (327, 201, 3)
    assert picture_size(sps(64, 48)) == (64, 48, 3)


def test_vtm_run_with_gci_in_the_cfg_and_decoder_version_probe(wrapped_vtm, tmp_path, monkeypatch):
    root, pids, scratch = wrapped_vtm
    (root / "cfg" / "encoder_intra_vtm.cfg").write_text("IntraPeriod : 1\nGciPresentFlag : 1\n")
    d = small_folder(tmp_path, 1)
    p = cli("run", "--codecs", "vtm-12.1", "--vtm-dir", root, "-q", "32", "-d", d, "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "1 computed, 0 failed" in p.stdout
    monkeypatch.setenv("FAKE_VTM_DECODER_VERSION", "23.13")
    one_line_error(cli("run", "--codecs", "vtm-12.1", "--vtm-dir", root, "-q", "37", "-d", d, "--no-progress"),
                   "DecoderAppStatic is VTM '23.13'", "EncoderAppStatic is VTM '12.1'")
    assert _pids_dead(pids) and list(scratch.iterdir()) == []
    assert store_consistent()
