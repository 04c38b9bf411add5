import shutil
import time
import zipfile

import pytest
from PIL import Image

from conftest import KODAK, requires_kodak
from lic_bench import datasets
from lic_bench.datasets import DatasetInfo, FileInfo, fetch, file_sha256, locate, registry, safe_extract, verify
from lic_bench.errors import LicBenchError
from lic_bench.imageio import load_rgb


def test_registry_describes_the_four_datasets():
    reg = registry()
    assert set(reg) >= {"kodak", "tecnick", "clic2020-professional-valid", "sample"}
    k = reg["kodak"]
    assert k.count == 24 and len(k.files) == 24
    assert all(f.sha256 and f.pixel_sha256 and f.url.startswith("http://r0k.us/") for f in k.files.values())
    assert sum(f.size == "512x768" for f in k.files.values()) == 6
    assert reg["tecnick"].archive["members"].startswith("TESTIMAGES/RGB/RGB_OR_1200x1200/")
    assert reg["clic2020-professional-valid"].archive["sha256"].startswith("00be3809")


def test_sample_ships_offline_and_verifies():
    ds = locate("sample")
    assert len(ds.images) == 4
    rep = verify(registry()["sample"], ds.folder)
    assert rep.passed and len(rep.ok) == 4, datasets.format_problems(rep)


@requires_kodak()
def test_real_kodak_passes_verify_and_is_located_with_data_dir():
    rep = verify(registry()["kodak"], KODAK)
    assert rep.passed and len(rep.ok) == 24 and not rep.recompressed
    assert locate("kodak", KODAK.parent).folder == KODAK
    assert locate("kodak", KODAK).folder == KODAK


@requires_kodak()
def test_verify_names_every_problem(tmp_path):
    d = tmp_path / "kodak"
    shutil.copytree(KODAK, d)
    (d / "kodim01.png").unlink()  # missing
    (d / "kodim02.png").write_bytes((d / "kodim02.png").read_bytes()[:5000])  # corrupt
    Image.open(KODAK / "kodim03.png").resize((384, 256)).save(d / "kodim03.png")  # wrong size
    Image.open(KODAK / "kodim05.png").save(d / "kodim05.png", compress_level=1)  # re-encoded, same pixels
    img = load_rgb(KODAK / "kodim06.png").pixels.copy()
    img[0, 0, 0] ^= 1
    Image.fromarray(img).save(d / "kodim06.png")  # pixels changed
    Image.open(KODAK / "kodim07.png").save(d / "extra.png")  # extra
    rep = verify(registry()["kodak"], d)
    assert not rep.passed
    assert rep.missing == ["kodim01.png"] and rep.extra == ["extra.png"]
    assert [c.split()[0] for c in rep.corrupt] == ["kodim02.png", "kodim06.png"]
    assert rep.wrong_size == ["kodim03.png (384x256, expected 768x512)"]
    assert rep.recompressed == ["kodim05.png"]


def test_unknown_dataset_and_empty_folder(tmp_path):
    with pytest.raises(LicBenchError, match="unknown dataset 'kodakk'.*did you mean 'kodak'"):
        locate("kodakk")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LicBenchError, match="folder has no image files"):
        locate(str(tmp_path / "empty"))
    with pytest.raises(LicBenchError, match="dataset 'kodak' not found.*datasets fetch kodak"):
        locate("kodak", tmp_path / "empty")


def _mini_registry(tmp_path, src_files):
    files = {}
    for p in src_files:
        files[p.name] = FileInfo(p.name, url=p.as_uri(), sha256=file_sha256(p),
                                 pixel_sha256=load_rgb(p).sha256, size=f"{load_rgb(p).pixels.shape[1]}x{load_rgb(p).pixels.shape[0]}")
    return DatasetInfo("mini", count=len(files), files=files)


def test_fetch_downloads_verifies_and_moves_atomically(tmp_path, small_dataset):
    info = _mini_registry(tmp_path, sorted(small_dataset.glob("*.png")))
    folder = fetch(info, tmp_path / "cache")
    assert folder == tmp_path / "cache" / "mini" and sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "c.png"]
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".mini-")]  # staging cleaned


def test_fetch_with_wrong_checksum_leaves_nothing(tmp_path, small_dataset):
    info = _mini_registry(tmp_path, sorted(small_dataset.glob("*.png")))
    info.files["b.png"].sha256 = "0" * 64
    with pytest.raises(LicBenchError, match="sha256 .* does not match the registry"):
        fetch(info, tmp_path / "cache")
    assert not (tmp_path / "cache" / "mini").exists()


def test_offline_fetch_fails_fast_and_clearly(tmp_path):
    info = DatasetInfo("x", files={"a.png": FileInfo("a.png", url="http://127.0.0.1:9/a.png", sha256="0" * 64)})
    t = time.monotonic()
    with pytest.raises(LicBenchError, match=r"cannot download http://127.0.0.1:9/a.png .*--data-dir"):
        fetch(info, tmp_path / "c")
    assert time.monotonic() - t < 15


def test_archive_extraction_refuses_paths_outside_target(tmp_path):
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("valid/ok.png", b"x")
        z.writestr("../../escaped.png", b"x")
    with pytest.raises(LicBenchError, match="refusing unsafe member path '../../escaped.png'"):
        safe_extract(bad, tmp_path / "out")
    assert not (tmp_path / "escaped.png").exists() and not list((tmp_path / "out").iterdir())
    absolute = tmp_path / "abs.zip"
    with zipfile.ZipFile(absolute, "w") as z:
        z.writestr("/etc/passwd_x", b"x")
    with pytest.raises(LicBenchError, match="unsafe member path"):
        safe_extract(absolute, tmp_path / "out2")


def test_archive_dataset_extracts_members_only(tmp_path, small_dataset):
    arc = tmp_path / "set.zip"
    with zipfile.ZipFile(arc, "w") as z:
        for p in sorted(small_dataset.glob("*.png")):
            z.write(p, f"valid/{p.name}")
        z.writestr("__MACOSX/valid/._a.png", b"junk")
        z.writestr("README.txt", b"hi")
    info = DatasetInfo("arc", count=3, archive={"url": arc.as_uri(), "sha256": file_sha256(arc), "members": "valid/*.png"})
    folder = fetch(info, tmp_path / "cache")
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "c.png"]
