"""TCM's transformer pieces (Liu et al., CVPR 2023), written from the architecture facts.

Conventions that matter for loading the official weights and for bit-exact outputs:
window attention works channels-last; q·kᵀ is scaled *after* the matmul; the relative position
bias is stored as (heads, 2p−1, 2p−1); shifted windows mask with −inf; SwinBlock pads inputs not
larger than the window and never crops back (so a y of 8×8 cannot be coded — see TCM_MIN_SIDE).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class WMSA(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, head_dim: int, window_size: int, type_: str) -> None:
        super().__init__()
        self.head_dim, self.window_size, self.type = head_dim, window_size, type_
        self.n_heads = input_dim // head_dim
        self.scale = head_dim ** -0.5
        self.embedding_layer = nn.Linear(input_dim, 3 * input_dim, bias=True)
        self.relative_position_params = nn.Parameter(torch.zeros(self.n_heads, 2 * window_size - 1, 2 * window_size - 1))
        nn.init.trunc_normal_(self.relative_position_params, std=0.02)
        self.linear = nn.Linear(input_dim, output_dim)
        p = window_size
        coords = torch.stack(torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij"), -1).reshape(-1, 2)
        rel = coords[:, None, :] - coords[None, :, :] + p - 1  # (p², p², 2)
        self.register_buffer("_rel_index", rel, persistent=False)

    def relative_bias(self) -> torch.Tensor:
        return self.relative_position_params[:, self._rel_index[..., 0], self._rel_index[..., 1]]  # (h, p², p²)

    def shift_mask(self, hw: int, ww: int, device) -> torch.Tensor:
        p, s = self.window_size, self.window_size - self.window_size // 2
        m = torch.zeros(hw, ww, p, p, p, p, dtype=torch.bool, device=device)
        m[-1, :, :s, :, s:, :] = True
        m[-1, :, s:, :, :s, :] = True
        m[:, -1, :, :s, :, s:] = True
        m[:, -1, :, s:, :, :s] = True
        return m.reshape(1, 1, hw * ww, p * p, p * p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # b h w c
        p = self.window_size
        if self.type != "W":
            x = torch.roll(x, shifts=(-(p // 2), -(p // 2)), dims=(1, 2))
        b, H, W, c = x.shape
        hw, ww = H // p, W // p
        x = x.reshape(b, hw, p, ww, p, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hw * ww, p * p, c)
        qkv = self.embedding_layer(x)  # b nw np 3c, channels [q|k|v] each head-major
        qkv = qkv.reshape(b, hw * ww, p * p, 3 * self.n_heads, self.head_dim).permute(3, 0, 1, 2, 4)
        q, k, v = qkv.chunk(3, dim=0)  # each (h, b, nw, np, hd)
        sim = torch.einsum("hbwpc,hbwqc->hbwpq", q, k) * self.scale
        sim = sim + self.relative_bias()[:, None, None]
        if self.type != "W":
            sim = sim.masked_fill(self.shift_mask(hw, ww, sim.device), float("-inf"))
        probs = torch.softmax(sim, dim=-1)
        out = torch.einsum("hbwij,hbwjc->hbwic", probs, v)
        out = out.permute(1, 2, 3, 0, 4).reshape(b, hw * ww, p * p, self.n_heads * self.head_dim)
        out = self.linear(out)
        out = out.reshape(b, hw, ww, p, p, -1).permute(0, 1, 3, 2, 4, 5).reshape(b, H, W, -1)
        if self.type != "W":
            out = torch.roll(out, shifts=(p // 2, p // 2), dims=(1, 2))
        return out


class Block(nn.Module):
    """Pre-norm transformer block on channels-last input: MSA then a 4× MLP, both residual."""

    def __init__(self, input_dim: int, output_dim: int, head_dim: int, window_size: int, type_: str) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(input_dim)
        self.msa = WMSA(input_dim, input_dim, head_dim, window_size, type_)
        self.ln2 = nn.LayerNorm(input_dim)
        self.mlp = nn.Sequential(nn.Linear(input_dim, 4 * input_dim), nn.GELU(), nn.Linear(4 * input_dim, output_dim))

    def forward(self, x):
        x = x + self.msa(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ConvTransBlock(nn.Module):
    """Split 2N channels into a residual-conv branch and a Swin branch, then fuse (both residual)."""

    def __init__(self, conv_dim: int, trans_dim: int, head_dim: int, window_size: int, type_: str) -> None:
        super().__init__()
        from compressai.layers import ResidualBlock

        self.conv_dim, self.trans_dim = conv_dim, trans_dim
        self.trans_block = Block(trans_dim, trans_dim, head_dim, window_size, type_)
        self.conv1_1 = nn.Conv2d(conv_dim + trans_dim, conv_dim + trans_dim, 1, 1, 0, bias=True)
        self.conv1_2 = nn.Conv2d(conv_dim + trans_dim, conv_dim + trans_dim, 1, 1, 0, bias=True)
        self.conv_block = ResidualBlock(conv_dim, conv_dim)

    def forward(self, x):
        conv_x, trans_x = torch.split(self.conv1_1(x), (self.conv_dim, self.trans_dim), dim=1)
        conv_x = self.conv_block(conv_x) + conv_x  # the official double residual
        trans_x = self.trans_block(trans_x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x + self.conv1_2(torch.cat((conv_x, trans_x), dim=1))


class SwinBlock(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, head_dim: int, window_size: int) -> None:
        super().__init__()
        self.block_1 = Block(input_dim, output_dim, head_dim, window_size, "W")
        self.block_2 = Block(input_dim, output_dim, head_dim, window_size, "SW")
        self.window_size = window_size

    def forward(self, x):
        if x.size(-1) <= self.window_size or x.size(-2) <= self.window_size:
            pr, pc = (self.window_size - x.size(-2)) // 2, (self.window_size - x.size(-1)) // 2
            x = F.pad(x, (pc, pc + 1, pr, pr + 1))  # as the official code: never cropped back
        t = x.permute(0, 2, 3, 1)
        t = self.block_2(self.block_1(t))
        return t.permute(0, 3, 1, 2)


def make_swatten(input_dim: int, output_dim: int, head_dim: int = 16, window_size: int = 8, inter_dim: int = 128):
    """compressai's AttentionBlock with a Swin non-local branch and 1×1 in/out projections."""
    from compressai.layers import AttentionBlock, conv1x1

    class SWAtten(AttentionBlock):
        def __init__(self):
            super().__init__(N=inter_dim)
            self.non_local_block = SwinBlock(inter_dim, inter_dim, head_dim, window_size)
            self.in_conv = conv1x1(input_dim, inter_dim)
            self.out_conv = conv1x1(inter_dim, output_dim)

        def forward(self, x):
            x = self.in_conv(x)
            identity = x
            z = self.non_local_block(x)
            out = self.conv_a(x) * torch.sigmoid(self.conv_b(z)) + identity
            return self.out_conv(out)

    return SWAtten()
