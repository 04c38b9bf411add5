"""LPIPS and DISTS against the reference packages `lpips` 0.1.4 and `DISTS_pytorch` 0.1 on seeded random backbones.

No ImageNet weights are available offline, so both sides get the same seeded random backbone; the
heads are the real ones shipped inside the reference wheels. Both packages import torchvision, which
does not import beside the CPU torch here: this file (and only it) puts a stand-in `torchvision` in
sys.modules whose alexnet/vgg16 are written here from torchvision's published architectures,
independently of lic_bench's own modules.
"""

import dataclasses
import hashlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from torch import nn

from conftest import KODAK
from lic_bench.errors import LicBenchError
from lic_bench.perceptual import _backbones, dists, lpips, weights

# torchvision's published parameter counts (the "num_params" of AlexNet_Weights / VGG16_Weights IMAGENET1K_V1)
TORCHVISION_NUM_PARAMS = {"alexnet": 61100840, "vgg16": 138357544}
TOLERANCE = 1e-6


# --- the stand-in torchvision -------------------------------------------------------------------------

class _Classifier(nn.Module):
    """torchvision's AlexNet / VGG skeleton: features, avgpool, classifier."""

    def __init__(self, features, pooled, classifier):
        super().__init__()
        self.features, self.avgpool, self.classifier = features, nn.AdaptiveAvgPool2d(pooled), classifier


def _stand_in_alexnet():
    conv = nn.Conv2d
    return _Classifier(
        nn.Sequential(conv(3, 64, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2), conv(64, 192, 5, 1, 2), nn.ReLU(True),
                      nn.MaxPool2d(3, 2), conv(192, 384, 3, 1, 1), nn.ReLU(True), conv(384, 256, 3, 1, 1), nn.ReLU(True),
                      conv(256, 256, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(3, 2)),
        (6, 6),
        nn.Sequential(nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 4096),
                      nn.ReLU(True), nn.Linear(4096, 1000)),
    )


def _stand_in_vgg16():
    layers, width = [], 3
    for block, (n, out) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]):
        for _ in range(n):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.ReLU(True)]
            width = out
        layers.append(nn.MaxPool2d(2, 2))
    return _Classifier(
        nn.Sequential(*layers),
        (7, 7),
        nn.Sequential(nn.Linear(25088, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True),
                      nn.Dropout(), nn.Linear(4096, 1000)),
    )


