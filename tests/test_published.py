"""The shipped library of published RD curves, checked against its own manifest and against numbers
read by hand from the published files (file and line in each comment; paths are under
lic_bench/builtin/published/, verbatim copies of ../shared/reference/published-rd/)."""

import hashlib
import json
import math
from importlib import resources

import pytest

from conftest import SHARED
from lic_bench import published as P
from lic_bench.bdcompare import compare
from lic_bench.errors import LicBenchError
from lic_bench.published import formats
from lic_bench.references import reported_curves, shipped_anchors

ROOT = resources.files("lic_bench") / "builtin" / "published"
SHARED_RD = SHARED / "reference" / "published-rd"


def shipped(local_path: str) -> bytes:
    node = ROOT
    for part in local_path.split("/"):
        node = node / part
    return node.read_bytes()


def pairs(curve, metric):
    return dict(zip(curve.points["bpp"], curve.points[metric]))


# ------------------------------------------------------------------------ the manifest, all of it

def test_shipped_files_are_the_published_blobs():
    """Every data file is byte-identical to the git blob the manifest records, with its licence beside it."""
    for e in P.manifest():
        data = shipped(e["local_path"])
        assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == e["blob_sha"], e["local_path"]
        assert shipped(e["licence_file"])


@pytest.mark.skipif(not (SHARED_RD / "MANIFEST.json").is_file(), reason="../shared/reference/published-rd absent")
def test_shipped_manifest_is_the_shared_one():
    assert shipped("MANIFEST.json") == (SHARED_RD / "MANIFEST.json").read_bytes()


def test_every_usable_manifest_entry_imports():
    """Each entry not flagged unusable is (part of) a curve or an alias, on each dataset it lists, with
    the manifest's number of points; the flagged ones are refused, and only those."""
    entries = P.manifest()
    assert len(entries) == 305
    lib, refused = P.library(), P.refused()
    by_file = {}
    for c in lib.values():
        for s in (*c.sources, *c.alias_sources):
            by_file.setdefault((s.repo, s.path), []).append(c)
    for e in entries:
        unusable = any(f.startswith("SUSPECT/MISLABELLED") for f in e["flags"])
        curves = by_file.get((e["source_repo"], e["path"]), [])
        if unusable:
            assert not curves and any(e["path"] in why for why in refused.values()), e["path"]
            continue
        for label, n in e["points"].items():
            dataset = P.DATASETS[label][0]
            hits = [c for c in curves if c.dataset == dataset]
            assert hits, (e["path"], label)
            assert any(c.n_points == n for c in hits), (e["path"], label, n)
    assert len(refused) == 8


def test_names_are_unique_and_never_a_lic_bench_codec_name():
    lib = P.library()
    codecs = {f.name[:-5] for f in (resources.files("lic_bench") / "builtin" / "codecs").iterdir() if f.name.endswith(".yaml")}
    per_dataset = {}
    for c in lib.values():
        assert c.name not in codecs and "@" in c.name
        for n in (c.name, *c.aliases):
            per_dataset.setdefault((c.dataset, n), []).append(c.key)
    assert all(len(keys) == 1 for keys in per_dataset.values())


# ------------------------------------------------------------------------ one importer per format

def test_tfc_txt():
    kodak = P.lookup("balle-2017-iclr-mse@paper", "kodak")
    # tensorflow__compression/results/image_compression/kodak/PSNR_sRGB_RGB/balle-2017-iclr-opt-mse.txt lines 12 and 19
    assert pairs(kodak, "psnr-rgb")[0.119752] == 26.775134 and pairs(kodak, "psnr-rgb")[1.957564] == 40.133996
    assert set(kodak.metrics) == {"psnr-rgb", "psnr-y", "ms-ssim", "ms-ssim-y"} and len(kodak.sources) == 4
    # .../kodak/MS-SSIM_sRGB_RGB/balle-2017-iclr-opt-msssim.txt line 21: MS-SSIM stays linear
    assert pairs(P.lookup("balle-2017-iclr-msssim@paper", "kodak"), "ms-ssim")[2.100730] == 0.997772
    # .../tecnick/PSNR_sRGB_Y/minnen-2018-neurips-opt-msssim.txt line 17 — a Y' value, never filed as RGB
    tec = P.lookup("minnen-2018-neurips-msssim@paper", "tecnick")
    assert pairs(tec, "psnr-y")[0.603689] == 34.855820
    assert pairs(tec, "psnr-rgb")[0.603689] != 34.855820
    assert any("non-monotonic" in w for w in tec.warnings)


