"""Pure-torch references of the fused kernels: what each Triton kernel must compute.

They are also the ops the eager ("torch") mode of the VITS port runs, so the two modes differ
only in which function is called. Each computes in float32 and casts back, which is what the
kernels do too, so half-precision comparisons measure the kernel, not torch's own rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def wn_gate(x_in: torch.Tensor) -> torch.Tensor:
    """WaveNet gate: (B, 2H, T) -> tanh(first half) * sigmoid(second half), (B, H, T)."""
    a, b = x_in.float().chunk(2, dim=1)
    return (torch.tanh(a) * torch.sigmoid(b)).to(x_in.dtype)


def add_layer_norm(
    x: torch.Tensor, residual: torch.Tensor | None, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """LayerNorm over channels of (B, C, T), of ``x + residual`` when a residual is given."""
    h = x.float() if residual is None else x.float() + residual.float()
    h = F.layer_norm(h.transpose(1, 2), (h.shape[1],), gamma.float(), beta.float(), eps)
    return h.transpose(1, 2).to(x.dtype)


def add_leaky_relu(
    a: torch.Tensor, b: torch.Tensor, slope: float, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``s = (a + b) * scale`` and ``leaky_relu(s, slope)``: HiFi-GAN's residual add and next activation."""
    s = a.float() + b.float()
    if scale != 1.0:  # skipped: a whole extra pass over audio-rate tensors in eager mode
        s = s * scale
    return s.to(a.dtype), F.leaky_relu(s, slope).to(a.dtype)
