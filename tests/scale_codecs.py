"""Misbehaving codecs for the fault-tolerance tests (selected by image width)."""
import os
import time

import numpy as np

from lic_bench.adapters import Codec


class Raw(Codec):
    default_operating_points = (1,)
    KILL_WIDTH = 171   # b.png in the small dataset
    HANG_WIDTH = 240   # c.png

    def encode(self, image, op):
        w = image.shape[1]
        if w == self.KILL_WIDTH and os.environ.get("SCALE_KILL"):
            os._exit(3)  # the worker process dies
        if w == self.HANG_WIDTH and os.environ.get("SCALE_HANG"):
            time.sleep(120)
        return image.shape[0].to_bytes(2, "big") + w.to_bytes(2, "big") + image.tobytes()

    def decode(self, data):
        h, w = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
        return np.frombuffer(data[4:], np.uint8).reshape(h, w, 3)


def slow_start(threads):
    """A pool initializer standing in for a slow worker start-up (imports, a cold disk)."""
    time.sleep(4)


def square(x):
    return x * x
