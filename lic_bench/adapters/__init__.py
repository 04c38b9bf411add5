"""Codec adapters: the only code that knows a codec. They turn pixels into bytes and bytes into pixels.

Everything else — padding/cropping, colour conversion, 8-bit rounding, metrics, bpp, timing,
caching — belongs to the harness (:mod:`lic_bench.evaluate`), so every codec is measured the same way.
"""

from .base import Codec, Encoded, Param

__all__ = ["Codec", "Encoded", "Param"]
