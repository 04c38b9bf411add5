"""Dataset registry (``datasets.yaml``), location, download with verification, and checks.

A dataset on disk is just a folder of images. Registered datasets add where to get them and what
they must contain (names, counts, sizes, file and decoded-pixel sha256); any other folder can be
evaluated as an ad-hoc dataset named after it.
"""

from __future__ import annotations

import fnmatch
import json
import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

import yaml

from .errors import LicBenchError, did_you_mean
from .imageio import list_images, load_rgb, pixel_sha256, printable

DATA_ENV = "LIC_BENCH_DATA"
CACHE_ENV = "LIC_BENCH_CACHE"
DOWNLOAD_TIMEOUT_S = 20


@dataclass
class FileInfo:
    name: str
    url: str | None = None
    sha256: str | None = None
    pixel_sha256: str | None = None
    size: str | None = None  # "WxH"


@dataclass
class DatasetInfo:
    name: str
    description: str = ""
    homepage: str = ""
    count: int | None = None
    size: str | None = None
    files: dict[str, FileInfo] = field(default_factory=dict)
    archive: dict | None = None
    package: dict | None = None

    @property
    def fetchable(self) -> bool:
        return bool(self.archive) or any(f.url for f in self.files.values())


def _load_registry_text() -> tuple[str, str]:
    local = Path.cwd() / "datasets.yaml"
    if local.is_file():
        return local.read_text(encoding="utf-8"), str(local)
    res = resources.files("lic_bench") / "builtin" / "datasets.yaml"
    return res.read_text(encoding="utf-8"), "builtin datasets.yaml"


def registry() -> dict[str, DatasetInfo]:
    text, where = _load_registry_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise LicBenchError(f"{where}: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise LicBenchError(f"{where}: expected a mapping of dataset name -> description")
    out = {}
    allowed = {"description", "homepage", "count", "size", "files", "archive", "package"}
    for name, d in data.items():
        if not isinstance(d, dict):
            raise LicBenchError(f"{where}: dataset {name!r} must be a mapping")
        bad = set(d) - allowed
        if bad:
            raise LicBenchError(f"{where}: dataset {name!r} has unknown key {sorted(bad)[0]!r}; allowed: {', '.join(sorted(allowed))}")
        files = {n: FileInfo(name=n, **(fi or {})) for n, fi in (d.get("files") or {}).items()}
        out[name] = DatasetInfo(name=name, files=files, **{k: v for k, v in d.items() if k != "files"})
    return out


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("lic-bench"))


@dataclass
class DatasetImage:
    name: str
    path: Path


@dataclass
class Dataset:
    """A located dataset: a name and its image files (registered info when it is a known name)."""

    name: str
    folder: Path
    images: list[DatasetImage]
    info: DatasetInfo | None = None


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(True for _ in list_images(folder))


def _package_folder(info: DatasetInfo) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(info.package["module"])
    if spec is None or not spec.submodule_search_locations:
        raise LicBenchError(f"dataset {info.name!r} ships inside the Python package {info.package['module']!r}, which is not installed; pip install it")
    return Path(list(spec.submodule_search_locations)[0]) / info.package.get("folder", "")


def locate(name_or_folder: str, data_dir: str | Path | None = None) -> Dataset:
    """Find a registered dataset (``--data-dir``, ``$LIC_BENCH_DATA``, the cache) or use a folder."""
    reg = registry()
    if name_or_folder in reg:
        info = reg[name_or_folder]
        folder = _find_registered(info, data_dir)
        if info.files:
            names = [n for n in sorted(info.files) if (folder / n).is_file()]
            missing = [n for n in sorted(info.files) if not (folder / n).is_file()]
            if missing and info.package is None:
                raise LicBenchError(f"dataset {info.name!r} in {folder} is missing {len(missing)} file(s) (first: {missing[0]}); run `lic-bench datasets verify {info.name}`")
            images = [DatasetImage(n, folder / n) for n in names]
        else:
            images = [DatasetImage(printable(p.name), p) for p in list_images(folder)]
        return Dataset(info.name, folder, images, info)
    folder = Path(name_or_folder)
    if folder.is_dir():
        images = [DatasetImage(printable(p.name), p) for p in list_images(folder)]  # names safe to store/print
        if not images:
            raise LicBenchError(f"--dataset {name_or_folder}: folder has no image files ({', '.join(s for s in ('.png', '.ppm', '.bmp', '.tif', '.jpg', '.webp'))})")
        return Dataset(folder.resolve().name or "dataset", folder, images, None)
    if os.sep in name_or_folder or name_or_folder.startswith("."):
        raise LicBenchError(f"--dataset {name_or_folder}: no such folder")
    raise LicBenchError(f"unknown dataset {name_or_folder!r}{did_you_mean(name_or_folder, reg)}; give a registered name (`lic-bench datasets list`) or a folder of images")


