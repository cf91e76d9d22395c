"""Normalising flow between the prior and the decoder's latent, run in reverse: four
mean-only residual coupling layers, each conditioned by a WaveNet, with channel flips between."""

from __future__ import annotations

import torch
from torch import nn

from tts_accel.core.voices.piper.torch_vits.ops import FusedOps, torch_ops


class WaveNet(nn.Module):
    """Non-causal WaveNet: per layer conv (k=5) -> gate tanh*sigmoid -> 1x1 to residual + skip."""

    def __init__(self, hidden: int, kernel: int, n_layers: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.in_layers = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden, kernel, padding=(kernel - 1) // 2) for _ in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1) for i in range(n_layers)
        )
        self.ops: FusedOps = torch_ops()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        skip = torch.zeros_like(x)
        last = len(self.in_layers) - 1
        for i, (conv, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers, strict=True)):
            acts = self.ops.wn_gate(conv(x))  # (B, 2H, T) -> (B, H, T)
            rs = res_skip(acts)
            if i < last:
                x = (x + rs[:, : self.hidden]) * mask
                skip = skip + rs[:, self.hidden :]
            else:
                skip = skip + rs
        return skip * mask


class CouplingLayer(nn.Module):
    """Mean-only affine coupling: the first half of the channels shifts the second half."""

    def __init__(self, channels: int, hidden: int, kernel: int, n_layers: int) -> None:
        super().__init__()
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden, 1)
        self.enc = WaveNet(hidden, kernel, n_layers)
        self.post = nn.Conv1d(hidden, self.half, 1)

    def reverse(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x0, x1 = x[:, : self.half], x[:, self.half :]
        h = self.enc(self.pre(x0) * mask, mask)
        mean = self.post(h) * mask
        return torch.cat([x0, (x1 - mean) * mask], dim=1)


class Flow(nn.Module):
    def __init__(self, channels: int, hidden: int, kernel: int, n_layers: int, flow_ids: tuple[int, ...]) -> None:
        super().__init__()
        self.flows = nn.ModuleDict({str(i): CouplingLayer(channels, hidden, kernel, n_layers) for i in flow_ids})
        self.order = tuple(sorted(flow_ids, reverse=True))

    def reverse(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for i in self.order:  # forward was coupling, flip, coupling, flip, ...; undo from the end
            z = self.flows[str(i)].reverse(z.flip(1), mask)
        return z
