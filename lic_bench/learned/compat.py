"""Importing compressai with a CPU-only torch.

compressai >= 1.2.5 imports ``torchvision.transforms`` (and torch_geometric) at import time only to fill
a registry of *data* transforms that lic-bench never uses. The torchvision wheels on PyPI do not import
beside a CPU torch build ("operator torchvision::nms does not exist"). So, only when torchvision cannot
be imported, lic-bench installs an explicit, empty stand-in module for the duration of the compressai
import and removes it afterwards (compressai keeps what it copied: nothing). Entropy models, layers,
the rANS coder and the model zoo classes do not depend on torchvision.
"""

from __future__ import annotations

import sys
import types

from ..errors import LicBenchError

_SHIM_USED = False


def _torchvision_importable() -> bool:
    try:
        import torchvision.transforms  # noqa: F401
    except Exception:  # ImportError, or RuntimeError from a CUDA-only torchvision
        for k in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[k]
        return False
    return True


def import_compressai():
    """Import and return compressai (see module docstring); a clear error when it is not installed."""
    global _SHIM_USED
    if "compressai" in sys.modules:
        return sys.modules["compressai"]
    installed_stub = False
    if not _torchvision_importable():
        tv = types.ModuleType("torchvision")
        tv.__path__ = []  # a package, so "import torchvision.transforms" resolves to the stub below
        tv.__lic_bench_stub__ = True
        tr = types.ModuleType("torchvision.transforms")
        tv.transforms = tr
        sys.modules["torchvision"], sys.modules["torchvision.transforms"] = tv, tr
        installed_stub = _SHIM_USED = True
    try:
        import compressai
    except ImportError as e:
        raise LicBenchError("learned codecs need compressai: pip install -e '.[learned]' && "
                            f"pip install --no-deps compressai==1.2.8 torch-geometric==2.8.1 ({e})") from None
    finally:
        if installed_stub:
            del sys.modules["torchvision.transforms"], sys.modules["torchvision"]
    return compressai


def shim_used() -> bool:
    return _SHIM_USED
