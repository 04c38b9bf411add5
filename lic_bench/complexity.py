"""Model complexity: parameters, MACs (complete and paper convention), timing protocol, peak memory.

* Parameters: exact ``numel`` of every parameter, per sub-network, and which the encoder/decoder need.
  ``params_paper`` follows thop (what the TCM paper reported): only parameters owned directly by *leaf*
  modules — it misses GDN β/γ, TCM's relative-position tables and the EntropyBottleneck.
* MACs, complete: ``torch.utils.flop_counter.FlopCounterMode`` over one forward pass (convolutions,
  linear layers *and* attention matmuls), 2 FLOPs = 1 MAC, split per sub-network; encoder = analysis +
  hyper analysis + hyper synthesis + entropy model, decoder = hyper synthesis + entropy model +
  synthesis. (TIC's context model is counted as its parallel forward — once per position.)
* MACs, ``paper`` convention: conv / transposed-conv / linear layers only, bias not counted (thop).
* Time: encode (``compress``) and decode (``decompress``) measured separately: ``warmup`` untimed runs,
  then ``repeats`` timed runs, device synchronised before each clock read; median and IQR; entropy-coding
  time (rANS and the entropy models' compress/decompress) measured inside, network time = the rest.
  Included: tensor conversion, network, entropy coding; excluded: image I/O, padding, container packing.
"""

from __future__ import annotations

import platform
import re
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

SUBNETS = {
    "g_a": "analysis g_a", "h_a": "hyper analysis h_a", "h_s": "hyper synthesis h_s", "h_mean_s": "hyper synthesis h_s",
    "h_scale_s": "hyper synthesis h_s", "g_s": "synthesis g_s", "entropy_bottleneck": "entropy bottleneck",
    "gaussian_conditional": "gaussian conditional",
}
ENTROPY_MODEL = "entropy parameters / context"
ENCODER_NEEDS = ("analysis g_a", "hyper analysis h_a", "hyper synthesis h_s", ENTROPY_MODEL, "entropy bottleneck", "gaussian conditional")
DECODER_NEEDS = ("hyper synthesis h_s", ENTROPY_MODEL, "entropy bottleneck", "gaussian conditional", "synthesis g_s")


def subnet_of(top_name: str) -> str:
    """Sub-network of a top-level child name (g_a, g_a0…g_a6, atten_mean, context_prediction, …)."""
    base = re.sub(r"\d+$", "", top_name)
    return SUBNETS.get(base, ENTROPY_MODEL)


def params_by_subnet(model) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, p in model.named_parameters():
        key = subnet_of(name.split(".", 1)[0])
        out[key] = out.get(key, 0) + p.numel()
    return out


def params_paper(model) -> int:
    """thop's parameter count: parameters held directly by modules without children. A ParameterList is
    counted as part of its owner (compressai ≤ 1.2.6 held the EntropyBottleneck filters directly)."""
    import torch.nn as nn

    def leaf(m):
        return not list(m.children()) and not isinstance(m, (nn.ParameterList, nn.ParameterDict))

    return sum(p.numel() for m in model.modules() if leaf(m) for p in m.parameters(recurse=False))


