"""ExecutionPlan: how the model stage runs on this machine."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from tts_accel.core.errors import InputError

#: Scheduling modes: how chunks are fed to the backend.
SCHEDULING_MODES = ("sequential", "parallel", "batched", "pipelined")


@dataclass(frozen=True)
class ExecutionPlan:
    mode: str = "sequential"
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (one per physical core)
    inter_op_threads: int = 0
    ort_execution_mode: str = "sequential"  # ORT ExecutionMode: sequential | parallel
    graph_optimization: str = "all"  # disable | basic | extended | all
    workers: int = 1  # concurrent model runs (parallel / pipelined)
    batch_size: int = 1  # chunks per model run (batched)
    affinity: tuple[int, ...] = ()  # logical CPUs to pin to, performance cores first
    precision: str = "fp32"  # fp32 | int8 (ONNX); fp32 | fp16 | bf16 (torch)
    backend: str = "onnx"  # onnx | torch
    device: str = "cpu"
    #: where each field's value came from: flag | tuned | preset | heuristic | default
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.workers < 1 or self.batch_size < 1:
            raise InputError("workers and batch size must be at least 1.")
        if self.intra_op_threads < 0 or self.inter_op_threads < 0:
            raise InputError("thread counts cannot be negative: use 0 for the runtime's default.")

    def with_(self, **changes: object) -> ExecutionPlan:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "sources"]
