"""TCM (Liu, Sun, Katto, "Learned Image Compression with Mixed Transformer-CNN Architectures", CVPR 2023).

Own implementation on compressai's building blocks, module names and shapes identical to the official
code's state_dict (checked against the manifests in tests). N = 64/96/128 for small/medium/large,
M = 320, 5 channel slices coded into one rANS stream, parallel decoding (no spatial autoregression).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .compat import import_compressai

import_compressai()
from compressai.ans import BufferedRansEncoder, RansDecoder  # noqa: E402
from compressai.entropy_models import EntropyBottleneck, GaussianConditional  # noqa: E402
from compressai.layers import ResidualBlockUpsample, ResidualBlockWithStride, conv3x3, subpel_conv3x3  # noqa: E402
from compressai.models import CompressionModel  # noqa: E402

from .swin_tcm import ConvTransBlock, make_swatten  # noqa: E402

#: Smallest padded side the official TCM can code: y = H/16 must exceed the SWAtten window (8).
TCM_MIN_SIDE = 256
Z_CHANNELS = 192


def _conv(i, o, k=3, s=1):
    return nn.Conv2d(i, o, k, stride=s, padding=k // 2)


def _ctbs(n: int, head_dim: int, window: int, count: int = 2):
    return [ConvTransBlock(n, n, head_dim, window, "W" if i % 2 == 0 else "SW") for i in range(count)]


class TCM(CompressionModel):
    def __init__(self, N: int = 128, M: int = 320, num_slices: int = 5, max_support_slices: int = 5,
                 head_dim=(8, 16, 32, 32, 16, 8), window_size: int = 8) -> None:
        super().__init__()
        if M != 320:
            raise ValueError("TCM's official architecture hard-codes M = 320")
        self.N, self.M, self.num_slices, self.max_support_slices = N, M, num_slices, max_support_slices
        C = 2 * N
        hd = head_dim
        self.g_a = nn.Sequential(
            ResidualBlockWithStride(3, C, 2), *_ctbs(N, hd[0], window_size), ResidualBlockWithStride(C, C, 2),
            *_ctbs(N, hd[1], window_size), ResidualBlockWithStride(C, C, 2), *_ctbs(N, hd[2], window_size),
            conv3x3(C, M, stride=2))
        self.g_s = nn.Sequential(
            ResidualBlockUpsample(M, C, 2), *_ctbs(N, hd[3], window_size), ResidualBlockUpsample(C, C, 2),
            *_ctbs(N, hd[4], window_size), ResidualBlockUpsample(C, C, 2), *_ctbs(N, hd[5], window_size),
            subpel_conv3x3(C, 3, 2))
        self.h_a = nn.Sequential(ResidualBlockWithStride(M, C, 2), *_ctbs(N, 32, 4), conv3x3(C, Z_CHANNELS, stride=2))
        self.h_mean_s = nn.Sequential(ResidualBlockUpsample(Z_CHANNELS, C, 2), *_ctbs(N, 32, 4), subpel_conv3x3(C, M, 2))
        self.h_scale_s = nn.Sequential(ResidualBlockUpsample(Z_CHANNELS, C, 2), *_ctbs(N, 32, 4), subpel_conv3x3(C, M, 2))
        s = M // num_slices

        def support(i):
            return M + s * min(i, max_support_slices)

        def stack(i_ch):
            return nn.Sequential(_conv(i_ch, 224), nn.GELU(), _conv(224, 128), nn.GELU(), _conv(128, s))

        self.atten_mean = nn.ModuleList(nn.Sequential(make_swatten(support(i), support(i), 16, window_size, 128)) for i in range(num_slices))
        self.atten_scale = nn.ModuleList(nn.Sequential(make_swatten(support(i), support(i), 16, window_size, 128)) for i in range(num_slices))
        self.cc_mean_transforms = nn.ModuleList(stack(support(i)) for i in range(num_slices))
        self.cc_scale_transforms = nn.ModuleList(stack(support(i)) for i in range(num_slices))
        self.lrp_transforms = nn.ModuleList(stack(M + s * min(i + 1, max_support_slices + 1)) for i in range(num_slices))
        self.entropy_bottleneck = EntropyBottleneck(Z_CHANNELS)
        self.gaussian_conditional = GaussianConditional(None)

    # ---- the channel-conditional entropy model, shared by forward/compress/decompress
    def _slice_params(self, i, latent_means, latent_scales, y_hat_slices, y_shape):
        support = y_hat_slices[: self.max_support_slices] if self.max_support_slices >= 0 else y_hat_slices
        mean_support = self.atten_mean[i](torch.cat([latent_means, *support], dim=1))
        mu = self.cc_mean_transforms[i](mean_support)[:, :, : y_shape[0], : y_shape[1]]
        scale_support = self.atten_scale[i](torch.cat([latent_scales, *support], dim=1))
        scale = self.cc_scale_transforms[i](scale_support)[:, :, : y_shape[0], : y_shape[1]]
        return mean_support, mu, scale

    def _refine(self, i, mean_support, y_hat_slice):
        lrp = self.lrp_transforms[i](torch.cat([mean_support, y_hat_slice], dim=1))
        return y_hat_slice + 0.5 * torch.tanh(lrp)

    def _hyper(self, z_hat):
        return self.h_mean_s(z_hat), self.h_scale_s(z_hat)

    def forward(self, x):
        y = self.g_a(x)
        y_shape = y.shape[2:]
        z = self.h_a(y)
        _, z_likelihoods = self.entropy_bottleneck(z)
        medians = self.entropy_bottleneck._get_medians()
        z_hat = torch.round(z - medians) + medians  # eval-mode quantisation, as the official code
        latent_means, latent_scales = self._hyper(z_hat)
        y_hat_slices, y_likelihood = [], []
        for i, y_slice in enumerate(y.chunk(self.num_slices, 1)):
            mean_support, mu, scale = self._slice_params(i, latent_means, latent_scales, y_hat_slices, y_shape)
            _, lik = self.gaussian_conditional(y_slice, scale, mu)
            y_likelihood.append(lik)
            y_hat_slice = torch.round(y_slice - mu) + mu
            y_hat_slices.append(self._refine(i, mean_support, y_hat_slice))
        x_hat = self.g_s(torch.cat(y_hat_slices, dim=1))
        return {"x_hat": x_hat, "likelihoods": {"y": torch.cat(y_likelihood, dim=1), "z": z_likelihoods}}

    def compress(self, x):
        y = self.g_a(x)
        y_shape = y.shape[2:]
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        latent_means, latent_scales = self._hyper(z_hat)
        gc = self.gaussian_conditional
        encoder = BufferedRansEncoder()
        symbols, indexes, y_hat_slices = [], [], []
        for i, y_slice in enumerate(y.chunk(self.num_slices, 1)):
            mean_support, mu, scale = self._slice_params(i, latent_means, latent_scales, y_hat_slices, y_shape)
            index = gc.build_indexes(scale)
            q = gc.quantize(y_slice, "symbols", mu)
            symbols.extend(q.reshape(-1).tolist())
            indexes.extend(index.reshape(-1).tolist())
            y_hat_slices.append(self._refine(i, mean_support, q + mu))
        encoder.encode_with_indexes(symbols, indexes, gc.quantized_cdf.tolist(), gc.cdf_length.reshape(-1).int().tolist(),
                                    gc.offset.reshape(-1).int().tolist())
        # y_hat lets the encoder state the reconstruction it expects (g_s(ŷ)) without running the decoder
        return {"strings": [[encoder.flush()], z_strings], "shape": z.size()[-2:], "y_hat": torch.cat(y_hat_slices, dim=1)}

    def decompress(self, strings, shape):
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        latent_means, latent_scales = self._hyper(z_hat)
        y_shape = (z_hat.shape[2] * 4, z_hat.shape[3] * 4)
        gc = self.gaussian_conditional
        cdf, lengths, offsets = gc.quantized_cdf.tolist(), gc.cdf_length.reshape(-1).int().tolist(), gc.offset.reshape(-1).int().tolist()
        decoder = RansDecoder()
        decoder.set_stream(strings[0][0])
        y_hat_slices = []
        for i in range(self.num_slices):
            mean_support, mu, scale = self._slice_params(i, latent_means, latent_scales, y_hat_slices, y_shape)
            index = gc.build_indexes(scale)
            rv = decoder.decode_stream(index.reshape(-1).tolist(), cdf, lengths, offsets)
            rv = torch.tensor(rv, dtype=mu.dtype, device=mu.device).reshape(mu.shape)
            y_hat_slices.append(self._refine(i, mean_support, gc.dequantize(rv, mu)))
        x_hat = self.g_s(torch.cat(y_hat_slices, dim=1)).clamp_(0, 1)
        return {"x_hat": x_hat}
