"""VVC intra through the user's own VTM build (never shipped here), as CompressAI's bench runs it.

The harness hands over 8-bit YCbCr 4:4:4 (colour policy from the spec, rounding by default); this
adapter writes planar YUV, runs ``EncoderAppStatic`` and ``DecoderAppStatic`` as subprocesses
(argument lists, no shell, each in its own process group that is killed on a timeout or when the job
is stopped) in a private temporary folder that is always removed, and returns the raw ``.bin`` —
exactly what the decoder reads, so bpp = 8·size(out.bin)/(W·H). The decoder must report the same
VTM version as the encoder.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import numpy as np

from ..errors import LicBenchError
from ..executors import run_tool, scratch_dir
from .base import Codec, Param

VTM_DIR_ENV = "LIC_BENCH_VTM_DIR"
ENCODERS = ("EncoderAppStatic", "EncoderApp")
DECODERS = ("DecoderAppStatic", "DecoderApp")
DEFAULT_CFG = Path("cfg") / "encoder_intra_vtm.cfg"


def _tail(text: str, lines: int = 15) -> str:
    t = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(t[-lines:])[-1500:]


def help_banner(tool: Path, timeout_s: float = 60) -> str:
    """The first line a VTM tool prints for ``--help``: its banner with the version."""
    try:
        proc = run_tool([str(tool), "--help"], timeout_s)
    except (subprocess.TimeoutExpired, OSError) as e:
        raise LicBenchError(f"cannot probe the VTM version with {tool} --help: {e}") from None
    lines = [line.strip() for line in (proc.stdout + "\n" + proc.stderr).splitlines() if line.strip()]
    return lines[0] if lines else ""


class VTM(Codec):
    colorspace = "ycbcr444"
    operating_point_name = "qp"
    default_operating_points = (22, 27, 32, 37, 42, 47)
    params = {
        "version": Param("12.1", "required VTM version ('any' accepts whatever is found, recorded)"),
        "allow_other_version": Param(False, "explicit override: accept a VTM whose version differs (recorded)"),
        "cfg": Param("", "encoder config (default <vtm-dir>/cfg/encoder_intra_vtm.cfg); its sha256 is recorded", identity=False),
        "vtm_dir": Param("", "VTM build folder (else --vtm-dir or $LIC_BENCH_VTM_DIR)", identity=False, runtime="vtm_dir"),
        "timeout_s": Param(7200.0, "per-process time limit in seconds (VTM takes minutes on 2K images)", identity=False),
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        root = self.p["vtm_dir"] or os.environ.get(VTM_DIR_ENV, "")
        if not root:
            raise LicBenchError(f"VTM not configured: pass --vtm-dir DIR, set {VTM_DIR_ENV}, or set params.vtm_dir in the codec spec "
                                "(a folder with bin/EncoderAppStatic from your own VTM-12.1 build)")
        self.root = Path(root)
        self.encoder = self._find(ENCODERS)
        self.decoder = self._find(DECODERS)
        self.cfg = Path(self.p["cfg"]) if self.p["cfg"] else self.root / DEFAULT_CFG
        if not self.cfg.is_file():
            raise LicBenchError(f"VTM config {self.cfg} not found; pass params.cfg or use a full VTM checkout")
        self._version_lines: dict[Path, str] = {}

    def _find(self, names) -> Path:
        for n in names:
            for d in (self.root / "bin", self.root):
                p = d / n
                if p.is_file() and os.access(p, os.X_OK):
                    return p
        raise LicBenchError(f"no executable {' or '.join(names)} in {self.root}/bin or {self.root}; build VTM or fix --vtm-dir")

    def _run(self, args: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        try:
            proc = run_tool(args, float(self.p["timeout_s"]), cwd=cwd)
        except subprocess.TimeoutExpired:
            raise LicBenchError(f"VTM {what} timed out after {float(self.p['timeout_s']):g} s (raise params.timeout_s)") from None
        except OSError as e:
            raise LicBenchError(f"cannot start VTM {what} {args[0]}: {e.strerror}") from None
        if proc.returncode != 0:
            raise LicBenchError(f"VTM {what} exited with status {proc.returncode}: {_tail(proc.stderr + proc.stdout)}")
        return proc

    def version_line(self, tool: Path | None = None) -> str:
        """The first line `tool --help` prints (the encoder by default): VTM's banner with its version."""
        tool = tool or self.encoder
        if tool not in self._version_lines:
            self._version_lines[tool] = help_banner(tool)
        return self._version_lines[tool]

    @staticmethod
    def _version_in(line: str) -> str:
        m = re.search(r"Version\s+([0-9][0-9.]*\w*)", line)
        return m.group(1) if m else "unknown"

    def versions(self) -> dict[str, str]:
        line = self.version_line()
        found = self._version_in(line)
        want = str(self.p["version"])
        if want != "any" and found != want and not self.p["allow_other_version"]:
            raise LicBenchError(f"{self.encoder} is VTM {found!r} ({line!r}) but the spec requires {want}; "
                                "use the right build or pass allow_other_version=true (recorded)")
        decoded_by = self._version_in(self.version_line(self.decoder))
        if decoded_by != found and not self.p["allow_other_version"]:
            raise LicBenchError(f"{self.decoder} is VTM {decoded_by!r} but {self.encoder.name} is VTM {found!r}; "
                                "use the decoder of the same build (or pass allow_other_version=true)")
        return {"vtm": found, "vtm_encoder": line}

    def provenance(self) -> dict:
        return {"cfg_sha256": hashlib.sha256(self.cfg.read_bytes()).hexdigest(), "cfg_name": self.cfg.name,
                "version_override": bool(self.p["allow_other_version"])}

    def check_operating_point(self, op: float) -> None:
        if op != int(op) or not 0 <= op <= 63:
            raise LicBenchError(f"VTM QP must be an integer in 0..63, got {op:g}")

    def job_cost(self, op: float, n_pixels: int) -> float:
        return n_pixels * (64 - op)  # low QP (high rate) encodes slowest

    def command(self, yuv: Path, bitstream: Path, width: int, height: int, qp: int) -> list[str]:
        """The field's command line (CompressAI ``bench vtm``)."""
        return [str(self.encoder), "-i", str(yuv), "-c", str(self.cfg), "-q", str(qp), "-o", os.devnull,
                "-b", str(bitstream), "-wdt", str(width), "-hgt", str(height), "-fr", "1", "-f", "1",
                "--InputChromaFormat=444", "--InputBitDepth=8", "--ConformanceWindowMode=1"]

    def encode(self, image: np.ndarray, op: float) -> bytes:
        h, w, _ = image.shape
        with scratch_dir("lic-bench-vtm-") as tmp:
            yuv = tmp / "in.yuv"
            yuv.write_bytes(np.ascontiguousarray(image.transpose(2, 0, 1)).tobytes())  # planar Y, Cb, Cr
            out = tmp / "out.bin"
            self._run(self.command(yuv, out, w, h, int(op)), "encoder", cwd=tmp)
            if not out.is_file() or out.stat().st_size == 0:
                raise LicBenchError("VTM encoder exited normally but wrote no bitstream")
            return out.read_bytes()

    def decode(self, data: bytes) -> np.ndarray:
        from ..vvc import picture_size

        try:
            w, h, chroma = picture_size(data)
        except (ValueError, IndexError) as e:
            raise LicBenchError(f"not a decodable VVC bitstream: {e}") from None
        if chroma != 3:
            raise LicBenchError(f"bitstream is chroma_format_idc {chroma}, expected 3 (4:4:4)")
        with scratch_dir("lic-bench-vtm-") as tmp:
            (tmp / "in.bin").write_bytes(data)
            rec = tmp / "rec.yuv"
            self._run([str(self.decoder), "-b", str(tmp / "in.bin"), "-o", str(rec), "-d", "8"], "decoder", cwd=tmp)
            if not rec.is_file():
                raise LicBenchError("VTM decoder exited normally but wrote no reconstruction")
            raw = rec.read_bytes()
            if len(raw) != 3 * w * h:
                raise LicBenchError(f"VTM decoder wrote {len(raw)} bytes, expected {3 * w * h} for {w}x{h} 4:4:4 8-bit")
            return np.frombuffer(raw, np.uint8).reshape(3, h, w).transpose(1, 2, 0).copy()
