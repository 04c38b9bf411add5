"""ImageNet backbones for the learned metrics (LPIPS, DISTS), and the machinery those metrics share.

torchvision does not import beside the CPU torch this project uses, so the two backbones are defined
here with torchvision's exact layer layout: the module names (`features.N`, `classifier.N`) are the
state-dict keys of torchvision's ImageNet weight files, which therefore load with strict key checking.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import LicBenchError
from . import weights as weight_files

#: torchvision's VGG16 ("configuration D"): conv widths, "M" for a 2x2 max pooling.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class AlexNet(nn.Module):
    """torchvision's `alexnet` (the "one weird trick" variant), same modules, same state-dict keys."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class VGG16(nn.Module):
    """torchvision's `vgg16` (no batch norm), same modules, same state-dict keys."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def pretrained_features(architecture: type[nn.Module], state_dict: dict) -> nn.Sequential:
    """The frozen `features` of `architecture` holding `state_dict` (a whole torchvision file).

    The network is built on the meta device and takes the loaded tensors as they are (assign=True), so
    the large classifier is never allocated twice; strict loading refuses any missing or extra key.
    """
    with torch.device("meta"):
        network = architecture()
    try:
        network.load_state_dict(state_dict, strict=True, assign=True)
    except RuntimeError as e:
        raise LicBenchError(f"{architecture.__name__} weights do not match torchvision's layout: {_first_line(e)}") from None
    features = network.features
    features.requires_grad_(False)
    return features.eval()


def tapped_outputs(layers: nn.Sequential, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
    """Outputs of `layers` after each index in `taps` (the layers after the last tap are not run)."""
    outputs = []
    for index, layer in enumerate(layers):
        if index > taps[-1]:
            break
        x = layer(x)
        if index in taps:
            outputs.append(x)
    return outputs


def image_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """An 8-bit HxWx3 RGB array as a 1x3xHxW float32 tensor in [0, 1] (value / 255)."""
    return torch.tensor(image, device=device).permute(2, 0, 1)[None].float() / 255.0  # a copy: inputs may be read-only


def check_pair(reference: np.ndarray, distorted: np.ndarray, min_side: int, label: str) -> None:
    """Refuse inputs the networks cannot score, in one line."""
    for name, image in (("reference", reference), ("distorted", distorted)):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise LicBenchError(f"{label}: the {name} image must be an 8-bit RGB array of shape HxWx3, got {got}")
    if reference.shape != distorted.shape:
        raise LicBenchError(f"{label}: reference {reference.shape[:2]} and distorted {distorted.shape[:2]} differ in size")
    if min(reference.shape[:2]) < min_side:
        raise LicBenchError(f"{label}: images must be at least {min_side}x{min_side} pixels, got {reference.shape[1]}x{reference.shape[0]}")


@dataclass(frozen=True)
class LearnedMetric:
    """One learned metric as the metric table sees it: identity, direction, cost, and how to compute it.

    `build(*states)` makes the torch module from the verified, loaded weight files' state dicts, in `files` order;
    `score(module, reference, distorted)` takes two 1x3xHxW tensors in [0, 1] and returns a 0-d tensor.
    """

    name: str
    label: str
    implementation: str
    files: tuple[weight_files.WeightFile, ...]
    build: Callable[..., nn.Module]
    score: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    min_side: int
    cost: str
    unit: str = ""
    higher_is_better: bool = False
    _models: dict = field(default_factory=dict, init=False, compare=False, repr=False)  # device -> module
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, compare=False, repr=False)

    def version(self) -> str:
        """Implementation version and the sha256 prefix of every weight file; only these files are accepted."""
        return ";".join([self.implementation] + [f"{f.name}:{f.sha256_prefix}" for f in self.files])

    def check_available(self, weights_dir: str | Path | None = None) -> None:
        """Raise LicBenchError (one line: which file, its URL, where to put it) unless all weights are found."""
        weight_files.locate_all(self.files, weights_dir)

    def model(self, device: str | torch.device = "cpu", weights_dir: str | Path | None = None) -> nn.Module:
        """The loaded module on `device`, built once per (metric, device) in this process."""
        device = torch.device(device)
        with self._lock:
            module = self._models.get(str(device))
            if module is None:
                paths = weight_files.locate_all(self.files, weights_dir)
                module = self.build(*(weight_files.load_verified(f, paths[f]) for f in self.files))
                module = module.to(device).eval()
                self._models[str(device)] = module
        return module

    def compute(self, reference: np.ndarray, distorted: np.ndarray, device: str | torch.device = "cpu",
                weights_dir: str | Path | None = None) -> float:
        """The metric of two 8-bit HxWx3 RGB images (lower is better; 0 for identical images)."""
        check_pair(reference, distorted, self.min_side, self.label)
        module = self.model(device, weights_dir)
        device = next(module.buffers()).device
        with torch.inference_mode():
            return float(self.score(module, image_tensor(reference, device), image_tensor(distorted, device)))


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] + ("…" if len(text) > 300 else "")
