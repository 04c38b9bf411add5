"""JPEG XL (libjxl) and AVIF (libavif + aom) through imagecodecs (BSD); bpp counts the whole file.

imagecodecs bundles its own libjxl/libavif builds, so its version fixes the encoder and the decoder:
both are recorded in the spec identity (a different decoder version can decode the same stream to a
slightly different image). Optional extra: ``pip install 'lic-bench[imagecodecs]'``.
"""

from __future__ import annotations

import numpy as np

from ..errors import LicBenchError
from .base import Codec, Knob, Param

EXTRA_HINT = "pip install 'lic-bench[imagecodecs]'"


def import_imagecodecs(codec: str):
    """imagecodecs, or the one-line refusal that names the extra."""
    try:
        import imagecodecs
    except ImportError:
        raise LicBenchError(f"codec {codec} needs imagecodecs (optional, not installed): {EXTRA_HINT}") from None
    return imagecodecs


def _library_versions(imagecodecs, codec: str, library: str) -> dict[str, str]:
    known = imagecodecs.version(dict)
    found = known.get(library)
    if not found or found == "n/a":
        raise LicBenchError(f"this imagecodecs build ({imagecodecs.__version__}) has no {library} for codec {codec}; {EXTRA_HINT}")
    return {"imagecodecs": imagecodecs.__version__, library: str(found)}


def _as_rgb_u8(decoded: np.ndarray, codec: str) -> np.ndarray:
    arr = np.asarray(decoded)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise LicBenchError(f"{codec} bitstream decoded to {arr.dtype} {arr.shape}, expected 8-bit RGB H×W×3")
    return arr


class JPEGXL(Codec):
    """Lossy JPEG XL (libjxl VarDCT); operating point = butteraugli distance (lower = better, more bits).

    Colour: libjxl codes 8-bit sRGB input in its XYB colour space (not YCbCr; no chroma subsampling)
    and the decoder converts back to 8-bit sRGB, so the conversion is part of the codec, as for the
    other classical codecs.
    """

    operating_point_name = "distance"
    default_operating_points = (25.0, 16.0, 12.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.5, 1.0)
    #: libjxl accepts distances up to 25; larger = fewer bits
    quality_knob = Knob(0.1, 25.0, integer=False, increasing=False, resolution=0.001)
    params = {
        "effort": Param(7, "libjxl effort 1 (fast) .. 10 (slow); libjxl's default is 7", choices=tuple(range(1, 11))),
        "decodingspeed": Param(0, "libjxl faster_decoding tier 0 (best compression) .. 4", choices=tuple(range(5))),
        "threads": Param(1, "encoder/decoder threads (libjxl output does not depend on them)", identity=False),
    }

    def check_operating_point(self, op: float) -> None:
        if not (0.1 <= op <= 25.0):
            raise LicBenchError(f"jxl distance must be in 0.1..25 (lower = better quality), got {op:g}")

    def versions(self) -> dict[str, str]:
        return _library_versions(import_imagecodecs("jxl"), "jxl", "libjxl")

    def encode(self, image: np.ndarray, op: float) -> bytes:
        ic = import_imagecodecs("jxl")
        return bytes(ic.jpegxl_encode(
            np.ascontiguousarray(image), distance=float(op), effort=self.p["effort"], lossless=False,
            decodingspeed=self.p["decodingspeed"], numthreads=self.p["threads"]))

    def decode(self, data: bytes) -> np.ndarray:
        return _as_rgb_u8(import_imagecodecs("jxl").jpegxl_decode(data, numthreads=self.p["threads"]), "jxl")


class AVIFImagecodecs(Codec):
    """AVIF through imagecodecs' libavif with the aom encoder, 4:4:4 by default, explicit speed, one thread.

    Beside Pillow's ``avif`` (another libavif build): same format, a different library build, so its
    own versions in the identity. Operating point = libavif quality 0..100 (higher = more bits).
    Colour: libavif converts 8-bit RGB to YCbCr with the BT.601 matrix, full range (written in the
    file's nclx), and back on decoding.
    """

    default_operating_points = (10, 20, 30, 40, 50, 60, 70, 80)
    quality_knob = Knob(0, 99, integer=True, increasing=True)
    params = {
        "pixelformat": Param("444", "chroma subsampling", choices=("444", "422", "420")),
        "speed": Param(6, "aom encoder speed 0 (slow) .. 10 (fast)", choices=tuple(range(11))),
        "threads": Param(1, "encoder threads; aom output can depend on them", choices=tuple(range(1, 65))),
    }

    def check_operating_point(self, op: float) -> None:
        # quality 100 switches libavif to lossless with the identity matrix: a different codec
        if not (0 <= op <= 99) or op != int(op):
            raise LicBenchError(f"avif quality must be an integer in 0..99 (lossy), got {op:g}")

    def versions(self) -> dict[str, str]:
        ic = import_imagecodecs("avif-imagecodecs")
        # the AV1 encoder (aom) and decoder libavif picks are inside the wheel: its version pins them
        return {**_library_versions(ic, "avif-imagecodecs", "libavif"), "av1_encoder": "aom (bundled)"}

    def encode(self, image: np.ndarray, op: float) -> bytes:
        ic = import_imagecodecs("avif-imagecodecs")
        return bytes(ic.avif_encode(
            np.ascontiguousarray(image), int(op), speed=self.p["speed"], pixelformat=self.p["pixelformat"],
            codec="aom", matrix=6, numthreads=self.p["threads"]))

    def decode(self, data: bytes) -> np.ndarray:
        return _as_rgb_u8(import_imagecodecs("avif-imagecodecs").avif_decode(data, numthreads=1), "avif-imagecodecs")
