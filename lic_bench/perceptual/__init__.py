"""Perceptual metrics checked against their reference tools: SSIMULACRA 2 (own numpy implementation of
libjxl 0.11.2's tool), Butteraugli (the user's libjxl butteraugli_main) and FLIP (flip-evaluator).

Each metric module offers the same surface, for the metric table: NAME (or NAMES when one run yields
several values), LABEL, UNIT, HIGHER_IS_BETTER, COST ('cheap' | 'moderate' | 'expensive'),
compute(reference, distorted, **options), version(**options) -> identity string, and
check_available(**options), which raises a one-line LicBenchError when the metric cannot run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lic_bench.errors import LicBenchError, did_you_mean
from lic_bench.perceptual import butteraugli, flip, ssimulacra2

MODULES = {"ssimulacra2": ssimulacra2, "butteraugli": butteraugli, "flip": flip}
# Names a caller may score: each module's name, plus each single value of a multi-valued metric.
SCORE_NAMES = sorted({*MODULES, *butteraugli.NAMES})


def as_rgb(image, role: str) -> np.ndarray:
    """An image to score: a path (read as 8-bit RGB by lic_bench.imageio) or a uint8 HxWx3 RGB array."""
    if isinstance(image, (str, os.PathLike)):
        from lic_bench.imageio import load_rgb

        return load_rgb(Path(image)).pixels
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise LicBenchError(f"score: the {role} image must be a path or a uint8 HxWx3 RGB array, got {array.dtype} {array.shape}")
    return array


def score(metric: str, reference, distorted, **options) -> float | dict[str, float]:
    """Score one pair with `metric` ('ssimulacra2', 'flip', 'butteraugli' -> dict of both values, or
    'butteraugli-max' / 'butteraugli-pnorm3' -> float). Images: paths (loaded with lic_bench.imageio) or
    uint8 HxWx3 RGB arrays. `options` go to the metric (e.g. binary=, timeout= for butteraugli)."""
    module_name = "butteraugli" if metric in butteraugli.NAMES else metric
    module = MODULES.get(module_name)
    if module is None:
        raise LicBenchError(f"unknown perceptual metric {metric!r}{did_you_mean(metric, SCORE_NAMES)}; "
                            f"choose from {', '.join(SCORE_NAMES)}")
    module.check_available(**options)
    ref = as_rgb(reference, "reference")
    dist = as_rgb(distorted, "distorted")
    if ref.shape != dist.shape:
        raise LicBenchError(f"score: reference is {ref.shape[1]}x{ref.shape[0]} but distorted is "
                            f"{dist.shape[1]}x{dist.shape[0]}; score images of the same size")
    result = module.compute(ref, dist, **options)
    return result[metric] if isinstance(result, dict) and metric in result else result
