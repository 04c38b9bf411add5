"""DISTS (Ding et al. 2020) equal to the `DISTS_pytorch` package (0.1) without torchvision.

Convention (the package's): images in [0, 1] (value / 255), normalised with the ImageNet mean/std for
VGG16 whose max poolings are replaced by "L2 pooling" (a 3x3 Hann-weighted root mean square, stride 2).
The input itself and five stages' outputs are compared by their global means (structure term S1) and
variances/covariance (texture term S2), weighted by the learned alpha/beta. Score 1 - weighted sum:
lower is better, about 0 for identical images. Scored at full size: the package's `prepare_image` can
resize the short side to 256 (off by default in the 0.1 wheel, on by default in the authors' repository
demo), so published DISTS numbers may be of resized images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import LicBenchError
from . import weights
from ._backbones import LearnedMetric, VGG16, pretrained_features, tapped_outputs

IMPLEMENTATION = "lic-bench-dists-1 (= DISTS_pytorch 0.1)"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLED = {4: 64, 9: 128, 16: 256, 23: 512}  # VGG16 max-pool index -> channels entering it
TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
CHANNELS = (3, 64, 128, 256, 512, 512)  # the image itself, then the five stages
C1 = C2 = 1e-6


class L2Pooling(nn.Module):
    """sqrt of a depthwise 3x3 Hann-weighted mean of squares, stride 2, padding 1 (DISTS's anti-aliased pooling)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hann = torch.tensor([0.5, 1.0, 0.5])  # np.hanning(5) without its zero ends
        kernel = hann[:, None] * hann[None, :]
        self.register_buffer("filter", (kernel / kernel.sum())[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.conv2d(x**2, self.filter, stride=2, padding=1, groups=x.shape[1])
        return (pooled + 1e-12).sqrt()


class DISTSNetwork(nn.Module):
    """VGG16 features with L2 pooling, and alpha/beta; forward takes two Nx3xHxW tensors in [0, 1]."""

    def __init__(self, vgg_features: nn.Sequential) -> None:
        super().__init__()
        layers = [L2Pooling(POOLED[i]) if i in POOLED else layer for i, layer in enumerate(vgg_features)]
        self.features = nn.Sequential(*layers[: TAPS[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, -1, 1, 1))
        self.register_buffer("alpha", torch.zeros(1, sum(CHANNELS), 1, 1))
        self.register_buffer("beta", torch.zeros(1, sum(CHANNELS), 1, 1))

    def load_heads(self, state: dict[str, torch.Tensor]) -> None:
        """Load the package's weights.pt: {'alpha', 'beta'}, each 1x1475x1x1."""
        if set(state) != {"alpha", "beta"} or any(state[k].shape != self.alpha.shape for k in state):
            shapes = {k: tuple(v.shape) for k, v in state.items()}
            raise LicBenchError(f"DISTS weight file has keys/shapes {shapes}, expected alpha and beta of shape {tuple(self.alpha.shape)}")
        self.alpha.copy_(state["alpha"])
        self.beta.copy_(state["beta"])

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x] + tapped_outputs(self.features, (x - self.mean) / self.std, TAPS)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """DISTS per image (shape N)."""
        feats_x, feats_y = self.stage_outputs(x), self.stage_outputs(y)
        total = self.alpha.sum() + self.beta.sum()
        alphas = torch.split(self.alpha / total, CHANNELS, dim=1)
        betas = torch.split(self.beta / total, CHANNELS, dim=1)
        structure = texture = 0
        for fx, fy, alpha, beta in zip(feats_x, feats_y, alphas, betas):
            mean_x, mean_y = fx.mean([2, 3], keepdim=True), fy.mean([2, 3], keepdim=True)
            s1 = (2 * mean_x * mean_y + C1) / (mean_x**2 + mean_y**2 + C1)
            structure = structure + (alpha * s1).sum(1, keepdim=True)
            var_x = ((fx - mean_x) ** 2).mean([2, 3], keepdim=True)
            var_y = ((fy - mean_y) ** 2).mean([2, 3], keepdim=True)
            cov = (fx * fy).mean([2, 3], keepdim=True) - mean_x * mean_y
            s2 = (2 * cov + C2) / (var_x + var_y + C2)
            texture = texture + (beta * s2).sum(1, keepdim=True)
        return (1 - (structure + texture)).reshape(-1)


def build(backbone_state: dict, head_state: dict) -> DISTSNetwork:
    """A DISTS network from a torchvision-layout VGG16 state dict and the package's alpha/beta state dict."""
    network = DISTSNetwork(pretrained_features(VGG16, backbone_state))
    network.load_heads(head_state)
    return network.eval()


#: The metric for the metric table (same surface as lpips.LPIPS_ALEX).
DISTS = LearnedMetric(
    name="dists",
    label="DISTS",
    implementation=IMPLEMENTATION,
    files=(weights.VGG16, weights.DISTS_HEAD),
    build=build,
    score=lambda network, reference, distorted: network(reference, distorted)[0],
    min_side=1,
    cost="heavy",
)
