"""Triton kernels, each beside a pure-torch reference. Imported only on the torch path.

Importing this package imports neither torch nor triton; ``registry()`` does, so that
`tts verify` (tier 1) can walk every kernel::

    for spec in registry():
        args = spec.make_inputs((3, 37, 123), torch.float16, "cpu")
        torch.testing.assert_close(spec.triton_fn(*args), spec.reference_fn(*args))

On a CPU, set TRITON_INTERPRET=1 before the first triton import (the interpreter is slow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: kernel names, in the order ``registry()`` returns them
KERNELS = ("wn_gate", "add_layer_norm", "add_leaky_relu")

#: per-dtype tolerances (atol = rtol) the kernels meet against their references (tier 1 checks
#: these). As in Liger-Kernel's table: fp32 keeps 1e-5; fp16 has a 10-bit mantissa (step 1e-3 near
#: 1); bf16 a 7-bit one (step 8e-3), so reductions over a few hundred terms drift to ~5e-2.
TOLERANCES = {"float32": 1e-5, "float16": 1e-3, "bfloat16": 5e-2}


@dataclass(frozen=True)
class KernelSpec:
    name: str
    triton_fn: Callable[..., Any]
    reference_fn: Callable[..., Any]
    #: (shape (B, C, T), dtype, device) -> positional args for both functions
    make_inputs: Callable[..., tuple]
    doc: str


def registry() -> list[KernelSpec]:
    import torch

    from tts_accel.kernels import layer_norm, leaky_relu, wn_gate

    def gate_inputs(shape: tuple[int, int, int], dtype: torch.dtype, device: str) -> tuple:
        b, c, t = shape
        return (torch.randn(b, 2 * c, t, device=device).to(dtype),)

    def norm_inputs(shape: tuple[int, int, int], dtype: torch.dtype, device: str) -> tuple:
        b, c, t = shape
        x, r = (torch.randn(b, c, t, device=device).to(dtype) for _ in range(2))
        gamma = (1 + 0.1 * torch.randn(c, device=device)).to(dtype)
        return (x, r, gamma, (0.1 * torch.randn(c, device=device)).to(dtype), 1e-5)

    def leaky_inputs(shape: tuple[int, int, int], dtype: torch.dtype, device: str) -> tuple:
        a, b = (torch.randn(*shape, device=device).to(dtype) for _ in range(2))
        return (a, b, 0.1, 1.0 / 3)

    return [
        KernelSpec("wn_gate", wn_gate.wn_gate, wn_gate.reference, gate_inputs,
                   "flow WaveNet gate: tanh(a) * sigmoid(b)"),
        KernelSpec("add_layer_norm", layer_norm.add_layer_norm, layer_norm.reference, norm_inputs,
                   "residual add + LayerNorm over channels of (B, C, T)"),
        KernelSpec("add_leaky_relu", leaky_relu.add_leaky_relu, leaky_relu.reference, leaky_inputs,
                   "HiFi-GAN residual add (scaled) + leaky ReLU, both outputs"),
    ]  # fmt: skip
