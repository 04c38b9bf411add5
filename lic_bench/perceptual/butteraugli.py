"""Butteraugli through the user's libjxl `butteraugli_main`: the maximum of the distance map and libjxl's
3-norm. Lower is better.

Scores differ by 1-2 % between libjxl releases, so the tool's version is probed and is part of the
metric's identity. `butteraugli_main` prints no version itself (neither 0.7.0 nor 0.11.2 knows --version;
both answer with their usage), so we ask, in order: the tool (`--version`, for future releases), the
package manager that installed it (dpkg), a `cjxl` next to it (`cjxl --version` prints "cjxl v0.11.2 ...");
failing all three, the identity names the binary's sha256 so that another build never mixes with it.

Output of both 0.7.0 and 0.11.2: first line the maximum ("%.10f"), then "3-norm: %f" for `--pnorm 3`.
libjxl's "3-norm" is not a plain p-norm: it averages the p-, 2p- and 4p-norms of the map.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from lic_bench.errors import LicBenchError

BINARY = "butteraugli_main"
ENV = "LIC_BENCH_BUTTERAUGLI"
NAMES = ("butteraugli-max", "butteraugli-pnorm3")
LABELS = {"butteraugli-max": "Butteraugli (max)", "butteraugli-pnorm3": "Butteraugli (3-norm)"}
LABEL = "Butteraugli"
UNIT = ""
HIGHER_IS_BETTER = False
COST = "expensive"
PNORM = 3
DEFAULT_TIMEOUT_S = 600.0
_PROBE_TIMEOUT_S = 20.0

_INSTALL = "apt-get install libjxl-devtools"
_VERSION = re.compile(r"\bv?(\d+\.\d+\.\d+)\b")
_NORM_LINE = re.compile(r"^\s*([0-9.]+)-norm:\s*(\S+)\s*$", re.MULTILINE)


def find_binary(binary: str | os.PathLike | None = None) -> Path:
    """The butteraugli_main to run: `binary` if given, else $LIC_BENCH_BUTTERAUGLI, else the one on PATH."""
    if binary is None:
        binary = os.environ.get(ENV) or None
    if binary is None:
        found = shutil.which(BINARY)
        if found is None:
            raise LicBenchError(f"metric butteraugli needs libjxl's {BINARY}: not on PATH and ${ENV} is not set "
                                f"({_INSTALL}, or set {ENV} to the binary)")
        return Path(found)
    path = Path(binary).expanduser()
    if path.is_dir():
        path = path / BINARY
    if not path.is_file() or not os.access(path, os.X_OK):
        raise LicBenchError(f"metric butteraugli: {path} is not an executable {BINARY} "
                            f"(check ${ENV} or the binary option; {_INSTALL})")
    return path


def check_available(binary: str | os.PathLike | None = None) -> None:
    """Raise LicBenchError (one line) unless a butteraugli_main can be run."""
    find_binary(binary)


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None


def _upstream(debian_version: str) -> str | None:
    """'0.7.0-10+deb12u1' -> '0.7.0' (epoch and Debian revision dropped)."""
    match = _VERSION.search(debian_version.split(":", 1)[-1])
    return match.group(1) if match else None


def _version_from_tool(path: Path) -> str | None:
    done = _run([str(path), "--version"], _PROBE_TIMEOUT_S)
    if done is None:
        return None
    match = _VERSION.search(done.stdout + "\n" + done.stderr)
    return match.group(1) if match else None


def _version_from_dpkg(path: Path) -> str | None:
    if shutil.which("dpkg-query") is None:
        return None
    for candidate in dict.fromkeys([str(path.absolute()), str(path.resolve())]):
        owner = _run(["dpkg-query", "-S", candidate], _PROBE_TIMEOUT_S)
        if owner is None or owner.returncode != 0 or ":" not in owner.stdout:
            continue
        package = owner.stdout.split(":", 1)[0].split(",")[0].strip()
        shown = _run(["dpkg-query", "-W", "-f=${Version}", package], _PROBE_TIMEOUT_S)
        if shown is not None and shown.returncode == 0:
            return _upstream(shown.stdout.strip())
    return None


def _version_from_sibling(path: Path) -> str | None:
    for folder in dict.fromkeys([path.absolute().parent, path.resolve().parent]):
        sibling = folder / "cjxl"
        if sibling.is_file() and os.access(sibling, os.X_OK):
            done = _run([str(sibling), "--version"], _PROBE_TIMEOUT_S)
            if done is not None and done.returncode == 0:
                match = _VERSION.search(done.stdout)
                if match:
                    return match.group(1)
    return None


def _sha256(path: Path) -> str:
    from ..datasets import file_sha256

    return file_sha256(path)


@lru_cache(maxsize=16)
def _probe(resolved: str, size: int, mtime_ns: int) -> tuple[str | None, str]:
    """(libjxl version or None, how it was found); cached per binary file state."""
    path = Path(resolved)
    for how, probe in (("--version", _version_from_tool), ("dpkg", _version_from_dpkg), ("cjxl", _version_from_sibling)):
        found = probe(path)
        if found:
            return found, how
    return None, f"sha256 {_sha256(path)[:16]}"


def tool_version(binary: str | os.PathLike | None = None) -> str | None:
    """The libjxl version of the butteraugli_main that would run ('0.7.0'), or None when it cannot be told."""
    return _probe_binary(find_binary(binary))[0]


def _probe_binary(path: Path) -> tuple[str | None, str]:
    stat = path.stat()
    return _probe(str(path.absolute()), stat.st_size, stat.st_mtime_ns)


def version(binary: str | os.PathLike | None = None) -> str:
    """Identity of the tool: 'libjxl 0.7.0 butteraugli_main', or with the binary's sha256 when unknown."""
    found, how = _probe_binary(find_binary(binary))
    if found:
        return f"libjxl {found} {BINARY}"
    return f"libjxl {BINARY} (version unknown, {how})"


