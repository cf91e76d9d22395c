"""Piper's HiFi-GAN decoder as one torch module over a fixed-length window, in a 2-D layout: every
Conv1d is a Conv2d with a (1, k) kernel over (B, C, 1, T) tensors, weights read from the voice's
own ONNX file (the torch port's loader: no re-export).

Why 2-D: oneDNN and inductor's CPU freezing pass pre-pack weights and keep activations in a
blocked layout only for 4-D convolutions. The 1-D port paid 69 reorders per compiled bf16 window
(a third of its time); in 2-D the compiled stage ran 3.1-3.4x ONNX Runtime fp32 per window
instead of 1.3-1.4x on the dev VM (docs/acoustic.md, table C).

Windows: a window of F valid frames runs at a compiled length L >= F: the latent is zero-padded on
the right and every conv output is zeroed past ``valid * scale``, which is exactly what each
convolution's own zero padding does at the true end of an F-frame input. So one compiled shape
serves every window up to L frames and the first F * hop samples equal an unpadded run's (0.0
difference in fp32).

Precisions: ``fp32``; ``bf16`` (weights and activations in bfloat16; compiled, inductor keeps the
element-wise chain in fp32, so only the convolutions' inputs and weights are rounded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tts_accel.core.voices.piper.torch_acoustic._runtime import torch

nn = torch.nn
F = torch.nn.functional

PRECISIONS = ("fp32", "bf16")
LRELU_SLOPE = 0.1
FINAL_SLOPE = 0.01  # the generator's last activation uses torch's default slope
#: latent channels of Piper's decoder input (VITS inter_channels)
CHANNELS = 192


def _conv(w: np.ndarray, b: np.ndarray | None, dilation: int = 1, transposed: bool = False, stride: int = 1):  # type: ignore[no-untyped-def]
    """A (1, k) Conv2d / ConvTranspose2d from a Conv1d weight (O, I, k) (transposed: (I, O, k))."""
    k = w.shape[2]
    if transposed:
        conv = nn.ConvTranspose2d(
            w.shape[0], w.shape[1], (1, k), stride=(1, stride), padding=(0, (k - stride) // 2), bias=b is not None
        )
    else:
        conv = nn.Conv2d(
            w.shape[1], w.shape[0], (1, k), dilation=(1, dilation), padding=(0, dilation * (k - 1) // 2),
            bias=b is not None,
        )  # fmt: skip
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.array(w, dtype=np.float32))[:, :, None, :])
        if b is not None:
            conv.bias.copy_(torch.from_numpy(np.array(b, dtype=np.float32)))
    return conv


class Decoder2d(nn.Module):
    """HiFi-GAN (ResBlock2): latent (1, 192, L) float32 + valid frames (1,) int64 -> audio (1, L * hop)."""

    def __init__(self, state: dict[str, np.ndarray], cfg, precision: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
        g = state.get
        self.precision = precision
        self.rates = tuple(cfg.upsample_rates)
        self.hop = int(np.prod(self.rates))
        self.n_k = len(cfg.resblock_kernels)
        self.conv_pre = _conv(state["dec.conv_pre.weight"], g("dec.conv_pre.bias"))
        self.ups = nn.ModuleList(
            _conv(state[f"dec.ups.{i}.weight"], g(f"dec.ups.{i}.bias"), transposed=True, stride=r)
            for i, r in enumerate(self.rates)
        )
        blocks = []
        for i in range(len(self.rates) * self.n_k):
            dil = cfg.resblock_dilations[i % self.n_k]
            blocks.append(nn.ModuleList(
                _conv(state[f"dec.resblocks.{i}.convs.{j}.weight"], g(f"dec.resblocks.{i}.convs.{j}.bias"), d)
                for j, d in enumerate(dil)
            ))  # fmt: skip
        self.resblocks = nn.ModuleList(blocks)
        self.conv_post = _conv(state["dec.conv_post.weight"], g("dec.conv_post.bias"))

    @property
    def dtype(self):  # type: ignore[no-untyped-def]
        return torch.bfloat16 if self.precision == "bf16" else torch.float32

    def forward(self, latent, valid):  # type: ignore[no-untyped-def]
        frames = latent.shape[-1]
        dtype = self.dtype

        def mask(x, scale: int):  # type: ignore[no-untyped-def]  # zero past the window's valid end
            keep = torch.arange(frames * scale, device=x.device) < valid * scale  # (L * scale,)
            return x * keep.to(dtype)

        x = latent.to(dtype).unsqueeze(2)  # (1, 192, 1, L)
        scale = 1
        x = mask(self.conv_pre(x), scale)  # (1, C, 1, L)
        act = F.leaky_relu(x, LRELU_SLOPE)
        for i, up in enumerate(self.ups):
            scale *= self.rates[i]
            x = mask(up(act), scale)  # (1, C / 2^i, 1, L * scale)
            lx = F.leaky_relu(x, LRELU_SLOPE)
            total = None
            for j in range(self.n_k):
                convs = self.resblocks[i * self.n_k + j]
                res, a = x, lx
                for c, conv in enumerate(convs):
                    res = mask(conv(a), scale) + res
                    if c < len(convs) - 1:
                        a = F.leaky_relu(res, LRELU_SLOPE)
                total = res if total is None else total + res
            slope = FINAL_SLOPE if i == len(self.ups) - 1 else LRELU_SLOPE
            x = total * (1.0 / self.n_k)  # the mean over the resblocks
            act = F.leaky_relu(x, slope)
        audio = torch.tanh(self.conv_post(act))  # (1, 1, 1, L * hop)
        return audio.reshape(1, -1).float()


def build_decoder(model_path: str | Path, precision: str = "bf16") -> Decoder2d:
    """The decoder of a Piper voice, weights read from its ONNX file, ready for inference."""
    from tts_accel.core.voices.piper.torch_vits.weights import load_onnx_weights

    state, cfg = load_onnx_weights(model_path)
    net = Decoder2d(state, cfg, precision)
    return net.to(net.dtype).eval().requires_grad_(False)
