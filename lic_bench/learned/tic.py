"""TIC (Lu et al., "Transformer-based Image Compression", DCC 2022) and its depth variants.

One implementation with a depth list: the paper's TIC ([1,1,1,1,1]: one Swin block per NTU), TIC+
([1,2,3,1,1], also the 2022 repository layout of the one published checkpoint) and the current
repository code ([2,4,6,2,2]); N/M = 128/192 (qualities 1–4) or 192/320 (5–8). Own code on
compressai's entropy models. Conventions that matter for the official weights: Swin tables of shape
((2w−1)², heads) with an index buffer, q scaled before q·kᵀ, shifted windows masked with −100
(persistent ``attn_mask`` buffers for the construction resolution), no activations between convs and
RSTBs, the causal attention context model (CAM), scales before means in the entropy parameters, and
compressai 1.2.0's EntropyBottleneck likelihood (the "sign trick"), which decides z's CDF tables.

Coding is serial autoregressive (one rANS stream for y, raster order, channels inner). Two
implementations of that loop: ``reference`` follows the official op order position by position;
``fast`` (default) caches each decoded position's key/query/value rows and skips per-step module
overhead. Both are used symmetrically by encoder and decoder; tests check they give the same bytes.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .compat import import_compressai

import_compressai()
from compressai.ans import BufferedRansEncoder, RansDecoder  # noqa: E402
from compressai.entropy_models import EntropyBottleneck, GaussianConditional  # noqa: E402
from compressai.models import CompressionModel  # noqa: E402

DEPTHS = {"tic": (1, 1, 1, 1, 1), "tic-plus": (1, 2, 3, 1, 1), "tic-repo": (2, 4, 6, 2, 2)}
HEADS = (4, 8, 16, 16, 16)
#: TIC's hyper transforms run 4-px windows at H/32 and W/32: inputs must be multiples of 128.
TIC_MULTIPLE = 128
KERNEL, PAD = 5, 2
FAST_ROWS = 16


class EntropyBottleneckV120(EntropyBottleneck):
    """compressai 1.2.0's likelihood |σ(s·u) − σ(s·l)| with s = −sign(l + u), as the TIC fork used."""

    def _likelihood(self, inputs, stop_gradient: bool = False):
        lower = self._logits_cumulative(inputs - 0.5, stop_gradient=stop_gradient)
        upper = self._logits_cumulative(inputs + 0.5, stop_gradient=stop_gradient)
        sign = -torch.sign(lower + upper).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)), lower, upper


def _conv(i, o, k=5, s=2):
    return nn.Conv2d(i, o, k, stride=s, padding=k // 2)


def _deconv(i, o, k=5, s=2):
    return nn.ConvTranspose2d(i, o, k, stride=s, output_padding=s - 1, padding=k // 2)


def _relative_index(w: int) -> torch.Tensor:
    c = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (c[:, :, None] - c[:, None, :]).permute(1, 2, 0) + (w - 1)
    return rel[..., 0] * (2 * w - 1) + rel[..., 1]


def _windows(x: torch.Tensor, w: int) -> torch.Tensor:  # B H W C -> (B·nW) w² C
    B, H, W, C = x.shape
    return x.view(B, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, C)


def _unwindows(x: torch.Tensor, w: int, H: int, W: int) -> torch.Tensor:
    B = x.shape[0] // ((H // w) * (W // w))
    return x.view(B, H // w, W // w, w, w, -1).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, -1)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, out: int | None = None) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, out or dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_index(window))
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def bias(self, n: int) -> torch.Tensor:
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)

    def forward(self, x, mask=None):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1) + self.bias(N).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = (attn.view(B // nw, nw, self.heads, N, N) + mask[None, :, None]).view(-1, self.heads, N, N)
        return self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C))


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim: int, resolution: tuple[int, int], heads: int, window: int, shift: int) -> None:
        super().__init__()
        if min(resolution) <= window:
            shift, window = 0, min(resolution)
        self.resolution, self.window, self.shift = resolution, window, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.mlp = Mlp(dim, 4 * dim)
        self.register_buffer("attn_mask", self.shift_mask(resolution) if shift else None)

    def shift_mask(self, size, device=None) -> torch.Tensor:
        H, W = size
        w, s = self.window, self.shift
        labels = torch.zeros(1, H, W, 1, device=device)
        cnt = 0
        for hs in (slice(0, -w), slice(-w, -s), slice(-s, None)):
            for ws in (slice(0, -w), slice(-w, -s), slice(-s, None)):
                labels[:, hs, ws, :] = cnt
                cnt += 1
        m = _windows(labels, w).squeeze(-1)
        diff = m.unsqueeze(1) - m.unsqueeze(2)
        return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)

    def forward(self, x, size):
        H, W = size
        B, L, C = x.shape
        shortcut = x
        x = self.norm1(x).view(B, H, W, C)
        if self.shift:
            x = torch.roll(x, (-self.shift, -self.shift), (1, 2))
        mask = None
        if self.shift:
            mask = self.attn_mask if tuple(size) == tuple(self.resolution) else self.shift_mask(size, x.device)
        x = _unwindows(self.attn(_windows(x, self.window), mask), self.window, H, W)
        if self.shift:
            x = torch.roll(x, (self.shift, self.shift), (1, 2))
        x = shortcut + x.reshape(B, H * W, C)
        return x + self.mlp(self.norm2(x))


