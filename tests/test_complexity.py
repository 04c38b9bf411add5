import importlib.util
import json

import pytest
import torch
import torch.nn as nn
from typer.testing import CliRunner

from lic_bench.complexity import TimingStats, flops_by_subnet, macs_paper, measure, params_by_subnet, params_paper

runner = CliRunner()
needs_compressai = pytest.mark.skipif(importlib.util.find_spec("compressai") is None, reason="compressai not installed")


class Toy(nn.Module):
    """A conv, a linear layer and one attention product, with hand-computable MACs."""

    def __init__(self):
        super().__init__()
        self.g_a = nn.Conv2d(3, 8, 3, padding=1)        # 8·3·3·3 MACs per output pixel
        self.entropy_parameters = nn.Linear(8, 16)      # 8 MACs per output element
        self.g_s = nn.ConvTranspose2d(16, 3, 2, stride=2)

    def forward(self, x):
        y = self.g_a(x)                                  # 1×8×4×4
        t = self.entropy_parameters(y.flatten(2).transpose(1, 2))  # 1×16×16 (tokens × ch)
        attn = t @ t.transpose(1, 2)                     # 16×16×16 MACs, functional (not a module)
        return self.g_s(t.transpose(1, 2).reshape(1, 16, 4, 4)), attn


def test_hand_computed_macs():
    m = Toy()
    x = torch.rand(1, 3, 4, 4)
    conv = 8 * 16 * 27
    lin = 16 * 16 * 8
    tconv = 16 * 16 * 3 * 4  # every input element × out channels × kernel
    attn = 16 * 16 * 16
    assert macs_paper(m, x) == conv + lin + tconv  # thop convention: no functional matmuls
    total, per = flops_by_subnet(m, x)
    assert total == 2 * (conv + lin + tconv + attn)
    assert per["analysis g_a"] == 2 * conv and per["synthesis g_s"] == 2 * tconv
    assert per["entropy parameters / context"] == 2 * lin
    assert per["other (functional ops at top level)"] == 2 * attn
    assert sum(per.values()) == total


def test_parameter_conventions():
    m = Toy()
    by = params_by_subnet(m)
    assert sum(by.values()) == sum(p.numel() for p in m.parameters())
    assert params_paper(m) == sum(p.numel() for p in m.parameters())  # all leaf modules here

    class WithOwnParam(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Parameter(torch.zeros(10))  # owned by a module with children: thop misses it
            self.lin = nn.Linear(2, 2)
    assert params_paper(WithOwnParam()) == 6


def test_timing_protocol_with_fake_clock():
    ticks = iter(range(100))
    calls, syncs = [], []
    clock = lambda: next(ticks) * 0.5  # noqa: E731  each read advances 0.5 s
    st = measure(lambda: calls.append(1), repeats=5, warmup=3, clock=clock, sync=lambda: syncs.append(1))
    assert len(calls) == 8 and len(syncs) == 10  # sync before and after every timed run, never for warm-up
    assert st.samples == [0.5] * 5 and st.median == 0.5 and st.iqr == 0.0
    assert TimingStats([1.0, 2.0, 3.0, 4.0, 100.0]).median == 3.0
    assert TimingStats([1.0, 2.0, 3.0, 4.0, 5.0]).iqr == pytest.approx(2.0)
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)


@needs_compressai
def test_tcm_small_matches_paper_convention():
    """Paper (TCM Table 1): 211.54 G 'FLOPs' (thop MACs), 44.96 M params; thop on the official code: 211.37 G, 44.971 M."""
    from lic_bench.learned.zoo import load_model
    m = load_model("tcm-small", random_init=True)
    x = torch.rand(1, 3, 256, 256)
    # every layer's cost is proportional to the pixel count at these sizes: 512×768 = 6 × 256×256
    paper_macs = 6 * macs_paper(m, x)
    assert abs(paper_macs / 211.54e9 - 1) < 0.005 and abs(paper_macs / 211.37e9 - 1) < 0.005
    assert abs(params_paper(m) / 44.96e6 - 1) < 0.005
    total, per = flops_by_subnet(m, x)
    assert 6 * total / 2 == pytest.approx(220.05e9, rel=0.002)  # complete count (FlopCounterMode 440.10 GFLOPs)
    assert sum(per.values()) == total


@needs_compressai
def test_cli_complexity_json_cpu():
    from lic_bench.cli import app
    r = runner.invoke(app, ["complexity", "--codecs", "tcm-small", "--size", "256x256", "--repeats", "1", "--warmup", "0", "-f", "json"])
    assert r.exit_code == 0, r.output
    (d,) = json.loads(r.output)
    for k in ("codec", "size", "params", "params_paper", "macs_enc", "macs_dec", "macs_paper", "kmacs_per_pixel_enc",
              "kmacs_per_pixel_dec", "device", "enc_ms", "dec_ms", "peak_mem_bytes"):
        assert k in d, k
    assert d["params"] == 45_180_752 and d["size"] == "256x256" and d["device"] == "cpu"
    assert d["enc_entropy_ms"] > 0 and d["enc_network_ms"] > 0 and d["enc_ms"] == pytest.approx(d["enc_entropy_ms"] + d["enc_network_ms"])
    assert d["machine"]["threads"] == 1 and "random init" in d["weights"]
    assert sum(d["params_by_subnet"].values()) == d["params"]
    r = runner.invoke(app, ["complexity", "--codecs", "tcm-small", "--size", "200x200"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["complexity", "--codecs", "webp"])
    assert r.exit_code == 2


@needs_compressai
def test_run_profile_records_complexity_and_report_shows_it(small_dataset, tmp_path):
    from lic_bench.cli import app
    from lic_bench.learned.compat import import_compressai
    import_compressai()
    from compressai.zoo.image import cfgs, model_architectures
    torch.manual_seed(5)
    torch.save({"state_dict": model_architectures["bmshj2018-hyperprior"](*cfgs["bmshj2018-hyperprior"][1]).state_dict()}, tmp_path / "h.pth")
    r = runner.invoke(app, ["run", "--codecs", "compressai:bmshj2018-hyperprior", "--checkpoint", str(tmp_path / "h.pth"), "-q", "1",
                            "-d", str(small_dataset), "--profile", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "complexity recorded at 320x256 on cpu" in r.output
    out = tmp_path / "r.html"
    r = runner.invoke(app, ["report", "-d", "imgs", "--anchor", "", "-o", str(out)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    sec = html[html.index('id="complexity"'):html.index('id="visual"')]
    assert "compressai:bmshj2018-hyperprior" in sec and "kMAC/px enc" in sec and "warm-up" in sec
