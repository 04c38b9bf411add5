"""The adapter contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from ..errors import LicBenchError, did_you_mean


@dataclass(frozen=True)
class Param:
    """A declared adapter parameter: inline values (``webp:method=0``) are parsed and checked with it."""

    default: Any
    help: str = ""
    choices: tuple | None = None
    type: type | None = None  # defaults to type(default)
    #: False for parameters that cannot change the output (paths, timeouts): kept out of the spec digest.
    identity: bool = True
    #: True for parameters that say *which* codec this is (an architecture), not how it is tuned: the
    #: gate pairs a baseline only with results of the same adapter and the same values of these.
    defines_codec: bool = False
    #: Runtime option given on the command line / environment instead of in the spec (e.g. a build
    #: folder, a device): the name of the generic run option that fills it (see commands/run.py).
    runtime: str | None = None

    def parse(self, name: str, value: Any) -> Any:
        typ = self.type or type(self.default)
        if isinstance(value, str) and typ is not str:
            try:
                value = {"true": True, "false": False}[value.lower()] if typ is bool else typ(value)
            except (ValueError, KeyError):
                raise LicBenchError(f"parameter {name}={value!r}: expected {typ.__name__}") from None
        if isinstance(value, bool) and typ in (int, float):  # YAML `true` is not a number (bool subclasses int)
            raise LicBenchError(f"parameter {name}={value!r}: expected {typ.__name__}, got a boolean")
        if self.choices is not None and value not in self.choices:
            raise LicBenchError(f"parameter {name}={value!r}: choose one of {', '.join(map(str, self.choices))}")
        return value


@dataclass(frozen=True)
class Knob:
    """A codec's monotone quality setting, as rate matching (:mod:`lic_bench.ratematch`) searches it.

    lo, hi: the searchable range of the operating point (inclusive).
    integer: only whole settings exist (quality 0..100); otherwise the setting is continuous.
    increasing: True when a higher setting gives more bits and higher quality (WebP/JPEG quality);
        False when it gives fewer (JPEG XL distance, JPEG 2000 ratio, a QP).
    resolution: the finest step worth distinguishing on a continuous knob (the search stops there).
    """

    lo: float
    hi: float
    integer: bool
    increasing: bool
    resolution: float = 1.0

    def __post_init__(self) -> None:
        if not self.lo < self.hi:
            raise ValueError(f"Knob needs lo < hi, got {self.lo}..{self.hi}")
        if not self.resolution > 0:
            raise ValueError("Knob resolution must be > 0")


@dataclass
class Encoded:
    """What an adapter's encoder returns.

    data: every byte the decoder needs (container included); bpp is computed from len(data).
    payload_bytes: entropy-coded payload only, when the codec has a notion of it (labelled diagnostic).
    expected: the reconstruction the encoder expects the decoder to produce (in the adapter's
        colour space, padded size), used to detect encoder/decoder mismatches; or a function the
        harness calls after the decode (untimed) that returns it, or None when there is nothing to compare.
    info: anything else worth recording (e.g. estimated rate, labelled as such).
    """

    data: bytes
    payload_bytes: int | None = None
    expected: "np.ndarray | Callable[[], np.ndarray | None] | None" = None
    info: dict = field(default_factory=dict)


class Codec:
    """Base class of codec adapters.

    Subclasses declare how the harness must prepare pixels (colour space, padding multiple, minimum
    padded side), their parameters and default operating points, and implement encode/decode.
    """

    #: "rgb": the adapter gets/returns 8-bit RGB. "ycbcr444": the harness converts to 8-bit YCbCr
    #: 4:4:4 with the spec's colour policy before encoding and back to RGB after decoding.
    colorspace: ClassVar[str] = "rgb"
    pad_multiple: ClassVar[int] = 1
    min_padded_side: ClassVar[int] = 1
    operating_point_name: ClassVar[str] = "quality"
    default_operating_points: ClassVar[tuple] = ()
    params: ClassVar[dict[str, Param]] = {}
    #: True when the same input always gives the same bytes (the gate compares bitstream hashes).
    deterministic: ClassVar[bool] = True
    #: The operating point as a monotone quality knob, for rate matching; None = no such knob (a learned
    #: model with one fixed λ per operating point cannot be moved to a target rate).
    quality_knob: ClassVar[Knob | None] = None

    def __init__(self, **params: Any) -> None:
        self.p = self.resolve_params(params)

    @classmethod
    def resolve_params(cls, given: dict[str, Any]) -> dict[str, Any]:
        """All declared parameters with defaults filled in; unknown names are an error."""
        out = {k: p.default for k, p in cls.params.items()}
        for k, v in given.items():
            if k not in cls.params:
                known = ", ".join(sorted(cls.params)) or "none"
                raise LicBenchError(f"codec parameter {k!r} is unknown{did_you_mean(k, cls.params)}; known: {known}")
            out[k] = cls.params[k].parse(k, v)
        return out

    def identity_params(self) -> dict[str, Any]:
        """The parameters that determine the output (those going into the spec digest)."""
        return self.identity_of(self.p)

    @classmethod
    def identity_of(cls, given: dict[str, Any]) -> dict[str, Any]:
        """identity_params() of an adapter built with `given`, without building it (read side)."""
        return {k: v for k, v in cls.resolve_params(given).items() if cls.params[k].identity}

    @classmethod
    def codec_key(cls, identity_params: dict[str, Any]) -> dict[str, Any]:
        """The values that say which codec this is (see Param.defines_codec)."""
        return {k: identity_params.get(k) for k, p in cls.params.items() if p.defines_codec}

    @classmethod
    def runtime_options(cls) -> dict[str, str]:
        """Declared runtime options: run option name -> parameter name."""
        return {p.runtime: k for k, p in cls.params.items() if p.runtime}

    @classmethod
    def static_provenance(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Facts of provenance() that can be computed without runtime options (no weights, no build
        folder), e.g. a user model's source hash: results whose recorded facts differ are stale."""
        return {}

    def check_operating_point(self, op: float) -> None:
        """Raise LicBenchError when `op` is not valid for this codec."""

    def preflight(self, operating_points: list[float]) -> None:
        """Load what the planned jobs need (weights, a user's model class) once, before any job runs:
        a problem there is one usage error up front, not one recorded failure per image."""

    def release(self) -> None:
        """Drop what preflight loaded, when the jobs run in other processes (which load their own)."""

    def versions(self) -> dict[str, str]:
        """Library/binary versions that determine the bytes produced; part of the spec digest."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """Extra facts (weights sha256, config hashes) that determine the output; part of the digest."""
        return {}

    def job_cost(self, op: float, n_pixels: int) -> float:
        """Relative cost estimate used to schedule the longest jobs first."""
        return float(n_pixels)

    def synchronize(self) -> None:
        """Wait for asynchronous device work (GPU) so the harness's timers are honest."""

    def encode(self, image: np.ndarray, op: float) -> Encoded | bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> np.ndarray:
        raise NotImplementedError
