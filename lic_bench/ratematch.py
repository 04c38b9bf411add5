"""Rate matching: the setting of a codec's monotone quality knob that reaches a target bpp (or PSNR) on one image.

Papers compare codecs at equal rate per image (JPEG AI's test conditions fix target rates and match
every codec to them; CompressAI's ``find_close`` does the same per image). A codec with a monotone
knob (:class:`~lic_bench.adapters.base.Knob`) is searched per image:

* :func:`search` is pure: it gets ``measure(setting) -> value`` (the real bpp of the real bytes, or the
  PSNR of the decoded image) and brackets the target, stepping by safeguarded interpolation (log-value
  against the setting, or log-setting for continuous knobs with a positive range; a bisection step
  whenever the last step did not halve the bracket). Integer knobs are searched until the bracket is
  two neighbouring settings, so the answer is exact for a monotone codec; continuous knobs until the
  chosen point is within the tolerance or the bracket is narrower than the knob's resolution.
* The answer is chosen among the settings actually encoded, by a rule:
  ``not-above`` (default for bpp): the highest value not above the target — a matched codec is never
  credited with more bits than the target allows;
  ``not-below`` (default for PSNR): the lowest value not below the target;
  ``closest``: the smallest |value − target| (ties: the lower value).
  Whether JPEG AI's CTC words its rule exactly so was not checked against the document itself; the
  rule is a parameter and is recorded with every match.
* :func:`match_operating_point` runs the search on a codec adapter and an 8-bit RGB image, under the
  harness's pixel conventions (pad, colour conversion for YCbCr adapters, decode from the bytes alone,
  crop), with bpp over the original H×W.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from . import color, metrics
from .adapters.base import Codec, Encoded, Knob
from .errors import LicBenchError

RULES = ("not-above", "closest", "not-below")
TARGET_KINDS = ("bpp", "psnr")
DEFAULT_RULE = {"bpp": "not-above", "psnr": "not-below"}
#: bpp: a fraction of the target; PSNR: dB.
DEFAULT_RELATIVE_BPP_TOLERANCE = 0.05
DEFAULT_PSNR_TOLERANCE_DB = 0.1
DEFAULT_MAX_ENCODES = 32


@dataclass(frozen=True)
class Match:
    """The outcome of one search.

    setting: the chosen operating point; reached: its measured value (bpp or dB).
    feasible: False when no setting in the knob's range satisfies the rule (the target is out of reach:
        e.g. even the lowest quality is above a bpp target); `setting` is then the nearest end.
    within_tolerance: feasible and |reached − target| <= tolerance.
    trail: every (setting, value) encoded, in order; n_encodes == len(trail).
    """

    target: float
    rule: str
    tolerance: float
    setting: float
    reached: float
    n_encodes: int
    within_tolerance: bool
    feasible: bool
    trail: tuple[tuple[float, float], ...]
    kind: str = ""


def search(measure: Callable[[float], float], knob: Knob, target: float, rule: str = "not-above",
           tolerance: float = 0.0, max_encodes: int = DEFAULT_MAX_ENCODES) -> Match:
    """Find the knob setting whose measured value meets `target` under `rule` (see the module docstring).

    `measure` must be non-decreasing in quality (bpp and PSNR both are, for a sane codec); a codec that
    is not still gets the best point seen under the rule, never a point the rule forbids.
    """
    if rule not in RULES:
        raise LicBenchError(f"rate-matching rule {rule!r} is unknown; choose one of {', '.join(RULES)}")
    if not math.isfinite(target):
        raise LicBenchError(f"rate-matching target must be a finite number, got {target}")
    if max_encodes < 2:
        raise ValueError("max_encodes must be >= 2")
    seen: dict[float, float] = {}
    trail: list[tuple[float, float]] = []

    def f(setting: float) -> float:
        setting = float(setting)
        if setting not in seen:
            seen[setting] = float(measure(setting))
            trail.append((setting, seen[setting]))
        return seen[setting]

    # below(v): v is on the low side of the target for this rule (ties count as meeting it)
    def below(v: float) -> bool:
        return v < target if rule == "not-below" else v <= target

    worst, best = (knob.lo, knob.hi) if knob.increasing else (knob.hi, knob.lo)
    a, b = worst, best  # invariant once bracketed: below(f(a)) and not below(f(b))
    if not below(f(a)) or below(f(b)):
        return _choose(trail, target, rule, tolerance, knob)
    log_setting = not knob.integer and knob.lo > 0
    last_width = None
    while len(trail) < max_encodes:
        fa, fb = seen[float(a)], seen[float(b)]
        if (fa if rule != "not-below" else fb) == target:  # exactly on target: nothing can beat it
            break
        if knob.integer:
            if abs(b - a) <= 1:
                break
        else:
            if abs(b - a) <= knob.resolution or _good_enough(trail, target, rule, tolerance):
                break
        ua, ub = (math.log(a), math.log(b)) if log_setting else (a, b)
        width = abs(ub - ua)
        x = None
        if last_width is None or width <= 0.5 * last_width:  # the last step halved the bracket: interpolate
            x = _interpolate(ua, ub, fa, fb, target)
        if x is None:
            x = 0.5 * (ua + ub)
        last_width = width
        x = math.exp(x) if log_setting else x
        if knob.integer:
            lo_i, hi_i = sorted((a, b))
            x = min(max(round(x), lo_i + 1), hi_i - 1)
        else:
            lo_c, hi_c = sorted((a, b))
            x = min(max(x, lo_c), hi_c)
            if x in (a, b):
                x = math.exp(0.5 * (ua + ub)) if log_setting else 0.5 * (a + b)
        if below(f(x)):
            a = x
        else:
            b = x
    return _choose(trail, target, rule, tolerance, knob)


def _interpolate(ua: float, ub: float, fa: float, fb: float, target: float) -> float | None:
    """Where the target falls between two bracket points, in log-value when all values are positive."""
    values = (fa, fb, target)
    if not all(math.isfinite(v) for v in values):
        return None
    if all(v > 0 for v in values):
        fa, fb, target = (math.log(v) for v in values)
    if fb == fa:
        return None
    return ua + (ub - ua) * (target - fa) / (fb - fa)


def _satisfies(value: float, target: float, rule: str) -> bool:
    return rule == "closest" or (value <= target if rule == "not-above" else value >= target)


def _good_enough(trail, target, rule, tolerance) -> bool:
    return any(_satisfies(v, target, rule) and abs(v - target) <= tolerance for _, v in trail)


def _choose(trail, target: float, rule: str, tolerance: float, knob: Knob) -> Match:
    def key(point):  # nearest to the target; ties: the lower value, then the lower quality
        setting, value = point
        return abs(value - target), value, setting if knob.increasing else -setting

    allowed = [p for p in trail if _satisfies(p[1], target, rule)]
    feasible = bool(allowed)
    setting, value = min(allowed or trail, key=key)
    return Match(target=target, rule=rule, tolerance=tolerance, setting=setting, reached=value,
                 n_encodes=len(trail), within_tolerance=feasible and abs(value - target) <= tolerance,
                 feasible=feasible, trail=tuple(trail))


def default_tolerance(kind: str, target: float) -> float:
    """5 % of a bpp target; 0.1 dB for a PSNR target."""
    return DEFAULT_RELATIVE_BPP_TOLERANCE * target if kind == "bpp" else DEFAULT_PSNR_TOLERANCE_DB


def match_operating_point(codec: Codec, image_u8: np.ndarray, target_kind: str, target_value: float,
                          rule: str | None = None, tolerance: float | None = None,
                          color_policy: str | None = None, max_encodes: int = DEFAULT_MAX_ENCODES) -> Match:
    """Search `codec`'s quality knob for `target_value` bpp (whole file over the original H×W) or dB
    PSNR-RGB on `image_u8` (H×W×3 uint8). A bpp search never decodes; a PSNR search decodes each try.

    Returns the :class:`Match`; the runner then evaluates the codec at ``match.setting`` as a normal job
    (the adapters are deterministic, so it reproduces the bytes measured here).
    """
    if target_kind not in TARGET_KINDS:
        raise LicBenchError(f"rate-matching target {target_kind!r} is unknown; choose one of {', '.join(TARGET_KINDS)}")
    knob = type(codec).quality_knob
    if knob is None:
        raise LicBenchError(
            f"codec adapter {type(codec).__name__} has no monotone quality knob, so it cannot be matched to a "
            f"target {target_kind} (a learned model's fixed-λ checkpoints are its operating points); drop it from -q {target_kind}=…")
    if not (target_value > 0 and math.isfinite(target_value)):
        raise LicBenchError(f"target {target_kind}={target_value}: give a positive number")
    image_u8 = np.asarray(image_u8)
    if image_u8.dtype != np.uint8 or image_u8.ndim != 3 or image_u8.shape[2] != 3:
        raise LicBenchError(f"rate matching needs an 8-bit RGB H×W×3 image, got {image_u8.dtype} {image_u8.shape}")
    from .evaluate import reconstruct
    from .imageio import pad

    h, w = image_u8.shape[:2]
    padded = pad(image_u8, codec.pad_multiple)
    if min(padded.shape[:2]) < codec.min_padded_side:
        raise LicBenchError(f"image {w}x{h} is below this codec's minimum side {codec.min_padded_side}; it cannot be coded")
    policy = color_policy or color.DEFAULT_POLICY
    if codec.colorspace == "ycbcr444":
        codec_input = color.rgb_to_ycbcr_u8(padded, policy)
    elif codec.colorspace == "rgb":
        codec_input = padded
    else:
        raise LicBenchError(f"adapter declares unknown colorspace {codec.colorspace!r}")

    def measure(setting: float) -> float:
        codec.check_operating_point(setting)
        out = codec.encode(codec_input, setting)
        data = bytes(out.data if isinstance(out, Encoded) else out)
        if target_kind == "bpp":
            return metrics.bpp(len(data), h, w)
        rgb = reconstruct(codec, data, h, w, policy)
        return metrics.psnr_rgb(metrics.sse_per_channel(image_u8, rgb), h * w)

    rule = rule or DEFAULT_RULE[target_kind]
    tol = default_tolerance(target_kind, target_value) if tolerance is None else float(tolerance)
    return replace(search(measure, knob, float(target_value), rule, tol, max_encodes), kind=target_kind)
