"""Lazy registry of codec adapters: ``name -> "module:Class"``, plus the ``lic_bench.codecs`` entry points.

Nothing is imported until an adapter is actually used, so ``lic-bench list`` never imports torch.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from .errors import LicBenchError, did_you_mean

ENTRY_POINT_GROUP = "lic_bench.codecs"

BUILTIN_ADAPTERS: dict[str, str] = {
    "webp": "lic_bench.adapters.pillow:WebP",
    "jpeg": "lic_bench.adapters.pillow:JPEG",
    "jpeg2000": "lic_bench.adapters.pillow:JPEG2000",
    "avif": "lic_bench.adapters.pillow:AVIF",
    "heic": "lic_bench.adapters.heif:HEIC",
    "jxl": "lic_bench.adapters.imagecodecs_lib:JPEGXL",
    "avif-imagecodecs": "lic_bench.adapters.imagecodecs_lib:AVIFImagecodecs",
    "vtm": "lic_bench.adapters.vtm:VTM",
    "learned": "lic_bench.adapters.learned:Learned",
}


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def refresh() -> None:
    """Forget cached entry points (after installing a plugin in the same process, e.g. in tests)."""
    _entry_points.cache_clear()


def adapter_names() -> dict[str, str]:
    """All adapter names -> their "module:Class" reference; built-ins win over plugins."""
    return {**_entry_points(), **BUILTIN_ADAPTERS}


def adapter_ref(name: str) -> str:
    """"module:Class" for a registered adapter name; a spec may also name "module:Class" directly."""
    if ":" in name:
        return name
    names = adapter_names()
    if name not in names:
        raise LicBenchError(f"unknown codec adapter {name!r}{did_you_mean(name, names)}")
    return names[name]


def load_object(ref: str):
    """Import "package.module:Attr" (also used for user model classes)."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise LicBenchError(f"{ref!r} is not of the form 'package.module:Name'")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise LicBenchError(f"cannot import {module!r} for {ref!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 — a user's module that fails while importing is their error, in one line
        raise LicBenchError(f"cannot import {module!r} for {ref!r}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LicBenchError(f"{module!r} has no attribute {attr!r} (from {ref!r})") from None
    return obj


def adapter_class(name: str):
    from .adapters.base import Codec

    cls = load_object(adapter_ref(name))
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise LicBenchError(f"adapter {name!r} ({adapter_ref(name)}) is not a lic_bench.adapters.Codec subclass")
    return cls
