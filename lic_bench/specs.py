"""Codec specs: declarative YAML (``codecs/*.yaml``) naming an adapter, its parameters and operating points.

Lookup order for a name: ``./codecs/<file>.yaml`` in the working directory (overrides), then the
specs shipped in the package, then a bare adapter name (adapter defaults). Inline parameters
(``webp:method=0``) make a new spec named exactly as written; its digest differs, so its results
are new results.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import LicBenchError, did_you_mean

SPEC_KEYS = {"name", "adapter", "description", "operating_points", "params", "reference", "color"}
#: Harness-owned parameter for adapters that work in YCbCr (see :mod:`lic_bench.color`).
COLOR_PARAM = "color"
#: Harness-owned parameters of rate matching: ``webp:target=bpp[:target_rule=closest]``.
TARGET_PARAM, TARGET_RULE_PARAM = "target", "target_rule"
#: ``custom:pkg.module:Class`` names a user model class (``run --model-class pkg.module:Class``).
CUSTOM_PREFIX = "custom"


@dataclass(frozen=True)
class CodecSpec:
    name: str
    adapter: str
    operating_points: tuple[float, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    reference: str = ""
    color: str | None = None
    source: str = "adapter defaults"
    #: Rate matching (lic_bench.ratematch): {"kind": "bpp"|"psnr", "rule": ...}; the operating points
    #: are then targets, each met per image by searching the codec's quality knob.
    target: dict | None = None

    @property
    def base_name(self) -> str:
        """The name without inline parameters: ``webp:method=0`` -> ``webp`` (display only; results are
        matched by identity, see lic_bench.names)."""
        return parse_inline(self.name)[0]

    def to_dict(self) -> dict:
        return {
            "name": self.name, "adapter": self.adapter, "operating_points": list(self.operating_points),
            "params": dict(self.params), "description": self.description, "reference": self.reference,
            "color": self.color, "source": self.source, "target": self.target,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CodecSpec":
        d = dict(d)
        d["operating_points"] = tuple(d.get("operating_points", ()))
        return cls(**d)


def spec_digest(identity: dict) -> str:
    """sha256 (first 16 hex) of the canonical JSON of what determines a codec's output."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _builtin_dir():
    return resources.files("lic_bench") / "builtin" / "codecs"


def _parse_spec_file(text: str, where: str) -> CodecSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise LicBenchError(f"{where}: invalid YAML ({first}); fix the file") from None
    if not isinstance(data, dict):
        raise LicBenchError(f"{where}: a codec spec must be a mapping with at least 'name' and 'adapter'")
    unknown = set(data) - SPEC_KEYS
    if unknown:
        k = sorted(unknown)[0]
        raise LicBenchError(f"{where}: unknown key {k!r}{did_you_mean(k, SPEC_KEYS)}; allowed: {', '.join(sorted(SPEC_KEYS))}")
    for k in ("name", "adapter"):
        if not isinstance(data.get(k), str) or not data[k]:
            raise LicBenchError(f"{where}: missing or empty {k!r}")
    ops = data.get("operating_points", [])
    if not isinstance(ops, list) or not all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in ops):
        raise LicBenchError(f"{where}: 'operating_points' must be a list of numbers")
    twice = sorted({float(o) for o in ops if [float(x) for x in ops].count(float(o)) > 1})
    if twice:
        raise LicBenchError(f"{where}: 'operating_points' lists {twice[0]:g} more than once; give each operating point once")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise LicBenchError(f"{where}: 'params' must be a mapping")
    return CodecSpec(
        name=data["name"], adapter=data["adapter"], operating_points=tuple(ops), params=params,
        description=str(data.get("description", "")), reference=str(data.get("reference", "")),
        color=data.get("color"), source=where,
    )


def available_specs(cwd: Path | None = None) -> dict[str, CodecSpec]:
    """All named specs: shipped ones, overridden by ``./codecs/*.yaml``."""
    specs: dict[str, CodecSpec] = {}
    builtin = _builtin_dir()
    if builtin.is_dir():
        for entry in sorted(builtin.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".yaml", ".yml")):
                s = _parse_spec_file(entry.read_text(encoding="utf-8"), f"builtin codecs/{entry.name}")
                specs[s.name] = s
    local = (cwd or Path.cwd()) / "codecs"
    if local.is_dir():
        for p in sorted(local.glob("*.y*ml")):
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise LicBenchError(f"{p}: cannot read codec spec ({e})") from None
            s = _parse_spec_file(text, str(p))
            specs[s.name] = s
    return specs


