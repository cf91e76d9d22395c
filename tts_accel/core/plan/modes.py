"""The execution modes: one typed vocabulary, known here and nowhere else.

A mode names how chunks reach a backend and which backend runs them. Everything that takes
a mode (the resolver, the scheduler, bench, tune, verify, the CLI's --mode) looks it up here;
a name that is not here is an ``UnknownMode`` error listing the valid ones. Which modes a voice
family can run is the family's data (``tts_accel.core.voices.base.Family``), not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tts_accel.core.errors import UnknownMode

Backend = Literal["onnx", "torch"]
Schedule = Literal["sequential", "parallel", "pipelined", "batched"]


@dataclass(frozen=True)
class ModeSpec:
    name: str
    backend: Backend
    #: how the scheduler feeds chunks to the backend (torch modes run one chunk after another)
    schedule: Schedule
    needs_cuda: bool = False
    #: several chunks padded into one model run: the family must be able to batch
    batches: bool = False
    doc: str = ""


_SPECS = (
    ModeSpec("sequential", "onnx", "sequential", doc="one chunk after another: the reference"),
    ModeSpec("parallel", "onnx", "parallel", doc="phonemize everything, then run chunks concurrently"),
    ModeSpec("batched", "onnx", "batched", batches=True, doc="pad chunks into one model run"),
    ModeSpec("pipelined", "onnx", "pipelined", doc="run each chunk as soon as it is phonemized"),
    ModeSpec("torch", "torch", "sequential", doc="the PyTorch port, eager"),
    ModeSpec("triton", "torch", "sequential", doc="the PyTorch port with fused Triton kernels"),
    ModeSpec("graph", "torch", "sequential", needs_cuda=True, doc="CUDA graphs over bucketed shapes"),
    ModeSpec("hybrid", "torch", "sequential", needs_cuda=True, doc="Triton kernels inside CUDA graphs"),
    ModeSpec("compile", "torch", "sequential", doc="torch.compile of the two stages"),
)
SPECS: dict[str, ModeSpec] = {s.name: s for s in _SPECS}

AUTO = "auto"
#: Modes of the ONNX Runtime backend (the scheduling modes).
ONNX_MODES = tuple(s.name for s in _SPECS if s.backend == "onnx")
#: Modes of the PyTorch backend.
TORCH_MODES = tuple(s.name for s in _SPECS if s.backend == "torch")
#: Every value --mode accepts; "auto" lets the resolver choose.
CLI_MODES = (AUTO, *SPECS)
#: Precisions each backend can run (a family may allow fewer).
PRECISIONS: dict[str, tuple[str, ...]] = {"onnx": ("fp32", "int8"), "torch": ("fp32", "fp16", "bf16")}
BACKENDS = tuple(PRECISIONS)


#: Modes whose chunks run the acoustic stage apart from the text stage, window by window: the
#: acoustic engine applies to these; the others run the voice's whole graph (sequential is the
#: reference, the torch modes run the whole port).
STAGED_MODES = ("pipelined",)


def spec(mode: str, source: str = "") -> ModeSpec:
    """The spec of ``mode``; an UnknownMode error naming the valid ones otherwise."""
    found = SPECS.get(str(mode))
    if found is None:
        where = f" ({source})" if source else ""
        raise UnknownMode(f"unknown mode {mode!r}{where}: use one of {', '.join(CLI_MODES)}.")
    return found


def backend_of(mode: str) -> str:
    return spec(mode).backend
