"""NVIDIA FLIP (LDR) through the `flip-evaluator` package: the mean of its error map. Lower is better.

FLIP's default viewing conditions are used and recorded here: a 0.7 m wide, 3840-pixel monitor seen from
0.7 m, i.e. 3840 * pi / 180 = 67.02 pixels per degree. The package's version is part of the identity.
"""

from __future__ import annotations

import math

import numpy as np

from lic_bench.errors import LicBenchError

NAME = "flip"
LABEL = "FLIP (LDR, mean)"
UNIT = ""
HIGHER_IS_BETTER = False
COST = "moderate"
PACKAGE = "flip-evaluator"

MONITOR_DISTANCE_M = 0.7
MONITOR_WIDTH_PX = 3840
MONITOR_WIDTH_M = 0.7
PIXELS_PER_DEGREE = MONITOR_DISTANCE_M * (MONITOR_WIDTH_PX / MONITOR_WIDTH_M) * math.pi / 180.0

_INSTALL = f"pip install {PACKAGE}"


def _module():
    try:
        import flip_evaluator
    except ImportError:
        raise LicBenchError(f"metric flip needs the Python package {PACKAGE} ({_INSTALL})") from None
    return flip_evaluator


def check_available() -> None:
    """Raise LicBenchError (one line) when flip-evaluator cannot be imported."""
    _module()


def version() -> str:
    """'flip-evaluator <version>' from the installed package's metadata."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    check_available()
    try:
        return f"{PACKAGE} {package_version(PACKAGE)}"
    except PackageNotFoundError:
        raise LicBenchError(f"metric flip: {PACKAGE} imports but has no package metadata; reinstall it ({_INSTALL})") from None


def compute(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Mean LDR FLIP error of `distorted` against `reference` (uint8 HxWx3 sRGB)."""
    flip_evaluator = _module()
    if reference.shape != distorted.shape:
        raise LicBenchError(f"flip: image sizes differ ({reference.shape} vs {distorted.shape}); score images of the same size")
    ref = np.ascontiguousarray(reference, dtype=np.float32) / np.float32(255.0)
    dist = np.ascontiguousarray(distorted, dtype=np.float32) / np.float32(255.0)
    _, mean, used = flip_evaluator.evaluate(ref, dist, "LDR", inputsRGB=True, applyMagma=False, computeMeanError=True,
                                            parameters={})
    # The package's own defaults are what the reference scores used; refuse if a release changes them.
    if not math.isclose(float(used.get("ppd", 0.0)), PIXELS_PER_DEGREE, rel_tol=1e-6):
        raise LicBenchError(f"flip: {PACKAGE} now defaults to {used.get('ppd')} pixels per degree, not "
                            f"{PIXELS_PER_DEGREE:.4f}; lic-bench's FLIP identity needs updating for this release")
    return float(mean)
