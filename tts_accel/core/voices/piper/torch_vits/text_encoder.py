"""VITS text encoder: phoneme embedding, 6 transformer layers with windowed relative-position
attention and channel LayerNorm, then a 1x1 projection to the prior's mean and log-scale."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tts_accel.core.voices.piper.torch_vits.ops import FusedOps, torch_ops


class ChannelNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, T); VITS names its affine terms gamma/beta."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.ops: FusedOps = torch_ops()

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        return self.ops.add_layer_norm(x, residual, self.gamma, self.beta, self.eps)


class RelativeAttention(nn.Module):
    """Multi-head self-attention whose logits and values get a learned bias per relative offset
    in [-window, window] (shared by the heads); offsets further apart get none."""

    def __init__(self, channels: int, n_heads: int, window: int) -> None:
        super().__init__()
        self.n_heads, self.window = n_heads, window
        self.k_channels = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        self.emb_rel_k = nn.Parameter(torch.zeros(1, 2 * window + 1, self.k_channels))
        self.emb_rel_v = nn.Parameter(torch.zeros(1, 2 * window + 1, self.k_channels))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        return x.view(b, self.n_heads, self.k_channels, t).transpose(2, 3)  # (B, H, T, D)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        q = self._heads(self.conv_q(x)) / math.sqrt(self.k_channels)
        k, v = self._heads(self.conv_k(x)), self._heads(self.conv_v(x))
        scores = q @ k.transpose(-2, -1)  # (B, H, T, T)
        rel = q @ self.emb_rel_k[0].transpose(0, 1)  # (B, H, T, 2W+1): q_i . e_{o}
        for o in range(-self.window, self.window + 1):
            n = t - abs(o)
            if n <= 0:
                continue
            rows = rel[..., max(0, -o) : max(0, -o) + n, o + self.window]  # query i with key i+o
            scores = scores + torch.diag_embed(rows, offset=o)
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p = torch.softmax(scores, dim=-1)
        out = p @ v  # (B, H, T, D)
        for o in range(-self.window, self.window + 1):
            n = t - abs(o)
            if n <= 0:
                continue
            weight = torch.diagonal(p, offset=o, dim1=-2, dim2=-1)  # (B, H, n): p[i, i+o]
            start = max(0, -o)
            out[:, :, start : start + n] += weight.unsqueeze(-1) * self.emb_rel_v[0, o + self.window]
        out = out.transpose(2, 3).reshape(b, c, t)
        return self.conv_o(out)


class FeedForward(nn.Module):
    def __init__(self, channels: int, filter_channels: int, kernel: int) -> None:
        super().__init__()
        self.pad = (kernel - 1) // 2
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(F.pad(x * mask, (self.pad, self.pad))))
        return self.conv_2(F.pad(x * mask, (self.pad, self.pad))) * mask


class Encoder(nn.Module):
    def __init__(self, channels: int, filter_channels: int, n_heads: int, n_layers: int, kernel: int,
                 window: int) -> None:  # fmt: skip
        super().__init__()
        self.attn_layers = nn.ModuleList(RelativeAttention(channels, n_heads, window) for _ in range(n_layers))
        self.norm_layers_1 = nn.ModuleList(ChannelNorm(channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(FeedForward(channels, filter_channels, kernel) for _ in range(n_layers))
        self.norm_layers_2 = nn.ModuleList(ChannelNorm(channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        attn_mask = mask.unsqueeze(2) * mask.unsqueeze(-1)  # (B, 1, T, T)
        x = x * mask
        for attn, norm1, ffn, norm2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm1(x, attn(x, attn_mask))
            x = norm2(x, ffn(x, mask))
        return x * mask


class TextEncoder(nn.Module):
    """ids (B, T) -> x (B, C, T) hidden, m_p and logs_p (B, C, T), mask (B, 1, T)."""

    def __init__(self, n_vocab: int, channels: int, filter_channels: int, n_heads: int, n_layers: int,
                 kernel: int, window: int) -> None:  # fmt: skip
        super().__init__()
        self.channels = channels
        self.emb = nn.Embedding(n_vocab, channels)
        self.encoder = Encoder(channels, filter_channels, n_heads, n_layers, kernel, window)
        self.proj = nn.Conv1d(channels, 2 * channels, 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor):  # type: ignore[no-untyped-def]
        x = (self.emb(ids) * math.sqrt(self.channels)).transpose(1, 2)  # (B, C, T)
        t = ids.shape[1]
        mask = (torch.arange(t, device=ids.device)[None, :] < lengths[:, None]).unsqueeze(1).to(x.dtype)
        x = self.encoder(x * mask, mask)
        stats = self.proj(x) * mask
        m_p, logs_p = stats.split(self.channels, dim=1)
        return x, m_p, logs_p, mask
