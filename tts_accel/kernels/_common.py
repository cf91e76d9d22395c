"""Checks and launch sizes shared by every kernel launcher (one place to tune them)."""

from __future__ import annotations

import os

import torch

# The exception hierarchy is the one thing the kernels take from core (an ignored edge of the
# layers contract in pyproject.toml): a bad launch is a ModelError like any other.
from tts_accel.core.errors import KernelInputError

SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_BLOCK = 4096  # elements per program along a row; larger rows are split over programs
__all__ = ["MAX_BLOCK", "SUPPORTED_DTYPES", "KernelInputError", "check_tensor", "launch_config", "same_layout"]


def check_tensor(t: torch.Tensor, name: str, ndim: int | None = None) -> None:
    if not isinstance(t, torch.Tensor):
        raise KernelInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}.")
    if ndim is not None and t.dim() != ndim:
        raise KernelInputError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}.")
    if t.dtype not in SUPPORTED_DTYPES:
        raise KernelInputError(f"{name} has dtype {t.dtype}: the kernels take float32, float16 or bfloat16.")
    if t.numel() == 0:
        raise KernelInputError(f"{name} is empty (shape {tuple(t.shape)}).")
    if t.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise KernelInputError(
            f"{name} is on the CPU: Triton kernels need a CUDA GPU, or TRITON_INTERPRET=1 set before triton "
            "is imported (the interpreter is for checking, it is slow)."
        )


def same_layout(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        raise KernelInputError(
            f"{names} must match in shape, dtype and device: {tuple(a.shape)} {a.dtype} {a.device} vs "
            f"{tuple(b.shape)} {b.dtype} {b.device}."
        )


def launch_config(n: int, max_block: int = MAX_BLOCK) -> tuple[int, int]:
    """(BLOCK_SIZE, num_warps) for a row of n elements: the next power of two up to max_block, and
    enough warps that each thread holds about 8 elements."""
    block = 1
    while block < min(n, max_block):
        block *= 2
    block = max(block, min(16, max_block))
    num_warps = max(1, min(16, block // 256))
    return block, num_warps