def test_compressai_json():
    vtm = P.lookup("vtm@compressai", "kodak")
    # InterDigitalInc__CompressAI/results/image/kodak/vtm.json lines 6, 16, 26 and 33
    assert vtm.points["psnr-rgb"][0] == 26.14484539430146
    assert vtm.points["ms-ssim"][0] == 0.8606081604957581
    assert vtm.points["bpp"][0] == 0.04824490017361111 and vtm.points["bpp"][-1] == 3.6326090494791665
    assert vtm.provenance_kind == "re-measured" and any("not the method authors" in w for w in vtm.warnings)
    assert any("VTM version NOT recorded" in n for n in vtm.notes)
    # .../kodak/paper-cheng2020-checkerboard-6M_mse.json line 36: digitized MS-SSIM in dB
    dig = P.lookup("cheng2020-checkerboard-6m-mse@digitized", "kodak")
    assert dig.points["ms-ssim-db"][-1] == 19.502 and "plot" in dig.ms_ssim_db_convention
    assert dig.provenance_kind == "digitized" and any("digitized" in w for w in dig.warnings)


def test_tcm_markdown():
    # jmliu206__LIC_TCM/RD_data.md lines 3 and 5 (Large/Kodak), 36 and 38 (Small/Kodak), 25 (Middle/CLIC Pro)
    large = P.lookup("tcm-large@paper", "kodak")
    assert large.points["psnr"][0] == 30.07 and large.points["bpp"][0] == 0.155
    small = P.lookup("tcm-small@paper", "kodak")
    assert small.points["psnr"][-1] == 37.96 and small.points["bpp"][-1] == 0.899
    assert P.lookup("tcm-medium@paper", "clic-pro-split-not-stated").points["psnr"][0] == 31.78
    assert "psnr-rgb" not in large.points  # colour space not stated by the file


def test_mlic_lalic_json():
    # JiangWeibeta__MLIC/results/kodak/mlic_mse.json lines 3 and 11; mlicplusplus_mse.json line 11
    mlic = P.lookup("mlic@paper", "kodak")
    assert mlic.points["psnr"][0] == 29.2291 and mlic.points["bpp"][0] == 0.1162
    assert P.lookup("mlic++@paper", "kodak").points["bpp"][0] == 0.1075
    # sjtu-medialab__RwkvCompress/results/kodak-lalic.json lines 6 and 14
    lalic = P.lookup("lalic-mse@paper", "kodak")
    assert lalic.points["bpp"][0] == 0.114841 and lalic.points["psnr"][0] == 29.255744
    # .../results/msssim/kodak-lalic-msssim.json lines 22 and 30: linear and dB columns both kept
    ms = P.lookup("lalic-msssim@paper", "kodak")
    assert ms.points["ms-ssim"][0] == 0.957824 and ms.points["ms-ssim-db"][0] == 13.398658


def test_ms_ssim_db_conventions():
    """The dB column of LALIC's VTM file lies above the dB of its mean column (a mean of per-image dB);
    LALIC's own MS-SSIM file lies below it, which no averaging explains: flagged, and BD uses the dB of
    the mean, lic-bench's convention."""
    vtm = P.lookup("vtm-9.1@lalic", "kodak")
    assert vtm.ms_ssim_db_convention == formats.MEAN_OF_DB
    ms = P.lookup("lalic-msssim@paper", "kodak")
    assert ms.ms_ssim_db_convention.startswith("inconsistent") and any("inconsistent" in w for w in ms.warnings)
    _, q, warns = ms.rd("ms-ssim-db")
    assert q[0] == pytest.approx(-10 * math.log10(1 - 0.957824)) and any("not used" in w for w in warns)


