"""Architectures × qualities → ready models: ``load_model(name, checkpoint, device)``.

Like CompressAI's zoo tables: each architecture knows its constructor, the official λ per quality
index, the padding multiple and the smallest padded side the official code can code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ..errors import LicBenchError, did_you_mean

TCM_LAMBDAS = (0.0025, 0.0035, 0.0067, 0.013, 0.025, 0.05)  # TCM paper / LIC_TCM README (MSE)
TIC_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)  # compressai ladder, TIC README
COMPRESSAI_LAMBDAS = TIC_LAMBDAS


@dataclass(frozen=True)
class Arch:
    name: str
    family: str  # tcm | tic | compressai | custom
    lambdas: tuple
    pad_multiple: int
    min_side: int
    build: Callable = field(compare=False, repr=False)  # (quality, state_dict | None) -> model

    @property
    def qualities(self) -> tuple[int, ...]:
        return tuple(range(1, len(self.lambdas) + 1))


def _tcm(N):
    def build(quality, sd):
        from .tcm import TCM

        return TCM(N=N)
    return build


def _tic(variant):
    def build(quality, sd, coder="fast"):
        from .tic import DEPTHS, TIC

        if sd is not None:
            N, M, depths = tic_config_from_keys(sd)
            if depths != DEPTHS[variant]:  # a spec name implies its layout: results must not be stored under it
                fits = {v: k for k, v in DEPTHS.items()}.get(depths)
                raise LicBenchError(f"{variant}: this checkpoint has depths {list(depths)}, not {variant}'s {list(DEPTHS[variant])}; "
                                    + (f"use --codecs {fits}" if fits else "no built-in TIC spec has this layout"))
        else:
            N, M = (128, 192) if quality <= 4 else (192, 320)
            depths = DEPTHS[variant]
        return TIC(N, M, depths, coder=coder)
    return build


def _compressai(arch):
    def build(quality, sd):
        from .compat import import_compressai

        import_compressai()
        from compressai.zoo.image import cfgs, model_architectures

        return model_architectures[arch](*cfgs[arch][quality])
    return build


ARCHS: dict[str, Arch] = {
    "tcm-small": Arch("tcm-small", "tcm", TCM_LAMBDAS, 128, 256, _tcm(64)),
    "tcm-medium": Arch("tcm-medium", "tcm", TCM_LAMBDAS, 128, 256, _tcm(96)),
    "tcm-large": Arch("tcm-large", "tcm", TCM_LAMBDAS, 128, 256, _tcm(128)),
    "tic": Arch("tic", "tic", TIC_LAMBDAS, 128, 128, _tic("tic")),
    "tic-plus": Arch("tic-plus", "tic", TIC_LAMBDAS, 128, 128, _tic("tic-plus")),
    "tic-repo": Arch("tic-repo", "tic", TIC_LAMBDAS, 128, 128, _tic("tic-repo")),
}
COMPRESSAI_ARCHS = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "cheng2020-anchor", "cheng2020-attn")

#: Keys of the mbt2018 modules that the 2022 TIC code left registered but never used (legacy checkpoint).
LEGACY_TIC_DEAD = re.compile(r"^(g_a|g_s|h_a|h_s)\.")


def get_arch(name: str, model_class: str = "") -> Arch:
    if model_class:
        return Arch(f"custom:{model_class}", "custom", COMPRESSAI_LAMBDAS, 64, 64, _custom(model_class))
    if name in ARCHS:
        return ARCHS[name]
    if name.startswith("compressai:"):
        arch = name.split(":", 1)[1]
        if arch not in COMPRESSAI_ARCHS:
            raise LicBenchError(f"unknown compressai architecture {arch!r}{did_you_mean(arch, COMPRESSAI_ARCHS)}; "
                                f"known: {', '.join(COMPRESSAI_ARCHS)}")
        return Arch(name, "compressai", COMPRESSAI_LAMBDAS, 64, 64, _compressai(arch))
    known = [*ARCHS, *(f"compressai:{a}" for a in COMPRESSAI_ARCHS)]
    raise LicBenchError(f"unknown learned architecture {name!r}{did_you_mean(name, known)}; known: {', '.join(known)}")


def _custom(ref):
    def build(quality, sd):
        from ..registry import load_object

        cls = load_object(ref)
        if sd is not None and hasattr(cls, "from_state_dict"):
            return cls.from_state_dict(sd)
        return cls()
    return build


def tic_config_from_keys(sd: dict) -> tuple[int, int, tuple[int, ...]]:
    """(N, M, depths) of a TIC state dict: channels from g_a0/g_a6, depths from blocks per RSTB."""
    try:
        N, M = sd["g_a0.weight"].shape[0], sd["g_a6.weight"].shape[0]
    except KeyError:
        raise LicBenchError("not a TIC checkpoint (no g_a0.weight / g_a6.weight)") from None
    depths = []
    for stage in ("g_a1", "g_a3", "g_a5", "h_a1", "h_a3"):
        idx = {int(m.group(1)) for k in sd for m in [re.match(rf"^{stage}\.residual_group\.blocks\.(\d+)\.", k)] if m}
        depths.append(max(idx) + 1 if idx else 0)
    return N, M, tuple(depths)


def identify(sd: dict) -> str | None:
    """Name the configuration a state dict belongs to, from its shapes."""
    if "g_a.0.conv1.weight" in sd and "atten_mean.0.0.in_conv.weight" in sd:
        N = sd["g_a.0.conv1.weight"].shape[0] // 2
        names = {64: "tcm-small", 96: "tcm-medium", 128: "tcm-large"}
        return f"{names.get(N, 'tcm')} (N={N})"
    if "g_a0.weight" in sd:
        N, M, d = tic_config_from_keys(sd)
        from .tic import DEPTHS

        variant = {v: k for k, v in DEPTHS.items()}.get(d, "tic")
        return f"{variant} (N={N}, M={M}, depths={list(d)})"
    return None


def load_model(name: str, checkpoint=None, device: str = "cpu", quality: int | None = None, random_init: bool = False,
               model_class: str = "", coder: str = "fast"):
    """A ready model (eval mode, entropy tables built) with CompressAI's forward/compress/decompress.

    checkpoint: an official-format file (see :mod:`lic_bench.learned.checkpoints`). Without one,
    random_init=True gives random weights — for complexity and timing only, never for RD results.
    """
    import torch

    from .checkpoints import load_into, read_state_dict

    arch = get_arch(name, model_class)
    q = quality or arch.qualities[-1]
    if checkpoint is None and not random_init:
        raise LicBenchError(f"{arch.name}: a checkpoint is needed (or random_init=True, for complexity/timing only)")
    sd = read_state_dict(checkpoint) if checkpoint is not None else None
    if sd is not None and arch.family == "tic":
        sd = {k: v for k, v in sd.items() if not LEGACY_TIC_DEAD.match(k)}  # 2022 layout: unused mbt2018 modules
    kwargs = {"coder": coder} if arch.family == "tic" else {}
    if random_init:
        torch.manual_seed(0)
    model = arch.build(q, sd, **kwargs)
    if sd is not None:
        load_into(model, sd, arch.name, str(checkpoint), identify)
    model.eval()
    model.update(force=sd is None)
    return model.to(device)
