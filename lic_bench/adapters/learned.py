"""Learned codecs (TCM, TIC, CompressAI zoo, user models) with real bitstreams.

The bitstream is a small versioned container holding everything the decoder needs — quality index,
latent shape and every entropy-coded string, then a CRC32 of all of it (compressai's native rANS
decoder does no bounds checking: damaged bytes must be refused before they reach it) — so bpp counts all of it; ``payload_bytes`` (strings
only, the CompressAI/paper convention) is recorded beside it. Decoding reads only those bytes (on
``decode_device`` if set, to check cross-device desynchronisation); the encoder reports the
reconstruction it expects, and the harness flags any difference.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..datasets import file_sha256
from ..errors import LicBenchError
from .base import Codec, Encoded, Param

MAGIC = b"LIC"
TILED_MAGIC = b"LIT"
#: Tiling used when a full image does not fit in GPU memory: non-overlapping tiles of this side
#: (a multiple of every model's padding), each coded as an independent image; borders are visible.
TILE = 512
CONTAINER_VERSION = 1
WEIGHTS_ENV = "LIC_BENCH_WEIGHTS"
_HEADER = struct.Struct(">3sBBHHB")  # magic, version, quality, latent h, latent w, number of string groups


def pack(quality: int, shape, strings) -> bytes:
    out = bytearray(_HEADER.pack(MAGIC, CONTAINER_VERSION, quality, int(shape[0]), int(shape[1]), len(strings)))
    for group in strings:
        out.append(len(group))
        for s in group:
            out += _varint(len(s)) + s
    return bytes(out) + struct.pack(">I", zlib.crc32(out))


def unpack(data: bytes):
    """(quality, shape, strings) or LicBenchError for anything malformed (truncated, wrong magic…)."""
    if len(data) < _HEADER.size + 4:
        raise LicBenchError(f"bitstream too short ({len(data)} bytes)")
    magic, version, quality, h, w, n = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise LicBenchError("not a lic-bench learned-codec bitstream (bad magic)")
    if version != CONTAINER_VERSION:
        raise LicBenchError(f"bitstream container version {version}, this lic-bench reads {CONTAINER_VERSION}")
    data, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(data) != crc:
        raise LicBenchError("bitstream checksum mismatch: damaged or truncated bytes (refused before decoding)")
    pos, strings = _HEADER.size, []
    for _ in range(n):
        if pos >= len(data):
            raise LicBenchError("bitstream truncated (string group count)")
        count, pos = data[pos], pos + 1
        group = []
        for _ in range(count):
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise LicBenchError(f"bitstream truncated: string of {length} bytes at offset {pos}, {len(data)} bytes in all")
            group.append(data[pos:pos + length])
            pos += length
        strings.append(group)
    if pos != len(data):
        raise LicBenchError(f"bitstream has {len(data) - pos} trailing bytes")
    return quality, (h, w), strings


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, pos: int):
    n = shift = 0
    while True:
        if pos >= len(data):
            raise LicBenchError("bitstream truncated (length field)")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos




def pack_tiles(tile: int, height: int, width: int, tiles: list[bytes]) -> bytes:
    out = bytearray(TILED_MAGIC + bytes([CONTAINER_VERSION]) + struct.pack(">HHHH", tile, height, width, len(tiles)))
    for t in tiles:
        out += _varint(len(t)) + t
    return bytes(out) + struct.pack(">I", zlib.crc32(out))


def unpack_tiles(data: bytes):
    body, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(body) != crc:
        raise LicBenchError("bitstream checksum mismatch: damaged or truncated bytes (refused before decoding)")
    tile, h, w, n = struct.unpack_from(">HHHH", body, 4)
    pos, tiles = 12, []
    for _ in range(n):
        length, pos = _read_varint(body, pos)
        tiles.append(body[pos:pos + length])
        pos += length
    return tile, h, w, tiles


def tile_edges(n: int, tile: int, min_side: int) -> list[int]:
    """Tile boundaries along one side; a remainder shorter than the model's minimum joins its neighbour."""
    edges = list(range(0, n, tile)) + [n]
    if len(edges) > 2 and edges[-1] - edges[-2] < min_side:
        del edges[-2]
    return edges


