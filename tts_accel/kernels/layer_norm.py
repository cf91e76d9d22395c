"""Fused residual add + LayerNorm over the channel axis of (B, C, T).

VITS normalises channels of a channels-first tensor; eager torch adds, transposes, runs
layer_norm on a strided view and transposes back. This kernel reads x and the residual once,
normalises a (C, BLOCK_T) tile per program (contiguous along T) and writes once.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from tts_accel.kernels._common import KernelInputError, check_tensor, launch_config, same_layout
from tts_accel.kernels.reference import add_layer_norm as reference

__all__ = ["add_layer_norm", "reference", "MAX_CHANNELS"]

MAX_CHANNELS = 1024  # one program holds a whole channel column; 192 in the Piper voice
TILE_ELEMENTS = 8192  # BLOCK_C * BLOCK_T per program


@triton.jit
def _add_layer_norm_kernel(
    x_ptr,  # *in: (B, C, T) contiguous
    res_ptr,  # *in: (B, C, T) residual added before normalising (ignored unless HAS_RES)
    gamma_ptr,  # *in: (C,) scale
    beta_ptr,  # *in: (C,) shift
    out_ptr,  # *out: (B, C, T), dtype of x
    C,
    T,
    eps,
    HAS_RES: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_T: tl.constexpr,
):
    batch = tl.program_id(0).to(tl.int64)
    c = tl.arange(0, BLOCK_C)
    t = tl.program_id(1) * BLOCK_T + tl.arange(0, BLOCK_T)
    keep = (c[:, None] < C) & (t[None, :] < T)
    offs = batch * C * T + c[:, None] * T + t[None, :]  # (BLOCK_C, BLOCK_T)
    h = tl.load(x_ptr + offs, mask=keep, other=0.0).to(tl.float32)
    if HAS_RES:
        h += tl.load(res_ptr + offs, mask=keep, other=0.0).to(tl.float32)
    mean = tl.sum(h, axis=0) / C  # (BLOCK_T,)
    d = tl.where(keep, h - mean[None, :], 0.0)
    var = tl.sum(d * d, axis=0) / C
    rstd = 1.0 / tl.sqrt(var + eps)
    g = tl.load(gamma_ptr + c, mask=c < C, other=0.0).to(tl.float32)
    b = tl.load(beta_ptr + c, mask=c < C, other=0.0).to(tl.float32)
    y = d * rstd[None, :] * g[:, None] + b[:, None]
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=keep)


def add_layer_norm(
    x: torch.Tensor, residual: torch.Tensor | None, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """LayerNorm over C of x (B, C, T), or of x + residual; gamma, beta (C,)."""
    check_tensor(x, "x", ndim=3)
    if residual is not None:
        check_tensor(residual, "residual", ndim=3)
        same_layout(x, residual, "x and residual")
    b, c, t = x.shape
    if c > MAX_CHANNELS:
        raise KernelInputError(f"add_layer_norm handles up to {MAX_CHANNELS} channels, got {c}.")
    for name, p in (("gamma", gamma), ("beta", beta)):
        check_tensor(p, name, ndim=1)
        if p.shape[0] != c or p.device != x.device:
            raise KernelInputError(f"{name} must have {c} elements on {x.device}, got {tuple(p.shape)} {p.device}.")
    x = x.contiguous()
    res = residual.contiguous() if residual is not None else x
    out = torch.empty_like(x)
    block_c, _ = launch_config(c, MAX_CHANNELS)
    block_t, _ = launch_config(t, max(1, TILE_ELEMENTS // block_c))
    _, warps = launch_config(block_c * block_t, TILE_ELEMENTS)
    _add_layer_norm_kernel[(b, triton.cdiv(t, block_t))](
        x, res, gamma.contiguous(), beta.contiguous(), out, c, t, float(eps),
        HAS_RES=residual is not None, BLOCK_C=block_c, BLOCK_T=block_t, num_warps=warps,
    )  # fmt: skip
    return out
