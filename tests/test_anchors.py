"""Shipped VVC anchors: their data against the files made for the project (../shared/anchors) and the
figures their READMEs publish; verification with the fake VTM on a small anchor built here by the real
adapter; opt-in, the real shipped anchors with a real VTM decoder."""

import hashlib
import json
import os
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import KODAK, SHARED, requires_kodak
from lic_bench import metrics
from lic_bench.adapters.vtm import VTM
from lic_bench.anchors import anchor_bitstream, builtin_anchors_dir, list_anchors, load_anchor, verify_anchor
from lic_bench.bd import bd_rate
from lic_bench.bdcompare import compare
from lic_bench.aggregate import aggregate
from lic_bench.datasets import locate
from lic_bench.errors import LicBenchError
from lic_bench.evaluate import evaluate
from lic_bench.references import Curve, resolve_curve, shipped_anchors
from lic_bench.vvc import picture_size

FAKE = Path(__file__).parent / "fake_vtm.py"
SHARED_ANCHORS = SHARED / "anchors"
NEW = {"vtm-12.1": "kodak-vtm-12.1-v2", "vtm-23.13": "kodak-vtm-23.13"}
requires_shared_anchors = pytest.mark.skipif(not (SHARED_ANCHORS / "kodak-vtm-12.1-v2" / "records.jsonl").is_file(),
                                             reason="../shared/anchors absent")


def raw_records(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "records.jsonl").read_text().splitlines() if x.strip()]


def curve(name: str) -> Curve:
    records, prov = load_anchor(name, "kodak")
    return Curve(name, "kodak", "anchor", prov, records=records)


# ---------------------------------------------------------------- the shipped data

def test_list_names_versions_metrics_and_bitstreams():
    got = {a["name"]: a for a in list_anchors()}
    assert set(got) == {"vtm-12.1", "vtm-12.1-v1", "vtm-23.13"}
    for name, version in (("vtm-12.1", "12.1"), ("vtm-12.1-v1", "12.1"), ("vtm-23.13", "23.13")):
        a = got[name]
        assert a["dataset"] == "kodak" and a["codec_version"] == version
        assert a["qps"] == [22, 27, 32, 37, 42, 47] and a["n_records"] == 144 and a["images"] == 24
    assert got["vtm-12.1-v1"]["metrics"] == ["psnr-rgb"] and not got["vtm-12.1-v1"]["bitstreams"]
    for name in NEW:
        assert got[name]["metrics"] == ["psnr-rgb", "psnr-y", "psnr-ycbcr", "ms-ssim", "ms-ssim-db"] and got[name]["bitstreams"]
    # what anchor.yaml declares is what the records hold
    import yaml
    for d in builtin_anchors_dir().iterdir():
        meta = yaml.safe_load((d / "anchor.yaml").read_text())
        assert meta["metrics"] == got[meta["name"]]["metrics"] and bool(meta["bitstreams"]) == got[meta["name"]]["bitstreams"]


@requires_shared_anchors
@pytest.mark.parametrize("name", sorted(NEW))
def test_package_data_is_the_shared_export(name):
    ours, theirs = builtin_anchors_dir() / NEW[name], SHARED_ANCHORS / NEW[name]
    for f in ("records.jsonl", "identity.json", "README.md"):
        assert (ours / f).read_bytes() == (theirs / f).read_bytes(), f
    assert sorted(p.name for p in (ours / "bitstreams").iterdir()) == sorted(p.name for p in (theirs / "bitstreams").iterdir())


@pytest.mark.parametrize("name", sorted(NEW))
def test_shipped_bitstreams_match_recorded_hashes_and_sizes(name):
    folder = builtin_anchors_dir() / NEW[name]
    raws = raw_records(folder)
    assert len(raws) == 144 and len({r["bitstream_file"] for r in raws}) == 144
    assert len(list((folder / "bitstreams").iterdir())) == 144  # nothing shipped that no record names
    for r in raws:
        data = (folder / r["bitstream_file"]).read_bytes()
        assert data == anchor_bitstream(name, r["image"] + ".png", r["qp"])
        assert hashlib.sha256(data).hexdigest() == r["bitstream_sha256"], r["bitstream_file"]
        assert hashlib.md5(data).hexdigest() == r["bitstream_md5"] and len(data) == r["bytes"]
        assert picture_size(data) == (r["width"], r["height"], 3)  # the adapter's decode path can read the SPS


