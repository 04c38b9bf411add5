"""lic-bench against CompressAI's own evaluation on identical work (prints wall/CPU ratios and differences).

Pillow WebP at q 5,25,50: `lic-bench run` (cold store each round) against
`python -m compressai.utils.bench webp DIR -q 5,25,50`. With --learned, also a CompressAI zoo model with a
random-initialised checkpoint (saved here with torch.save of its state dict, entropy tables updated):
`lic-bench run --codecs compressai:ARCH --checkpoint CKPT -q Q` against
`python -m compressai.utils.eval_model checkpoint DIR -a ARCH -p CKPT`. The two tools alternate, each
round in fresh processes with one thread (lic-bench with an empty store and cache); wall and CPU (children's user+sys) times are medians. The
numbers compared are the per-quality means over the images of bpp, PSNR-RGB and MS-SSIM.

With --device cuda the learned model runs on the GPU in both tools (lic-bench `--device cuda`, which
also runs MS-SSIM there; eval_model `--cuda`), and --learned-only skips WebP.

python benchmarks/vs_compressai.py [--rounds 3] [--images 24] [--learned] [--learned-only] [--device cuda] [--kodak DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
METRICS = ("bpp", "psnr-rgb", "ms-ssim-rgb")


#: CompressAI's own CLI modules, run after lic-bench's import shim: compressai imports torchvision at import
#: time only for data transforms, and the PyPI torchvision does not load beside a CPU torch. eval_model uses
#: one transform, ToTensor; when torchvision is missing it gets a stand-in with torchvision's arithmetic for
#: 8-bit RGB (HWC uint8 -> CHW float32 / 255).
COMPRESSAI_CLI = """
import runpy, sys, types
import numpy as np, torch
from lic_bench.learned.compat import import_compressai
import_compressai()
try:
    import torchvision.transforms
except Exception:
    class ToTensor:
        def __call__(self, img):
            return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).contiguous().float().div(255)
    tv, tr = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")
    tv.__path__, tr.ToTensor, tv.transforms = [], ToTensor, tr
    sys.modules["torchvision"], sys.modules["torchvision.transforms"] = tv, tr