def _find_registered(info: DatasetInfo, data_dir) -> Path:
    if info.package:
        return _package_folder(info)
    candidates: list[Path] = []
    for root in (data_dir, os.environ.get(DATA_ENV)):
        if root:
            candidates += [Path(root) / info.name, Path(root)]
    candidates.append(cache_dir() / "datasets" / info.name)
    for c in candidates:
        if _has_images(c):
            return c
    hint = f"`lic-bench datasets fetch {info.name}`" if info.fetchable else "download it"
    raise LicBenchError(f"dataset {info.name!r} not found (looked in {', '.join(str(c) for c in candidates)}); run {hint} or pass --data-dir DIR / set {DATA_ENV}")


# ---------------------------------------------------------------- content identity

@dataclass
class ImageRef:
    name: str
    path: Path
    pixel_sha256: str
    width: int
    height: int
    flags: list[str]


def index_dataset(ds: Dataset, store, keep=None) -> tuple[str, list[ImageRef], list[tuple[str, str]]]:
    """Decode (or take from the store's file-hash cache) every image; return content hash, images, load errors.
    keep: an imageio.DecodedImages that is offered each image decoded here.

    The content hash (image names and decoded-pixel hashes) is what identifies a dataset in the
    store: two folders with the same images are one dataset, one folder whose images changed is two.
    """
    from .imageio import max_pixels

    max_pixels()  # a bad limit is one error about the variable, not one per image
    refs, errors = [], []
    for im in ds.images:
        row = None
        try:
            row = store.cached_file_hash(im.path)
        except OSError:
            pass
        if row is not None:
            refs.append(ImageRef(im.name, im.path, row["pixel_sha256"], row["width"], row["height"], json.loads(row["flags"])))
            continue
        try:
            img = load_rgb(im.path)
        except LicBenchError as e:
            errors.append((im.name, str(e)))
            continue
        h, w = img.pixels.shape[:2]
        refs.append(ImageRef(im.name, im.path, img.sha256, w, h, img.flags))
        if keep is not None:
            keep.offer(im.path, img)
        if not store.readonly:
            store.put_file_hash(im.path, img.sha256, w, h, img.flags)
    content = hashlib.sha256("\n".join(f"{r.name}:{r.pixel_sha256}" for r in refs).encode()).hexdigest()
    return content, refs, errors


# ---------------------------------------------------------------- verification

@dataclass
class VerifyReport:
    dataset: str
    folder: Path
    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)  # unreadable, or pixels differ from the registry
    wrong_size: list[str] = field(default_factory=list)
    recompressed: list[str] = field(default_factory=list)  # file hash differs, pixels identical
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.missing or self.extra or self.corrupt or self.wrong_size or self.notes)


