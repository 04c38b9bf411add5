"""Evaluate one job — (codec, operating point, image) — under the harness's conventions.

Order of operations, identical for every codec:
pad (centred zeros to the adapter's multiple) -> colour-convert (YCbCr adapters, spec policy) ->
encode (timed) -> decode from the bytes alone (timed) -> compare with the encoder's expected
reconstruction -> colour-convert back -> crop -> metrics against the original 8-bit RGB image.
"""

from __future__ import annotations

import hashlib
import time
import traceback

import numpy as np

from . import color, metrics
from .adapters.base import Codec, Encoded
from .errors import LicBenchError
from .imageio import crop, pad, pixel_sha256
from .record import Record


def _as_encoded(out) -> Encoded:
    if isinstance(out, Encoded):
        return out
    if isinstance(out, (bytes, bytearray, memoryview)):
        return Encoded(bytes(out))
    raise TypeError(f"adapter encode() must return bytes or Encoded, got {type(out).__name__}")


def _check_decoded(arr, shape) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise LicBenchError(f"decoder returned dtype {arr.dtype}, expected uint8 (adapters must return 8-bit samples)")
    if arr.shape != shape:
        raise LicBenchError(f"decoder returned shape {arr.shape}, expected {shape}")
    return arr


def reconstruct(codec: Codec, data: bytes, height: int, width: int, color_policy: str | None = None) -> np.ndarray:
    """Decode `data` alone into the cropped 8-bit RGB image the metrics see (harness colour/crop rules)."""
    ph, pw = pad(np.zeros((height, width, 1), np.uint8), codec.pad_multiple).shape[:2]
    decoded = _check_decoded(codec.decode(data), (ph, pw, 3))
    return _to_original_rgb(codec, decoded, height, width, color_policy or color.DEFAULT_POLICY)


def _to_original_rgb(codec: Codec, decoded: np.ndarray, height: int, width: int, policy: str | None) -> np.ndarray:
    """Codec-space decoded samples -> 8-bit RGB at the original size."""
    rgb = color.ycbcr_to_rgb_u8(decoded, policy) if codec.colorspace == "ycbcr444" else decoded
    return np.ascontiguousarray(crop(rgb, height, width, codec.pad_multiple))


def evaluate(codec: Codec, image: np.ndarray, op: float, color_policy: str | None = None,
             clock=time.perf_counter, image_sha256: str | None = None, pixel_metrics=(),
             metric_options: dict | None = None) -> Record:
    """Run one job; returns its raw per-image record (with ``bitstream``: the bytes, not stored with it).

    image_sha256: the image's pixel hash when the caller already knows it (the runner does).
    pixel_metrics: names of table metrics computed by a tool or model (lic_bench.measure), stored
    with the identity of what computed them; metric_options: their options (device, weights, binary).
    The device also runs MS-SSIM (``--device cuda``: on the GPU, recorded as ``metrics_device``).

    Errors inside the codec become a record with ``status='failed'`` and the error text; they never
    propagate, so a run goes on.
    """
    h, w = image.shape[:2]
    rec = Record(op=float(op), pixel_sha256=image_sha256 or pixel_sha256(image), height=h, width=w)
    try:
        codec.check_operating_point(op)
        padded = pad(image, codec.pad_multiple)
        ph, pw = padded.shape[:2]
        if min(ph, pw) < codec.min_padded_side:
            raise LicBenchError(
                f"image {w}x{h} pads to {pw}x{ph}, below this codec's minimum side {codec.min_padded_side}; it cannot be coded")
        if (ph, pw) != (h, w):
            rec.flags.append(f"padded:{pw}x{ph}")
        policy = None
        if codec.colorspace == "ycbcr444":
            policy = color_policy or color.DEFAULT_POLICY
            codec_input = color.rgb_to_ycbcr_u8(padded, policy)
            rec.flags.append(f"color:{policy}")
        elif codec.colorspace == "rgb":
            codec_input = padded
        else:
            raise LicBenchError(f"adapter declares unknown colorspace {codec.colorspace!r}")

        t0 = clock()
        enc = _as_encoded(codec.encode(codec_input, op))
        codec.synchronize()
        t1 = clock()
        data = bytes(enc.data)
        decoded = codec.decode(data)
        codec.synchronize()
        t2 = clock()
        decoded = _check_decoded(decoded, codec_input.shape)

        mismatch = None
        expected = enc.expected() if callable(enc.expected) else enc.expected  # lazy: outside the timed region
        if expected is not None:  # (a lazy check may find nothing to compare, and say why in its info)
            expected = _check_decoded(expected, codec_input.shape)
            rec.expected_sha256 = pixel_sha256(expected)
            mismatch = not np.array_equal(expected, decoded)
            if mismatch:
                n = int(np.count_nonzero(np.any(expected != decoded, axis=-1)))
                rec.flags.append(f"enc-dec-mismatch:{n}px")
        rec.flags += list(enc.info.pop("flags", []))  # e.g. tiled / device fallback, declared by the adapter
        rgb = _to_original_rgb(codec, decoded, h, w, policy)

        t3 = clock()
        sse, sse_ycc = metrics.sse_rgb_and_ycbcr(image, rgb)
        metrics_device = (metric_options or {}).get("device") or "cpu"
        ms = metrics.ms_ssim(image, rgb, device=metrics_device)
        metrics_s = clock() - t3
        if metrics_device != "cpu":  # same value within float32 rounding; where it ran is part of how it was made
            enc.info["metrics_device"] = metrics_device
        rec = rec.with_(
            status="ok", bytes=len(data), payload_bytes=enc.payload_bytes,
            sse_r=sse[0], sse_g=sse[1], sse_b=sse[2], sse_y=sse_ycc[0], sse_cb=sse_ycc[1], sse_cr=sse_ycc[2],
            ms_ssim=ms.value, ms_ssim_note=ms.reason, enc_s=t1 - t0, dec_s=t2 - t1,
            bitstream_sha256=hashlib.sha256(data).hexdigest(), bitstream_md5=hashlib.md5(data).hexdigest(),
            decoded_sha256=pixel_sha256(rgb), mismatch=mismatch, extra=enc.info or {}, bitstream=data,
        )
        if pixel_metrics:
            from .measure import compute

            t3 = clock()
            try:
                rec.metrics, rec.metric_ids = compute(list(pixel_metrics), image, rgb, **(metric_options or {}))
            except Exception as e:  # noqa: BLE001 - the job is retried by the next run
                raise LicBenchError(f"metric computation failed ({type(e).__name__}: {e})") from e
            metrics_s += clock() - t3
        rec.extra = {**rec.extra, "metrics_s": metrics_s}  # the metrics' time (run summaries)
    except Exception as e:  # noqa: BLE001 - a codec failure is a recorded result, not a crash
        msg = str(e) if isinstance(e, LicBenchError) else f"{type(e).__name__}: {e}"
        rec.status, rec.bitstream, rec.metrics, rec.metric_ids = "failed", None, {}, {}
        rec.error = msg.strip()[:4000] or type(e).__name__
        if not isinstance(e, LicBenchError):
            rec.extra = {"traceback": traceback.format_exc(limit=6)[-4000:]}
    return rec