sys.argv[0] = {module!r}
runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
"""


def compressai_cli(module: str, *args: str) -> list[str]:
    return [sys.executable, "-c", COMPRESSAI_CLI.format(module=module), *args]


def default_kodak() -> Path | None:
    for p in (REPO.parent / "shared" / "datasets" / "kodak", Path("/work/shared/datasets/kodak")):
        if (p / "kodim01.png").is_file():
            return p
    return None


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stdout); exits with the tool's stderr if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), p.stdout


def lic_bench_numbers(store: Path, codec: str, dataset: Path, env: dict, workdir: Path) -> dict:
    """Per-quality means from `lic-bench results --format compressai` (outside the timed region)."""
    out = workdir / "export"
    shutil.rmtree(out, ignore_errors=True)
    timed([sys.executable, "-m", "lic_bench", "results", "--store", str(store), "--dataset", dataset.name, "--codecs", codec,
           "--format", "compressai", "-o", str(out)], env)
    files = sorted(out.glob("*.json"))
    if not files:
        sys.exit(f"lic-bench results wrote nothing to {out}")
    return json.loads(files[0].read_text())["results"]


def lic_bench_payload_numbers(store: Path, codec: str, dataset: Path, env: dict, workdir: Path) -> dict:
    """As lic_bench_numbers, with bpp from the entropy-coded payload only (eval_model's convention: no
    container header), from the per-image records."""
    results = lic_bench_numbers(store, codec, dataset, env, workdir)
    _, _, out = timed([sys.executable, "-m", "lic_bench", "results", "--store", str(store), "--dataset", dataset.name,
                       "--codecs", codec, "--per-image", "--format", "json"], env)
    rows = json.loads(out)
    by_op: dict[float, list[float]] = {}
    for r in rows:
        by_op.setdefault(r["op"], []).append(8.0 * r["payload_bytes"] / (r["height"] * r["width"]))
    payload = {op: sum(v) / len(v) for op, v in by_op.items()}
    # same order as the aggregated curve (increasing total bpp = increasing op for one model)
    results["bpp"] = [payload[op] for op in sorted(payload)] if len(payload) == len(results["bpp"]) else results["bpp"]
    return results


def compressai_numbers(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{"):])["results"]


def largest_differences(ours: dict, theirs: dict) -> dict[str, float]:
    """Largest |difference| per metric, points matched in order of rate."""
    order = lambda r: sorted(range(len(r["bpp"])), key=lambda i: r["bpp"][i])  # noqa: E731
    a, b = order(ours), order(theirs)
    if len(a) != len(b):
        sys.exit(f"different numbers of points: lic-bench {len(a)}, CompressAI {len(b)}")
    return {m: max(abs(ours[m][i] - theirs[m][j]) for i, j in zip(a, b)) for m in METRICS if m in ours and m in theirs}


def compare(label: str, ours_cmd, theirs_cmd, ours_numbers, rounds: int, env: dict, workdir: Path) -> None:
    walls: dict[str, list] = {"lic-bench": [], "CompressAI": []}
    cpus: dict[str, list] = {"lic-bench": [], "CompressAI": []}
    diffs: dict[str, float] = {}
    for r in range(rounds):
        order = ("lic-bench", "CompressAI") if r % 2 == 0 else ("CompressAI", "lic-bench")
        for tool in order:
            if tool == "lic-bench":
                store = workdir / f"store-{label.split()[0].replace(':', '-')}-{r}.sqlite"  # cold store and cache
                wall, cpu, _ = timed(ours_cmd(store), dict(env, LIC_BENCH_CACHE=str(store.with_suffix(".cache"))))
                ours = ours_numbers(store)
            else:
                wall, cpu, out = timed(theirs_cmd, env)
                theirs = compressai_numbers(out)
            walls[tool].append(wall)
            cpus[tool].append(cpu)
        for m, d in largest_differences(ours, theirs).items():
            diffs[m] = max(diffs.get(m, 0.0), d)
        print(f"  round {r + 1}: lic-bench {walls['lic-bench'][-1]:6.1f} s wall {cpus['lic-bench'][-1]:6.1f} s CPU | "
              f"CompressAI {walls['CompressAI'][-1]:6.1f} s wall {cpus['CompressAI'][-1]:6.1f} s CPU", flush=True)
    med = {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in walls}
    print(f"{label}: median wall lic-bench {med['lic-bench'][0]:.1f} s / CompressAI {med['CompressAI'][0]:.1f} s "
          f"= {med['lic-bench'][0] / med['CompressAI'][0]:.2f}x; CPU {med['lic-bench'][1]:.1f} s / "
          f"{med['CompressAI'][1]:.1f} s = {med['lic-bench'][1] / med['CompressAI'][1]:.2f}x")
    print("  largest differences: " + ", ".join(f"{m} {d:.2e}" for m, d in diffs.items()))


def random_checkpoint(arch: str, quality: int, path: Path) -> None:
    """A CompressAI zoo model's random-initialised state dict, entropy tables built (update())."""
    import torch

    sys.path.insert(0, str(REPO))
    from lic_bench.learned.compat import import_compressai

    import_compressai()
    from compressai.zoo import image_models

    torch.manual_seed(0)
    net = image_models[arch](quality=quality, pretrained=False).eval()
    net.update(force=True)
    torch.save(net.state_dict(), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", type=Path, default=default_kodak(), help="folder of the Kodak PNGs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=24, help="first N images only (both tools)")
    ap.add_argument("--qualities", default="5,25,50")
    ap.add_argument("--learned", action="store_true", help="also compressai:ARCH against eval_model")
    ap.add_argument("--arch", default="bmshj2018-factorized")
    ap.add_argument("--arch-quality", type=int, default=1)
    ap.add_argument("--learned-only", action="store_true", help="skip the WebP comparison")
    ap.add_argument("--device", default="cpu", help="cpu or cuda, for the learned model (and lic-bench's metrics)")
    a = ap.parse_args()
    a.learned = a.learned or a.learned_only
    if a.kodak is None or not a.kodak.is_dir():
        sys.exit("Kodak images not found: pass --kodak DIR")
    workdir = Path(tempfile.mkdtemp(prefix="lic-bench-vs-compressai-"))
    try:
        images = workdir / "images"  # only the images: CompressAI globs every image file below its folder
        images.mkdir()
        for p in sorted(a.kodak.glob("*.png"))[: a.images]:
            os.symlink(p.resolve(), images / p.name)
        env = dict(os.environ, **ONE_THREAD, LIC_BENCH_CACHE=str(workdir / "cache"), PYTHONPATH=os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))))
        n = len(list(images.iterdir()))
        print(f"{n} images from {a.kodak}, {a.rounds} rounds, one thread per tool, {os.cpu_count()} CPU(s)")
        qs = a.qualities
        lic = [sys.executable, "-m", "lic_bench", "run", "--dataset", str(images), "--no-progress"]
        if not a.learned_only:
            compare("WebP q " + qs,
                    lambda store: [*lic, "--codecs", "webp", "-q", qs, "--store", str(store)],
                    compressai_cli("compressai.utils.bench", "webp", str(images), "-q", qs),
                    lambda store: lic_bench_numbers(store, "webp", images, env, workdir), a.rounds, env, workdir)
        if a.learned:
            ckpt = workdir / f"{a.arch}-q{a.arch_quality}-random.pth.tar"
            random_checkpoint(a.arch, a.arch_quality, ckpt)
            spec = f"compressai:{a.arch}"
            cuda = a.device.startswith("cuda")
            compare(f"{spec} (random weights, quality {a.arch_quality}, {a.device})",
                    lambda store: [*lic, "--codecs", spec, "--checkpoint", str(ckpt), "-q", str(a.arch_quality),
                                   "--store", str(store), "--device", a.device],
                    compressai_cli("compressai.utils.eval_model", "checkpoint", str(images), "-a", a.arch, "-p", str(ckpt),
                                   *(["--cuda"] if cuda else [])),
                    lambda store: lic_bench_payload_numbers(store, spec, images, env, workdir), a.rounds, env, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
