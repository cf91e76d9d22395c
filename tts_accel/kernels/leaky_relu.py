"""Fused residual add + leaky ReLU for HiFi-GAN: s = (a + b) * scale and leaky_relu(s) in one pass.

In the generator every dilated conv's output is added to the running signal and the sum is
immediately activated for the next conv; eager torch reads and writes the tensor twice.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from tts_accel.kernels._common import check_tensor, launch_config, same_layout
from tts_accel.kernels.reference import add_leaky_relu as reference

__all__ = ["add_leaky_relu", "reference"]


@triton.jit
def _add_leaky_relu_kernel(
    a_ptr,  # *in: (R, N) contiguous
    b_ptr,  # *in: (R, N) contiguous, same dtype
    sum_ptr,  # *out: (R, N) (a + b) * scale
    act_ptr,  # *out: (R, N) leaky_relu of the sum
    n_cols,  # N
    slope,  # negative-side slope
    scale,  # multiplier of the sum (1 / number of resblocks for the mean)
    BLOCK_SIZE: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    keep = offs < n_cols
    base = row * n_cols
    a = tl.load(a_ptr + base + offs, mask=keep, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + base + offs, mask=keep, other=0.0).to(tl.float32)
    s = (a + b) * scale
    act = tl.where(s >= 0, s, s * slope)
    tl.store(sum_ptr + base + offs, s.to(sum_ptr.dtype.element_ty), mask=keep)
    tl.store(act_ptr + base + offs, act.to(act_ptr.dtype.element_ty), mask=keep)


def add_leaky_relu(
    a: torch.Tensor, b: torch.Tensor, slope: float, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """a, b (..., N) of one shape -> ((a + b) * scale, leaky_relu of it)."""
    check_tensor(a, "a")
    check_tensor(b, "b")
    same_layout(a, b, "a and b")
    n = a.shape[-1]
    a2, b2 = a.contiguous().view(-1, n), b.contiguous().view(-1, n)  # 2-D: (rows, N)
    s, act = torch.empty_like(a2), torch.empty_like(a2)
    block, warps = launch_config(n)
    grid = (a2.shape[0], triton.cdiv(n, block))
    _add_leaky_relu_kernel[grid](a2, b2, s, act, n, float(slope), float(scale), BLOCK_SIZE=block, num_warps=warps)
    return s.view(a.shape), act.view(a.shape)
