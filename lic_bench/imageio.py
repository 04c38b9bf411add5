"""Reading images into the harness's one representation: H×W×3 uint8 RGB.

Conversion rule (applied to every dataset, recorded in each record's ``flags``):

* 8-bit RGB: used as is.
* Palette (P) images: expanded to RGB (lossless) — flag ``palette->rgb``.
* 8-bit grayscale (L): replicated to three channels — flag ``gray->rgb``.
* RGBA / LA with a fully opaque alpha channel: alpha dropped — flag ``alpha-dropped``.
* RGBA / LA with any transparent pixel, 16-bit or higher bit depth, CMYK, float or 1-bit images:
  rejected with a clear error (any conversion would change what is being measured).
* Animated or multi-page files (APNG, animated WebP, multi-page TIFF): rejected — which frame is
  "the image" is the user's choice, not ours.
* EXIF orientation other than 1: ignored (pixels are evaluated as stored, like every codec sees
  them) and recorded as flag ``exif-orientation:N``; the run summary lists such images.
* A symbolic link that cannot be followed (dangling or looping) is an unreadable image, listed
  with the others — never skipped silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import LicBenchError

#: Largest image accepted (pixels); metrics hold several float copies of an image in memory.
#: Override with LIC_BENCH_MAX_PIXELS.
DEFAULT_MAX_PIXELS = 40_000_000


def max_pixels() -> int:
    """The pixel limit; a bad LIC_BENCH_MAX_PIXELS is blamed on the variable, not on every image."""
    import os

    text = os.environ.get("LIC_BENCH_MAX_PIXELS", "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise LicBenchError(f"LIC_BENCH_MAX_PIXELS={text!r}: give a positive whole number of pixels "
                            f"(default {DEFAULT_MAX_PIXELS}), or unset it")
    return value


IMAGE_SUFFIXES = (".png", ".ppm", ".pnm", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp")


@dataclass
class LoadedImage:
    pixels: np.ndarray  # H×W×3 uint8
    flags: list[str] = field(default_factory=list)

    @cached_property
    def sha256(self) -> str:  # once per image: load_rgb's pixels are read-only
        return pixel_sha256(self.pixels)


class DecodedImages:
    """Images decoded while indexing, kept for the jobs of the same process up to a byte budget, so a run
    with in-process jobs decodes and hashes each image once (a pool's workers decode their own)."""

    def __init__(self, budget_bytes: int = 0):
        self.reset(budget_bytes)

    def reset(self, budget_bytes: int) -> None:
        """Forget every kept image; keep up to `budget_bytes` of pixels from now on (0: keep none)."""
        self.budget = budget_bytes
        self._kept: dict[str, LoadedImage] = {}

    def offer(self, path, img: LoadedImage) -> None:
        if img.pixels.nbytes <= self.budget:
            self._kept[str(path)] = img
            self.budget -= img.pixels.nbytes

    def get(self, path, pixel_sha256: str) -> LoadedImage | None:
        """The kept image at `path` if its pixels are the ones indexed."""
        img = self._kept.get(str(path))
        return img if img is not None and img.sha256 == pixel_sha256 else None


def pixel_sha256(pixels: np.ndarray) -> str:
    """sha256 of the decoded H×W×3 uint8 samples (C order): identifies content, not file encoding."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def _png_bit_depth(path: Path) -> int | None:
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 25:
        return head[24]
    return None


def load_rgb(path: str | Path) -> LoadedImage:
    """Load `path` as 8-bit RGB under the documented conversion rule; raise LicBenchError otherwise."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    where = printable(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        if path.is_symlink():
            raise LicBenchError(f"{where}: symbolic link that cannot be followed ({e.strerror}); fix or remove the link") from None
        raise LicBenchError(f"{where}: cannot read image ({e.strerror})") from None
    if size == 0:
        raise LicBenchError(f"{where}: empty file (0 bytes); replace it with a valid image")
    depth = _png_bit_depth(path)
    if depth is not None and depth > 8:
        raise LicBenchError(f"{where}: {depth}-bit PNG; lic-bench evaluates 8-bit images only — convert it yourself and record how")
    limit = max_pixels()
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > limit:
                raise LicBenchError(f"{where}: {w}x{h} = {w * h / 1e6:.1f} MP exceeds the {limit / 1e6:.0f} MP limit; "
                                    "crop it, or raise LIC_BENCH_MAX_PIXELS if you have the memory")
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                raise LicBenchError(f"{where}: {im.format} with {frames} frames (animated or multi-page); lic-bench evaluates "
                                    "still images — save the frame you mean as its own file")
            flags: list[str] = []
            orientation = im.getexif().get(0x0112)  # EXIF Orientation tag
            if isinstance(orientation, int) and orientation != 1:
                flags.append(f"exif-orientation:{orientation}")
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                flags.append("palette->rgb")
                mode = im.mode
            if mode in ("RGBA", "LA"):
                alpha = np.asarray(im.getchannel("A"))
                if alpha.min() < 255:
                    raise LicBenchError(f"{where}: image has transparent pixels (mode {mode}); flatten it onto a background yourself")
                im = im.convert("RGB" if mode == "RGBA" else "L")
                flags.append("alpha-dropped")
                mode = im.mode
            if mode == "L":
                im = im.convert("RGB")
                flags.append("gray->rgb")
            elif mode != "RGB":
                raise LicBenchError(f"{where}: unsupported image mode {mode!r} (16-bit, float, CMYK or 1-bit); convert to 8-bit RGB first")
            pixels = np.array(im, dtype=np.uint8)
    except LicBenchError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise LicBenchError(f"{where}: not a readable image ({type(e).__name__}: {e}); re-download or remove it") from None
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise LicBenchError(f"{where}: unexpected decoded shape {pixels.shape}")
    pixels.flags.writeable = False  # its hash is computed once: a codec that writes into its input fails loudly
    return LoadedImage(pixels, flags)


def printable(path: Path | str) -> str:
    """A path safe to print on one line, even with undecodable (non-UTF-8) bytes in its name."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name (hidden files and macOS '._' files skipped)."""
    return sorted(
        p for p in folder.iterdir()
        if (p.is_file() or p.is_symlink()) and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


# ---- padding (owned by the harness, declared by each adapter) ----

def pad_amounts(height: int, width: int, multiple: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zero padding that centres the image in the next multiple.

    The odd pixel goes to the bottom/right, as CompressAI's evaluation does.
    """
    ph = (-height) % multiple
    pw = (-width) % multiple
    return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2


def pad(image: np.ndarray, multiple: int) -> np.ndarray:
    if multiple <= 1:
        return image
    t, b, l, r = pad_amounts(image.shape[0], image.shape[1], multiple)
    if not (t or b or l or r):
        return image
    return np.pad(image, ((t, b), (l, r), (0, 0)), mode="constant")


def crop(image: np.ndarray, height: int, width: int, multiple: int) -> np.ndarray:
    """Undo :func:`pad` given the original size."""
    if multiple <= 1:
        return image
    t, _, l, _ = pad_amounts(height, width, multiple)
    return image[t : t + height, l : l + width]
