"""HiFi-GAN generator (ResBlock2 variant): latent (B, 192, F) -> waveform (B, 1, F * 256).

When ``lengths`` (valid frames per item) is given, every conv output is zeroed past each
item's end, so a padded or batched item gives the samples it would give alone: a conv with
zero padding at the true end sees exactly those zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tts_accel.core.voices.piper.torch_vits.ops import FusedOps, torch_ops
from tts_accel.core.voices.piper.torch_vits.weights import VitsConfig

LRELU_SLOPE = 0.1
FINAL_SLOPE = 0.01  # the generator's last activation uses torch's default slope


class ResBlock(nn.Module):
    """Two dilated convs, each as x = conv(leaky(x)) + x."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2) for d in dilations
        )


class Generator(nn.Module):
    def __init__(self, cfg: VitsConfig, initial_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv_pre = nn.Conv1d(cfg.hidden, initial_channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = initial_channels
        for rate, kernel in zip(cfg.upsample_rates, cfg.upsample_kernels, strict=True):
            self.ups.append(nn.ConvTranspose1d(ch, ch // 2, kernel, stride=rate, padding=(kernel - rate) // 2))
            ch //= 2
            for k, dil in zip(cfg.resblock_kernels, cfg.resblock_dilations, strict=True):
                self.resblocks.append(ResBlock(ch, k, dil))
        self.conv_post = nn.Conv1d(ch, 1, 7, padding=3, bias=False)
        self.ops: FusedOps = torch_ops()

    def forward(self, z: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        ops, n_k = self.ops, len(self.cfg.resblock_kernels)
        scale = 1
        mask = _mask_fn(lengths, z.shape[-1])

        x = mask(self.conv_pre(z), scale)
        act = F.leaky_relu(x, LRELU_SLOPE)
        for i, up in enumerate(self.ups):
            scale *= self.cfg.upsample_rates[i]
            x = mask(up(act), scale)
            lx = F.leaky_relu(x, LRELU_SLOPE)  # shared by the first conv of every resblock
            ys = []
            for j in range(n_k):
                convs = self.resblocks[i * n_k + j].convs
                res, a = x, lx
                for c, conv in enumerate(convs):
                    out = mask(conv(a), scale)
                    if c < len(convs) - 1:
                        res, a = ops.add_leaky_relu(out, res, LRELU_SLOPE)  # (B, C, L) twice
                    else:
                        res = out + res
                ys.append(res)
            slope = FINAL_SLOPE if i == len(self.ups) - 1 else LRELU_SLOPE
            partial = ys[0] if n_k > 1 else torch.zeros_like(ys[0])
            for y in ys[1:-1]:
                partial = partial + y
            # mean over the resblocks and the activation that feeds the next upsampler / conv_post
            x, act = ops.add_leaky_relu(partial, ys[-1], slope, 1.0 / n_k)
        return torch.tanh(self.conv_post(act))


def _mask_fn(lengths: torch.Tensor | None, frames: int):  # type: ignore[no-untyped-def]
    if lengths is None:
        return lambda x, scale: x

    def apply(x: torch.Tensor, scale: int) -> torch.Tensor:
        keep = torch.arange(x.shape[-1], device=x.device)[None, :] < (lengths[:, None] * scale)
        return x * keep.unsqueeze(1).to(x.dtype)

    return apply