def flops_by_subnet(model, x) -> tuple[int, dict[str, int]]:
    """(total FLOPs, FLOPs per sub-network) of one forward pass; 2 FLOPs per multiply-accumulate."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    fc = FlopCounterMode(display=False)
    with torch.no_grad(), fc:  # (inference_mode would break the counter's module tracking)
        model(x)
    counts = {k: sum(v.values()) for k, v in fc.get_flop_counts().items()}
    root = type(model).__name__
    per: dict[str, int] = {}
    for name, _ in model.named_children():
        direct = counts.get(f"{root}.{name}")
        if direct is None:  # ModuleList/ModuleDict: its children were called, not itself
            direct = sum(v for k, v in counts.items() if re.fullmatch(rf"{re.escape(root)}\.{re.escape(name)}\.[^.]+", k))
        key = subnet_of(name)
        per[key] = per.get(key, 0) + direct
    total = fc.get_total_flops()
    rest = total - sum(per.values())
    if rest:
        per["other (functional ops at top level)"] = rest
    return total, per


def macs_paper(model, x) -> int:
    """Conv / transposed conv / linear MACs of one forward pass, bias excluded (thop convention)."""
    import torch
    import torch.nn as nn

    total = 0

    def conv(m, inp, out):
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def tconv(m, inp, out):
        nonlocal total
        total += inp[0].numel() * (m.out_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m, inp, out):
        nonlocal total
        total += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.ConvTranspose2d):
            hooks.append(m.register_forward_hook(tconv))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return total


# ---------------------------------------------------------------- timing

@dataclass
class TimingStats:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def iqr(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q[2] - q[0]


def measure(fn, repeats: int = 10, warmup: int = 2, clock=time.perf_counter, sync=lambda: None) -> TimingStats:
    """Run `fn` warmup times untimed, then `repeats` times timed, synchronising before each clock read."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        sync()
        t0 = clock()
        fn()
        sync()
        samples.append(clock() - t0)
    return TimingStats(samples)


class EntropyClock:
    """Accumulates time spent in entropy coding (rANS and the entropy models' compress/decompress)."""

    def __init__(self, clock=time.perf_counter) -> None:
        self.clock, self.total = clock, 0.0

    def wrap(self, fn):
        def timed(*a, **k):
            t0 = self.clock()
            try:
                return fn(*a, **k)
            finally:
                self.total += self.clock() - t0
        return timed


@contextmanager
def entropy_timing(model, ec: EntropyClock):
    """Patch the model's entropy coders (instance level; the rANS classes of lic-bench's models)."""
    import lic_bench.learned.tcm as tcm_mod
    import lic_bench.learned.tic as tic_mod

    patched = []
    for mod_name in ("entropy_bottleneck", "gaussian_conditional"):
        m = getattr(model, mod_name, None)
        if m is not None:
            for meth in ("compress", "decompress"):
                setattr(m, meth, ec.wrap(getattr(m, meth)))
                patched.append((m, meth))
    originals = {}

    def timed_class(cls):
        class Timed:
            def __init__(self):
                self._o = cls()

            def __getattr__(self, name):
                return ec.wrap(getattr(self._o, name))
        return Timed

    for mod in (tcm_mod, tic_mod):
        for cname in ("BufferedRansEncoder", "RansDecoder"):
            originals[(mod, cname)] = getattr(mod, cname)
            setattr(mod, cname, timed_class(getattr(mod, cname)))
    try:
        yield ec
    finally:
        for m, meth in patched:
            delattr(m, meth)
        for (mod, cname), cls in originals.items():
            setattr(mod, cname, cls)


def peak_memory_reset(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
    else:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # Linux: reset the VmHWM peak-RSS mark
        except OSError:
            pass


def peak_memory(device: str) -> tuple[int | None, str]:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated()), "peak CUDA memory allocated (torch)"
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "peak RSS of the process (Linux VmHWM, reset before the phase)"
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak RSS over the process lifetime (ru_maxrss)"


def machine(device: str) -> dict:
    import torch

    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(), "device": device}
    if device.startswith("cuda"):
        info.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return info