def parse_inline(text: str) -> tuple[str, dict[str, str]]:
    """``"webp:method=0:foo=1"`` -> ``("webp", {"method": "0", "foo": "1"})``."""
    name, *parts = text.strip().split(":")
    if name == "compressai" and parts and "=" not in parts[0]:  # compressai:<arch>[:key=value]
        name = f"compressai:{parts.pop(0)}"
    elif name == CUSTOM_PREFIX and len(parts) >= 2 and "=" not in parts[0] + parts[1]:  # custom:pkg.mod:Class[:key=value]
        name = f"{CUSTOM_PREFIX}:{parts.pop(0)}:{parts.pop(0)}"
    params: dict[str, str] = {}
    for part in parts:
        k, sep, v = part.partition("=")
        if not sep or not k:
            raise LicBenchError(f"--codecs {text!r}: inline parameters are written name:key=value[:key=value]")
        params[k.strip()] = v.strip()
    return name.strip(), params


def custom_model_spec(model_class: str) -> CodecSpec:
    """The spec of a user's CompressionModel subclass (``--model-class pkg.module:Class``)."""
    return CodecSpec(name=f"{CUSTOM_PREFIX}:{model_class}", adapter="learned", params={"model_class": model_class},
                     source="--model-class")


def with_target(spec: CodecSpec, kind: str | None, rule: str | None = None) -> CodecSpec:
    """The rate-matched variant of a spec: its operating points are targets (bpp or PSNR-RGB dB) met per
    image; named ``<name>:target=<kind>`` (and ``:target_rule=<rule>`` when not the default)."""
    from .ratematch import DEFAULT_RULE, RULES, TARGET_KINDS

    kind = kind or (spec.target or {}).get("kind")
    if kind not in TARGET_KINDS:
        raise LicBenchError(f"{spec.name}: target={kind!r}: choose {' or '.join(TARGET_KINDS)} (e.g. -q bpp=0.12,0.25)")
    rule = rule or DEFAULT_RULE[kind]
    if rule not in RULES:
        raise LicBenchError(f"{spec.name}: target_rule={rule!r}: choose one of {', '.join(RULES)}")
    base = parse_inline(spec.name)[0] if spec.target is None else spec.name.split(f":{TARGET_PARAM}=")[0]
    name = f"{base}:{TARGET_PARAM}={kind}" + (f":{TARGET_RULE_PARAM}={rule}" if rule != DEFAULT_RULE[kind] else "")
    if spec.target is None and spec.name != base:  # keep inline parameters in the name
        name = spec.name + name[len(base):]
    return replace(spec, name=name, target={"kind": kind, "rule": rule})


def split_codec_list(text: str) -> list[str]:
    items = [c.strip() for c in text.split(",") if c.strip()]
    if not items:
        raise LicBenchError("--codecs: give at least one codec name (see `lic-bench list codecs`)")
    return items


def resolve_spec(text: str, cwd: Path | None = None) -> CodecSpec:
    """A spec from a name with optional inline parameters; unknown names get a did-you-mean error."""
    from .registry import adapter_names

    name, inline = parse_inline(text)
    specs = available_specs(cwd)
    if name in specs:
        spec = specs[name]
    elif name in adapter_names():
        spec = CodecSpec(name=name, adapter=name)
    elif name.startswith(f"{CUSTOM_PREFIX}:"):
        spec = custom_model_spec(name.split(":", 1)[1])
    elif name.startswith("compressai:"):
        spec = CodecSpec(name=name, adapter="learned", params={"arch": name},
                         description=f"CompressAI zoo architecture {name.split(':', 1)[1]} with your checkpoint",
                         source="compressai zoo")
    else:
        raise LicBenchError(f"unknown codec {name!r}{did_you_mean(name, [*specs, *adapter_names()])}; see `lic-bench list codecs`")
    if TARGET_PARAM in inline or TARGET_RULE_PARAM in inline:
        spec = with_target(spec, inline.pop(TARGET_PARAM, None), inline.pop(TARGET_RULE_PARAM, None))
    if inline:
        color = inline.pop(COLOR_PARAM, spec.color)
        canonical = ":".join(f"{k}={v}" for k, v in sorted(inline.items()))
        full = name + (f":{canonical}" if canonical else "") + (f":color={color}" if color != spec.color else "")
        spec = replace(spec, name=full, params={**spec.params, **inline}, color=color, source=f"{spec.source} + inline")
    return spec
