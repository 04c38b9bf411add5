"""LPIPS v0.1 (Zhang et al. 2018) on AlexNet and VGG16, equal to the `lpips` package (0.1.4) without torchvision.

Convention (the package's): images scaled from [0, 255] to [-1, 1], shifted and scaled per channel by
the package's "ScalingLayer" constants, five backbone ReLU outputs each normalised to unit length over
channels, squared differences weighted by the learned 1x1 "linear" heads, averaged over space, summed
over layers. Lower is better; 0 for identical images. No resizing: scored at the image's own size.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..errors import LicBenchError
from . import weights
from ._backbones import AlexNet, LearnedMetric, VGG16, pretrained_features, tapped_outputs

IMPLEMENTATION = "lic-bench-lpips-1 (= lpips 0.1.4, v0.1)"

# The package's ScalingLayer: (x - shift) / scale on [-1, 1] inputs (ImageNet statistics restated for that range).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
# Feature indices whose outputs LPIPS compares (the ReLU closing each of the package's five slices) and their widths.
TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}
CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
ARCHITECTURES = {"alex": AlexNet, "vgg": VGG16}
EPS = 1e-10  # added to the feature norm, as the package does


class LPIPSNetwork(nn.Module):
    """Backbone features plus the v0.1 linear heads; forward takes two Nx3xHxW tensors in [-1, 1]."""

    def __init__(self, net: str, features: nn.Sequential) -> None:
        super().__init__()
        self.net = net
        self.features = features
        self.taps = TAPS[net]
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in CHANNELS[net])
        self.heads.requires_grad_(False)
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None])

    def load_heads(self, state: dict[str, torch.Tensor]) -> None:
        """Load the package's head file, whose keys are `lin{i}.model.1.weight` (index 0 was a dropout)."""
        expected = {f"lin{i}.model.1.weight": head.weight for i, head in enumerate(self.heads)}
        if set(state) != set(expected) or any(state[k].shape != w.shape for k, w in expected.items()):
            shapes = {k: tuple(v.shape) for k, v in state.items()}
            raise LicBenchError(f"LPIPS {self.net} head file has keys/shapes {shapes}, expected lin0..lin4 .model.1.weight of {CHANNELS[self.net]} channels")
        with torch.no_grad():
            for key, weight in expected.items():
                weight.copy_(state[key])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS per image (shape N)."""
        taps_x = tapped_outputs(self.features, (x - self.shift) / self.scale, self.taps)
        taps_y = tapped_outputs(self.features, (y - self.shift) / self.scale, self.taps)
        total = 0
        for head, fx, fy in zip(self.heads, taps_x, taps_y):
            diff = (unit_length(fx) - unit_length(fy)) ** 2
            total = total + head(diff).mean([2, 3], keepdim=True)
        return total.reshape(-1)


def unit_length(features: torch.Tensor) -> torch.Tensor:
    """Each pixel's feature vector divided by its Euclidean norm over channels."""
    return features / (torch.sqrt(torch.sum(features**2, dim=1, keepdim=True)) + EPS)


def build(net: str, backbone_state: dict, head_state: dict) -> LPIPSNetwork:
    """An LPIPS network from a torchvision-layout backbone state dict and the package's head state dict."""
    network = LPIPSNetwork(net, pretrained_features(ARCHITECTURES[net], backbone_state))
    network.load_heads(head_state)
    return network.eval()


def _score(network: LPIPSNetwork, reference: torch.Tensor, distorted: torch.Tensor) -> torch.Tensor:
    return network(reference * 2 - 1, distorted * 2 - 1)[0]  # [0, 1] -> [-1, 1], the package's normalize=True


def _metric(net: str, backbone: weights.WeightFile, head: weights.WeightFile, min_side: int, cost: str) -> LearnedMetric:
    return LearnedMetric(
        name=f"lpips-{net}",
        label=f"LPIPS ({'AlexNet' if net == 'alex' else 'VGG16'}, v0.1)",
        implementation=IMPLEMENTATION,
        files=(backbone, head),
        build=partial(build, net),
        score=_score,
        min_side=min_side,
        cost=cost,
    )


#: The metrics for the metric table: .compute(reference, distorted, device, weights_dir) -> float, .version(),
#: .check_available(weights_dir), .name, .label, .unit, .higher_is_better, .cost.
LPIPS_ALEX = _metric("alex", weights.ALEXNET, weights.LPIPS_ALEX_HEAD, min_side=31, cost="moderate")
LPIPS_VGG = _metric("vgg", weights.VGG16, weights.LPIPS_VGG_HEAD, min_side=16, cost="heavy")