def test_stf_json_and_its_mislabelled_key():
    # Googolxx__STF/results/cnn_mse_Kodak.json lines 3 and 11
    wacnn = P.lookup("wacnn-mse@paper", "kodak")
    assert wacnn.points["psnr"][0] == 29.22 and wacnn.points["bpp"][0] == 0.127
    # Googolxx__STF/results/stf_ms-ssim_CLIC.json lines 3 and 11: MS-SSIM dB stored under 'psnr' (manifest flag)
    stf = P.lookup("stf-msssim@paper", "clic-split-not-stated")
    assert stf.points == {"bpp": [0.098, 0.134, 0.192, 0.268, 0.394, 0.548],
                          "ms-ssim-db": [14.79, 15.88, 17.15, 18.63, 20.57, 22.39]}
    assert any("key 'psnr' holds MS-SSIM in dB" in n for n in stf.notes)
    assert not stf.provides("psnr-rgb") and stf.provides("ms-ssim-db")
    # Googolxx__STF/results/stf_ms-ssim_Kodak.json line 3: key 'ms-ssim', in dB
    assert P.lookup("stf-msssim@paper", "kodak").points["ms-ssim-db"][0] == 13.63


def test_an_unflagged_key_mislabel_is_refused():
    entry = {"path": "results/x_ms-ssim_CLIC.json", "datasets": ["clic (split not stated in file)"],
             "metrics": ["bpp", "psnr"], "flags": []}
    with pytest.raises(formats.FormatError, match="no manifest flag"):
        formats.flat_json('{"psnr": [14.79, 15.88], "bpp": [0.098, 0.134]}', entry)
    with pytest.raises(formats.FormatError, match="outside"):
        formats.flat_json('{"psnr": [14.79, 15.88], "bpp": [0.098, 0.134]}', dict(entry, path="results/x_mse.json"))


def test_cca_json():
    # LabShuHangGU__CCA/RD_data.json lines 3-4 (Kodak, listed high to low rate) and 7-8 (CLIC)
    kodak = P.lookup("cca@paper", "kodak")
    assert kodak.points["bpp"][-1] == 0.740 and kodak.points["psnr"][-1] == 37.20
    assert pairs(kodak, "psnr")[0.169] == 30.43
    clic = P.lookup("cca@paper", "clic-split-not-stated")
    assert clic.points["bpp"][0] == 0.128 and clic.points["psnr"][0] == 32.23


def test_coolchic_tsv_per_image():
    c = P.lookup("cool-chic-5.0@paper", "kodak")
    assert len(c.records) == 120 and len({r["image"] for r in c.records}) == 24 and c.n_points == 5
    # Orange-OpenSource__Cool-Chic/results/v5.0/image-kodak.tsv line 2
    rec = next(r for r in c.records if r["image"] == "kodim01" and r["lambda"] == 0.0001)
    assert rec["psnr-rgb"] == 40.755217 and rec["bpp"] == 2.083712 and rec["n_pixels"] == 393216
    at = [r for r in c.records if r["lambda"] == 0.0001]
    assert c.points["bpp"][-1] == pytest.approx(sum(r["bpp"] for r in at) / 24)
    # .../image-jvet.tsv line 2: YUV 4:2:0, not RGB
    jvet = P.lookup("cool-chic-5.0@paper", "jvet-ctc-yuv420")
    rec = next(r for r in jvet.records if r["image"].startswith("A1-CampfireParty") and r["lambda"] == 0.0001)
    assert rec["psnr-yuv420"] == 43.222116 and not jvet.provides("psnr-rgb")