@pytest.mark.parametrize("name", sorted(NEW))
def test_records_internally_consistent(name):
    """Every derived value in the records file follows from its raw quantities by the harness's formulas."""
    raws = raw_records(builtin_anchors_dir() / NEW[name])
    records, _ = load_anchor(name)
    assert len(records) == len(raws)
    for raw, rec in zip(raws, records):
        n = raw["width"] * raw["height"]
        assert rec["image"] == raw["image"] and rec["op"] == float(raw["qp"]) and rec["status"] == "ok"
        for k in ("bytes", "height", "width", "sse_r", "sse_g", "sse_b", "sse_y", "sse_cb", "sse_cr", "ms_ssim",
                  "bitstream_sha256", "bitstream_md5", "decoded_sha256"):
            assert rec[k] == raw[k], k
        assert all(float(raw[k]).is_integer() for k in ("sse_r", "sse_g", "sse_b"))  # 8-bit SSE is an integer
        sse = (raw["sse_r"], raw["sse_g"], raw["sse_b"])
        ycc = (raw["sse_y"], raw["sse_cb"], raw["sse_cr"])
        assert raw["psnr_rgb"] == pytest.approx(metrics.psnr_rgb(sse, n), abs=1e-9)
        assert raw["psnr_y"] == pytest.approx(metrics.psnr_from_mse(ycc[0] / n), abs=1e-9)
        assert raw["psnr_ycbcr611"] == pytest.approx(metrics.psnr_ycbcr_611(ycc, n), abs=1e-9)
        assert raw["bpp"] == pytest.approx(metrics.bpp(raw["bytes"], raw["height"], raw["width"]), abs=1e-12)
        assert raw["ms_ssim_db"] == pytest.approx(metrics.ms_ssim_db(raw["ms_ssim"]), abs=1e-9)
        assert 0 < raw["ms_ssim"] < 1


@pytest.mark.parametrize("name,qp,bpp,psnr_rgb,psnr_y,ms_ssim", [
    # means published in the shipped READMEs (tables "Mean over the 24 images")
    ("vtm-12.1", 22, 1.4315, 40.441, 42.209, 0.99385), ("vtm-12.1", 47, 0.0480, 26.135, 26.596, 0.86043),
    ("vtm-23.13", 22, 1.4314, 40.450, 42.233, 0.99389), ("vtm-23.13", 47, 0.0481, 26.138, 26.605, 0.86084),
])
def test_means_match_the_readme(name, qp, bpp, psnr_rgb, psnr_y, ms_ssim):
    p = {p.op: p for p in curve(name).aggregated("mean")}[qp]
    assert p.n_images == 24 and p.bpp == pytest.approx(bpp, abs=5e-5)
    assert p.psnr_rgb == pytest.approx(psnr_rgb, abs=5e-4) and p.psnr_y == pytest.approx(psnr_y, abs=5e-4)
    assert p.ms_ssim == pytest.approx(ms_ssim, abs=5e-6)


