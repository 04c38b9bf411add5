"""Issue 12: one data model across every command — what `run` accepts, every command accepts.

Each numbered test reproduces one of the nine problems of the issue (they failed before the change),
then `test_a_researchers_day_*` walks run → results → bdrate → compare → report → baseline → gate →
Python API naming the dataset by path, by name and by content hash, and curves by every kind of name.
"""

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import lic_bench
from conftest import KODAK, requires_kodak, sample_photo
from lic_bench.cli import app
from lic_bench import store as store_module
from lic_bench.errors import LicBenchError

runner = CliRunner()
HERE = Path(__file__).parent


def ok(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


def err(*args) -> str:
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code != 0, (args, r.output)
    return str(r.exception) + r.output


@pytest.fixture
def quant(monkeypatch):
    """The test adapter as spec `quant` in ./codecs (the working directory is a fresh one per test)."""
    monkeypatch.syspath_prepend(str(HERE))
    Path("codecs").mkdir(exist_ok=True)
    Path("codecs/quant.yaml").write_text("name: quant\nadapter: 'model_codecs:Quant'\noperating_points: [4, 16]\n")
    return "quant"


def _folder(root: Path, names=("a", "b"), crop=(0, 0)) -> Path:
    root.mkdir(parents=True)
    img = sample_photo("coffee.png")
    for i, n in enumerate(names):
        y, x = crop[0] + 20 * i, crop[1] + 30 * i
        Image.fromarray(img[y:y + 170, x:x + 180]).save(root / f"{n}.png")
    return root


# ---------------------------------------------------------------- the nine problems

def test_1_a_folder_path_works_in_every_command(small_dataset, tmp_path):
    ok("run", "--codecs", "webp,jpeg", "-d", small_dataset, "-q", "30,60", "--no-progress")
    ds = str(small_dataset)
    assert "webp on imgs" in ok("results", "-d", ds)
    assert json.loads(ok("bdrate", "-d", ds, "--anchor", "jpeg", "--codecs", "webp", "-f", "json"))[0]["bd_rate"] is not None
    assert "BD-rate" in ok("compare", "webp", "jpeg", "-d", ds)
    ok("report", "-d", ds, "-o", tmp_path / "r.html")
    ok("baseline", "save", "-d", ds, "--codecs", "webp", "-o", tmp_path / "b")
    r = runner.invoke(app, ["gate", "--baseline", str(tmp_path / "b"), "-d", ds, "-f", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["verdicts"][0]["outcome"] == "pass"
    assert len(lic_bench.records(ds)) == 12


def test_2_options_that_do_not_change_the_output_never_rename(quant, small_dataset):
    ok("run", "--codecs", "quant:threads=2", "-d", small_dataset, "--no-progress")
    out = json.loads(ok("results", "-d", "imgs", "--codecs", "quant", "-f", "json"))
    assert len(out) == 2 and {r["codec"] for r in out} == {"quant"}
    # the same results, cached, whatever the option
    assert "6 cached, 0 computed" in ok("run", "--codecs", "quant:threads=3", "-d", small_dataset, "--no-progress")
    assert len(json.loads(ok("results", "-d", "imgs", "--codecs", "quant:threads=7", "-f", "json"))) == 2


def test_3_gate_pairs_on_codec_identity_not_on_the_text_before_the_colon(quant, small_dataset, tmp_path):
    from lic_bench.names import codec_key_of_name

    assert codec_key_of_name("compressai:mbt2018") != codec_key_of_name("compressai:cheng2020-anchor")
    assert codec_key_of_name("compressai:mbt2018") == codec_key_of_name("compressai:mbt2018:threads=4")
    ok("run", "--codecs", "quant", "-d", small_dataset, "--no-progress")
    ok("baseline", "save", "-d", "imgs", "--codecs", "quant", "-o", tmp_path / "b")
    # only a run of another architecture exists now: it is not judged against the baseline
    Path("store2").mkdir()
    r = runner.invoke(app, ["run", "--codecs", "quant:arch=b", "-d", str(small_dataset), "--no-progress", "--store", "store2/s.sqlite"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["gate", "--baseline", str(tmp_path / "b"), "--store", "store2/s.sqlite", "-f", "json"])
    v = json.loads(r.output)["verdicts"][0]
    assert r.exit_code == 1 and v["outcome"] == "missing"
    # two different current results of the same codec: an error naming both, --match chooses
    ok("run", "--codecs", "quant:arch=b", "-d", small_dataset, "--no-progress")
    Path("codecs/quant2.yaml").write_text("name: quant2\nadapter: 'model_codecs:Quant'\noperating_points: [4, 16]\nparams: {arch: a}\n")
    ok("run", "--codecs", "quant", "-d", small_dataset, "-q", "8", "--no-progress")
    r = runner.invoke(app, ["gate", "--baseline", str(tmp_path / "b"), "-f", "json", "--codecs", "quant,quant2"])
    assert r.exit_code != 0 and "2 current results of this codec" in str(r.exception)
    r = runner.invoke(app, ["gate", "--baseline", str(tmp_path / "b"), "-f", "json", "--match", "quant=quant", "--codecs", "quant"])
    assert json.loads(r.output)["verdicts"][0]["codec"] == "quant"


def test_4_the_same_curve_name_works_in_every_command(tmp_path):
    kodak_like = tmp_path / "kodak"  # a folder called kodak: reported Kodak curves apply to it
    _folder(kodak_like, ("kodim01", "kodim02"))
    ok("run", "--codecs", "webp", "-d", kodak_like, "-q", "20,50", "--no-progress")
    for cmd in (["bdrate", "-d", "kodak", "--codecs", "tcm-large@paper", "-f", "json"],
                ["compare", "tcm-large@paper", "vtm-12.1", "-d", "kodak"],
                ["report", "-d", "kodak", "--codecs", "tcm-large@paper,webp", "-o", str(tmp_path / "r.html")]):
        ok(*cmd)
    html = (tmp_path / "r.html").read_text()
    assert "tcm-large@paper" in html and "webp" in html


def test_5_a_spec_name_refuses_a_checkpoint_of_another_layout(tmp_path):
    import torch

    from lic_bench.learned.tic import DEPTHS, TIC
    torch.manual_seed(0)
    torch.save({"state_dict": TIC(128, 192, DEPTHS["tic-repo"]).state_dict()}, tmp_path / "repo.pth.tar")
    with pytest.raises(LicBenchError, match=r"depths \[2, 4, 6, 2, 2\].*use --codecs tic-repo"):
        lic_bench.load_model("tic", tmp_path / "repo.pth.tar", quality=1)


def test_6a_a_failed_attempt_never_hides_complete_results(quant, small_dataset, tmp_path):
    (tmp_path / "bad.tbl").write_bytes(b"broken")
    (tmp_path / "good.tbl").write_bytes(b"table v1")
    r = runner.invoke(app, ["run", "--codecs", "quant", "-d", str(small_dataset), "--checkpoint", str(tmp_path / "bad.tbl"), "--no-progress"])
    assert r.exit_code == 1
    ok("run", "--codecs", "quant", "-d", small_dataset, "--checkpoint", tmp_path / "good.tbl", "--no-progress")
    rows = json.loads(ok("results", "-d", "imgs", "--codecs", "quant", "-f", "json"))
    assert [(r["n_images"], r["n_failed"]) for r in rows] == [(3, 0), (3, 0)]


def test_6b_a_copy_of_a_spec_is_an_alias_not_a_rename(small_dataset, tmp_path):
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30,60", "--no-progress")
    ok("baseline", "save", "-d", "imgs", "--codecs", "webp", "-o", tmp_path / "b")
    Path("codecs").mkdir()
    shutil.copy(Path(lic_bench.__file__).parent / "builtin" / "codecs" / "webp.yaml", "codecs/mywebp.yaml")
    text = Path("codecs/mywebp.yaml").read_text().replace("name: webp", "name: mywebp")
    Path("codecs/mywebp.yaml").write_text(text)
    assert "6 cached, 0 computed" in ok("run", "--codecs", "mywebp", "-d", small_dataset, "-q", "30,60", "--no-progress")
    assert "webp on imgs" in ok("results", "-d", "imgs", "--codecs", "webp")
    assert "mywebp on imgs" in ok("results", "-d", "imgs", "--codecs", "mywebp")
    r = runner.invoke(app, ["gate", "--baseline", str(tmp_path / "b"), "-f", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["verdicts"][0]["outcome"] == "pass"


def test_6c_two_folders_with_one_basename_are_two_datasets(tmp_path):
    a = _folder(tmp_path / "a" / "valid", crop=(0, 0))
    b = _folder(tmp_path / "b" / "valid", crop=(100, 150))
    ok("run", "--codecs", "webp", "-d", a, "-q", "30", "--no-progress")
    ok("run", "--codecs", "webp", "-d", b, "-q", "30", "--no-progress")
    ra = json.loads(ok("results", "-d", a, "-f", "json"))[0]
    rb = json.loads(ok("results", "-d", b, "-f", "json"))[0]
    assert ra["bpp"] != rb["bpp"]
    msg = err("results", "-d", "valid")
    assert "ambiguous" in msg and str(a) in msg and str(b) in msg
    # the content hash a run prints names a dataset too
    from lic_bench.store import Store
    with Store(readonly=True) as st:
        content = st.dataset_rows(folder=str(b))[0]["content_sha256"]
    assert json.loads(ok("results", "-d", content[:12], "-f", "json"))[0]["bpp"] == rb["bpp"]


def test_6d_per_quality_checkpoints_form_one_curve(quant, small_dataset, tmp_path):
    for q in (4, 16):
        (tmp_path / f"q{q}.tbl").write_bytes(f"table {q}".encode())
        ok("run", "--codecs", "quant", "-d", small_dataset, "-q", q, "--checkpoint", tmp_path / f"q{q}.tbl", "--no-progress")
    rows = json.loads(ok("results", "-d", "imgs", "--codecs", "quant", "-f", "json"))
    assert [r["op"] for r in rows] == [4.0, 16.0] and all(r["n_images"] == 3 for r in rows)
    assert "+" in rows[0]["spec_digest"]  # made of two specs, both named
    # a second, different complete result at one point is ambiguous — and the error says how to choose
    (tmp_path / "other.tbl").write_bytes(b"table other")
    ok("run", "--codecs", "quant", "-d", small_dataset, "-q", "4", "--checkpoint", tmp_path / "other.tbl", "--no-progress")
    msg = err("results", "-d", "imgs", "--codecs", "quant")
    assert "ambiguous" in msg and "quant@" in msg


def test_7_a_user_models_source_is_part_of_its_identity(tmp_path, monkeypatch):
    pkg = tmp_path / "mymodels"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "net.py").write_text("class Net:\n    version = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from lic_bench.adapters.learned import Learned

    first = Learned.static_provenance({"model_class": "mymodels.net:Net"})
    (pkg / "net.py").write_text("class Net:\n    version = 2  # edited\n")
    second = Learned.static_provenance({"model_class": "mymodels.net:Net"})
    assert first["model_source_sha256"] != second["model_source_sha256"]
    # the resolver keeps only results of the current source, and says so when only stale ones exist
    from lic_bench.names import DatasetRef, measured
    from lic_bench.record import Record
    from lic_bench.store import Store

    ds = DatasetRef("d", "c" * 64, "", {"p1": "x.png"})
    with Store() as st:
        st.put_dataset("c" * 64, "d", "", [("x.png", "p1", 8, 8, "[]")])
        for digest, prov in (("old0", first), ("new0", second)):
            ident = {"adapter": "learned", "class": "lic_bench.adapters.learned:Learned", "color": None,
                     "params": Learned.identity_of({"model_class": "mymodels.net:Net"}), "provenance": prov}
            st.put_spec(digest, "custom:mymodels.net:Net", "learned", ident, {})
            st.put_record(digest, Record(op=1.0, pixel_sha256="p1", status="ok", bytes=10 if digest == "old0" else 20,
                                         height=8, width=8, sse_r=1.0, sse_g=1.0, sse_b=1.0))
        cr = measured(st, "custom:mymodels.net:Net", ds)
        assert cr.digests == ["new0"] and cr.records[0].bytes == 20
        (pkg / "net.py").write_text("class Net:\n    version = 3\n")
        with pytest.raises(LicBenchError, match="ambiguous"):  # two results, both of older sources
            measured(st, "custom:mymodels.net:Net", ds)
        st.db.execute("DELETE FROM records WHERE spec_digest='new0'")
        st.db.commit()
        stale = measured(st, "custom:mymodels.net:Net", ds)
        assert stale.digests == ["old0"] and any("another version of the model's source" in w for w in stale.warnings)


def test_8_the_python_api_is_not_shadowed_by_submodules(small_dataset):
    import importlib
    import pkgutil

    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30,60", "--no-progress")
    a = lic_bench.records(str(small_dataset))
    b = lic_bench.curves(str(small_dataset))
    for m in pkgutil.iter_modules(lic_bench.__path__):
        if m.name not in ("__main__",):
            importlib.import_module(f"lic_bench.{m.name}")
    for name in ("run", "records", "curves", "bdrate", "compare", "report", "baseline_save", "gate", "load_model"):
        assert callable(getattr(lic_bench, name)) and not isinstance(getattr(lic_bench, name), type(sys)), name
    assert len(lic_bench.curves("imgs")) == len(b) == 2 and len(a) == 6


def test_9_per_image_exports_in_every_format_and_output_files(small_dataset, tmp_path):
    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30,60", "--no-progress")
    out = ok("results", "-d", "imgs", "--per-image")
    assert "a.png" in out and "bitstream md5" in out
    msg = err("results", "-d", "imgs", "--per-image", "-f", "compressai")
    assert "--per-image" in msg
    ok("results", "-d", "imgs", "-o", tmp_path / "t.txt")
    assert "webp on imgs" in (tmp_path / "t.txt").read_text()
    ok("results", "-d", "imgs", "--per-image", "-f", "csv", "-o", tmp_path / "p.csv")
    import csv
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(rows) == 6 and all(len(r["bitstream_md5"]) == 32 and len(r["bitstream_sha256"]) == 64 for r in rows)
    from lic_bench.store import Store
    with Store(readonly=True) as st:
        assert {r["bitstream_md5"] for r in rows} == {r[0] for r in st.db.execute("SELECT bitstream_md5 FROM records")}


# ---------------------------------------------------------------- schema, tables, one field list

def test_a_store_written_by_the_previous_release_opens_and_reads(tmp_path):
    """tests/data/store-v1 was written by lic-bench before issue 12 (schema 1)."""
    src = HERE / "data" / "store-v1"
    shutil.copytree(src, tmp_path / "v1")
    store = tmp_path / "v1" / "store-v1.sqlite"
    before = sqlite3.connect(store).execute("SELECT COUNT(*) FROM records").fetchone()[0]
    rows = json.loads(ok("results", "-d", "imgs", "--store", store, "-f", "json"))
    assert {r["codec"] for r in rows} == {"webp", "jpeg:subsampling=444"} and len(rows) == 4
    db = sqlite3.connect(store)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(store_module.SCHEMA_VERSION)
    assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == before
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the imported curve and the folder still resolve; a new run of the same spec is cached
    assert "imported-x" in ok("bdrate", "-d", "imgs", "--store", store, "--anchor", "webp", "--codecs", "imported-x,jpeg:subsampling=444")
    out = ok("run", "--codecs", "webp", "-q", "20,60", "-d", tmp_path / "v1" / "imgs", "--store", store, "--no-progress")
    assert "4 cached, 0 computed" in out


def test_one_field_list_and_one_metric_table():
    from lic_bench import gating, store
    from lic_bench.record import EXPORT_FIELDS, METRICS, QUALITY_METRICS, STORED_FIELDS

    cols = [r[1] for r in sqlite3.connect(":memory:").executescript(store._SCHEMA).execute("PRAGMA table_info(records)")]
    assert tuple(cols) == STORED_FIELDS and gating.RECORD_FIELDS == EXPORT_FIELDS
    assert set(QUALITY_METRICS) <= set(METRICS) and "bpp" not in QUALITY_METRICS
    r = runner.invoke(app, ["bdrate", "--help"], env={"COLUMNS": "240"})
    flat = "".join(c for c in r.output if not c.isspace() and c not in "│")
    assert "|".join(QUALITY_METRICS) in flat


def test_adapters_declare_runtime_options_and_the_cli_has_no_adapter_branches():
    from lic_bench.adapters.learned import Learned
    from lic_bench.adapters.vtm import VTM

    assert VTM.runtime_options() == {"vtm_dir": "vtm_dir"}
    assert set(Learned.runtime_options()) == {"device", "weights_dir", "checkpoint", "decode_device"}
    cmd_dir = Path(lic_bench.__file__).parent / "commands"
    for f in cmd_dir.glob("*.py"):
        text = f.read_text()
        assert 'adapter == "vtm"' not in text and 'adapter == "learned"' not in text and "options_for" not in text, f


# ---------------------------------------------------------------- the whole day

def _day(dataset_names: list[str], tmp_path: Path, run_args: list, codecs=("webp", "jpeg")):
    ok("run", "--codecs", ",".join(codecs), *run_args, "--no-progress")
    for i, ds in enumerate(dataset_names):
        for fmt in ("table", "csv", "json", "compressai"):
            ok("results", "-d", ds, "-f", fmt)
        ok("results", "-d", ds, "--per-image", "-f", "csv")
        rows = json.loads(ok("bdrate", "-d", ds, "--anchor", "jpeg", "--codecs", "webp,webp@" + _digest(ds, "webp"), "-f", "json"))
        assert rows[0]["bd_rate"] == pytest.approx(rows[1]["bd_rate"], abs=0)
        ok("compare", "webp", "jpeg", "-d", ds)
        ok("report", "-d", ds, "--anchor", "jpeg", "-o", tmp_path / f"r{i}.html")
        ok("baseline", "save", "-d", ds, "--codecs", "webp", "-o", tmp_path / f"b{i}")
        r = runner.invoke(app, ["gate", "--baseline", str(tmp_path / f"b{i}"), "-d", ds, "-f", "json"])
        assert r.exit_code == 0 and json.loads(r.output)["verdicts"][0]["outcome"] == "pass", r.output
        recs, curves = lic_bench.records(ds), lic_bench.curves(ds)
        assert set(recs["codec"]) == set(codecs) and len(curves) == 2 * len(codecs)
        t = lic_bench.bdrate(ds, "webp", anchor="jpeg")
        assert t.rows[0]["bd_rate"] == rows[0]["bd_rate"]
        assert lic_bench.compare("webp", "jpeg", ds)["bd_rate"] == rows[0]["bd_rate"]


def _digest(ds, name):
    return json.loads(ok("results", "-d", ds, "--codecs", name, "-f", "json"))[0]["spec_digest"][:12]


def test_a_researchers_day_on_a_folder_by_path_name_and_hash(small_dataset, tmp_path):
    from lic_bench.store import Store

    ok("run", "--codecs", "webp", "-d", small_dataset, "-q", "30,60", "--no-progress")
    with Store(readonly=True) as st:
        content = st.dataset_rows(name="imgs")[0]["content_sha256"]
    _day([str(small_dataset), "imgs", content[:16]], tmp_path, ["-d", small_dataset, "-q", "30,60"])


@requires_kodak()
def test_a_researchers_day_on_kodak(tmp_path):
    _day(["kodak", str(KODAK)], tmp_path, ["-d", "kodak", "--data-dir", KODAK, "-q", "20,50", "--jobs", "2"])
    rows = json.loads(ok("bdrate", "-d", "kodak", "--codecs", "webp,tcm-large@paper,vtm-12.1@shipped", "--anchor", "vtm-12.1", "-f", "json"))
    assert [r["test_kind"] for r in rows] == ["measured", "reported", "anchor"]
