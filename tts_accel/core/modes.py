"""Mode names the CLI accepts and the plan each one starts from."""

from __future__ import annotations

from tts_accel.core.errors import InputError
from tts_accel.core.plan import ExecutionPlan

ONNX_MODES = ("sequential", "parallel", "pipelined")
TORCH_MODES = ("torch", "triton", "graph", "hybrid", "compile")
MODES = ("auto", *ONNX_MODES, *TORCH_MODES)


def plan_for(mode: str, voice: str = "") -> ExecutionPlan:
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    if mode == "auto":
        return ExecutionPlan(mode="sequential", sources={"mode": "heuristic"})
    backend = "torch" if mode in TORCH_MODES else "onnx"
    workers = 2 if mode == "parallel" else 1
    return ExecutionPlan(mode=mode, backend=backend, workers=workers, sources={"mode": "flag"})