@dataclass
class Complexity:
    codec: str
    size: tuple[int, int]  # (width, height)
    params: int
    params_paper: int
    params_by_subnet: dict[str, int]
    macs_enc: int
    macs_dec: int
    macs_total: int
    macs_paper: int
    macs_by_subnet: dict[str, int]
    weights: str = "random init (complexity does not depend on weights)"
    timing: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        w, h = self.size
        px = w * h
        d = {
            "codec": self.codec, "size": f"{w}x{h}", "params": self.params, "params_paper": self.params_paper,
            "params_by_subnet": self.params_by_subnet,
            "encoder_needs": list(ENCODER_NEEDS), "decoder_needs": list(DECODER_NEEDS),
            "macs_enc": self.macs_enc, "macs_dec": self.macs_dec, "macs_total": self.macs_total, "macs_paper": self.macs_paper,
            "macs_by_subnet": self.macs_by_subnet,
            "kmacs_per_pixel_enc": self.macs_enc / px / 1e3, "kmacs_per_pixel_dec": self.macs_dec / px / 1e3,
            "conventions": {
                "macs": "complete count (conv, linear, attention matmuls) via torch FlopCounterMode, 1 MAC = 2 FLOPs",
                "macs_paper": "thop convention: conv/linear layers only, whole forward pass, bias excluded",
                "params_paper": "thop convention: parameters of leaf modules only",
            },
            "weights": self.weights,
        }
        d.update(self.timing)
        return d


def analyse(name: str, model, width: int, height: int) -> Complexity:
    import torch

    x = torch.rand(1, 3, height, width)
    total, per = flops_by_subnet(model, x)
    enc = sum(v for k, v in per.items() if k in ENCODER_NEEDS) // 2
    dec = sum(v for k, v in per.items() if k in DECODER_NEEDS) // 2
    return Complexity(name, (width, height), sum(p.numel() for p in model.parameters()), params_paper(model),
                      params_by_subnet(model), enc, dec, total // 2, macs_paper(model, x), {k: v // 2 for k, v in per.items()})


def time_codec(model, width: int, height: int, device: str, repeats: int, warmup: int) -> dict:
    import torch

    x = torch.rand(1, 3, height, width, device=device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        out = model.compress(x)
        ec = EntropyClock()
        res = {}
        for phase, fn in (("enc", lambda: model.compress(x)), ("dec", lambda: model.decompress(out["strings"], out["shape"]))):
            peak_memory_reset(device)
            ec.total = 0.0
            with entropy_timing(model, ec):
                st = measure(fn, repeats, warmup, sync=sync)
            entropy_per_run = ec.total / (repeats + warmup)
            mem, mem_label = peak_memory(device)
            res.update({f"{phase}_ms": st.median * 1e3, f"{phase}_ms_iqr": st.iqr * 1e3,
                        f"{phase}_entropy_ms": entropy_per_run * 1e3, f"{phase}_network_ms": (st.median - entropy_per_run) * 1e3,
                        f"{phase}_peak_mem_bytes": mem})
        res["peak_mem_bytes"] = max(res["enc_peak_mem_bytes"] or 0, res["dec_peak_mem_bytes"] or 0)
        res["peak_mem_kind"] = mem_label
    res["device"] = device
    res["machine"] = machine(device)
    res["timing_protocol"] = (f"{warmup} warm-up + {repeats} timed runs each of compress() and decompress() on a random "
                              f"{width}x{height} image, device synchronised around each run, median and IQR; includes "
                              "tensor transfer, network and entropy coding; excludes image I/O, padding and container packing; "
                              "entropy_ms = time inside rANS / entropy-model compress/decompress (mean per run)")
    return res


def complexity_of(spec, width: int, height: int, device: str, repeats: int, warmup: int, timed: bool) -> dict:
    """Complexity figures of a learned codec spec, with random weights (complexity does not depend on them)."""
    from .errors import OptionError
    from .learned.zoo import get_arch, load_model

    p = spec.params
    arch = get_arch(p.get("arch", ""), p.get("model_class", ""))
    q = arch.qualities[-1]  # the largest channel configuration (TIC: q5-8)
    if width % arch.pad_multiple or height % arch.pad_multiple or min(width, height) < arch.min_side:
        raise OptionError(f"--size {width}x{height}: {arch.name} needs multiples of {arch.pad_multiple} and sides >= {arch.min_side}")
    model = load_model(arch.name, random_init=True, quality=q, model_class=p.get("model_class", ""))
    d = analyse(spec.name, model, width, height).to_dict()
    d["quality"] = q
    if timed:
        d.update(time_codec(model.to(device), width, height, device, repeats, warmup))
    return d
