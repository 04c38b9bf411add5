"""Seconds per 768x512 image pair for LPIPS (AlexNet, VGG16) and DISTS, with model loading timed apart.

python benchmarks/perceptual_learned_speed.py [--device cuda] [--threads 1] [--repeats 3] [--weights-dir DIR]
With the official weights found (DIR, $LIC_BENCH_PERCEPTUAL_WEIGHTS or torch's hub cache) it times the real
metrics; otherwise the same networks with random weights (the cost does not depend on the values).
"""

import argparse
import statistics
import time

import numpy as np
import torch

from lic_bench.errors import LicBenchError
from lic_bench.perceptual import _backbones, dists, lpips


def random_network(metric):
    """The metric's network with seeded random weights, for timing without the weight files."""
    torch.manual_seed(0)
    if metric is dists.DISTS:
        return dists.build(_backbones.VGG16().state_dict(), {k: torch.rand(1, 1475, 1, 1) for k in ("alpha", "beta")})
    net = "alex" if metric is lpips.LPIPS_ALEX else "vgg"
    backbone = (_backbones.AlexNet if net == "alex" else _backbones.VGG16)().state_dict()
    return lpips.build(net, backbone, {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(lpips.CHANNELS[net])})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--weights-dir", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (512, 768, 3), dtype=np.uint8)
    distorted = np.clip(reference + rng.normal(0, 6, reference.shape), 0, 255).astype(np.uint8)
    print(f"device {a.device}, {a.threads} thread(s), 768x512, median of {a.repeats}")
    for metric in (lpips.LPIPS_ALEX, lpips.LPIPS_VGG, dists.DISTS):
        start = time.perf_counter()
        try:
            metric.model(a.device, a.weights_dir)
            run, weights = (lambda: metric.compute(reference, distorted, a.device)), "official weights"
        except LicBenchError:
            network = random_network(metric).to(a.device)
            pair = [_backbones.image_tensor(x, torch.device(a.device)) for x in (reference, distorted)]
            run, weights = (lambda: float(metric.score(network, *pair))), "random weights"
        load = time.perf_counter() - start
        with torch.inference_mode():
            run()  # warm-up
            times = []
            for _ in range(a.repeats):
                start = time.perf_counter()
                run()  # float() of the score waits for the device
                times.append(time.perf_counter() - start)
        print(f"{metric.name:11s} {statistics.median(times):8.3f} s/pair   load {load:6.2f} s   ({weights})")

if __name__ == "__main__":
    main()
