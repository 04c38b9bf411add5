"""Cost of each perceptual metric per 768x512 image on one CPU thread, beside the reference tool's own
time on the same pairs (the fixture's Kodak pairs in ../shared/reference/perceptual):

- ssimulacra2: lic-bench's numpy implementation vs libjxl's `ssimulacra2` binary (when on PATH; Debian
  bookworm's libjxl-devtools 0.7.0 does not ship it);
- butteraugli: lic-bench's wrapper (PNG writing + subprocess) vs `butteraugli_main` run on the files;
- flip: lic-bench's wrapper vs `flip_evaluator.evaluate` called directly.

The process is pinned to one CPU (children inherit it) and BLAS/OpenMP pools are set to one thread.
Times are CPU seconds (this process plus its children), median over the pairs, so a loaded machine does
not inflate them; wall seconds are printed beside. Run: python benchmarks/perceptual_cost.py [--pairs 6]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from lic_bench.errors import LicBenchError  # noqa: E402
from lic_bench.imageio import load_rgb  # noqa: E402
from lic_bench.perceptual import butteraugli, flip, ssimulacra2  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURE = SHARED / "reference" / "perceptual"


def cpu_now() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(fn, pairs) -> tuple[float, float]:
    """Median (CPU s, wall s) of fn(pair) over the pairs, after one warm-up call."""
    fn(pairs[0])
    cpu, wall = [], []
    for pair in pairs:
        c, w = cpu_now(), time.perf_counter()
        fn(pair)
        cpu.append(cpu_now() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def load_pairs(count: int) -> list[dict]:
    if not (FIXTURE / "scores.json").is_file():
        sys.exit(f"{FIXTURE} absent: this benchmark times the fixture's Kodak pairs")
    chosen = []
    for entry in json.loads((FIXTURE / "scores.json").read_text())["pairs"]:
        if entry["width"] * entry["height"] == 768 * 512 and not entry["distorted"].endswith("identical.png"):
            ref = SHARED / "datasets" / entry["reference"] if entry["reference"].startswith("kodak/") else FIXTURE / entry["reference"]
            dist = FIXTURE / entry["distorted"]
            chosen.append({"ref_path": ref, "dist_path": dist, "ref": load_rgb(ref).pixels, "dist": load_rgb(dist).pixels})
    step = max(1, len(chosen) // count)
    return chosen[::step][:count]


def run_tool(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL)


def row(name: str, ours: tuple[float, float], tool: tuple[float, float] | None, tool_name: str) -> None:
    if tool is None:
        print(f"{name:12s} {ours[0]:8.3f} {ours[1]:8.3f}   {'-':>8s} {'-':>8s}   {'-':>6s}  ({tool_name}: not available)")
    else:
        print(f"{name:12s} {ours[0]:8.3f} {ours[1]:8.3f}   {tool[0]:8.3f} {tool[1]:8.3f}   {ours[0] / tool[0]:6.2f}  ({tool_name})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=6, help="number of 768x512 fixture pairs to time")
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the first allowed)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    pairs = load_pairs(args.pairs)
    print(f"{len(pairs)} pairs of 768x512; seconds per image, median (CPU = this process + children)")
    print(f"{'metric':12s} {'CPU':>8s} {'wall':>8s}   {'tool CPU':>8s} {'wall':>8s}   {'ratio':>6s}")

    ours = measure(lambda p: ssimulacra2.ssimulacra2(p["ref"], p["dist"]), pairs)
    tool_path = shutil.which("ssimulacra2")
    tool = measure(lambda p: run_tool([tool_path, str(p["ref_path"]), str(p["dist_path"])]), pairs) if tool_path else None
    row("ssimulacra2", ours, tool, f"libjxl ssimulacra2 at {tool_path}" if tool_path else "libjxl ssimulacra2")

    try:
        binary = butteraugli.find_binary()
        ours = measure(lambda p: butteraugli.compute(p["ref"], p["dist"], binary=binary), pairs)
        tool = measure(lambda p: run_tool([str(binary), str(p["ref_path"]), str(p["dist_path"]), "--pnorm", "3"]), pairs)
        row("butteraugli", ours, tool, butteraugli.version(binary=binary))
    except LicBenchError as e:
        print(f"butteraugli  skipped: {e}")

    try:
        flip.check_available()
        import flip_evaluator

        def direct(p):
            ref = p["ref"].astype(np.float32) / np.float32(255.0)
            dist = p["dist"].astype(np.float32) / np.float32(255.0)
            flip_evaluator.evaluate(ref, dist, "LDR", applyMagma=False)

        ours = measure(lambda p: flip.compute(p["ref"], p["dist"]), pairs)
        row("flip", ours, measure(direct, pairs), f"{flip.version()} evaluate() directly")
    except LicBenchError as e:
        print(f"flip         skipped: {e}")


if __name__ == "__main__":
    main()