def test_illm_csv():
    c = P.lookup("ms-illm@paper", "kodak")
    # facebookresearch__NeuralCompression/projects/illm/results.csv line 14
    i = c.points["bpp"].index(0.0443454347550869)
    assert c.points["ms-ssim"][i] == 0.8460505604743958 and c.points["psnr"][i] == 24.729001998901367
    assert c.points["lpips"][i] == 0.15762092173099518 and "fid" not in c.points  # empty for Kodak
    # line 8: FID present for DIV2K
    assert 18.553260803222656 in P.lookup("ms-illm@paper", "div2k-split-not-stated").points["fid"]


# ------------------------------------------------------------------------ defects, aliases, datasets

def test_mislabelled_compressai_8bit_msssim_files_are_refused():
    """The manifest: the 8 `8bit-decoded/*/compressai-*_ms-ssim_ans_cuda.json` hold the MSE models' results."""
    refused = P.refused()
    assert len(refused) == 8 and all("-msssim@compressai-8bit" in k for k in refused)
    for e in P.manifest():
        if any(f.startswith("SUSPECT/MISLABELLED") for f in e["flags"]):
            mine = json.loads(shipped(e["local_path"]))["results"]
            sibling = json.loads(shipped(e["local_path"].replace("_ms-ssim_", "_mse_")))["results"]
            assert all(mine[k] == sibling[k] for k in ("bpp", "psnr-rgb", "ms-ssim-rgb"))
    with pytest.raises(LicBenchError, match="not shipped.*mbt2018-mse@compressai-8bit"):
        P.lookup("mbt2018-msssim@compressai-8bit", "kodak")
    assert P.lookup("mbt2018-mse@compressai-8bit", "kodak").n_points > 0


def test_readme_duplicates_are_aliases():
    """README caveats 3 and 5: the same points under two names are one curve."""
    same = [("lee-2019-context-adaptive@tfc", "lee2019-iclr@tfc"),
            ("balle-2017-iclr@paper", "balle-2017-iclr-mse@paper"), ("balle-2018-iclr@paper", "balle-2018-iclr-mse@paper"),
            ("vtm-9.1-compressai@lalic", "vtm@compressai"),
            ("bmshj2018-factorized@paper", "balle-2017-iclr-mse@paper"),
            ("bmshj2018-hyperprior@paper", "balle-2018-iclr-mse@paper"),
            ("mbt2018@paper", "minnen-2018-neurips-mse@paper"), ("mbt2018-mean@paper", "minnen-2018-neurips-no-context@paper")]
    for alias, name in same:
        c = P.lookup(alias, "kodak")
        assert c.name == name and alias in c.aliases and c is P.lookup(name, "kodak")
    vtm = P.lookup("vtm@compressai", "kodak")
    assert any(s.path == "results/kodak-vtm91-compressai.json" for s in vtm.alias_sources)
    assert sum(len(c.aliases) for c in P.library().values()) == len(same)


def test_clic_split_never_silently_resolved():
    lib = P.library()
    for c in lib.values():
        if "clic" in c.dataset and c.dataset != "clic2020-professional-valid":
            assert c.dataset.endswith("-not-stated"), c.key
    assert [c.name for c in P.curves_for("clic2020-professional-valid")] == ["cool-chic-5.0@paper"]
    stf = P.lookup("stf-mse@paper", "clic-split-not-stated")
    with pytest.raises(LicBenchError, match="clic-split-not-stated.*clic2020-professional-valid"):
        P.check_same_dataset(stf, "clic2020-professional-valid")
    assert P.same_dataset(stf, P.lookup("wacnn-mse@paper", "clic-split-not-stated"))  # one paper's CLIC
    cca = P.lookup("cca@paper", "clic-split-not-stated")
    assert not P.same_dataset(stf, cca)  # two papers' unstated CLIC may differ
    with pytest.raises(LicBenchError, match="different sources"):
        P.check_same_dataset(stf, cca)
    assert P.same_dataset(P.lookup("tcm-large@paper", "kodak"), "kodak")
    with pytest.raises(LicBenchError, match="'kodak'.*'tecnick'"):
        P.check_same_dataset(P.lookup("tcm-large@paper", "kodak"), P.lookup("tcm-large@paper", "tecnick"))


