"""Test codecs for the data-model tests: a quantiser whose output depends only on `step` and `arch`,
with options that do not change it (threads), a runtime `checkpoint` whose content is provenance
(like learned weights), and a file that can be broken to make a failed attempt."""
import hashlib
import zlib
from pathlib import Path

import numpy as np

from lic_bench.adapters import Codec, Encoded, Param


class Quant(Codec):
    default_operating_points = (4, 16)
    params = {
        "arch": Param("a", "which quantiser (defines the codec)", defines_codec=True),
        "threads": Param(1, "does not change the output", identity=False),
        "checkpoint": Param("", "a table file; its bytes are provenance", identity=False, runtime="checkpoint"),
    }

    def provenance(self):
        path = self.p["checkpoint"]
        return {"table_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()} if path else {}

    def encode(self, image, op):
        if self.p["checkpoint"] and Path(self.p["checkpoint"]).read_bytes() == b"broken":
            raise RuntimeError("truncated table file")
        step = int(op) * (2 if self.p["arch"] == "b" else 1)
        q = (image // step) * step
        h, w, _ = image.shape
        return Encoded(h.to_bytes(4, "big") + w.to_bytes(4, "big") + zlib.compress(q.tobytes()), expected=q)

    def decode(self, data):
        h, w = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        return np.frombuffer(zlib.decompress(data[8:]), np.uint8).reshape(h, w, 3).copy()
