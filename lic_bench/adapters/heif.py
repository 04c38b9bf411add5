"""HEIC: HEVC intra (x265) in a HEIF file, through pillow-heif's bundled libheif; bpp counts the whole file.

This is the registry-installable stand-in for BPG (HEVC intra, 4:4:4), the classical baseline most LIC
papers plot. The pillow-heif wheel is GPLv2 (it links x265), so it is an optional extra, never a
dependency: ``pip install 'lic-bench[heif]'``.

Colour: the adapter hands 8-bit RGB to libheif, which converts it to 8-bit YCbCr itself with the
BT.601 matrix, full range (the nclx box it writes: primaries 1, transfer 13, matrix 6, full range 1,
libheif's sRGB defaults); the decoder (libde265) output goes back to 8-bit RGB through libheif with the
same nclx. So the codec's own colour conversion is part of what is measured, as for WebP/JPEG/AVIF.
"""

from __future__ import annotations

import io

import numpy as np

from ..errors import LicBenchError
from .base import Codec, Knob, Param

EXTRA_HINT = "pip install 'lic-bench[heif]'"
X265_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


def import_pillow_heif():
    """pillow_heif, or the one-line refusal that names the extra."""
    try:
        import pillow_heif
    except ImportError:
        raise LicBenchError(f"codec heic needs pillow-heif (GPLv2, optional, not installed): {EXTRA_HINT}") from None
    return pillow_heif


class HEIC(Codec):
    """HEVC intra via x265 (libheif); 4:4:4 by default like BPG; operating point = libheif quality 0..100.

    libheif runs x265 in constant-rate-factor mode with CRF = (100 − quality) / 2, and after the preset
    and tune it forces psy-rd 1, psy-rdoq 1 and aq-mode 1 (psychovisual tuning that costs PSNR). By
    default this adapter turns those three off again (``psy=false``: an HM/BPG-like, PSNR-oriented
    encoder; on 4 Kodak images about +0.6 dB at equal rate); ``psy=true`` keeps libheif's settings.
    Measured with pillow-heif 1.8.1: quality 2k−1 and 2k give the same bytes, and one step of 2 changes
    the rate by ~13 %, so rate matching a HEIC lands up to that far below a bpp target.
    """

    default_operating_points = (10, 15, 20, 25, 30, 35, 40, 45)
    quality_knob = Knob(0, 100, integer=True, increasing=True)
    params = {
        "chroma": Param("444", "chroma subsampling coded by x265", choices=("444", "422", "420")),
        "preset": Param("slow", "x265 preset (libheif's default: slow)", choices=X265_PRESETS),
        "tune": Param("psnr", "x265 tune; libheif's default is ssim (adaptive quantisation on), "
                              "psnr turns it off as BPG/HM do", choices=("psnr", "ssim", "grain", "fastdecode")),
        "tu_intra_depth": Param(2, "x265 --tu-intra-depth (libheif's default: 2)", choices=(1, 2, 3, 4)),
        "psy": Param(False, "keep libheif's forced x265 psy-rd 1, psy-rdoq 1, aq-mode 1 (false: all 0, PSNR-oriented)"),
    }

    def check_operating_point(self, op: float) -> None:
        if not (0 <= op <= 100) or op != int(op):
            raise LicBenchError(f"heic quality must be an integer in 0..100, got {op:g}")

    def versions(self) -> dict[str, str]:
        heif = import_pillow_heif()
        info = heif.libheif_info()
        encoder = str(info.get("HEIF") or "")
        if "x265" not in encoder:
            raise LicBenchError(f"this pillow-heif build has no x265 HEVC encoder (found {encoder!r}); {EXTRA_HINT}")
        return {"pillow_heif": heif.__version__, "libheif": str(info.get("libheif")), "heif_encoder": encoder,
                "heif_decoder": ", ".join(str(v) for v in (info.get("decoders") or {}).values())}

    def encode(self, image: np.ndarray, op: float) -> bytes:
        heif = import_pillow_heif()
        h, w = image.shape[:2]
        heif_file = heif.from_bytes(mode="RGB", size=(w, h), data=np.ascontiguousarray(image).tobytes())
        buf = io.BytesIO()
        heif_file.save(
            buf, format="HEIF", quality=int(op), chroma=int(self.p["chroma"]), tile_size=0,
            enc_params=self.x265_params(),
            # the nclx box libheif converts with; written explicitly so a pillow-heif default change cannot move it
            color_primaries=1, transfer_characteristics=13, matrix_coefficients=6, full_range_flag=1,
        )
        return buf.getvalue()

    def x265_params(self) -> dict[str, str]:
        """libheif encoder parameters; ``x265:``-prefixed ones are applied after libheif's own settings."""
        params = {"preset": self.p["preset"], "tune": self.p["tune"], "tu-intra-depth": str(self.p["tu_intra_depth"])}
        if not self.p["psy"]:
            params.update({"x265:psy-rd": "0", "x265:psy-rdoq": "0", "x265:aq-mode": "0"})
        return params

    def decode(self, data: bytes) -> np.ndarray:
        heif = import_pillow_heif()
        decoded = heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        if decoded.mode != "RGB":
            raise LicBenchError(f"heic bitstream decoded to mode {decoded.mode!r}, expected RGB")
        return np.array(decoded, dtype=np.uint8)