@requires_shared_anchors
def test_v1_records_are_read_as_before():
    """The PSNR-only anchor stays loadable under vtm-12.1-v1 with exactly its former fields."""
    records, prov = load_anchor("vtm-12.1-v1")
    theirs = raw_records(SHARED_ANCHORS / "kodak-vtm-12.1")
    assert len(records) == len(theirs) == 144
    for rec, raw in zip(records, theirs):
        n = raw["width"] * raw["height"]
        assert rec == {"image": raw["image"], "op": float(raw["qp"]), "status": "ok", "bytes": raw["bytes"],
                       "height": raw["height"], "width": raw["width"], "sse_rgb": raw["mse_rgb"] * 3 * n,
                       "ms_ssim": None, "enc_s": raw["enc_cpu_s"], "dec_s": raw["dec_wall_s"],
                       "bitstream_md5": raw["bitstream_md5"], "mismatch": None, "flags": []}
    assert prov["source"] == "lic_bench/builtin/anchors/kodak-vtm-12.1" and "VTM Encoder Version 12.1" in prov["encoder"]
    from lic_bench.record import Record
    assert shipped_anchors()[("vtm-12.1-v1", "kodak")].records == [Record.from_mapping(r) for r in records]


def test_v2_bitstreams_are_the_v1_bitstreams():
    """Its README: all 144 bitstreams byte-identical (bytes, md5) to the first anchor, same PSNR-RGB."""
    v1 = {(r["image"], r["op"]): r for r in load_anchor("vtm-12.1-v1")[0]}
    v2 = {(r["image"], r["op"]): r for r in load_anchor("vtm-12.1")[0]}
    assert set(v1) == set(v2)
    for k, a in v1.items():
        b, n = v2[k], a["width"] * a["height"]
        assert (a["bytes"], a["bitstream_md5"]) == (b["bytes"], b["bitstream_md5"])
        assert metrics.psnr_from_mse(a["sse_rgb"] / (3 * n)) == pytest.approx(metrics.psnr_rgb((b["sse_r"], b["sse_g"], b["sse_b"]), n), abs=1e-9)


def test_vtm_12_1_now_names_the_full_anchor():
    a = resolve_curve("vtm-12.1", "kodak")
    assert a.kind == "anchor" and a.provenance["source"].endswith("kodak-vtm-12.1-v2")
    assert a.provenance["identity"]["versions"]["vtm"] == "12.1" and a.provenance["color_policy"] == "bt709-8bit"
    assert resolve_curve("vtm-23.13", "kodak").provenance["identity"]["versions"]["vtm"] == "23.13"
    with pytest.raises(LicBenchError, match="vtm-12.1-v1"):
        load_anchor("vtm-12.1-v9")


def test_tcm_paper_bd_rates_unchanged_by_the_new_records():
    """Old README cross-check: Large −11.39 %, Medium −8.76 %, Small −6.33 % (pchip) on PSNR-RGB, v1 and v2 alike."""
    want = {"tcm-large@paper": -11.389, "tcm-medium@paper": -8.760, "tcm-small@paper": -6.329}
    v1, v2 = curve("vtm-12.1-v1"), curve("vtm-12.1")
    for name, value in want.items():
        test = resolve_curve(name, "kodak")
        a, b = compare(v1, test)["bd_rate"], compare(v2, test)["bd_rate"]
        assert a == pytest.approx(b, abs=1e-9) and b == pytest.approx(value, abs=5e-4)


def test_vtm_23_13_against_12_1_as_its_readme_says():
    """README: −0.208 % PSNR-RGB, −0.317 % PSNR-Y, −0.772 % MS-SSIM dB; per image (PSNR-RGB) median −0.24 %,
    −0.77 % to +0.60 %, better on 19 of 24."""
    old, new = curve("vtm-12.1"), curve("vtm-23.13")
    got = {m: compare(old, new, m)["bd_rate"] for m in ("psnr-rgb", "psnr-y", "ms-ssim-db")}
    assert got["psnr-rgb"] == pytest.approx(-0.208, abs=5e-4)
    assert got["psnr-y"] == pytest.approx(-0.317, abs=5e-4)
    assert got["ms-ssim-db"] == pytest.approx(-0.772, abs=5e-4)
    a, b = old.by_image(), new.by_image()
    per = []
    for img in a:
        pa, pb = aggregate(a[img]), aggregate(b[img])
        per.append(bd_rate([p.bpp for p in pa], [p.psnr_rgb for p in pa], [p.bpp for p in pb], [p.psnr_rgb for p in pb]).value)
    assert sum(v < 0 for v in per) == 19 and len(per) == 24
    assert float(np.median(per)) == pytest.approx(-0.24, abs=0.005)
    assert min(per) == pytest.approx(-0.77, abs=0.005) and max(per) == pytest.approx(0.60, abs=0.005)