def _seeded_backbone(builder, seed):
    """A stand-in network with seeded random convolutions, scaled so activations stay O(1) through the layers.

    The classifier (unused by both metrics, 96 % of VGG16's weights) holds stride-0 zero tensors: the state dict
    keeps torchvision's full key set and shapes while costing no memory or time to make, save or hash.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        network = builder()
    state = {}
    for key, param in network.state_dict().items():
        if key.startswith("features.") and key.endswith(".weight"):
            fan_in = param[0].numel()
            state[key] = torch.randn(param.shape, generator=generator) * (2.0 / fan_in) ** 0.5
        elif key.startswith("features."):
            state[key] = torch.rand(param.shape, generator=generator) * 0.2 - 0.1
        else:
            state[key] = torch.zeros(1).expand(param.shape)
    network.load_state_dict(state, assign=True)
    return network.eval()


SEEDED = {}


def _seeded(name):
    if name not in SEEDED:
        SEEDED[name] = _seeded_backbone({"alexnet": _stand_in_alexnet, "vgg16": _stand_in_vgg16}[name], seed=18)
    return SEEDED[name]


@pytest.fixture
def stand_in_torchvision(monkeypatch):
    """A stand-in `torchvision` in sys.modules, and fresh imports of the reference packages over it."""
    fake = types.ModuleType("torchvision")
    fake.models = types.ModuleType("torchvision.models")
    fake.transforms = types.ModuleType("torchvision.transforms")
    fake.models.alexnet = lambda pretrained=False, **_: _seeded("alexnet")  # DISTS asks pretrained=True: same seeded net
    fake.models.vgg16 = lambda pretrained=False, **_: _seeded("vgg16")
    for name, module in {"torchvision": fake, "torchvision.models": fake.models, "torchvision.transforms": fake.transforms}.items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in [m for m in sys.modules if m.split(".")[0] in ("lpips", "DISTS_pytorch")]:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name in [m for m in sys.modules if m.split(".")[0] in ("lpips", "DISTS_pytorch")]:
        del sys.modules[name]


@pytest.fixture
def reference_lpips(stand_in_torchvision):
    return pytest.importorskip("lpips", reason="pip install --no-deps lpips==0.1.4 (it also needs tqdm, scipy)")


@pytest.fixture
def reference_dists(stand_in_torchvision):
    return pytest.importorskip("DISTS_pytorch", reason="pip install --no-deps DISTS_pytorch==0.1")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these small convolutions gain nothing from more, and lose much on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- image pairs ---------------------------------------------------------------------------------------

def _pairs():
    """(name, reference, distorted): random images, and Kodak crops (odd sizes) when ../shared is present."""
    rng = np.random.default_rng(18)
    pairs = []
    for h, w in ((64, 96), (37, 53)):
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        pairs.append((f"random{h}x{w}", a, rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
    for name, box in (("kodim01", (0, 0, 131, 97)), ("kodim23", (301, 207, 461, 335))):
        path = KODAK / f"{name}.png"
        if not path.is_file():
            continue
        crop = Image.open(path).convert("RGB").crop(box)
        ref = np.asarray(crop)
        noisy = np.clip(ref + rng.normal(0, 8, ref.shape), 0, 255).astype(np.uint8)
        pairs += [(f"{name}-noise", ref, noisy), (f"{name}-blur", ref, np.asarray(crop.filter(ImageFilter.GaussianBlur(1.5)))),
                  (f"{name}-same", ref, ref.copy())]
    return pairs


def _to01(image):
    return torch.tensor(image).permute(2, 0, 1)[None].float() / 255


def _shipped_state(file):
    path = weights.shipped_copy(file)
    if path is None:
        pytest.skip(f"{file.shipped_in[0]} is not installed")
    return weights.load_verified(file, path)  # also proves the shipped copy has the recorded sha256


# --- equality with the reference packages --------------------------------------------------------------

@pytest.mark.parametrize("net, backbone, head", [("alex", "alexnet", weights.LPIPS_ALEX_HEAD), ("vgg", "vgg16", weights.LPIPS_VGG_HEAD)])
def test_lpips_equals_reference_package(reference_lpips, net, backbone, head):
    reference = reference_lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()
    ours = lpips.build(net, _seeded(backbone).state_dict(), _shipped_state(head))
    worst = 0.0
    with torch.no_grad():
        for name, a, b in _pairs():
            expected = float(reference(_to01(a), _to01(b), normalize=True))
            got = float(ours(_to01(a) * 2 - 1, _to01(b) * 2 - 1)[0])
            assert abs(got - expected) <= TOLERANCE, (name, got, expected)
            worst = max(worst, abs(got - expected))
    assert expected > 0 or name.endswith("same")  # scores are not trivially zero
    print(f"lpips-{net}: largest difference {worst:.2e}")


def test_dists_equals_reference_package(reference_dists):
    head = _shipped_state(weights.DISTS_HEAD)
    reference = reference_dists.DISTS(load_weights=False).eval()  # load_weights=True reads sys.prefix/weights.pt
    reference.alpha.data, reference.beta.data = head["alpha"].clone(), head["beta"].clone()
    ours = dists.build(_seeded("vgg16").state_dict(), head)
    worst = 0.0
    with torch.no_grad():
        for name, a, b in _pairs():
            expected = float(reference(_to01(a), _to01(b)))
            got = float(ours(_to01(a), _to01(b))[0])
            assert abs(got - expected) <= TOLERANCE, (name, got, expected)
            worst = max(worst, abs(got - expected))
    print(f"dists: largest difference {worst:.2e}")


# --- backbone layout --------------------------------------------------------------------------------------

@pytest.mark.parametrize("architecture, name", [(_backbones.AlexNet, "alexnet"), (_backbones.VGG16, "vgg16")])
def test_backbones_have_torchvision_layout(architecture, name):
    with torch.device("meta"):
        assert sum(p.numel() for p in architecture().parameters()) == TORCHVISION_NUM_PARAMS[name]
    state = _seeded(name).state_dict()
    features = _backbones.pretrained_features(architecture, dict(state))  # strict: every key used, none missing
    assert torch.equal(features[0].weight, state["features.0.weight"])
    x = torch.rand(1, 3, 67, 67)
    with torch.no_grad():
        assert torch.equal(features(x), _seeded(name).features(x))
    extra = dict(state, **{"features.99.weight": torch.zeros(1)})
    with pytest.raises(LicBenchError, match="features.99.weight"):
        _backbones.pretrained_features(architecture, extra)
    missing = {k: v for k, v in state.items() if k != "classifier.6.bias"}
    with pytest.raises(LicBenchError, match="classifier.6.bias"):
        _backbones.pretrained_features(architecture, missing)


def test_head_files_with_wrong_keys_are_refused():
    network = lpips.LPIPSNetwork("alex", _seeded("alexnet").features)
    with pytest.raises(LicBenchError, match="head file"):
        network.load_heads({f"lin{i}.weight": torch.zeros(1, c, 1, 1) for i, c in enumerate(lpips.CHANNELS["alex"])})
    with pytest.raises(LicBenchError, match="alpha and beta"):
        dists.DISTSNetwork(_seeded("vgg16").features).load_heads({"alpha": torch.zeros(1, 1475, 1, 1)})


# --- weight files ----------------------------------------------------------------------------------------

@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """No weights anywhere: an empty torch hub, no environment variable, no reference package copies."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    monkeypatch.setattr(weights, "shipped_copy", lambda file: None)
    return tmp_path


