"""Fused WaveNet gate of the VITS flow: tanh(a) * sigmoid(b) in one pass over (B, 2H, T).

Eager torch does chunk + tanh + sigmoid + mul as 3 kernels and 2 temporaries of (B, H, T).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from tts_accel.kernels._common import KernelInputError, check_tensor, launch_config
from tts_accel.kernels.reference import wn_gate as reference

__all__ = ["wn_gate", "reference"]


@triton.jit
def _wn_gate_kernel(
    x_ptr,  # *in: (B, 2*half) rows: [a (half) | b (half)], contiguous
    out_ptr,  # *out: (B, half) rows, same dtype as x
    half,  # H * T elements per half-row
    BLOCK_SIZE: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    keep = offs < half
    a = tl.load(x_ptr + row * 2 * half + offs, mask=keep, other=0.0).to(tl.float32)
    b = tl.load(x_ptr + row * 2 * half + half + offs, mask=keep, other=0.0).to(tl.float32)
    e = tl.exp(-2.0 * tl.abs(a))  # tanh from exp(-2|a|): no overflow for large |a|
    t = (1.0 - e) / (1.0 + e)
    t = tl.where(a >= 0, t, -t)
    y = t * tl.sigmoid(b)
    tl.store(out_ptr + row * half + offs, y.to(out_ptr.dtype.element_ty), mask=keep)


def wn_gate(x_in: torch.Tensor) -> torch.Tensor:
    """x_in (B, 2H, T) -> tanh(x_in[:, :H]) * sigmoid(x_in[:, H:]), shape (B, H, T)."""
    check_tensor(x_in, "x_in", ndim=3)
    b, c2, t = x_in.shape
    if c2 % 2:
        raise KernelInputError(f"x_in needs an even channel count (gate halves), got {c2}.")
    x = x_in.contiguous().view(b, c2 * t)  # 2-D: one row per batch item
    half = (c2 // 2) * t
    out = torch.empty((b, c2 // 2, t), device=x.device, dtype=x.dtype)
    block, warps = launch_config(half)
    _wn_gate_kernel[(b, triton.cdiv(half, block))](x, out, half, BLOCK_SIZE=block, num_warps=warps)
    return out