class BasicLayer(nn.Module):
    def __init__(self, dim, resolution, depth, heads, window) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(SwinTransformerBlock(dim, resolution, heads, window, 0 if i % 2 == 0 else window // 2)
                                    for i in range(depth))

    def forward(self, x, size):
        for b in self.blocks:
            x = b(x, size)
        return x


class RSTB(nn.Module):
    """Residual Swin transformer group (no conv inside): x + unembed(blocks(embed(x)))."""

    def __init__(self, dim, resolution, depth, heads, window) -> None:
        super().__init__()
        self.residual_group = BasicLayer(dim, resolution, depth, heads, window)

    def forward(self, x):
        B, C, H, W = x.shape
        t = self.residual_group(x.flatten(2).transpose(1, 2), (H, W))
        return t.transpose(1, 2).view(B, C, H, W) + x


class CausalAttentionModule(nn.Module):
    """Context model: attention over each position's masked 5×5 neighbourhood, summed over tokens."""

    def __init__(self, dim: int, out_dim: int, heads: int = 16) -> None:
        super().__init__()
        self.heads, self.scale, self.n = heads, (dim // heads) ** -0.5, KERNEL * KERNEL
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * KERNEL - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_index(KERNEL))
        self.mlp = Mlp(dim, 4 * dim)
        self.proj = nn.Linear(dim, out_dim)
        causal = torch.zeros(1, self.n, 1)
        causal[:, : self.n // 2] = 1.0  # the 12 tokens before the centre
        self.register_buffer("causal", causal, persistent=False)

    def bias(self) -> torch.Tensor:
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(self.n, self.n, -1).permute(2, 0, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        tokens = F.unfold(x, KERNEL, padding=PAD).reshape(B, C, self.n, H * W).permute(0, 3, 2, 1).reshape(-1, self.n, C)
        masked = tokens * self.causal
        q, k, v = self.qkv(self.norm1(masked)).reshape(-1, self.n, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1) + self.bias().unsqueeze(0)).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(-1, self.n, C) + masked
        summed = out.sum(dim=1).reshape(B, H * W, C)
        out = self.mlp(self.norm2(summed)) + summed
        return self.proj(out).reshape(B, H, W, -1).permute(0, 3, 1, 2)


class TIC(CompressionModel):
    def __init__(self, N: int = 128, M: int = 192, depths=DEPTHS["tic-repo"], heads=HEADS, window: int = 8,
                 coder: str = "fast") -> None:
        super().__init__()
        self.N, self.M, self.depths, self.coder = N, M, tuple(depths), coder
        d, h = self.depths, heads
        self.g_a0, self.g_a1 = _conv(3, N, 5, 2), RSTB(N, (128, 128), d[0], h[0], window)
        self.g_a2, self.g_a3 = _conv(N, N, 3, 2), RSTB(N, (64, 64), d[1], h[1], window)
        self.g_a4, self.g_a5 = _conv(N, N, 3, 2), RSTB(N, (32, 32), d[2], h[2], window)
        self.g_a6 = _conv(N, M, 3, 2)
        self.h_a0, self.h_a1 = _conv(M, N, 3, 1), RSTB(N, (16, 16), d[3], h[3], window // 2)
        self.h_a2, self.h_a3 = _conv(N, N, 3, 2), RSTB(N, (8, 8), d[4], h[4], window // 2)
        self.h_a4 = _conv(N, N, 3, 2)
        rd, rh = d[::-1], h[::-1]
        self.h_s0, self.h_s1 = _deconv(N, N, 3, 2), RSTB(N, (8, 8), rd[0], rh[0], window // 2)
        self.h_s2, self.h_s3 = _deconv(N, N, 3, 2), RSTB(N, (16, 16), rd[1], rh[1], window // 2)
        self.h_s4 = _conv(N, 2 * M, 3, 1)
        self.g_s0, self.g_s1 = _deconv(M, N, 3, 2), RSTB(N, (32, 32), rd[2], rh[2], window)
        self.g_s2, self.g_s3 = _deconv(N, N, 3, 2), RSTB(N, (64, 64), rd[3], rh[3], window)
        self.g_s4, self.g_s5 = _deconv(N, N, 3, 2), RSTB(N, (128, 128), rd[4], rh[4], window)
        self.g_s6 = _deconv(N, 3, 5, 2)
        self.entropy_bottleneck = EntropyBottleneckV120(N)
        self.gaussian_conditional = GaussianConditional(None)
        self.context_prediction = CausalAttentionModule(M, 2 * M)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(4 * M, 10 * M // 3, 1), nn.GELU(), nn.Conv2d(10 * M // 3, 8 * M // 3, 1), nn.GELU(), nn.Conv2d(8 * M // 3, 2 * M, 1))

    def g_a(self, x):
        for m in (self.g_a0, self.g_a1, self.g_a2, self.g_a3, self.g_a4, self.g_a5, self.g_a6):
            x = m(x)
        return x

    def h_a(self, x):
        for m in (self.h_a0, self.h_a1, self.h_a2, self.h_a3, self.h_a4):
            x = m(x)
        return x

    def h_s(self, x):
        for m in (self.h_s0, self.h_s1, self.h_s2, self.h_s3, self.h_s4):
            x = m(x)
        return x

    def g_s(self, x):
        for m in (self.g_s0, self.g_s1, self.g_s2, self.g_s3, self.g_s4, self.g_s5, self.g_s6):
            x = m(x)
        return x

    def forward(self, x):
        y = self.g_a(x)
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        params = self.h_s(z_hat)
        y_hat = self.gaussian_conditional.quantize(y, "noise" if self.training else "dequantize")
        ctx = self.context_prediction(y_hat)
        scales, means = self.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)
        _, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    # ---------------------------------------------------------------- serial coding
    def compress(self, x):
        y = self.g_a(x)
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        params = self.h_s(z_hat)
        gc = self.gaussian_conditional
        symbols, indexes = [], []

        def step(h, w, scales, means):
            idx = gc.build_indexes(scales)
            q = gc.quantize(y[:, :, h:h + 1, w:w + 1], "symbols", means)
            symbols.extend(q.reshape(-1).tolist())
            indexes.extend(idx.reshape(-1).tolist())
            return q + means

        y_hat = self._serial(params, step)
        encoder = BufferedRansEncoder()
        encoder.encode_with_indexes(symbols, indexes, gc.quantized_cdf.tolist(), gc.cdf_length.reshape(-1).int().tolist(),
                                    gc.offset.reshape(-1).int().tolist())
        return {"strings": [[encoder.flush()], z_strings], "shape": z.size()[-2:], "y_hat": y_hat}

    def decompress(self, strings, shape):
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        params = self.h_s(z_hat)
        gc = self.gaussian_conditional
        decoder = RansDecoder()
        decoder.set_stream(strings[0][0])
        lengths, offsets = gc.cdf_length.reshape(-1).int().tolist(), gc.offset.reshape(-1).int().tolist()
        rows = [row[:n] for row, n in zip(gc.quantized_cdf.tolist(), lengths)]

        def step(h, w, scales, means):
            idx = gc.build_indexes(scales).reshape(-1).tolist()
            used = sorted(set(idx))  # pass only the CDF rows this position uses (same symbols, far less copying)
            remap = {u: i for i, u in enumerate(used)}
            rv = decoder.decode_stream([remap[i] for i in idx], [rows[u] for u in used], [lengths[u] for u in used],
                                       [offsets[u] for u in used])
            return torch.tensor(rv, dtype=means.dtype, device=means.device).reshape(means.shape) + means

        y_hat = self._serial(params, step)
        return {"x_hat": self.g_s(y_hat).clamp_(0, 1)}

    def _serial(self, params, step):
        if self.coder == "reference":
            return self._serial_reference(params, step)
        if self.coder == "fast":
            return self._serial_fast(params, step)
        raise ValueError(f"unknown TIC coder {self.coder!r}")

    def _serial_reference(self, params, step):
        """The official order of operations: CAM on each 5×5 crop of the padded ŷ, then entropy parameters."""
        B, _, H, W = params.shape
        y_hat = torch.zeros(B, self.M, H + 2 * PAD, W + 2 * PAD, device=params.device, dtype=params.dtype)
        for h in range(H):
            for w in range(W):
                crop = y_hat[:, :, h:h + KERNEL, w:w + KERNEL]
                ctx = self.context_prediction(crop)[:, :, PAD:PAD + 1, PAD:PAD + 1]
                gp = self.entropy_parameters(torch.cat((params[:, :, h:h + 1, w:w + 1], ctx), dim=1))
                scales, means = gp.chunk(2, 1)
                y_hat[:, :, h + PAD, w + PAD] = step(h, w, scales, means)[:, :, 0, 0]
        return y_hat[:, :, PAD:PAD + H, PAD:PAD + W]

    def _serial_fast(self, params, step):
        """The reference's arithmetic without its waste: each decoded ŷ's LayerNorm+qkv row is computed once
        and cached; masked/outside tokens share one constant row; only the centre position's context is
        computed. Matrix products on one row run inside a 16-row batch (FAST_ROWS) because BLAS uses a
        different kernel (different rounding) for a single row than for the reference's many rows."""
        cam, M, n, heads = self.context_prediction, self.M, KERNEL * KERNEL, self.context_prediction.heads
        B, _, H, W = params.shape
        if B != 1:
            raise ValueError("serial coding handles one image at a time")
        dev, dt = params.device, params.dtype
        def rows(fn, v):
            batch = v.new_zeros(FAST_ROWS, v.shape[-1])
            batch[0] = v
            return fn(batch)[0]

        qkv_row = lambda v: rows(lambda b: cam.qkv(cam.norm1(b)), v)  # noqa: E731
        zero_qkv = qkv_row(torch.zeros(M, device=dev, dtype=dt))
        qkv = zero_qkv.expand((H + 2 * PAD) * (W + 2 * PAD), 3 * M).clone().view(H + 2 * PAD, W + 2 * PAD, 3 * M)
        vals = torch.zeros(H + 2 * PAD, W + 2 * PAD, M, device=dev, dtype=dt)
        bias = cam.bias()  # heads, 25, 25
        hd = M // heads
        ep = [m for m in self.entropy_parameters if isinstance(m, nn.Conv2d)]
        ep_w = [(c.weight.view(c.out_channels, -1), c.bias) for c in ep]
        prm = params[0].permute(1, 2, 0)  # H W 2M
        out = torch.empty(1, M, H, W, device=dev, dtype=dt)
        causal = n // 2
        for h in range(H):
            for w in range(W):
                win_qkv = qkv[h:h + KERNEL, w:w + KERNEL].reshape(n, 3 * M).clone()
                win_qkv[causal:] = zero_qkv  # centre and later tokens are masked
                q, k, v = win_qkv.view(n, 3, heads, hd).permute(1, 2, 0, 3)
                attn = ((q * cam.scale) @ k.transpose(-2, -1) + bias).softmax(-1)
                tok = (attn @ v).transpose(0, 1).reshape(n, M)
                masked = vals[h:h + KERNEL, w:w + KERNEL].reshape(n, M).clone()
                masked[causal:] = 0
                summed = (tok + masked).sum(0)
                ctx = rows(lambda b: cam.proj(cam.mlp(cam.norm2(b)) + b), summed)
                g = torch.cat((prm[h, w], ctx))
                g = F.gelu(F.linear(g, *ep_w[0]))
                g = F.gelu(F.linear(g, *ep_w[1]))
                g = F.linear(g, *ep_w[2])
                scales, means = g[:M].view(1, M, 1, 1), g[M:].view(1, M, 1, 1)
                yh = step(h, w, scales, means)[0, :, 0, 0]
                out[0, :, h, w] = yh
                vals[h + PAD, w + PAD] = yh
                qkv[h + PAD, w + PAD] = qkv_row(yh)
        return out