def test_missing_weights_name_file_url_and_place(empty_hub):
    target = empty_hub / "mine"
    with pytest.raises(LicBenchError) as error:
        lpips.LPIPS_ALEX.check_available(weights_dir=target)
    message = str(error.value)
    assert "\n" not in message
    for text in ("alexnet-owt-7be5be79.pth", weights.ALEXNET.url, "lpips-v0.1-alex.pth", weights.LPIPS_ALEX_HEAD.url, str(target)):
        assert text in message
    with pytest.raises(LicBenchError, match=r"vgg16-397923af\.pth .*hub/checkpoints"):
        dists.DISTS.compute(np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8))


def test_sha256_mismatch_is_refused(empty_hub, monkeypatch):
    folder = empty_hub / "weights"
    folder.mkdir()
    torch.save(_seeded("alexnet").state_dict(), folder / weights.ALEXNET.name)  # right name, not the official file
    monkeypatch.setenv(weights.ENV_VAR, str(folder))
    assert weights.locate(weights.ALEXNET) == folder / weights.ALEXNET.name
    with pytest.raises(LicBenchError, match="is not the official alexnet-owt-7be5be79.pth: sha256"):
        weights.load_verified(weights.ALEXNET, folder / weights.ALEXNET.name)
    (folder / weights.LPIPS_VGG_HEAD.name).write_bytes(b"not the head")
    with pytest.raises(LicBenchError, match=f"expected {weights.LPIPS_VGG_HEAD.sha256}"):
        weights.load_verified(weights.LPIPS_VGG_HEAD, folder / weights.LPIPS_VGG_HEAD.name)


EXECUTED = []


class _Payload:
    """Pickled, it asks to run a function on load: weights_only must refuse before calling it."""

    def __reduce__(self):
        return (EXECUTED.append, ("code ran",))


def test_weights_only_refuses_a_pickle_payload(tmp_path):
    path = tmp_path / "payload.pth"
    torch.save({"features.0.weight": torch.zeros(1), "extra": _Payload()}, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    file = weights.WeightFile(name=path.name, url="https://example.invalid/payload.pth", description="test",
                              sha256_prefix=digest[:8], sha256=digest)
    with pytest.raises(LicBenchError, match="weights_only"):
        weights.load_verified(file, path)
    assert EXECUTED == []


def _own_files(folder: Path, metric, states):
    """Copies of `metric`'s files made of `states`, recorded with their own sha256 (for the end-to-end path)."""
    files = []
    for file, state in zip(metric.files, states):
        torch.save(state, folder / file.name)
        digest = hashlib.sha256((folder / file.name).read_bytes()).hexdigest()
        files.append(dataclasses.replace(file, sha256_prefix=digest[:8], sha256=digest))
    return dataclasses.replace(metric, files=tuple(files))


def test_compute_from_a_weights_dir_matches_the_module_and_caches(tmp_path):
    head = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=torch.Generator().manual_seed(i))
            for i, c in enumerate(lpips.CHANNELS["alex"])}
    metric = _own_files(tmp_path, lpips.LPIPS_ALEX, [_seeded("alexnet").state_dict(), head])
    name, a, b = _pairs()[0]
    score = metric.compute(a, b, weights_dir=tmp_path)
    with torch.no_grad():
        assert score == float(lpips.build("alex", _seeded("alexnet").state_dict(), head)(_to01(a) * 2 - 1, _to01(b) * 2 - 1)[0])
    assert metric.model("cpu") is metric.model("cpu", weights_dir=tmp_path)  # one model per (metric, device)
    assert metric.compute(a, a.copy()) == 0
    assert metric.version().startswith("lic-bench-lpips-1") and metric.files[0].sha256_prefix in metric.version()


def test_identity_and_direction():
    for metric, backbone in ((lpips.LPIPS_ALEX, "7be5be79"), (lpips.LPIPS_VGG, "397923af"), (dists.DISTS, "397923af")):
        assert metric.higher_is_better is False
        assert backbone in metric.version() and metric.files[1].sha256_prefix in metric.version()
    assert len({m.version() for m in (lpips.LPIPS_ALEX, lpips.LPIPS_VGG, dists.DISTS)}) == 3


def test_bad_inputs_are_refused_in_one_line():
    a = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(LicBenchError, match="differ in size"):
        lpips.LPIPS_ALEX.compute(a, np.zeros((40, 41, 3), np.uint8))
    with pytest.raises(LicBenchError, match="8-bit RGB"):
        lpips.LPIPS_ALEX.compute(a.astype(np.float32), a)
    with pytest.raises(LicBenchError, match="at least 31x31"):
        lpips.LPIPS_ALEX.compute(a[:30], a[:30])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu(tmp_path):
    head = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(lpips.CHANNELS["vgg"])}
    metric = _own_files(tmp_path, lpips.LPIPS_VGG, [_seeded("vgg16").state_dict(), head])
    for name, a, b in _pairs():
        assert metric.compute(a, b, device="cuda", weights_dir=tmp_path) == pytest.approx(
            metric.compute(a, b, device="cpu", weights_dir=tmp_path), abs=1e-4), name
