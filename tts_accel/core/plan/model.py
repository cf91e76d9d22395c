"""ExecutionPlan: how the model stage runs on this machine, validated when it is made, then frozen.

``plan.resolve.resolve_plan`` makes it (flag > tuned profile > preset > heuristic);
``plan.explain`` says where each field came from. A plan never changes after it is made: a run's
later findings (an engine that could not load) are the run's notes, not the plan's reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING

from tts_accel.core.acoustic.registry import INT8, REFERENCE
from tts_accel.core.acoustic.registry import spec as acoustic_spec
from tts_accel.core.acoustic.windows import WindowPlan, parse_windows
from tts_accel.core.errors import InputError
from tts_accel.core.plan.modes import PRECISIONS, STAGED_MODES, spec

if TYPE_CHECKING:  # pragma: no cover
    pass

ORT_EXECUTION_MODES = ("sequential", "parallel")
GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")


@dataclass(frozen=True)
class ExecutionPlan:
    """A validated plan: mode, backend and precision agree (``backend`` left empty is the mode's)."""

    mode: str = "sequential"
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (one per physical core)
    inter_op_threads: int = 0
    ort_execution_mode: str = "sequential"  # ORT ExecutionMode: sequential | parallel
    graph_optimization: str = "all"  # disable | basic | extended | all
    workers: int = 1  # concurrent model runs (parallel / pipelined)
    batch_size: int = 1  # chunks per model run (batched)
    affinity: tuple[int, ...] = ()  # logical CPUs to pin to, performance cores first
    precision: str = "fp32"  # fp32 | int8 (ONNX); fp32 | fp16 | bf16 (torch)
    backend: str = ""  # onnx | torch; empty: the mode's own
    device: str = "cpu"
    #: the pipelined mode's window schedule (``core/windows.py``: ``w200:32x128x512/512``), or
    #: "" / "off": whole chunks. Only the pipelined mode streams windows; it gets the family's.
    windows: str = ""
    #: the acoustic stage's engine in the two-stage modes (``modes.STAGED_MODES``): ort-fp32 |
    #: ort-int8 | torch-fp32 | torch-bf16-eager | torch-bf16; "none" where the mode runs the voice's
    #: whole graph (sequential, batched, the torch modes) or the family has no separate stage.
    #: Empty: the mode's own (ort-fp32, or ort-int8 with precision int8, in a staged mode).
    acoustic: str = ""
    #: where each field's value came from: flag | tuned | preset | heuristic | default (read-only)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: why a field has its value, where a rule decided it (the acoustic engine's costs): --explain
    reasons: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: ``windows`` parsed, once, when the plan is made (None: whole chunks)
    window_plan: WindowPlan | None = field(init=False, default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        object.__setattr__(self, "reasons", MappingProxyType(dict(self.reasons)))
        object.__setattr__(self, "window_plan", parse_windows(self.windows))
        mode_backend = spec(self.mode).backend  # UnknownMode names the valid ones
        if not self.backend:
            object.__setattr__(self, "backend", mode_backend)
        elif self.backend != mode_backend:
            raise InputError(f"--mode {self.mode} runs on the {mode_backend} backend, not {self.backend}: drop one.")
        staged = self.mode in STAGED_MODES and self.window_plan is not None
        if not self.acoustic:
            own = (INT8 if self.precision == "int8" else REFERENCE) if staged else NO_ACOUSTIC
            object.__setattr__(self, "acoustic", own)
        check_acoustic(self.mode, self.backend, self.precision, self.acoustic, staged)
        if self.precision not in PRECISIONS[self.backend]:
            raise InputError(
                f"precision {self.precision!r} is not available on the {self.backend} backend: "
                f"use {' or '.join(PRECISIONS[self.backend])}."
            )
        if self.backend == "onnx" and self.device != "cpu":
            raise InputError(f"the onnx backend runs on the CPU, not {self.device!r}: use a torch mode for a GPU.")
        if self.workers < 1 or self.batch_size < 1:
            raise InputError("workers and batch size must be at least 1.")
        if self.intra_op_threads < 0 or self.inter_op_threads < 0:
            raise InputError("thread counts cannot be negative: use 0 for the runtime's default.")
        if self.ort_execution_mode not in ORT_EXECUTION_MODES:
            raise InputError(f"ort_execution_mode {self.ort_execution_mode!r}: use {' or '.join(ORT_EXECUTION_MODES)}.")
        if self.window_plan is not None and spec(self.mode).schedule != "pipelined":
            raise InputError(
                f"--windows streams the pipelined mode; --mode {self.mode} runs whole chunks: "
                "drop --windows or use --mode pipelined."
            )
        if self.graph_optimization not in GRAPH_OPTIMIZATIONS:
            raise InputError(
                f"graph_optimization {self.graph_optimization!r}: use one of {', '.join(GRAPH_OPTIMIZATIONS)}."
            )

    @property
    def streams_windows(self) -> bool:
        """The pipelined mode with a window schedule: text stage, then the acoustic stage window
        by window (when the voice's graph splits; else whole chunks)."""
        return self.window_plan is not None

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in ("sources", "reasons", "window_plan")]


#: The acoustic field of a plan whose mode runs the voice's whole graph (no separate stage).
NO_ACOUSTIC = "none"


def check_acoustic(mode: str, backend: str, precision: str, acoustic: str, staged: bool) -> None:
    """An acoustic engine agrees with the mode, its windows and the precision (the resolver says
    where a value came from before this runs; this is the plan's own consistency)."""
    if acoustic == NO_ACOUSTIC:
        return
    engine = acoustic_spec(acoustic)
    if mode not in STAGED_MODES:
        raise InputError(
            f"--acoustic {acoustic} applies to the two-stage modes ({', '.join(STAGED_MODES)}): --mode {mode} runs "
            "the voice's whole graph; use --mode auto or pipelined, or drop --acoustic."
        )
    if not staged:
        raise InputError(
            f"--acoustic {acoustic} runs the acoustic stage window by window: --windows off runs whole chunks; "
            "drop one of them."
        )
    if backend != "onnx":  # pragma: no cover - the staged modes are ONNX modes
        raise InputError(f"--acoustic {acoustic} runs beside the ONNX text stage, not on the {backend} backend.")
    if (precision == "int8") != (engine.precision == "int8"):
        raise InputError(
            f"--precision {precision} and --acoustic {acoustic} disagree: int8 is the ort-int8 acoustic engine "
            "(give one of them, or --precision fp32 with another engine)."
        )