# ------------------------------------------------------------------------ against lic-bench today

def test_tcm_points_equal_the_shipped_paper_yaml():
    reported = reported_curves()
    for size in ("large", "medium", "small"):
        for ds in ("kodak", "tecnick"):
            old = reported[(f"tcm-{size}@paper", ds)].points
            new = P.lookup(f"tcm-{size}@paper", ds).points
            assert new["bpp"] == pytest.approx(old["bpp"], abs=0) and new["psnr"] == pytest.approx(old["psnr-rgb"], abs=0)
        # the yaml files 'CLIC Pro' as clic2020-professional-valid; the library keeps the split unstated
        old = reported[(f"tcm-{size}@paper", "clic2020-professional-valid")].points
        assert P.lookup(f"tcm-{size}@paper", "clic-pro-split-not-stated").points["psnr"] == old["psnr-rgb"]


def test_bd_rates_against_the_shipped_vtm_anchor():
    """Kodak VTM-12.1 anchor README: TCM Large −11.39 %, Medium −8.76 %, Small −6.33 %; CompressAI's
    vtm.json +0.36 % (pchip)."""
    anchor = shipped_anchors()[("vtm-12.1", "kodak")]
    want = {"tcm-large@paper": -11.389, "tcm-medium@paper": -8.760, "tcm-small@paper": -6.329, "vtm@compressai": 0.36}
    for name, expected in want.items():
        curve = P.lookup(name, "kodak")
        P.check_same_dataset(curve, anchor.dataset)
        row = compare(anchor, P.to_curve(curve), "psnr-rgb", "pchip")
        assert row["status"] == "ok"
        assert row["bd_rate"] == pytest.approx(expected, abs=5e-4 if name.startswith("tcm") else 5e-3), name


# ------------------------------------------------------------------------ API for the CLI

def test_lookup_errors_are_one_actionable_line():
    with pytest.raises(LicBenchError, match="several datasets.*'kodak/tcm-large@paper'|several datasets"):
        P.lookup("tcm-large@paper")
    with pytest.raises(LicBenchError, match="did you mean 'mlic\\+\\+@paper'"):
        P.lookup("mlic++", "kodak")
    with pytest.raises(LicBenchError, match="did you mean 'kodak'"):
        P.lookup("tcm-large@paper", "kodac")
    assert P.lookup("kodak/tcm-large@paper") is P.lookup("tcm-large@paper", "kodak")


def test_rows_show_and_cite():
    digitized = P.list_rows(dataset="kodak", provenance="digitized")
    assert len(digitized) == 12  # README caveat 2: 12 files read off plots
    row = P.list_rows(dataset="kodak", metric="psnr-rgb", provenance="author-reported")[0]
    assert {"name", "dataset", "method", "year", "points", "metrics", "provenance", "licence", "aliases"} <= set(row)
    assert all(r["dataset"] == "kodak" for r in P.list_rows("kodak", "ms-ssim-db"))
    d = P.show("kodak/tcm-large@paper")
    assert d["sources"][0]["source"].startswith("jmliu206/LIC_TCM@6c6d7a3648") and d["licence"] == "MIT"
    cite = P.bibtex(["tcm-large@paper", "tcm-small@paper", "vtm@compressai", "webp@compressai"])
    assert cite.count("@inproceedings{liu2023tcm") == 1 and cite.count("@article{begaint2020compressai") == 1
    assert cite.count("@misc{vtm") == 1 and cite.count("@misc{webp") == 1
    with pytest.raises(LicBenchError, match="unknown metric"):
        P.curves_for(metric="psnr-ycbcr")
