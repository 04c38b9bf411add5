"""Classical codecs through Pillow: WebP, JPEG, JPEG 2000, AVIF. bpp counts the whole file."""

from __future__ import annotations

import io

import numpy as np

from ..errors import LicBenchError
from .base import Codec, Knob, Param


def _pillow_versions(feature: str) -> dict[str, str]:
    import PIL
    from PIL import features

    return {"pillow": PIL.__version__, feature: str(features.version(feature))}


class _PillowCodec(Codec):
    format: str = ""
    feature: str = ""

    def versions(self) -> dict[str, str]:
        from PIL import features

        if not features.check(self.feature):
            raise LicBenchError(f"this Pillow build has no {self.feature} support; install a Pillow wheel with it")
        return _pillow_versions(self.feature)

    def save_options(self, op: float) -> dict:
        raise NotImplementedError

    def encode(self, image: np.ndarray, op: float) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image, "RGB").save(buf, format=self.format, **self.save_options(op))
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return np.array(im.convert("RGB"), dtype=np.uint8)


class _QualityCodec(_PillowCodec):
    quality_range = (0, 100)

    def check_operating_point(self, op: float) -> None:
        lo, hi = self.quality_range
        if not (lo <= op <= hi) or op != int(op):
            raise LicBenchError(f"{self.format} quality must be an integer in {lo}..{hi}, got {op:g}")


class WebP(_QualityCodec):
    """Lossy WebP (always 4:2:0). Default qualities 5..50 as in the TCM paper (Pillow defaults otherwise)."""

    format, feature = "WEBP", "webp"
    default_operating_points = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    quality_knob = Knob(0, 100, integer=True, increasing=True)
    params = {"method": Param(4, "speed/quality trade-off, 0 (fast) .. 6 (slow, best)", choices=tuple(range(7)))}

    def save_options(self, op):
        return {"quality": int(op), "method": self.p["method"], "lossless": False}


class JPEG(_QualityCodec):
    """Baseline JPEG with libjpeg-turbo; 4:2:0 by default."""

    format, feature = "JPEG", "jpg"
    default_operating_points = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    quality_range = (1, 100)
    quality_knob = Knob(1, 100, integer=True, increasing=True)
    params = {
        "subsampling": Param("420", "chroma subsampling", choices=("444", "422", "420")),
        "optimize": Param(False, "optimised Huffman tables"),
    }

    def save_options(self, op):
        sub = {"444": 0, "422": 1, "420": 2}[self.p["subsampling"]]
        return {"quality": int(op), "subsampling": sub, "optimize": self.p["optimize"]}


class AVIF(_QualityCodec):
    """AVIF through Pillow's libavif (aom), 4:4:4, single-threaded for determinism."""

    format, feature = "AVIF", "avif"
    default_operating_points = (10, 20, 30, 40, 50, 60, 70, 80)
    quality_knob = Knob(0, 100, integer=True, increasing=True)
    params = {
        "subsampling": Param("444", "chroma subsampling", choices=("444", "422", "420")),
        "speed": Param(6, "encoder speed 0 (slow) .. 10 (fast)", choices=tuple(range(11))),
    }

    def save_options(self, op):
        s = self.p["subsampling"]
        return {"quality": int(op), "subsampling": f"{s[0]}:{s[1]}:{s[2]}", "speed": self.p["speed"], "max_threads": 1}


class JPEG2000(_PillowCodec):
    """JPEG 2000 (OpenJPEG) with the colour transform on; operating point = compression ratio."""

    format, feature = "JPEG2000", "jpg_2000"
    operating_point_name = "ratio"
    default_operating_points = (200, 120, 80, 50, 30, 20, 12, 8)
    #: bpp ≈ 24 / ratio, so a higher ratio gives fewer bits
    quality_knob = Knob(2, 2000, integer=False, increasing=False, resolution=0.01)
    params = {
        "mct": Param(True, "multiple-component (colour) transform; off costs ~3 dB"),
        "container": Param("j2k", "raw codestream or JP2 file", choices=("j2k", "jp2")),
    }

    #: Beyond this ratio OpenJPEG has nothing left to code (a few header bytes): points would collide.
    max_ratio = 10_000

    def check_operating_point(self, op: float) -> None:
        if not 1 < op <= self.max_ratio:
            raise LicBenchError(f"JPEG 2000 operating point is a compression ratio in (1, {self.max_ratio}], got {op:g}")

    def encode(self, image: np.ndarray, op: float) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image, "RGB").save(
            buf, format="JPEG2000", quality_mode="rates", quality_layers=[float(op)],
            irreversible=True, mct=1 if self.p["mct"] else 0, no_jp2=self.p["container"] == "j2k",
        )
        return buf.getvalue()