_FILE_SHA256: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """A file's sha256, remembered per (path, size, mtime) in this process (checkpoints are hundreds of MB)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_SHA256:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _FILE_SHA256[key] = h.hexdigest()
    return _FILE_SHA256[key]


def verify(info: DatasetInfo, folder: Path) -> VerifyReport:
    """Check `folder` against the registry entry: names, counts, sizes, file and pixel hashes."""
    rep = VerifyReport(info.name, folder)
    present = {p.name: p for p in list_images(folder)} if folder.is_dir() else {}
    if info.files:
        rep.missing = sorted(set(info.files) - set(present))
        if info.package is None:
            rep.extra = sorted(set(present) - set(info.files))
        names = sorted(set(info.files) & set(present))
    else:
        names = sorted(present)
        if info.count is not None and len(names) != info.count:
            rep.notes.append(f"expected {info.count} images, found {len(names)}")
    for n in names:
        fi = info.files.get(n, FileInfo(n, size=info.size))
        path = present[n]
        try:
            img = load_rgb(path)
        except LicBenchError as e:
            rep.corrupt.append(f"{n} ({str(e).split(': ', 1)[-1]})")
            continue
        h, w = img.pixels.shape[:2]
        if fi.size and fi.size != f"{w}x{h}":
            rep.wrong_size.append(f"{n} ({w}x{h}, expected {fi.size})")
            continue
        if fi.pixel_sha256 and pixel_sha256(img.pixels) != fi.pixel_sha256:
            rep.corrupt.append(f"{n} (decoded pixels differ from the registered sha256)")
            continue
        if fi.sha256 and file_sha256(path) != fi.sha256:
            rep.recompressed.append(n)
        rep.ok.append(n)
    return rep


# ---------------------------------------------------------------- download

def _download(url: str, dest: Path, expected_sha256: str | None, expected_bytes: int | None = None) -> None:
    """Download to ``dest.part``, check size/sha256, then atomically move into place."""
    import urllib.error
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    n = 0
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r, open(part, "wb") as f:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                f.write(chunk)
                h.update(chunk)
                n += len(chunk)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        part.unlink(missing_ok=True)
        reason = getattr(e, "reason", e)
        raise LicBenchError(f"cannot download {url} ({reason}); if you are offline, download it elsewhere and pass --data-dir DIR") from None
    if expected_bytes is not None and n != expected_bytes:
        part.unlink(missing_ok=True)
        raise LicBenchError(f"{url}: got {n} bytes, expected {expected_bytes}; the download was cut or the file changed")
    if expected_sha256 and h.hexdigest() != expected_sha256:
        part.unlink(missing_ok=True)
        raise LicBenchError(f"{url}: sha256 {h.hexdigest()} does not match the registry ({expected_sha256}); not using it")
    os.replace(part, dest)


def safe_extract(archive: Path, target: Path, pattern: str | None = None) -> list[Path]:
    """Extract zip members matching `pattern` (flattened into `target`), refusing unsafe paths.

    Any member whose path is absolute or climbs out with ``..`` is refused for the whole archive, so a
    malicious archive cannot write outside `target`.
    """
    target.mkdir(parents=True, exist_ok=True)
    out = []
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise LicBenchError(f"{archive}: not a valid zip archive; delete it and fetch again") from None
    with zf:
        for m in zf.infolist():
            p = PurePosixPath(m.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise LicBenchError(f"{archive}: refusing unsafe member path {m.filename!r} (outside the target folder)")
        for m in zf.infolist():
            if m.is_dir() or "__MACOSX" in m.filename:
                continue
            if pattern and not fnmatch.fnmatch(m.filename, pattern):
                continue
            dest = target / PurePosixPath(m.filename).name
            if not dest.resolve().is_relative_to(target.resolve()):
                raise LicBenchError(f"{archive}: refusing member {m.filename!r} (outside the target folder)")
            with zf.open(m) as src, open(dest, "wb") as f:
                shutil.copyfileobj(src, f)
            out.append(dest)
    return out


def fetch(info: DatasetInfo, root: Path | None = None) -> Path:
    """Download and verify `info` into ``<cache>/datasets/<name>``; the folder appears only when complete."""
    if info.package:
        return _package_folder(info)
    if not info.fetchable:
        raise LicBenchError(f"dataset {info.name!r} has no download location; put the files in a folder and pass --data-dir")
    root = root or cache_dir() / "datasets"
    final = root / info.name
    if _has_images(final) and verify(info, final).passed:
        return final
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{info.name}-", dir=root))
    try:
        if info.archive:
            a = info.archive
            archive = root / ".downloads" / PurePosixPath(a["url"]).name
            if not (archive.is_file() and (not a.get("sha256") or file_sha256(archive) == a["sha256"])):
                _download(a["url"], archive, a.get("sha256"), a.get("bytes"))
            safe_extract(archive, staging, a.get("members"))
        else:
            for fi in info.files.values():
                _download(fi.url, staging / fi.name, fi.sha256)
        rep = verify(info, staging)
        if not rep.passed:
            raise LicBenchError(f"dataset {info.name!r}: downloaded files fail verification ({format_problems(rep)})")
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        return final
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def format_problems(rep: VerifyReport) -> str:
    parts = []
    for label in ("missing", "extra", "corrupt", "wrong_size"):
        items = getattr(rep, label)
        if items:
            parts.append(f"{label.replace('_', '-')}: {', '.join(items)}")
    parts += rep.notes
    return "; ".join(parts) or "ok"
