"""Problems a new user hit (review of the merged main), each reproduced: a rate-matched run judged as a
codec's baseline, a subset of a dataset reported as the dataset, prune silently touching another
dataset, and tracebacks from report --export."""

import json
import shutil

from typer.testing import CliRunner

from lic_bench.cli import app

runner = CliRunner()


def ok(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


def test_gate_never_judges_a_rate_matched_run_against_a_knob_sweep_baseline(small_dataset, tmp_path):
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30,60", "--no-progress")
    ok("baseline", "save", "-d", "imgs", "--codecs", "webp", "-o", tmp_path / "b")
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "bpp=1.0", "--no-progress")
    r = runner.invoke(app, ["gate", "--baseline", str(tmp_path / "b"), "-f", "json"])
    v = json.loads(r.output)["verdicts"][0]
    assert r.exit_code == 0 and v["codec"] == "webp" and v["outcome"] == "pass"


def test_a_run_on_some_images_is_not_the_datasets_curve(small_dataset, tmp_path):
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30,60", "--no-progress")  # the three-image dataset
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(small_dataset / "a.png", part)
    shutil.copy(small_dataset / "b.png", part)
    ok("run", "--codecs", "avif,jpeg2000", "-d", part, "-q", "20,40", "--no-progress")
    # both curves have two of the three images: on the three-image dataset there is no BD-rate
    r = runner.invoke(app, ["bdrate", "-d", str(small_dataset), "--anchor", "jpeg2000", "--codecs", "avif", "-f", "json"])
    row = json.loads(r.output)[0]
    assert r.exit_code == 1 and row["bd_rate"] is None and "2/3 images" in " ".join(row["warnings"]) + row["status"]
    # on their own two-image dataset they are complete
    r = runner.invoke(app, ["bdrate", "-d", str(part), "--anchor", "jpeg2000", "--codecs", "avif", "-f", "json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["bd_rate"] is not None


def test_prune_says_which_other_datasets_lose_the_records(small_dataset, tmp_path):
    ok("run", "--codecs", "jpeg", "-d", small_dataset, "-q", "40", "--no-progress")
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(small_dataset / "a.png", part)
    ok("run", "--codecs", "jpeg", "-d", part, "-q", "40", "--no-progress")
    out = ok("prune", "-d", part, "--codecs", "jpeg")
    assert "would delete 1 record(s)" in out and "imgs" in out and "other stored datasets" in out


def test_report_export_to_a_bad_place_is_one_line(small_dataset, tmp_path):
    ok("run", "--codecs", "webp,jpeg", "-d", small_dataset, "-q", "30,60", "--no-progress")
    (tmp_path / "file.txt").write_text("x")
    for bad in (tmp_path / "file.txt", "/proc/nope/x"):
        r = runner.invoke(app, ["report", "-d", "imgs", "--anchor", "jpeg", "-o", str(tmp_path / "r.html"), "--export", str(bad)])
        assert r.exit_code != 0 and "--export" in str(r.exception)


def test_import_never_silently_replaces_a_curve(tmp_path):
    from conftest import SHARED
    src = SHARED / "reference" / "compressai-results" / "kodak"
    files = sorted(src.glob("*.json"))[:2] if src.is_dir() else []
    if len(files) < 2:
        import pytest
        pytest.skip("../shared/reference/compressai-results absent")
    ok("import", files[0], "-d", "kodak", "--name", "mine")
    r = runner.invoke(app, ["import", str(files[1]), "-d", "kodak", "--name", "mine"])
    assert r.exit_code != 0 and "--replace" in str(r.exception)
    ok("import", files[1], "-d", "kodak", "--name", "mine", "--replace")


def test_results_of_a_shipped_anchor_says_where_it_is_used(small_dataset):
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30", "--no-progress")
    r = runner.invoke(app, ["results", "-d", "imgs", "--codecs", "mlic++@paper"])
    assert r.exit_code != 0 and "not a measured codec" in str(r.exception) and "bdrate" in str(r.exception)
