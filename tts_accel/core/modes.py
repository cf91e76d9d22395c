"""Mode names the CLI accepts and the plan each one starts from.

The numbers come from the 2-core dev VM (docs/benchmarks.md): two workers sharing one session
with one intra-op thread each beat ORT's default threading by a few per cent and keep the
samples identical; batches of two chunks gain nothing there, so ``auto`` never batches.
"""

from __future__ import annotations

import os

from tts_accel.core.errors import InputError
from tts_accel.core.plan import ExecutionPlan

ONNX_MODES = ("sequential", "parallel", "batched", "pipelined")
TORCH_MODES = ("torch", "triton", "graph", "hybrid", "compile")
MODES = ("auto", *ONNX_MODES, *TORCH_MODES)
PRECISIONS = ("fp32", "int8")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def onnx_plan(mode: str, cpus: int | None = None) -> ExecutionPlan:
    """The starting plan for an ONNX scheduling mode on ``cpus`` logical CPUs."""
    cpus = cpus or cpu_count()
    if mode == "sequential":  # the baseline: ORT defaults
        return ExecutionPlan(mode="sequential")
    if mode in ("parallel", "pipelined"):
        # One intra-op thread per worker: more would oversubscribe the cores (KittenTTS #147).
        workers = max(2, cpus)
        return ExecutionPlan(mode=mode, workers=workers, intra_op_threads=1, inter_op_threads=1)
    if mode == "batched":
        return ExecutionPlan(mode="batched", batch_size=2)
    raise InputError(f"unknown ONNX mode {mode!r}: use one of {', '.join(ONNX_MODES)}.")


def load_tuned() -> ExecutionPlan | None:
    from tts_accel.core import tuned

    return tuned.load()


def plan_for(mode: str, voice: str = "", precision: str | None = None) -> ExecutionPlan:
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    if precision is not None and precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}.")
    tuned = load_tuned() if mode == "auto" else None
    if tuned is not None:  # `tts tune` measured this machine: its winner beats any heuristic
        plan, sources = tuned, dict(tuned.sources)
    elif mode == "auto":
        # Pipelined: the parallel mode's throughput and the earliest first audio.
        plan = onnx_plan("pipelined")
        sources = {f: "heuristic" for f in ("mode", "workers", "intra_op_threads", "inter_op_threads")}
    elif mode in TORCH_MODES:
        plan = ExecutionPlan(mode=mode, backend="torch", device="auto")  # CUDA when present
        sources = {"mode": "flag", "backend": "flag", "device": "heuristic"}
    else:
        plan = onnx_plan(mode)
        sources = {"mode": "flag"}
    if precision is not None:
        plan = plan.with_(precision=precision)
        sources["precision"] = "flag"
    return plan.with_(sources=sources)
