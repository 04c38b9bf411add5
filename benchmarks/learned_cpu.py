"""CPU compress/decompress times of the learned codecs on one Kodak-sized image (random weights:
timing does not depend on them), and TIC's fast serial coder against the reference loop (the official
order of operations). Prints figures; run: python benchmarks/learned_cpu.py [--image PATH] [--threads 1]."""

import argparse
import statistics
import time

import numpy as np
import torch

from lic_bench.learned.zoo import load_model


def image(path):
    if path:
        from lic_bench.imageio import load_rgb

        return load_rgb(path).pixels
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (512, 768, 3), dtype=np.uint8)


def time_codec(model, x, repeats):
    enc, dec = [], []
    with torch.inference_mode():
        for _ in range(repeats):
            t = time.perf_counter()
            out = model.compress(x)
            enc.append(time.perf_counter() - t)
            t = time.perf_counter()
            model.decompress(out["strings"], out["shape"])
            dec.append(time.perf_counter() - t)
    return statistics.median(enc), statistics.median(dec), sum(len(s) for g in out["strings"] for s in g)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--models", default="tcm-small,tcm-medium,tcm-large,tic,tic-plus")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    img = image(a.image)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255)
    print(f"image {img.shape[1]}x{img.shape[0]}, {a.threads} thread(s), torch {torch.__version__}, median of {a.repeats}")
    for name in a.models.split(","):
        m = load_model(name, random_init=True, quality=3)
        params = sum(p.numel() for p in m.parameters())
        e, d, n = time_codec(m, x, a.repeats)
        print(f"{name:12s} params {params:>11,d}  compress {e:7.2f} s  decompress {d:7.2f} s  ({n} payload bytes)")
        if name.startswith("tic"):
            m.coder = "reference"
            er, dr, nr = time_codec(m, x, a.repeats)
            print(f"{'':12s} reference loop: compress {er:7.2f} s  decompress {dr:7.2f} s  "
                  f"-> fast/reference decode speed-up {dr / d:.2f}x, same bytes: {n == nr}")


if __name__ == "__main__":
    main()
