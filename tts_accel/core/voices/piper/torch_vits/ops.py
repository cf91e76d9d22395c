"""The three fusable element-wise steps, as one swappable bundle.

Modules call ``self.ops.<name>``; the eager mode binds the pure-torch references and the
"triton" mode binds the Triton launchers, so both modes run the same module code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FusedOps:
    name: str
    wn_gate: Callable  # (B, 2H, T) -> (B, H, T)
    add_layer_norm: Callable  # (x, residual | None, gamma, beta, eps) -> (B, C, T)
    add_leaky_relu: Callable  # (a, b, slope, scale) -> (sum, leaky(sum))


def torch_ops() -> FusedOps:
    from tts_accel.kernels import reference

    return FusedOps("torch", reference.wn_gate, reference.add_layer_norm, reference.add_leaky_relu)


def triton_ops() -> FusedOps:
    from tts_accel.kernels.layer_norm import add_layer_norm
    from tts_accel.kernels.leaky_relu import add_leaky_relu
    from tts_accel.kernels.wn_gate import wn_gate

    return FusedOps("triton", wn_gate, add_layer_norm, add_leaky_relu)
