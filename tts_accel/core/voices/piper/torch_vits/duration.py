"""Stochastic duration predictor, inference direction only.

Noise (B, 2, T) scaled by noise_w is pushed backwards through the flows that survive in
the export (flips, three spline coupling flows, one element-wise affine flow), conditioned
on the text encoding; the first of the two output channels is log-duration per phoneme.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tts_accel.core.voices.piper.torch_vits.text_encoder import ChannelNorm


class DDSConv(nn.Module):
    """Dilated depth-separable conv stack: depthwise conv (dilation kernel**i), norm, GELU,
    1x1 conv, norm, GELU, residual."""

    def __init__(self, channels: int, kernel: int, n_layers: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.convs_sep = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, groups=channels, dilation=kernel**i,
                      padding=(kernel**i * (kernel - 1)) // 2)
            for i in range(n_layers)
        )  # fmt: skip
        self.convs_1x1 = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(n_layers))
        self.norms_1 = nn.ModuleList(ChannelNorm(channels) for _ in range(n_layers))
        self.norms_2 = nn.ModuleList(ChannelNorm(channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        if g is not None:
            x = x + g
        for sep, n1, pw, n2 in zip(self.convs_sep, self.norms_1, self.convs_1x1, self.norms_2, strict=True):
            y = F.gelu(n1(sep(x * mask)))
            y = F.gelu(n2(pw(y)))
            x = x + y
        return x * mask


def _spline_inverse(x: torch.Tensor, w: torch.Tensor, h: torch.Tensor, d: torch.Tensor,
                    tail_bound: float, min_size: float = 1e-3) -> torch.Tensor:  # fmt: skip
    """Inverse of a monotonic rational-quadratic spline on [-B, B], identity outside.

    x: (...) values; w, h: (..., K) unnormalised bin widths and heights; d: (..., K-1)
    unnormalised interior knot derivatives (the two boundary derivatives are 1, matching the
    identity tails).
    """
    k = w.shape[-1]

    def knots(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = min_size + (1 - min_size * k) * torch.softmax(raw, dim=-1)
        cum = F.pad(torch.cumsum(size, dim=-1), (1, 0))
        cum = 2 * tail_bound * cum - tail_bound
        cum[..., 0], cum[..., -1] = -tail_bound, tail_bound
        return cum, cum[..., 1:] - cum[..., :-1]

    cumw, widths = knots(w)  # (..., K+1), (..., K)
    cumh, heights = knots(h)
    boundary = math.log(math.exp(1 - min_size) - 1)  # softplus^-1(1 - min): derivative exactly 1
    d = F.pad(d, (1, 1), value=boundary)
    deriv = min_size + F.softplus(d)  # (..., K+1)

    inside = (x >= -tail_bound) & (x <= tail_bound)
    xc = x.clamp(-tail_bound, tail_bound)
    edges = cumh.clone()
    edges[..., -1] += 1e-6
    idx = ((xc.unsqueeze(-1) >= edges).sum(dim=-1, keepdim=True) - 1).clamp(0, k - 1)  # bin per value

    def at(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, idx).squeeze(-1)

    x0, y0, bw, bh = at(cumw), at(cumh), at(widths), at(heights)
    d0, d1 = at(deriv[..., :-1]), at(deriv[..., 1:])
    delta = bh / bw
    dy = xc - y0
    curv = d0 + d1 - 2 * delta
    qa = dy * curv + bh * (delta - d0)
    qb = bh * d0 - dy * curv
    qc = -delta * dy
    disc = (qb.pow(2) - 4 * qa * qc).clamp_min(0)
    theta = (2 * qc) / (-qb - torch.sqrt(disc))  # stable root of qa*t^2 + qb*t + qc = 0
    return torch.where(inside, theta * bw + x0, x)


class ConvFlow(nn.Module):
    """Coupling flow: the first channel conditions a spline transform of the second."""

    def __init__(self, filter_channels: int, kernel: int, n_layers: int, num_bins: int,
                 tail_bound: float = 5.0) -> None:  # fmt: skip
        super().__init__()
        self.filter_channels, self.num_bins, self.tail_bound = filter_channels, num_bins, tail_bound
        self.pre = nn.Conv1d(1, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel, n_layers)
        self.proj = nn.Conv1d(filter_channels, 3 * num_bins - 1, 1)

    def reverse(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x0, x1 = x[:, :1], x[:, 1:]  # (B, 1, T) each
        h = self.proj(self.convs(self.pre(x0), mask, g)) * mask  # (B, 3K-1, T)
        h = h.transpose(1, 2)  # (B, T, 3K-1)
        k, scale = self.num_bins, math.sqrt(self.filter_channels)
        x1 = _spline_inverse(x1[:, 0], h[..., :k] / scale, h[..., k : 2 * k] / scale, h[..., 2 * k :],
                             self.tail_bound)  # fmt: skip
        return torch.cat([x0, x1.unsqueeze(1)], dim=1) * mask


class ElementwiseAffine(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.inv_scale = nn.Parameter(torch.ones(channels, 1))  # exp(-logs), folded by the exporter

    def reverse(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (x - self.m) * self.inv_scale * mask


class DurationPredictor(nn.Module):
    """x (B, C, T) text encoding -> logw (B, 1, T)."""

    def __init__(self, channels: int, kernel: int, flow_ids: tuple[int, ...], num_bins: int,
                 n_layers: int = 3) -> None:  # fmt: skip
        super().__init__()
        self.pre = nn.Conv1d(channels, channels, 1)
        self.convs = DDSConv(channels, kernel, n_layers)
        self.proj = nn.Conv1d(channels, channels, 1)
        flows: dict[str, nn.Module] = {"0": ElementwiseAffine(2)}
        flows.update({str(i): ConvFlow(channels, kernel, n_layers, num_bins) for i in flow_ids})
        self.flows = nn.ModuleDict(flows)
        self.flow_ids = tuple(sorted(flow_ids, reverse=True))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """noise: (B, 2, T), already scaled by noise_w."""
        x = self.proj(self.convs(self.pre(x), mask)) * mask
        z = noise
        for i in self.flow_ids:  # each ConvFlow was followed by a channel flip in the forward direction
            z = self.flows[str(i)].reverse(z.flip(1), mask, x)
        z = self.flows["0"].reverse(z.flip(1), mask)
        return z[:, :1]
