import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
KODAK = SHARED / "datasets" / "kodak"


def sample_photo(name: str = "astronaut.png") -> np.ndarray:
    from lic_bench.datasets import locate

    ds = locate("sample")
    return np.asarray(Image.open(ds.folder / name).convert("RGB"))


@pytest.fixture
def photo():
    """A real colour photograph (512x512, from the sample dataset)."""
    return sample_photo()


@pytest.fixture
def small_dataset(tmp_path):
    """A folder of three real photo crops with odd sizes (fast to code)."""
    d = tmp_path / "imgs"
    d.mkdir()
    img = sample_photo("coffee.png")
    Image.fromarray(img[:201, :263]).save(d / "a.png")
    Image.fromarray(img[100:293, 200:371]).save(d / "b.png")
    Image.fromarray(sample_photo("chelsea.png")[:180, :240]).save(d / "c.png")
    return d


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Each test gets its own store and cache and runs in an empty working directory."""
    monkeypatch.setenv("LIC_BENCH_STORE", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("LIC_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LIC_BENCH_DATA", raising=False)
    # CLI subprocesses import this checkout's lic_bench, whatever copy the environment has installed
    root = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)


def requires_kodak():
    return pytest.mark.skipif(not (KODAK / "kodim01.png").is_file(), reason="../shared/datasets/kodak absent")
