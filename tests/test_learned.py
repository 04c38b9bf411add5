"""Learned codecs on CPU with random weights saved in the official checkpoint formats (no downloads)."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import SHARED, sample_photo
from lic_bench.adapters.learned import Learned, pack, unpack
from lic_bench.errors import LicBenchError
from lic_bench.evaluate import evaluate
from lic_bench.learned.checkpoints import read_state_dict
from lic_bench.learned.zoo import load_model

if importlib.util.find_spec("compressai") is None:
    pytest.skip("compressai not installed (see the README's test command)", allow_module_level=True)

MANIFESTS = SHARED / "reference" / "learned"
runner = CliRunner()


def legacy_eb_names(sd):
    out = {}
    for k, v in sd.items():
        m = re.match(r"^(.*entropy_bottleneck\.)(matrices|biases|factors)\.(\d+)$", k)
        out[f"{m.group(1)}_{ {'matrices': 'matrix', 'biases': 'bias', 'factors': 'factor'}[m.group(2)] }{m.group(3)}" if m else k] = v
    return out


def official_checkpoint(path: Path, model, legacy=True, prefix="module.", wrapper="state_dict"):
    """Save like the official train.py: {"epoch", "state_dict", ...}, DataParallel prefix, old EB names."""
    sd = model.state_dict()
    if legacy:
        sd = legacy_eb_names(sd)
    sd = {prefix + k: v for k, v in sd.items()}
    torch.save({"epoch": 3, wrapper: sd, "loss": 0.5} if wrapper else sd, path)
    return path


def random_model(name, quality=3):
    return load_model(name, random_init=True, quality=quality)


@pytest.fixture(scope="module")
def tcm_small_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(1)
    from lic_bench.learned.tcm import TCM
    official_checkpoint(d / "tcm-small-mse-0.0067.pth.tar", TCM(N=64))  # before update(): empty CDF buffers
    return d


# ---------------------------------------------------------------- architecture vs manifests

def _norm(k):
    m = re.match(r"^(.*entropy_bottleneck\.)(matrices|biases|factors)\.(\d+)$", k)
    return f"{m.group(1)}_{ {'matrices': 'matrix', 'biases': 'bias', 'factors': 'factor'}[m.group(2)] }{m.group(3)}" if m else k


@pytest.mark.parametrize("manifest,arch,quality,params", [
    ("tcm-small", "tcm-small", 1, 45_180_752), ("tcm-medium", "tcm-medium", 1, 59_133_650), ("tcm-large", "tcm-large", 1, 76_568_148),
    ("tic-q1-4", "tic-repo", 1, 10_227_299), ("tic-q5-8", "tic-repo", 5, 23_924_948), ("tic-legacy-q1-4", "tic-plus", 3, 7_021_211),
])
def test_state_dict_matches_official_manifest(manifest, arch, quality, params):
    from lic_bench.learned import zoo
    model = zoo.get_arch(arch).build(quality, None)
    assert sum(p.numel() for p in model.parameters()) == params
    path = MANIFESTS / f"{manifest}.json"
    if not path.is_file():
        pytest.skip("../shared/reference/learned absent")
    theirs = {_norm(k): v["shape"] for k, v in json.loads(path.read_text())["keys"].items()}
    if manifest == "tic-legacy-q1-4":  # the 2022 layout also carries unused mbt2018 modules, dropped on load
        theirs = {k: v for k, v in theirs.items() if not zoo.LEGACY_TIC_DEAD.match(k)}
    mine = {_norm(k): list(v.shape) for k, v in model.state_dict().items()}
    assert mine == theirs


# ---------------------------------------------------------------- container

def test_container_round_trip_and_bad_bytes():
    strings = [[b"\x00" * 300], [b"abc", b""]]
    data = pack(3, (8, 12), strings)
    assert unpack(data) == (3, (8, 12), strings)
    import struct
    import zlib
    body = data[:-4]
    for bad, match in ((data[:-1], "checksum"), (b"XYZ" + data[3:], "bad magic"), (data[:5], "too short"),
                       (body[:-1] + struct.pack(">I", zlib.crc32(body[:-1])), "truncated"),
                       (body + b"!" + struct.pack(">I", zlib.crc32(body + b"!")), "trailing")):
        with pytest.raises(LicBenchError, match=match):
            unpack(bad)


# ---------------------------------------------------------------- checkpoints

def test_official_layouts_load(tmp_path):
    from lic_bench.learned.tcm import TCM
    torch.manual_seed(2)
    ref = TCM(N=64)
    variants = {
        "legacy_dp": official_checkpoint(tmp_path / "a.pth", ref),
        "new_bare": official_checkpoint(tmp_path / "b.pth", ref, legacy=False, prefix="", wrapper=None),
        "network": official_checkpoint(tmp_path / "c.pth", ref, prefix="", wrapper="network"),
    }
    ref.update(force=True)  # filled CDF buffers
    variants["filled"] = official_checkpoint(tmp_path / "d.pth", ref, legacy=False, prefix="", wrapper="model_state_dict")
    w = ref.g_a[0].conv1.weight
    for name, path in variants.items():
        m = load_model("tcm-small", path)
        assert torch.equal(m.g_a[0].conv1.weight, w), name
        assert m.gaussian_conditional._quantized_cdf.numel() > 0 and m.entropy_bottleneck._quantized_cdf.numel() > 0


def test_wrong_architecture_and_truncated_checkpoints(tmp_path):
    from lic_bench.learned.tcm import TCM
    official_checkpoint(tmp_path / "medium.pth", TCM(N=96))
    with pytest.raises(LicBenchError, match=r"does not fit tcm-small: .*mis-shaped.*looks like tcm-medium \(N=96\)"):
        load_model("tcm-small", tmp_path / "medium.pth")
    data = (tmp_path / "medium.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(LicBenchError, match="cut.pth: cannot be read safely"):
        load_model("tcm-medium", tmp_path / "cut.pth")
    torch.save({"epoch": 1}, tmp_path / "empty.pth")
    with pytest.raises(LicBenchError, match="no state dict of tensors"):
        read_state_dict(tmp_path / "empty.pth")
    with pytest.raises(LicBenchError, match="checkpoint .*nothere.pth not found"):
        load_model("tcm-small", tmp_path / "nothere.pth")


def test_untrusted_pickle_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"state_dict": Evil()}))
    with pytest.raises(LicBenchError, match="cannot be read safely"):
        read_state_dict(tmp_path / "evil.pth")


def test_tic_legacy_checkpoint_with_dead_modules_and_depth_inference(tmp_path):
    from lic_bench.learned.tic import DEPTHS, TIC
    torch.manual_seed(3)
    plus = TIC(128, 192, DEPTHS["tic-plus"])
    sd = legacy_eb_names(plus.state_dict())
    sd["g_a.0.weight"] = torch.zeros(192, 3, 5, 5)  # unused mbt2018 modules of the 2022 class layout
    sd["h_s.4.bias"] = torch.zeros(384)
    torch.save({"state_dict": sd}, tmp_path / "legacy.pth.tar")
    m = load_model("tic-plus", tmp_path / "legacy.pth.tar")
    assert m.depths == (1, 2, 3, 1, 1) and torch.equal(m.g_a0.weight, plus.g_a0.weight)
    with pytest.raises(LicBenchError, match=r"looks like tic-plus \(N=128, M=192, depths=\[1, 2, 3, 1, 1\]\)"):
        load_model("tcm-small", tmp_path / "legacy.pth.tar")


# ---------------------------------------------------------------- coding

def _odd_image():
    return sample_photo("coffee.png")[:200, :328]


def test_tcm_round_trip_deterministic_and_verified(tcm_small_ckpt):
    codec = Learned(arch="tcm-small", weights={3: "tcm-small-mse-0.0067.pth.tar"}, weights_dir=str(tcm_small_ckpt))
    img = _odd_image()
    a = evaluate(codec, img, 3)
    b = evaluate(codec, img, 3)
    assert a["status"] == "ok", a["error"]
    assert a["bitstream_sha256"] == b["bitstream_sha256"] and a["mismatch"] is False
    assert a["expected_sha256"] and "padded:384x256" in a["flags"]
    assert a["bytes"] > a["payload_bytes"] > 0 and a["bytes"] - a["payload_bytes"] <= 9 + 2 + 3 + 3 + 4  # header, group counts, varint lengths, CRC32
    assert a["extra"]["lambda"] == 0.0067 and a["extra"]["threads"] == 1


def test_corrupted_bitstream_and_perturbed_decoder_are_detected(tcm_small_ckpt, monkeypatch):
    codec = Learned(arch="tcm-small", weights={3: "tcm-small-mse-0.0067.pth.tar"}, weights_dir=str(tcm_small_ckpt))
    img = _odd_image()
    enc = codec.encode(np.pad(img, ((28, 28), (28, 28), (0, 0))), 3)
    q, shape, strings = unpack(enc.data)
    y = bytearray(strings[0][0])
    y[len(y) // 2] ^= 0xFF
    bad = pack(q, shape, [[bytes(y)], strings[1]])
    out = codec.decode(bad)
    assert not np.array_equal(out, enc.expected())
    # a decoder that drifts (as a GPU/CPU desync would) is flagged by the harness
    model = codec.model(3, "cpu")
    real = model.decompress

    def drifting(strings, shape):
        r = real(strings, shape)
        r["x_hat"] = (r["x_hat"] + 0.01).clamp(0, 1)
        return r
    monkeypatch.setattr(model, "decompress", drifting)
    rec = evaluate(codec, img, 3)
    assert rec["status"] == "ok" and rec["mismatch"] is True and any(f.startswith("enc-dec-mismatch:") for f in rec["flags"])


def test_what_the_encoder_side_check_runs(monkeypatch):
    """Encoder latents through g_s when the model returns them; for a CompressAI model (no latents) a
    second decode only where it adds something: on the encode device when the decode ran on another
    (asked for, or an out-of-memory fallback). On the same device it would repeat the job's decode bit
    for bit, so it is skipped and the record says so. Nothing of it runs inside the timed encode/decode."""
    calls = []

    class Stub(torch.nn.Module):
        def __init__(self, latents):
            super().__init__()
            self.latents = latents

        def compress(self, x):
            out = {"strings": [[b"\x01\x02"]], "shape": (2, 2)}
            return dict(out, y_hat=torch.zeros(1, 3, 2, 2)) if self.latents else out

        def g_s(self, y):
            calls.append("g_s")
            return torch.full((1, 3, 32, 32), 0.5)

        def decompress(self, strings, shape):
            calls.append("decompress")
            return {"x_hat": torch.full((1, 3, 32, 32), 0.5)}

    img = np.zeros((32, 32, 3), np.uint8)
    for latents, decoded_on, want_call in [(True, "cpu", "g_s"), (False, "cpu", None), (False, "meta", "decompress")]:
        codec = Learned(arch="compressai:bmshj2018-factorized", random_init=True)
        monkeypatch.setattr(codec, "model", lambda q, dev, m=Stub(latents): m)
        calls.clear()
        enc = codec.encode(img, 1)
        codec._decoded_on = {decoded_on}  # where the job's decode ran (an explicit --decode-device or a fallback)
        assert calls == []  # nothing runs inside the timed encode
        got = enc.expected()
        assert calls == ([want_call] if want_call else []) and (got is None) == (want_call is None)
        assert ("enc_dec_check" in enc.info) == (want_call is None)
    # the second decode runs out of memory where the encoder ran: no comparison, said so, no failure
    codec = Learned(arch="compressai:bmshj2018-factorized", random_init=True)
    stub = Stub(False)
    monkeypatch.setattr(stub, "decompress", lambda *a: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA out of memory")))
    monkeypatch.setattr(codec, "model", lambda q, dev: stub)
    enc = codec.encode(img, 1)
    codec._decoded_on = {"meta"}
    assert enc.expected() is None and enc.info["enc_dec_check"].startswith("none: out of memory")
    # end to end: the record of an unchecked job says why, and reports no mismatch either way
    codec = Learned(arch="compressai:bmshj2018-factorized", random_init=True)
    rec = evaluate(codec, sample_photo("coffee.png")[:128, :192], 1)
    assert rec.status == "ok" and rec.mismatch is None and rec.expected_sha256 is None
    assert rec.extra["enc_dec_check"].startswith("none: the model returns no encoder-side latents")


def test_a_decode_that_ran_out_of_memory_counts_where_it_succeeded(monkeypatch):
    """--decode-device cuda running out of memory falls back to the CPU, where this CPU encode ran too:
    nothing to compare, and the record is fine."""
    codec = Learned(arch="compressai:bmshj2018-factorized", random_init=True, decode_device="cuda")
    real = Learned._decode_full
    monkeypatch.setattr(codec, "_decode_full", lambda data, dev: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA out of memory"))
                        if dev == "cuda" else real(codec, data, dev))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)  # no GPU here: the fallback is what is tested
    rec = evaluate(codec, sample_photo("coffee.png")[:128, :192], 1)
    assert rec.status == "ok" and codec._decoded_on == {"cpu"} and rec.mismatch is None
    assert "decoded on the encode device (cpu)" in rec.extra["enc_dec_check"]


def test_encode_on_cpu_after_gpu_memory_ran_out_is_checked_against_the_gpu_decode(monkeypatch):
    """--device cuda whose encode fell back to the CPU, decode on the GPU: the check decodes on the CPU."""
    codec = Learned(arch="compressai:bmshj2018-factorized", random_init=True)
    img = sample_photo("coffee.png")[:128, :192]
    monkeypatch.setattr(codec, "_decode_full", lambda data, dev: (codec._decoded_on.add("cuda"),
                                                                   Learned._decode_full(codec, data, "cpu"))[1])
    rec = evaluate(codec, img, 1)
    assert rec.status == "ok" and rec.mismatch is False and rec.expected_sha256  # compared
    assert "enc_dec_check" not in rec.extra


def test_tcm_refuses_too_small_images_clearly(tcm_small_ckpt):
    codec = Learned(arch="tcm-small", weights={3: "tcm-small-mse-0.0067.pth.tar"}, weights_dir=str(tcm_small_ckpt))
    rec = evaluate(codec, _odd_image()[:120, :200], 3)
    assert rec["status"] == "failed" and "pads to 256x128, below this codec's minimum side 256" in rec["error"]


def test_tic_fast_and_reference_coders_give_identical_bytes():
    img = _odd_image()
    out = {}
    for coder in ("fast", "reference"):
        codec = Learned(arch="tic", random_init=True, coder=coder)
        out[coder] = evaluate(codec, img, 2)
        assert out[coder]["status"] == "ok" and out[coder]["mismatch"] is False
    assert out["fast"]["bitstream_sha256"] == out["reference"]["bitstream_sha256"]
    assert out["fast"]["decoded_sha256"] == out["reference"]["decoded_sha256"]


def test_compressai_zoo_architecture_with_user_checkpoint(tmp_path, small_dataset):
    from lic_bench.learned.compat import import_compressai
    import_compressai()
    from compressai.zoo.image import cfgs, model_architectures
    torch.manual_seed(4)
    official_checkpoint(tmp_path / "mbt.pth", model_architectures["mbt2018-mean"](*cfgs["mbt2018-mean"][2]), legacy=False, prefix="")
    r = runner.invoke(__import__("lic_bench.cli", fromlist=["app"]).app,
                      ["run", "--codecs", "compressai:mbt2018-mean", "--checkpoint", str(tmp_path / "mbt.pth"), "-q", "2",
                       "-d", str(small_dataset), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "compressai:mbt2018-mean on imgs" in r.output and "3/3" in r.output


def test_cli_learned_run_missing_weights_and_random_init_refusal(tcm_small_ckpt, small_dataset, tmp_path):
    from lic_bench.cli import app
    big = tmp_path / "big"
    big.mkdir()
    from PIL import Image
    Image.fromarray(sample_photo("astronaut.png")[:300, :400]).save(big / "x.png")
    r = runner.invoke(app, ["run", "--codecs", "tcm-small", "--weights-dir", str(tcm_small_ckpt), "-q", "3", "-d", str(big), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "tcm-small on big" in r.output and "1/1" in r.output
    r = runner.invoke(app, ["run", "--codecs", "tcm-small", "--weights-dir", str(tcm_small_ckpt), "-q", "2", "-d", str(big), "--no-progress"])
    assert r.exit_code != 0  # a missing checkpoint is one up-front error (issue 15), no job runs
    assert "missing checkpoint" in str(r.exception) and "drive.google.com" in str(r.exception)
    r = runner.invoke(app, ["run", "--codecs", "tcm-small:random_init=true", "-q", "3", "-d", str(big)])
    assert r.exit_code != 0 and "random weights are for complexity and timing only" in str(r.exception)


def test_public_load_model_api(tcm_small_ckpt):
    import lic_bench
    m = lic_bench.load_model("tcm-small", tcm_small_ckpt / "tcm-small-mse-0.0067.pth.tar")
    assert not m.training and m.entropy_bottleneck._quantized_cdf.numel() > 0
    x = torch.rand(1, 3, 256, 256)
    with torch.inference_mode():
        enc = m.compress(x)
        dec = m.decompress(enc["strings"], enc["shape"])
        fwd = m(x)
    assert torch.equal(dec["x_hat"], fwd["x_hat"].clamp(0, 1))  # TCM: real decode equals forward


def test_gpu_oom_falls_back_to_tiles_then_cpu_and_tiled_is_flagged(monkeypatch):
    """Simulated CUDA OOM (no GPU in CI): the declared order full -> tiled -> CPU, recorded in flags."""
    from lic_bench.adapters import learned as L
    codec = Learned(arch="compressai:bmshj2018-hyperprior", random_init=True)
    monkeypatch.setattr(L, "TILE", 256)
    monkeypatch.setattr(codec, "fallback_plan", lambda: [("full", "cpu"), ("tiled", "cpu"), ("full", "cpu")])
    model = codec.model(1, "cpu")
    real = model.compress
    state = {"limit": 256 * 256}

    def small_memory(x):
        if x.shape[-1] * x.shape[-2] > state["limit"]:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(x)
    monkeypatch.setattr(model, "compress", small_memory)
    img = sample_photo("motorcycle_left.png")[:500, :700]  # pads to 512x704: 2x3 tiles (the 192 remainder joins)
    rec = evaluate(codec, img, 1)
    assert rec["status"] == "ok" and "tiled:256" in rec["flags"]
    assert rec["mismatch"] is None and rec["extra"]["enc_dec_check"].startswith("none")  # see the next test
    assert L.tile_edges(704, 256, 64) == [0, 256, 512, 704] and L.tile_edges(640, 256, 256) == [0, 256, 640]
    state["limit"] = 0  # even tiles do not fit: last resort is the full image on the CPU
    monkeypatch.setattr(codec, "fallback_plan", lambda: [("full", "cuda"), ("tiled", "cuda"), ("full", "cpu")])
    monkeypatch.setattr(codec, "_encode_full", lambda image, op, dev: (_ for _ in ()).throw(torch.OutOfMemoryError("out of memory"))
                        if dev == "cuda" else Learned._encode_full(codec, image, op, "cpu"))
    monkeypatch.setattr(codec, "_reset_peak", lambda dev: None)
    monkeypatch.setattr(codec, "_peak", lambda dev: None)
    monkeypatch.setattr(model, "compress", real)
    rec = evaluate(codec, img, 1)
    assert rec["status"] == "ok" and "fallback:cpu" in rec["flags"] and not any(f.startswith("tiled") for f in rec["flags"])


def test_python_run_takes_the_commands_runtime_options_as_keywords(small_dataset, tmp_path):
    import lic_bench

    ckpt = tmp_path / "factorized-q1.pth.tar"
    torch.save(lic_bench.load_model("compressai:bmshj2018-factorized", random_init=True, quality=1).state_dict(), ckpt)
    res = lic_bench.run("compressai:bmshj2018-factorized", str(small_dataset), qualities=[1], checkpoint=ckpt)
    assert (res.summary.done, res.summary.failed) == (3, [])
    again = lic_bench.run("compressai:bmshj2018-factorized", str(small_dataset), qualities=[1], runtime={"checkpoint": str(ckpt)})
    assert (again.summary.done, again.summary.cached) == (0, 3)  # the same results, however the option was given


def test_preflight_models_are_released_when_worker_processes_run_the_jobs(small_dataset, tmp_path, monkeypatch):
    """The weights are checked once up front; with --jobs N the workers load their own models, so the
    main process lets its copy go (GPU memory)."""
    import lic_bench

    ckpt = tmp_path / "factorized-q1.pth.tar"
    torch.save(lic_bench.load_model("compressai:bmshj2018-factorized", random_init=True, quality=1).state_dict(), ckpt)
    released = []
    real = Learned.release
    monkeypatch.setattr(Learned, "release", lambda self: released.append(len(self._models)) or real(self))
    lic_bench.run("compressai:bmshj2018-factorized", str(small_dataset), qualities=[1], checkpoint=ckpt)
    assert released == []  # in-process: the jobs use the preflight's model
    res = lic_bench.run("compressai:bmshj2018-factorized", str(small_dataset), qualities=[1], checkpoint=ckpt, jobs=2,
                        store=tmp_path / "pool.sqlite")
    assert res.summary.done == 3 and released == [1]
