"""A stand-in for libjxl's butteraugli_main, for tests of the wrapper (parsing, version probe, timeout).

Prints what libjxl 0.7.0 and 0.11.2 print: the maximum ("%.10f") and "3-norm: %f", here derived from the
mean absolute difference of the two PNGs. With fewer than two arguments it prints the usage on stderr and
exits 1, like the real tool. Behaviour switches: FAKE_BUTTERAUGLI_MODE = hang | crash | garbage;
FAKE_BUTTERAUGLI_VERSION (printed for --version, as a future release might); FAKE_BUTTERAUGLI_LOG (append
argv as one line).
"""
import os
import sys
import time

import numpy as np
from PIL import Image

mode = os.environ.get("FAKE_BUTTERAUGLI_MODE", "")
if os.environ.get("FAKE_BUTTERAUGLI_LOG"):
    with open(os.environ["FAKE_BUTTERAUGLI_LOG"], "a") as log:
        log.write(" ".join(sys.argv[1:]) + "\n")
if len(sys.argv) == 2 and sys.argv[1] == "--version" and os.environ.get("FAKE_BUTTERAUGLI_VERSION"):
    print(f"butteraugli_main v{os.environ['FAKE_BUTTERAUGLI_VERSION']}")
    sys.exit(0)
if len(sys.argv) < 3:
    sys.stderr.write("Usage: butteraugli_main <reference> <distorted>\n  [--distmap <distmap>]\n  [--pnorm <pth norm>]\n")
    sys.exit(1)
if mode == "hang":
    time.sleep(60)
if mode == "crash":
    sys.stderr.write("Failed to decode image from x.png\n")
    sys.exit(1)
if mode == "garbage":
    print("segfault?")
    sys.exit(0)
a = np.asarray(Image.open(sys.argv[1]).convert("RGB"), dtype=np.float64)
b = np.asarray(Image.open(sys.argv[2]).convert("RGB"), dtype=np.float64)
p = float(sys.argv[sys.argv.index("--pnorm") + 1]) if "--pnorm" in sys.argv else 3.0
d = np.abs(a - b)
print(f"{d.max() / 10:.10f}")
print(f"{p:g}-norm: {d.mean() / 10:f}")
