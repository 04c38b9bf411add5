"""The weight files of the learned metrics: where they are looked for, how they are checked and loaded.

The files are the user's: lic-bench never downloads. Each is looked for, by its usual file name, in
  1. the `weights_dir` argument (the CLI's flag),
  2. the directory in the environment variable LIC_BENCH_PERCEPTUAL_WEIGHTS,
  3. torch's hub cache, `torch.hub.get_dir()/checkpoints/` (where torchvision keeps what it downloaded),
  4. for the small LPIPS/DISTS heads only: the copy shipped inside an installed `lpips` / `DISTS_pytorch`
     package (found without importing it: both import torchvision).
A file is used only if its sha256 matches the official file's, and it is read with
torch.load(weights_only=True), which refuses pickled code.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import LicBenchError

ENV_VAR = "LIC_BENCH_PERCEPTUAL_WEIGHTS"


@dataclass(frozen=True)
class WeightFile:
    """One official weight file: its usual name, where to get it, and its sha256 (full, or the prefix only)."""

    name: str
    url: str
    description: str
    sha256_prefix: str
    sha256: str | None = None  # full digest where known offline; else only the prefix is checked
    shipped_in: tuple[str, str] | None = None  # (package, path inside it) of a copy shipped in a wheel

    def matches(self, digest: str) -> bool:
        return digest == self.sha256 if self.sha256 else digest.startswith(self.sha256_prefix)


# torchvision's ImageNet weights: the 8 hex digits in the name are the start of the file's sha256,
# which is all torchvision itself checks (torch.hub's check_hash); the full digests were not available offline.
ALEXNET = WeightFile(
    name="alexnet-owt-7be5be79.pth",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    description="torchvision's ImageNet AlexNet",
    sha256_prefix="7be5be79",
)
VGG16 = WeightFile(
    name="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    description="torchvision's ImageNet VGG16",
    sha256_prefix="397923af",
)
# The linear heads of LPIPS v0.1 and DISTS's alpha/beta: digests of the files in the lpips 0.1.4 and
# DISTS_pytorch 0.1 wheels, which are the files of the authors' repositories.
LPIPS_ALEX_HEAD = WeightFile(
    name="lpips-v0.1-alex.pth",
    url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
    description="LPIPS v0.1 linear heads for AlexNet",
    sha256_prefix="df73285e",
    sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    shipped_in=("lpips", "weights/v0.1/alex.pth"),
)
LPIPS_VGG_HEAD = WeightFile(
    name="lpips-v0.1-vgg.pth",
    url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
    description="LPIPS v0.1 linear heads for VGG16",
    sha256_prefix="a78928a0",
    sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
    shipped_in=("lpips", "weights/v0.1/vgg.pth"),
)
DISTS_HEAD = WeightFile(
    name="dists-weights.pt",
    url="https://github.com/dingkeyan93/DISTS/raw/master/DISTS_pytorch/weights.pt",
    description="DISTS alpha/beta weights",
    sha256_prefix="f5e65c96",
    sha256="f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218",
    shipped_in=("DISTS_pytorch", "weights.pt"),
)


def search_dirs(weights_dir: str | Path | None = None) -> list[Path]:
    """The directories looked in, first match wins: argument, environment variable, torch hub cache."""
    dirs = [Path(d).expanduser() for d in (weights_dir, os.environ.get(ENV_VAR)) if d]
    return dirs + [Path(torch.hub.get_dir()) / "checkpoints"]


def shipped_copy(file: WeightFile) -> Path | None:
    """The copy inside an installed reference package, found without importing the package."""
    if file.shipped_in is None:
        return None
    package, inner = file.shipped_in
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        if (Path(root) / inner).is_file():
            return Path(root) / inner
    return None


def locate(file: WeightFile, weights_dir: str | Path | None = None) -> Path | None:
    """Where `file` is, or None."""
    for directory in search_dirs(weights_dir):
        if (directory / file.name).is_file():
            return directory / file.name
    return shipped_copy(file)


def locate_all(files, weights_dir: str | Path | None = None) -> dict[WeightFile, Path]:
    """{file: path} for all `files`, or one LicBenchError line naming each missing file, its URL and where to put it."""
    found = {f: locate(f, weights_dir) for f in files}
    missing = [f for f, path in found.items() if path is None]
    if missing:
        target = search_dirs(weights_dir)[0]
        wanted = "; ".join(f"{f.name} ({f.description}) from {f.url}" for f in missing)
        raise LicBenchError(
            f"missing weight file(s), lic-bench never downloads: get {wanted}; put {'it' if len(missing) == 1 else 'them'} in {target} "
            f"(or pass another weights directory, or set {ENV_VAR})"
        )
    return found  # type: ignore[return-value]


def sha256_of(path: Path) -> str:
    """The file's sha256, remembered per (path, size, mtime) in this process (VGG16's file is 528 MB)."""
    from ..datasets import file_sha256

    return file_sha256(path)


def load_verified(file: WeightFile, path: Path) -> dict[str, torch.Tensor]:
    """The state dict in `path` (on the CPU), after its sha256 matched `file`'s; weights_only, so no code runs."""
    digest = sha256_of(path)
    if not file.matches(digest):
        expected = file.sha256 or f"{file.sha256_prefix}…"
        raise LicBenchError(f"{path} is not the official {file.name}: sha256 {digest}, expected {expected}; get it again from {file.url}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as e:
        from ..learned.checkpoints import unsafe_pickle_reason

        raise LicBenchError(f"{path}: refused by torch.load(weights_only=True): {unsafe_pickle_reason(e)}; get it again from {file.url}") from None
    except (RuntimeError, EOFError, OSError) as e:
        raise LicBenchError(f"{path}: not a readable torch weight file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise LicBenchError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
    return state