def _tiles(h: int, w: int, tile: int, min_side: int):
    ys, xs = tile_edges(h, tile, min_side), tile_edges(w, tile, min_side)
    return [(y0, y1, x0, x1) for y0, y1 in zip(ys, ys[1:]) for x0, x1 in zip(xs, xs[1:])]


def _is_oom(e: BaseException) -> bool:
    import torch

    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


def model_source_sha256(ref: str) -> str:
    """sha256 of the Python source a user model class comes from: every .py file of its top-level
    package (a model's layers usually live beside it), or its module file when it has no package."""
    import importlib.util

    module = ref.partition(":")[0]
    top = module.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError) as e:
        raise LicBenchError(f"--model-class {ref}: cannot find module {top!r} ({e})") from None
    if spec is None:
        raise LicBenchError(f"--model-class {ref}: no module named {top!r} on the Python path")
    if spec.submodule_search_locations:
        root = Path(list(spec.submodule_search_locations)[0])
        files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    else:
        root, files = None, [Path(spec.origin)] if spec.origin else []
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root) if root else f.name).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


class Learned(Codec):
    operating_point_name = "quality"
    params = {
        "arch": Param("", "tcm-small|tcm-medium|tcm-large|tic|tic-plus|tic-repo|compressai:<arch>", defines_codec=True),
        "model_class": Param("", "your CompressionModel subclass, pkg.module:Class", defines_codec=True),
        "weights": Param({}, "quality -> {file, lambda, url, sha256} (from the codec spec)", type=dict, identity=False),
        "checkpoint": Param("", "one checkpoint file for the given quality (instead of the spec's weights)", identity=False,
                            runtime="checkpoint"),
        "weights_dir": Param("", f"folder with the checkpoint files (else ${WEIGHTS_ENV})", identity=False, runtime="weights_dir"),
        "device": Param("cpu", "encode device: cpu, cuda, cuda:N", identity=False, runtime="device"),
        "decode_device": Param("", "decode device (default: the encode device)", identity=False, runtime="decode_device"),
        "random_init": Param(False, "random weights: complexity/timing only, refused for RD"),
        "coder": Param("fast", "TIC serial coding loop", choices=("fast", "reference")),
        "threads": Param(1, "CPU threads (1 = CompressAI's evaluation setting)", identity=False),
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        from ..learned.zoo import get_arch

        if not self.p["arch"] and not self.p["model_class"]:
            raise LicBenchError("learned codec spec needs params.arch (e.g. tcm-small) or params.model_class")
        self.arch = get_arch(self.p["arch"], self.p["model_class"])
        self.pad_multiple = self.arch.pad_multiple
        self.min_padded_side = self.arch.min_side
        self.default_operating_points = self.arch.qualities
        self._models: dict[tuple, object] = {}
        self._decoded_on: set[str] = set()  # devices the last decode() ran on (tiles, out-of-memory fallback)
        self._setup_torch()

    def _setup_torch(self) -> None:
        import torch

        torch.set_num_threads(int(self.p["threads"]))
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False

    # ---- weights
    def weights_dir(self) -> Path | None:
        d = self.p["weights_dir"] or os.environ.get(WEIGHTS_ENV, "")
        return Path(d) if d else None

    def checkpoint_for(self, quality: int) -> Path | None:
        if self.p["random_init"]:
            return None
        if self.p["checkpoint"]:
            return Path(self.p["checkpoint"])
        entry = self.p["weights"].get(quality) or self.p["weights"].get(str(quality))
        where = self.arch.name + f" quality {quality}"
        if not entry:
            raise LicBenchError(f"{where}: no checkpoint listed in the codec spec; pass checkpoint=FILE (--checkpoint)")
        entry = {"file": entry} if isinstance(entry, str) else entry
        root = self.weights_dir()
        if root is None:
            raise LicBenchError(f"{where}: set --weights-dir or ${WEIGHTS_ENV} to the folder holding {entry['file']}")
        path = root / entry["file"]
        if not path.is_file():
            src = entry.get("url") or "no public download; train it or ask the authors"
            raise LicBenchError(f"{where}: missing checkpoint {path} (λ={entry.get('lambda')}; source: {src})")
        if entry.get("sha256") and file_sha256(path) != entry["sha256"]:
            raise LicBenchError(f"{where}: {path} has sha256 {file_sha256(path)}, the spec expects {entry['sha256']}")
        return path

    def check_operating_point(self, op: float) -> None:
        if op != int(op) or int(op) not in self.arch.qualities:
            raise LicBenchError(f"{self.arch.name}: quality must be one of {', '.join(map(str, self.arch.qualities))}, got {op:g}")

    def preflight(self, operating_points: list[float]) -> None:
        for q in sorted({int(op) for op in operating_points}):
            self.model(q, self.p["device"])  # cached: in-process jobs reuse it

    def release(self) -> None:
        on_gpu = any(dev.startswith("cuda") for _, dev in self._models)
        self._models.clear()
        if on_gpu:  # the workers' models need the memory
            import torch

            torch.cuda.empty_cache()

    def versions(self) -> dict[str, str]:
        import torch

        from ..learned.compat import import_compressai

        return {"torch": torch.__version__.split("+")[0], "compressai": import_compressai().__version__, "lic_bench_models": "1"}

    def provenance(self) -> dict:
        sha = {}
        for q in self.arch.qualities:
            try:
                path = self.checkpoint_for(q)
            except LicBenchError:
                path = None
            if path is not None and path.is_file():
                sha[str(q)] = file_sha256(path)
        prov = {"arch": self.arch.name, "weights_sha256": sha, "random_init": bool(self.p["random_init"]),
                "container_version": CONTAINER_VERSION}
        prov.update(self.static_provenance(self.p))
        return prov

    @classmethod
    def static_provenance(cls, given: dict) -> dict:
        """A user model's identity includes its source code: editing it makes new results."""
        ref = given.get("model_class") or ""
        return {"model_source_sha256": model_source_sha256(ref)} if ref else {}

    # ---- models
    def model(self, quality: int, device: str):
        key = (quality, device)
        if key not in self._models:
            from ..learned.zoo import load_model

            self._models[key] = load_model(self.arch.name, self.checkpoint_for(quality), device, quality=quality,
                                           random_init=bool(self.p["random_init"]), model_class=self.p["model_class"],
                                           coder=self.p["coder"])
        return self._models[key]

    def synchronize(self) -> None:
        if "cuda" in (self.p["device"] + self.p["decode_device"]):
            import torch

            torch.cuda.synchronize()

    @staticmethod
    def _to_u8(x_hat) -> np.ndarray:
        """[0, 1] float reconstruction -> 8-bit samples (clamp, scale, round half to even)."""
        import torch

        return x_hat.clamp(0, 1).mul(255).round().to("cpu", dtype=torch.uint8)[0].permute(1, 2, 0).numpy()

    def fallback_plan(self) -> list[tuple[str, str]]:
        """Declared order when memory runs out: full image on the GPU -> tiled on the GPU -> full on the CPU."""
        dev = self.p["device"]
        return [("full", dev), ("tiled", dev), ("full", "cpu")] if dev.startswith("cuda") else [("full", dev)]

    def _reset_peak(self, dev: str) -> None:
        if dev.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats(dev)

    def _peak(self, dev: str) -> int | None:
        if dev.startswith("cuda"):
            import torch

            return int(torch.cuda.max_memory_allocated(dev))
        return None

    def encode(self, image: np.ndarray, op: float) -> Encoded:
        import torch

        plan = self.fallback_plan()
        for i, (mode, dev) in enumerate(plan):
            try:
                self._reset_peak(dev)
                enc = self._encode_full(image, op, dev) if mode == "full" else self._encode_tiled(image, op, dev)
            except Exception as e:  # noqa: BLE001
                if not _is_oom(e) or i == len(plan) - 1:
                    raise
                if dev.startswith("cuda"):
                    torch.cuda.empty_cache()
                continue
            enc.info["peak_gpu_mem_bytes"] = self._peak(dev)
            flags = []
            if mode == "tiled":
                flags.append(f"tiled:{TILE}")
            if dev != plan[0][1]:
                flags.append(f"fallback:{dev}")
            enc.info["flags"] = flags
            enc.info["encode_device_used"] = dev
            return enc
        raise AssertionError("unreachable")

    def _encode_tiled(self, image: np.ndarray, op: float, dev: str) -> Encoded:
        h, w, _ = image.shape
        encoded = [(box, self._encode_full(image[box[0]:box[1], box[2]:box[3]], op, dev))
                   for box in _tiles(h, w, TILE, self.arch.min_side)]  # sides are multiples of the padding
        info = dict(encoded[-1][1].info, tile=TILE, tiles=len(encoded))

        def check():  # each tile's check, after the decode, assembled
            whole = np.zeros_like(image)
            for (y0, y1, x0, x1), enc in encoded:
                part = enc.expected()
                if part is None:
                    info["enc_dec_check"] = enc.info["enc_dec_check"]
                    return None
                whole[y0:y1, x0:x1] = part
            return whole

        return Encoded(pack_tiles(TILE, h, w, [enc.data for _, enc in encoded]),
                       payload_bytes=sum(enc.payload_bytes for _, enc in encoded), expected=check, info=info)

    def _encode_full(self, image: np.ndarray, op: float, dev: str) -> Encoded:
        import torch

        q = int(op)
        model = self.model(q, dev)
        pixels = np.ascontiguousarray(image) if image.flags.writeable else image.copy()  # torch warns on read-only arrays
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(dev, torch.float32).div(255)
        with torch.inference_mode():
            out = model.compress(x)
        strings, shape = out["strings"], tuple(out["shape"])
        data = pack(q, shape, strings)

        info = {"device": dev, "decode_device": self.p["decode_device"] or self.p["device"], "threads": int(self.p["threads"]),
                "cudnn_deterministic": True, "arch": self.arch.name, "quality": q,
                "lambda": self.arch.lambdas[q - 1] if q - 1 < len(self.arch.lambdas) else None}

        def check():
            """Called after the job's decode, outside the timed region: what the encoder expects, or None."""
            with torch.inference_mode():
                if "y_hat" in out and hasattr(model, "g_s"):  # the encoder's own latents through g_s
                    return self._to_u8(model.g_s(out["y_hat"]).clamp_(0, 1))
                if self._decoded_on - {dev}:  # decoded elsewhere: the decoder again, where the encoder ran
                    try:
                        return self._to_u8(model.decompress(strings, shape)["x_hat"])
                    except Exception as e:  # noqa: BLE001
                        if not _is_oom(e):
                            raise
                        if dev.startswith("cuda"):
                            torch.cuda.empty_cache()
                        info["enc_dec_check"] = f"none: out of memory decoding again on the encode device ({dev})"
                        return None
            # no encoder latents and decoded on this device: a second decode would repeat the job's decode
            # bit for bit (CompressAI's eval_model does not do it either)
            info["enc_dec_check"] = f"none: the model returns no encoder-side latents and decoded on the encode device ({dev})"
            return None

        return Encoded(data, payload_bytes=sum(len(s) for g in strings for s in g), expected=check, info=info)

    def decode(self, data: bytes) -> np.ndarray:
        self._decoded_on = set()
        return self._decode(data)

    def _decode(self, data: bytes) -> np.ndarray:
        import torch

        if data[:3] == TILED_MAGIC:
            tile, h, w, tiles = unpack_tiles(data)
            layout = _tiles(h, w, tile, self.arch.min_side)
            if len(layout) != len(tiles):
                raise LicBenchError(f"tiled bitstream holds {len(tiles)} tiles, the layout of {w}x{h} needs {len(layout)}")
            out = np.zeros((h, w, 3), np.uint8)
            for (y0, y1, x0, x1), t in zip(layout, tiles):
                out[y0:y1, x0:x1] = self._decode(t)
            return out
        dev = self.p["decode_device"] or self.p["device"]
        try:
            return self._decode_full(data, dev)
        except Exception as e:  # noqa: BLE001
            if dev.startswith("cuda") and _is_oom(e):
                torch.cuda.empty_cache()
                return self._decode_full(data, "cpu")
            raise

    def _decode_full(self, data: bytes, dev: str) -> np.ndarray:
        import torch

        q, shape, strings = unpack(data)
        self.check_operating_point(q)
        model = self.model(q, dev)
        try:
            with torch.inference_mode():
                x_hat = model.decompress(strings, shape)["x_hat"]
            self._decoded_on.add(dev)  # where a decode succeeded (an out-of-memory one falls back elsewhere)
        except (RuntimeError, ValueError, IndexError) as e:
            if _is_oom(e):
                raise
            raise LicBenchError(f"decoding failed: {type(e).__name__}: {str(e)[:200]}") from None
        return self._to_u8(x_hat)
