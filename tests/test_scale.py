import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import sample_photo
from lic_bench.datasets import locate
from lic_bench.runner import execute, prepare
from lic_bench.specs import resolve_spec
from lic_bench.store import Store

HERE = Path(__file__).parent


@pytest.fixture
def raw_spec(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.syspath_prepend(str(HERE))
    (Path.cwd() / "codecs").mkdir()
    (Path.cwd() / "codecs" / "raw.yaml").write_text("name: raw\nadapter: 'scale_codecs:Raw'\noperating_points: [1, 2, 3]\n")


def _rows(path):
    return sqlite3.connect(path).execute(
        "SELECT op, pixel_sha256, status, bytes, sse_r, bitstream_sha256, decoded_sha256 FROM records ORDER BY 1, 2").fetchall()


def _execute(ds, codec="jpeg", **kw):
    with Store() as st:
        return execute([prepare(resolve_spec(codec))], locate(str(ds)), st, progress=False, **kw)


def test_dask_local_gives_the_same_records_and_keys_as_local(small_dataset, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    s = _execute(small_dataset, operating_points=[30, 70], jobs=2)
    local = _rows(os.environ["LIC_BENCH_STORE"])
    monkeypatch.setenv("LIC_BENCH_STORE", str(tmp_path / "dask.sqlite"))
    d = _execute(small_dataset, operating_points=[30, 70], jobs=2, executor="dask-local")
    assert (s.done, d.done, d.failed) == (6, 6, [])
    assert _rows(tmp_path / "dask.sqlite") == local


def test_dying_worker_is_retried_then_recorded_others_finish(small_dataset, raw_spec, monkeypatch):
    monkeypatch.setenv("SCALE_KILL", "1")
    s = _execute(small_dataset, "raw", jobs=2, retries=1)
    assert s.done == 6 and len(s.failed) == 3
    assert {f[2] for f in s.failed} == {"b.png"} and all("worker process died (2 attempts)" in f[3] for f in s.failed)
    monkeypatch.delenv("SCALE_KILL")
    again = _execute(small_dataset, "raw", jobs=2)  # failed keys are retried by the next run
    assert (again.cached, again.done, again.failed) == (6, 3, [])


def test_job_timeout_kills_and_records(small_dataset, raw_spec, monkeypatch):
    monkeypatch.setenv("SCALE_HANG", "1")
    t = time.monotonic()
    s = _execute(small_dataset, "raw", jobs=2, retries=0, job_timeout=3, operating_points=[1])
    assert time.monotonic() - t < 60
    assert s.done == 2 and [f[2] for f in s.failed] == ["c.png"] and "timed out after 3 s" in s.failed[0][3]


def test_dask_worker_death_is_a_recorded_failure(small_dataset, raw_spec, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setenv("SCALE_KILL", "1")
    s = _execute(small_dataset, "raw", jobs=2, retries=0, executor="dask-local", operating_points=[1])
    assert s.done == 2 and [f[2] for f in s.failed] == ["b.png"] and "dask" in s.failed[0][3]


def _many_images(tmp_path, n=8):
    d = tmp_path / "many"
    d.mkdir()
    img = sample_photo("astronaut.png")
    for i in range(n):
        Image.fromarray(np.roll(img, 41 * i, axis=0)[:320, :320]).save(d / f"m{i}.png")
    return d


def test_sigint_stops_cleanly_and_rerun_finishes(tmp_path):
    d = _many_images(tmp_path)
    store = os.environ["LIC_BENCH_STORE"]
    args = [sys.executable, "-m", "lic_bench", "run", "--codecs", "webp:method=6", "-q", "5,10,15,20,25,30", "-d", str(d),
            "--jobs", "2", "--no-progress"]  # WebP's slowest method: the run is still going when the signal lands
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        time.sleep(0.1)
        try:
            if sqlite3.connect(store, timeout=5).execute("SELECT COUNT(*) FROM records").fetchone()[0] >= 4:
                break
        except sqlite3.OperationalError:
            pass
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (out, err)
    assert "interrupted" in err and "rerun" in err
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    assert 4 <= n < 48
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT op || pixel_sha256) FROM records WHERE status='ok'").fetchone() == (48, 48)


def test_two_runs_writing_the_same_store_at_once(tmp_path):
    d = _many_images(tmp_path, 6)
    args = [sys.executable, "-m", "lic_bench", "run", "--codecs", "jpeg,webp", "-q", "20,50,80", "-d", str(d), "--no-progress"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    db = sqlite3.connect(os.environ["LIC_BENCH_STORE"])
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT spec_digest || op || pixel_sha256) FROM records").fetchone() == (36, 36)
    assert db.execute("SELECT COUNT(*) FROM specs").fetchone()[0] == 2
