"""`lic-bench complexity`: parameters, MACs, encode/decode time and peak memory of learned codecs."""

from __future__ import annotations

import json
import re

import typer

from ._options import FormatOpt, check_format, fail


def parse_size(size: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", size.strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        fail(f"--size {size!r}: write WIDTHxHEIGHT, e.g. 768x512")
    return int(m.group(1)), int(m.group(2))


def command(
    codecs: str = typer.Option("tcm-small,tcm-medium,tcm-large,tic,tic-plus", "--codecs", "-c"),
    size: str = typer.Option("768x512", "--size", help="WIDTHxHEIGHT (multiples of the model's padding)"),
    device: str = typer.Option("cpu", "--device", help="cpu|cuda"),
    repeats: int = typer.Option(10, "--repeats", min=1),
    warmup: int = typer.Option(2, "--warmup", min=0),
    no_timing: bool = typer.Option(False, "--no-timing", help="parameters and MACs only"),
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads (1 = CompressAI's evaluation setting)"),
    fmt: str = FormatOpt,
):
    """Parameters, MACs (complete and paper convention), encode/decode time and peak memory (random weights)."""
    import torch

    from .. import api
    from ..complexity import complexity_of
    from ..errors import LicBenchError
    from ..formats import print_table
    from ..specs import resolve_spec, split_codec_list

    torch.set_num_threads(threads)
    check_format(fmt, ("table", "json"))
    w, h = parse_size(size)
    try:
        api.check_device(device)
    except LicBenchError as e:
        fail(str(e))
    out = []
    for name in split_codec_list(codecs):
        spec = resolve_spec(name)
        if spec.adapter != "learned":
            fail(f"{name}: complexity is defined for learned codecs (adapter 'learned'), not {spec.adapter!r}")
        out.append(complexity_of(spec, w, h, device, repeats, warmup, not no_timing))
    if fmt == "json":
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    rows = [[f"{d['codec']} q{d['quality']}", f"{d['params'] / 1e6:.2f} M", f"{d['params_paper'] / 1e6:.2f} M", f"{d['macs_enc'] / 1e9:.1f}",
             f"{d['macs_dec'] / 1e9:.1f}", f"{d['macs_paper'] / 1e9:.2f}", f"{d['kmacs_per_pixel_enc']:.0f}", f"{d['kmacs_per_pixel_dec']:.0f}",
             "—" if "enc_ms" not in d else f"{d['enc_ms']:.0f} ±{d['enc_ms_iqr']:.0f}", "—" if "dec_ms" not in d else f"{d['dec_ms']:.0f} ±{d['dec_ms_iqr']:.0f}",
             "—" if "peak_mem_bytes" not in d else f"{d['peak_mem_bytes'] / 2**20:.0f} MiB"] for d in out]
    cap = (f"size {w}x{h}; random weights. GMAC enc/dec: complete count incl. attention (FlopCounterMode, 1 MAC = 2 FLOPs); "
           "paper GMAC: conv/linear only over the whole forward pass (thop, as TCM's Table 1); params paper: thop's leaf-module count. "
           + (out[0].get("timing_protocol", "") if out else "") + (f"; device {out[0]['machine']}" if out and "machine" in out[0] else ""))
    print_table("complexity", ["codec", "params", "params (paper)", "GMAC enc", "GMAC dec", "GMAC (paper)", "kMAC/px enc",
                               "kMAC/px dec", "enc ms (IQR)", "dec ms (IQR)", "peak mem"], rows, caption=cap)
