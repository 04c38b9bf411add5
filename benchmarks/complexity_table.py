"""Complexity of TCM S/M/L and TIC at Kodak size next to the TCM paper's Table 1 (RTX 3090 + i9-10900K).

python benchmarks/complexity_table.py [--device cuda] [--repeats 10] [--no-timing]
Paper figures (Liu et al., CVPR 2023, Table 1): enc/dec ms, params M, "FLOPs" G (thop MACs).
"""

import argparse
import json
import subprocess
import sys

PAPER = {"tcm-small": (109, 102, 44.96, 211.54), "tcm-medium": (130, 122, 58.72, 415.20), "tcm-large": (150, 140, 75.89, 700.96)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--codecs", default="tcm-small,tcm-medium,tcm-large,tic,tic-plus")
    ap.add_argument("--no-timing", action="store_true")
    a = ap.parse_args()
    cmd = [sys.executable, "-m", "lic_bench", "complexity", "--codecs", a.codecs, "--size", "768x512", "--device", a.device,
           "--repeats", str(a.repeats), "-f", "json"] + (["--no-timing"] if a.no_timing else [])
    rows = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(f"{'codec':12s} {'params M':>9s} {'paper':>7s} {'thop-style':>10s} {'GMAC paper-conv':>15s} {'paper G':>8s} "
          f"{'GMAC all':>9s} {'enc ms':>8s} {'dec ms':>8s} {'paper enc/dec':>13s}")
    for d in rows:
        p = PAPER.get(d["codec"])
        print(f"{d['codec']:12s} {d['params'] / 1e6:9.2f} {p[2] if p else '':>7} {d['params_paper'] / 1e6:10.2f} "
              f"{d['macs_paper'] / 1e9:15.2f} {p[3] if p else '':>8} {d['macs_total'] / 1e9:9.2f} "
              f"{d.get('enc_ms', float('nan')):8.1f} {d.get('dec_ms', float('nan')):8.1f} {f'{p[0]}/{p[1]}' if p else '':>13s}")
    if rows and "machine" in rows[0]:
        print("device:", rows[0]["machine"])


if __name__ == "__main__":
    main()