def parse_output(stdout: str) -> dict[str, float]:
    """{'butteraugli-max', 'butteraugli-pnorm3'} from butteraugli_main's stdout (0.7.0 and 0.11.2 alike)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    norm = {float(p): value for p, value in _NORM_LINE.findall(stdout)}
    try:
        maximum = float(lines[0])
        pnorm = float(norm[float(PNORM)])
    except (IndexError, KeyError, ValueError):
        raise ValueError(f"unexpected {BINARY} output: {stdout.strip()[:200]!r}") from None
    return {"butteraugli-max": maximum, "butteraugli-pnorm3": pnorm}


def compute(reference: np.ndarray, distorted: np.ndarray, binary: str | os.PathLike | None = None,
            timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, float]:
    """Run butteraugli_main on the pair (uint8 HxWx3 sRGB) and return both scores, named as in NAMES."""
    from PIL import Image

    path = find_binary(binary)
    if reference.shape != distorted.shape:
        raise LicBenchError(f"butteraugli: image sizes differ ({reference.shape} vs {distorted.shape}); score images of the same size")
    with tempfile.TemporaryDirectory(prefix="lic-bench-butteraugli-") as folder:
        ref_png = os.path.join(folder, "reference.png")
        dist_png = os.path.join(folder, "distorted.png")
        Image.fromarray(np.ascontiguousarray(reference, dtype=np.uint8)).save(ref_png, compress_level=1)
        Image.fromarray(np.ascontiguousarray(distorted, dtype=np.uint8)).save(dist_png, compress_level=1)
        try:
            done = subprocess.run([str(path), ref_png, dist_png, "--pnorm", str(PNORM)], capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise LicBenchError(f"butteraugli: {path} took longer than {timeout:g} s; raise the timeout or check the binary") from None
        except OSError as e:
            raise LicBenchError(f"butteraugli: cannot run {path} ({e.strerror}); check ${ENV}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise LicBenchError(f"butteraugli: {path} failed with exit code {done.returncode}: {last}")
    try:
        return parse_output(done.stdout)
    except ValueError as e:
        raise LicBenchError(f"butteraugli: {path}: {e}") from None
