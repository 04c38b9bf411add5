"""On a CUDA device (skipped without one): `--device cuda` runs the metrics and learned codecs on the GPU
and gives the CPU's numbers; a learned codec's encoder/decoder check works across devices."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import sample_photo
from lic_bench import metrics
from lic_bench.adapters.learned import Learned
from lic_bench.cli import app
from lic_bench.evaluate import evaluate

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _pillow(img: np.ndarray, fmt: str, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _pairs():
    photo = sample_photo()
    for fmt, q in (("JPEG", 10), ("JPEG", 75), ("WEBP", 5), ("WEBP", 50)):
        yield f"{fmt} q{q}", photo, _pillow(photo, fmt, q)
    for h, w in ((161, 200), (257, 391), (512, 161)):  # the smallest side MS-SSIM takes, odd sides
        crop = np.ascontiguousarray(photo[:h, :w])
        yield f"{w}x{h}", crop, _pillow(crop, "JPEG", 30)
    yield "identical", photo, photo.copy()


def test_ms_ssim_on_the_gpu_is_the_cpu_value():
    from pytorch_msssim import ms_ssim as reference

    as_tensor = lambda a: torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None].contiguous()  # noqa: E731
    for name, a, b in _pairs():
        cpu = metrics.ms_ssim(a, b).value
        gpu = metrics.ms_ssim(a, b, device="cuda").value
        assert abs(gpu - cpu) <= 1e-6, name
        assert cpu == float(reference(as_tensor(a), as_tensor(b), data_range=255)), name  # CPU: bit for bit


def test_learned_codec_on_the_gpu():
    img = np.ascontiguousarray(sample_photo("coffee.png")[:256, :384])
    hyper = Learned(arch="compressai:bmshj2018-hyperprior", random_init=True, device="cuda")
    rec = evaluate(hyper, img, 1, metric_options={"device": "cuda"})
    assert rec.status == "ok", rec.error
    assert rec.extra["device"] == "cuda" and rec.extra["metrics_device"] == "cuda"
    assert rec.mismatch is None and rec.extra["enc_dec_check"].startswith("none")  # same device: nothing to compare
    # decoding on the CPU what the GPU encoded: the decoder runs again on the encode device and is compared
    cross = Learned(arch="compressai:bmshj2018-hyperprior", random_init=True, device="cuda", decode_device="cpu")
    cross._models = hyper._models  # the same random weights
    rec = evaluate(cross, img, 1)
    assert rec.status in ("ok", "failed")
    if rec.status == "ok":
        assert isinstance(rec.mismatch, bool)
        assert rec.mismatch == any(f.startswith("enc-dec-mismatch:") for f in rec.flags)
    # a model that returns its latents: the encoder's reconstruction equals the decoder's on one device
    tic = Learned(arch="tic", random_init=True, device="cuda")
    rec = evaluate(tic, img, 2)
    assert rec.status == "ok" and rec.mismatch is False


def test_run_with_device_cuda_gives_the_cpu_numbers(small_dataset, tmp_path):
    import lic_bench

    runner = CliRunner()
    for device in ("cuda", "cpu"):
        r = runner.invoke(app, ["run", "--codecs", "webp", "-q", "50", "-d", str(small_dataset), "--device", device,
                                "--store", str(tmp_path / f"{device}.sqlite"), "--no-progress"])
        assert r.exit_code == 0, r.output
    gpu, cpu = ({rec.image: rec for rec in lic_bench.api.results(str(small_dataset), "webp", store=tmp_path / f"{d}.sqlite")[0].records}
                for d in ("cuda", "cpu"))
    assert sorted(gpu) == sorted(cpu) and len(gpu) == 3
    for image, rec in gpu.items():
        assert rec.extra["metrics_device"] == "cuda" and "metrics_device" not in cpu[image].extra
        assert rec.bitstream_sha256 == cpu[image].bitstream_sha256 and rec.sse_r == cpu[image].sse_r
        assert abs(rec.ms_ssim - cpu[image].ms_ssim) <= 1e-6
