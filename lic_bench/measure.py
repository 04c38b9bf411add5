"""Computing the metric table's pixel metrics (SSIMULACRA 2, Butteraugli, FLIP, LPIPS, DISTS):
from an original and a reconstruction, with the tool or model each entry names (Metric.computed_by).

Each value is stored with the identity of what computed it (version of the implementation, of the
tool binary, of the weights), and that identity is part of its key: a value of another version is
never mixed with the current one. Options (a device, a weights folder, a binary) are passed to the
implementations that accept them.
"""

from __future__ import annotations

import importlib
import inspect
from functools import lru_cache

import numpy as np

from .errors import LicBenchError, OptionError, did_you_mean
from .record import BUILTIN_METRICS, METRICS, QUALITY_METRICS, Metric

#: Short names a user may give for the always-measured metrics (they select nothing extra).
BUILTIN_ALIASES = {"psnr": "psnr-rgb", "ms-ssim": "ms-ssim", "msssim": "ms-ssim"}
#: A tool's name for all the values one run of it gives.
GROUPS = {"butteraugli": ("butteraugli-max", "butteraugli-pnorm3"), "lpips": ("lpips-alex",)}


def implementation(metric: Metric):
    """The object computing `metric` (a module or an object with compute/version/check_available)."""
    module, _, attr = metric.computed_by.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def _call(fn, *args, **options):
    """Call with the options the implementation accepts (device, weights_dir, binary, …)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return fn(*args, **options)
    return fn(*args, **{k: v for k, v in options.items() if k in params and v is not None})


def parse_metrics(text) -> list[str]:
    """Names of the pixel metrics to compute from a `--metrics` list; the built-in ones (psnr, ms-ssim,
    …) are always measured and select nothing extra. Unknown names: one line with the choices."""
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else (text or [])) if m.strip()]
    names = [g for n in names for g in GROUPS.get(n, (n,))]
    out = []
    for n in names:
        if n in BUILTIN_ALIASES or n in BUILTIN_METRICS:
            continue
        if n not in METRICS:
            choices = [*BUILTIN_ALIASES, *GROUPS, *[m for m in QUALITY_METRICS if METRICS[m].computed_by]]
            raise OptionError(f"--metrics {n!r}{did_you_mean(n, choices)}: choose from {', '.join(choices)}")
        out.append(n)
    return list(dict.fromkeys(out))


def check_available(names: list[str], **options) -> None:
    """One line, before any job, when a chosen metric cannot run here (no binary, no weights, no package)."""
    for n in names:
        _call(implementation(METRICS[n]).check_available, **options)


@lru_cache(maxsize=None)
def _identity(name: str, frozen_options: tuple) -> str:
    impl = implementation(METRICS[name])
    return f"{name}/{_call(impl.version, **dict(frozen_options))}"


def identity(name: str, **options) -> str:
    """What computed a value: the metric and its implementation's version (tool, weights)."""
    return _identity(name, tuple(sorted((k, str(v)) for k, v in options.items() if v is not None)))


def current_identity(name: str, **options) -> str | None:
    """identity() when it can be determined here (the tool or weights are present), else None."""
    try:
        return identity(name, **options)
    except (LicBenchError, OSError, ImportError):
        return None


def compute(names: list[str], original: np.ndarray, reconstruction: np.ndarray, **options) -> tuple[dict, dict]:
    """(values, identities) of the named pixel metrics for one image pair. A multi-valued tool
    (Butteraugli: max and 3-norm) runs once for all its names."""
    values, ids, done = {}, {}, {}
    for n in names:
        m = METRICS[n]
        if m.computed_by not in done:
            done[m.computed_by] = _call(implementation(m).compute, original, reconstruction, **options)
        out = done[m.computed_by]
        values[n] = float(out[n] if isinstance(out, dict) else out)
        ids[n] = identity(n, **options)
    return values, ids


def choose(rows: list[tuple[str, str, float]], **options) -> tuple[dict, dict]:
    """Values of one record from stored (metric, identity, value) rows: one identity per metric — the
    only one stored, or the current one when several versions were stored."""
    by_metric: dict[str, dict[str, float]] = {}
    for name, ident, value in rows:
        by_metric.setdefault(name, {})[ident] = value
    values, ids = {}, {}
    for name, versions in by_metric.items():
        if len(versions) == 1:
            (ident, value), = versions.items()
        else:
            ident = current_identity(name, **options)
            if ident not in versions:
                continue  # several versions and none is the current one: not mixed
            value = versions[ident]
        values[name], ids[name] = value, ident
    return values, ids