# ---------------------------------------------------------------- verification with the fake VTM

@pytest.fixture(scope="module")
def vtm_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("vtm")
    (root / "bin").mkdir()
    (root / "cfg").mkdir()
    (root / "cfg" / "encoder_intra_vtm.cfg").write_text("#======== fake all-intra cfg ========\nIntraPeriod : 1\n")
    for name in ("EncoderAppStatic", "DecoderAppStatic"):
        p = root / "bin" / name
        p.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return root


TINY_ITEMS = ["chelsea-crop qp27", "chelsea-crop qp42", "coffee-crop qp27", "coffee-crop qp42"]


@pytest.fixture(scope="module")
def tiny_master(tmp_path_factory, vtm_dir):
    """An anchor folder in the shipped layout, made by the real VTM adapter (fake VTM inside) on two real
    photo crops just above MS-SSIM's 161-px minimum (odd sizes: the conformance window is exercised)."""
    top = tmp_path_factory.mktemp("tiny")
    images = top / "images"
    images.mkdir()
    sample = locate("sample").folder
    crops = {"chelsea-crop": np.asarray(Image.open(sample / "chelsea.png").convert("RGB"))[:177, :203],
             "coffee-crop": np.asarray(Image.open(sample / "coffee.png").convert("RGB"))[100:301, 150:319]}
    folder = top / "anchors" / "crops-fake-vtm"
    (folder / "bitstreams").mkdir(parents=True)
    codec = VTM(vtm_dir=str(vtm_dir))
    lines = []
    for stem, img in crops.items():
        Image.fromarray(img).save(images / f"{stem}.png")
        for qp in (27, 42):
            rec = evaluate(codec, img, qp, "bt709-8bit")
            assert rec["status"] == "ok", rec["error"]
            h, w = rec["height"], rec["width"]
            rel = f"bitstreams/{stem}_qp{qp}.bin"
            (folder / rel).write_bytes(rec["bitstream"])
            sse, ycc = (rec["sse_r"], rec["sse_g"], rec["sse_b"]), (rec["sse_y"], rec["sse_cb"], rec["sse_cr"])
            lines.append(json.dumps({
                "image": stem, "qp": qp, "width": w, "height": h, "bytes": rec["bytes"], "bpp": metrics.bpp(rec["bytes"], h, w),
                "psnr_rgb": metrics.psnr_rgb(sse, h * w), "psnr_y": metrics.psnr_from_mse(ycc[0] / (h * w)),
                "psnr_ycbcr611": metrics.psnr_ycbcr_611(ycc, h * w), "ms_ssim": rec["ms_ssim"], "ms_ssim_db": metrics.ms_ssim_db(rec["ms_ssim"]),
                "sse_r": sse[0], "sse_g": sse[1], "sse_b": sse[2], "sse_y": ycc[0], "sse_cb": ycc[1], "sse_cr": ycc[2],
                "bitstream_md5": rec["bitstream_md5"], "bitstream_sha256": rec["bitstream_sha256"],
                "decoded_sha256": rec["decoded_sha256"], "bitstream_file": rel, "enc_wall_s": rec["enc_s"], "dec_wall_s": rec["dec_s"]}))
    (folder / "records.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "identity.json").write_text(json.dumps({"adapter": "vtm", "versions": codec.versions()}))
    (folder / "anchor.yaml").write_text(
        "name: fake-vtm\ndataset: crops\ncodec: vtm-12.1\nrecords: records.jsonl\nidentity: identity.json\n"
        "bitstreams: true\ncolor_policy: bt709-8bit\nmetrics: [psnr-rgb, psnr-y, psnr-ycbcr, ms-ssim, ms-ssim-db]\n"
        "provenance: {vtm_version: '12.1', encoder: fake}\n")
    return top


@pytest.fixture
def tiny_anchor(tiny_master, tmp_path):
    """A private copy of the tiny anchor: (anchors_dir, anchor folder, images_dir)."""
    top = tmp_path / "tiny"
    shutil.copytree(tiny_master, top)
    return top / "anchors", top / "anchors" / "crops-fake-vtm", top / "images"


def _verify(tiny_anchor, vtm_dir, **kw):
    anchors_dir, _, images = tiny_anchor
    return verify_anchor("fake-vtm", "crops", vtm_dir=vtm_dir, images_dir=kw.pop("images_dir", images), anchors_dir=anchors_dir, **kw)


def _edit_record(folder, index, **changes):
    lines = (folder / "records.jsonl").read_text().splitlines()
    rec = json.loads(lines[index])
    rec.update(changes)
    lines[index] = json.dumps(rec)
    (folder / "records.jsonl").write_text("\n".join(lines) + "\n")
    return rec


def test_verify_passes_on_an_untouched_anchor(tiny_anchor, vtm_dir):
    rep = _verify(tiny_anchor, vtm_dir, jobs=2)
    assert rep.passed, rep.rows()
    assert [i.item for i in rep.items] == TINY_ITEMS
    assert rep.decoder == "VVCSoftware: VTM Decoder Version 12.1 [Linux][GCC 12.2.0][64 bit] [SIMD=AVX2]"
    assert rep.decoder_version == "12.1" and rep.notes == [] and rep.rows() == []
    assert "all 4 records reproduced" in rep.summary()
    d = json.loads(json.dumps(rep.to_dict(), default=str))
    assert d["passed"] and all(i["passed"] for i in d["items"])
    records, _ = load_anchor("fake-vtm", "crops", anchors_dir=tiny_anchor[0])
    assert all(0 < r["ms_ssim"] < 1 for r in records)  # MS-SSIM really compared, not NaN == NaN


def test_one_changed_bitstream_byte_fails_naming_the_record(tiny_anchor, vtm_dir):
    f = tiny_anchor[1] / "bitstreams" / "coffee-crop_qp42.bin"
    data = bytearray(f.read_bytes())
    data[-5] ^= 0x01
    f.write_bytes(bytes(data))
    rep = _verify(tiny_anchor, vtm_dir)
    assert not rep.passed
    assert [i.item for i in rep.failed_items] == ["coffee-crop qp42"]
    assert "FAILED: 1 of 4 records differ: coffee-crop qp42" in rep.summary()
    rows = {r["field"]: r for r in rep.rows()}
    want = load_anchor("fake-vtm", "crops", anchors_dir=tiny_anchor[0])[0][3]
    assert rows["bitstream_sha256"] == {"item": "coffee-crop qp42", "field": "bitstream_sha256", "shipped": want["bitstream_sha256"],
                                        "recomputed": hashlib.sha256(bytes(data)).hexdigest()}
    assert "bitstream_md5" in rows and "bytes" not in rows  # same length, other content


def test_one_changed_record_value_fails_naming_the_record(tiny_anchor, vtm_dir):
    before = json.loads((tiny_anchor[1] / "records.jsonl").read_text().splitlines()[1])
    rec = _edit_record(tiny_anchor[1], 1, sse_g=before["sse_g"] + 1)
    rep = _verify(tiny_anchor, vtm_dir)
    (row,) = rep.rows()
    assert row["item"] == "chelsea-crop qp42" and row["field"] == "sse_g" and row["shipped"] == rec["sse_g"] != row["recomputed"]
    assert "chelsea-crop qp42 (sse_g)" in rep.summary()


def test_each_changed_field_is_reported_on_its_own_record(tiny_anchor, vtm_dir):
    """Exact fields differ at any change; MS-SSIM only beyond 1e-6 (its implementation may change)."""
    recs = [json.loads(x) for x in (tiny_anchor[1] / "records.jsonl").read_text().splitlines()]
    _edit_record(tiny_anchor[1], 0, sse_cr=recs[0]["sse_cr"] + 1e-9, decoded_sha256="0" * 64)
    _edit_record(tiny_anchor[1], 1, ms_ssim=recs[1]["ms_ssim"] + 5e-7, ms_ssim_db=metrics.ms_ssim_db(recs[1]["ms_ssim"] + 5e-7))
    _edit_record(tiny_anchor[1], 2, ms_ssim=recs[2]["ms_ssim"] + 2e-6, ms_ssim_db=metrics.ms_ssim_db(recs[2]["ms_ssim"] + 2e-6))
    _edit_record(tiny_anchor[1], 3, bytes=recs[3]["bytes"] + 1, psnr_rgb=recs[3]["psnr_rgb"] + 1e-6)
    rep = _verify(tiny_anchor, vtm_dir, jobs=2)
    got = {(r["item"], r["field"]) for r in rep.rows()}
    assert got == {("chelsea-crop qp27", "sse_cr"), ("chelsea-crop qp27", "decoded_sha256"),
                   ("coffee-crop qp27", "ms_ssim"), ("coffee-crop qp42", "bytes"), ("coffee-crop qp42", "psnr_rgb")}


def test_originals_are_checked_against_the_registered_hashes(vtm_dir, tmp_path):
    """Verifying the shipped vtm-12.1 with a wrong kodim01 names its records; absent images are named too."""
    images = tmp_path / "kodak"
    images.mkdir()
    Image.fromarray(np.full((512, 768, 3), 128, np.uint8)).save(images / "kodim01.png")
    rep = verify_anchor("vtm-12.1", "kodak", vtm_dir=vtm_dir, images_dir=images)
    assert not rep.passed and len(rep.failed_items) == 144
    bad = {i.item: i.error for i in rep.failed_items}
    assert all("registered kodak sha256" in bad[f"kodim01 qp{q}"] for q in (22, 27, 32, 37, 42, 47))
    assert "original image kodim02 not found" in bad["kodim02 qp22"]


def test_decoder_version_is_recorded_and_failures_are_items(tiny_anchor, vtm_dir, monkeypatch):
    monkeypatch.setenv("FAKE_VTM_VERSION", "23.13")
    rep = _verify(tiny_anchor, vtm_dir)
    assert rep.passed and rep.decoder_version == "23.13" and "normative" in rep.notes[0]
    monkeypatch.setenv("FAKE_VTM_MODE", "wrongsize")
    rep = _verify(tiny_anchor, vtm_dir, jobs=2)
    assert [i.item for i in rep.failed_items] == TINY_ITEMS and all("decode failed" in i.error for i in rep.failed_items)


def test_unverifiable_requests_are_one_line_errors(tiny_anchor, vtm_dir, tmp_path, monkeypatch):
    with pytest.raises(LicBenchError, match="ships no bitstreams"):
        verify_anchor("vtm-12.1-v1", vtm_dir=vtm_dir)
    with pytest.raises(LicBenchError, match="ships no bitstreams"):
        anchor_bitstream("vtm-12.1-v1", "kodim01", 22)
    with pytest.raises(LicBenchError, match="no record for image"):
        anchor_bitstream("vtm-12.1", "kodim01", 23)
    with pytest.raises(LicBenchError, match="no such folder"):
        _verify(tiny_anchor, vtm_dir, images_dir=tmp_path / "nowhere")
    monkeypatch.delenv("LIC_BENCH_VTM_DIR", raising=False)
    with pytest.raises(LicBenchError, match="VTM not configured"):
        verify_anchor("fake-vtm", "crops", images_dir=tiny_anchor[2], anchors_dir=tiny_anchor[0])


# ---------------------------------------------------------------- a real VVC decoder without VTM

FFMPEG_VVC_DECODER = """
import sys

import av
import numpy as np

args = sys.argv[1:]
if args == ["--help"]:
    print(f"FFmpeg VVC decoder via PyAV {av.__version__}")
    sys.exit(0)
a = dict(zip(args[::2], args[1::2]))
assert a["-d"] == "8", "the adapter asks for 8-bit output"
with av.open(a["-b"], format="vvc") as container:
    frame = next(iter(container.decode(video=0)))
assert frame.format.name == "yuv444p10le", frame.format.name
planes = []
for p in frame.planes:  # 10-bit to 8-bit as VTM writes with -d 8: add half, shift, clip
    x = np.frombuffer(p, np.uint16).reshape(p.height, p.line_size // 2)[:, : p.width].astype(np.int32)
    planes.append(np.clip((x + 2) >> 2, 0, 255).astype(np.uint8))
open(a["-o"], "wb").write(np.stack(planes).tobytes())
"""


def ffmpeg_vtm_dir(root):
    """A VTM folder whose decoder is FFmpeg's VVC decoder (PyAV) behind VTM's command line."""
    (root / "bin").mkdir(parents=True)
    (root / "cfg").mkdir()
    (root / "cfg" / "encoder_intra_vtm.cfg").write_text("# decode-only check\n")
    for tool, text in (("DecoderAppStatic", FFMPEG_VVC_DECODER), ("EncoderAppStatic", "sys.exit(1)\n")):
        p = root / "bin" / tool
        p.write_text(f"#!{sys.executable}\nimport sys\n" + text)
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return root


@requires_kodak()
@pytest.mark.parametrize("name", sorted(NEW))
def test_ffmpeg_vvc_decoder_reproduces_shipped_records(name, tmp_path):
    """VVC decoding is normative: FFmpeg's own decoder, behind VTM's command line, must reproduce the
    shipped records through the adapter's decode path (a spot check: one image, lowest and highest QP)."""
    av = pytest.importorskip("av")
    if "vvc" not in av.codecs_available:
        pytest.skip("this PyAV build has no VVC decoder")
    root = ffmpeg_vtm_dir(tmp_path / "vvc")
    rep = verify_anchor(name, "kodak", vtm_dir=root, images_dir=KODAK, images=["kodim01.png"], qps=[22, 47], jobs=2)
    assert rep.passed, rep.rows()
    assert [i.item for i in rep.items] == ["kodim01 qp22", "kodim01 qp47"]
    assert rep.decoder.startswith("FFmpeg VVC decoder") and "not recognised as a VTM version" in rep.notes[0]


# ---------------------------------------------------------------- opt-in: a real VTM decoder

def _real_decoder_version() -> str | None:
    root = os.environ.get("LIC_BENCH_VTM_DIR", "")
    if not root or not (KODAK / "kodim01.png").is_file():
        return None
    try:
        from lic_bench.anchors import decoder_version_line

        line = decoder_version_line(VTM(vtm_dir=root).decoder)
    except LicBenchError:
        return None
    import re
    m = re.search(r"Version\s+(\S+)", line)
    return m.group(1) if m else None


@requires_kodak()
@pytest.mark.skipif(not os.environ.get("LIC_BENCH_VTM_DIR"), reason="opt-in: set LIC_BENCH_VTM_DIR to a real VTM build (and have ../shared)")
@pytest.mark.parametrize("name", ["vtm-12.1", "vtm-23.13"])
def test_real_decoder_reproduces_shipped_anchor(name):
    """Every shipped record reproduced by a real VTM decoder; vtm-23.13 only with a VTM-23.13 decoder."""
    version = _real_decoder_version()
    if version is None:
        pytest.skip("LIC_BENCH_VTM_DIR has no usable VTM decoder")
    if name == "vtm-23.13" and version != "23.13":
        pytest.skip(f"decoder is VTM {version}; vtm-23.13 is checked with a VTM-23.13 decoder")
    rep = verify_anchor(name, "kodak", images_dir=KODAK, jobs=2)
    assert rep.passed, rep.summary()
    assert len(rep.items) == 144
