"""A codec for the gate's corrupted-decode scenario: lossless with an encoder-side expected
reconstruction; `perturb=true` makes the decoder flip one sample (a silent desync)."""
import numpy as np

from lic_bench.adapters import Codec, Encoded, Param


class Raw(Codec):
    default_operating_points = (1, 2, 4, 8)
    params = {"perturb": Param(False, "decoder flips one sample")}

    def encode(self, image, op):
        step = int(op)
        q = (image // step) * step
        h, w, _ = image.shape
        import zlib
        return Encoded(h.to_bytes(4, "big") + w.to_bytes(4, "big") + zlib.compress(q.tobytes()), expected=q)

    def decode(self, data):
        import zlib
        h, w = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        out = np.frombuffer(zlib.decompress(data[8:]), np.uint8).reshape(h, w, 3).copy()
        if self.p["perturb"]:
            out[0, 0, 0] ^= 1
        return out
