"""Decoder engines: what turns one window of latent frames into samples.

The acoustic stage (``stages.AcousticStage``) runs the flow on ONNX Runtime in fp32 (bf16 on
the flow costs ~14 dB SNR) and hands each decoder window to a ``DecoderEngine``. This module
defines the protocol and the default engine, ONNX Runtime fp32 on the split decoder graph;
other engines (a bf16 torch port, compiled at fixed shapes) plug in through
``make_decoder_engine`` keyed by the plan, without changes to the stage or the scheduler:

* an engine with ``shapes = None`` takes any context length (ORT): windows are the smallest
  exact ones (``windows(..., fixed=False)``);
* an engine with fixed ``shapes`` gets windows whose contexts come from the schedule's fixed
  set (``windows(..., fixed=True)`` with the plan's bucket, ``WindowPlan.shapes``), and pads and
  masks internally any shorter context (a short sentence runs at its own length).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from tts_accel.core.acoustic.receptive import from_session
from tts_accel.core.acoustic.windows import Margins, WindowPlan
from tts_accel.core.errors import ModelError
from tts_accel.core.onnx.sessions import stage_session

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.plan.model import ExecutionPlan
    from tts_accel.core.voices.piper.split import StageGraphs

#: Tensor names of the split decoder graph (``split.Z`` -> ``split.AUDIO``).
Z, AUDIO = "z", "audio"


class DecoderEngine(Protocol):
    """One decoder window: latent frames of a window's context -> that context's samples."""

    hop: int  # samples per latent frame (256 for Piper)
    margins: Margins  # receptive field in frames (left, right), from the graph
    shapes: tuple[int, ...] | None  # fixed context lengths (frames) this engine runs at; None = any

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        """z_ctx (C, W) float32 latent frames of one window's context (W <= max(shapes) when
        shapes is set) -> (W * hop,) float32: exactly the samples of those W frames as this engine
        computes them (an engine with fixed shapes pads and masks internally; the caller cuts the
        core out)."""
        ...


class OrtDecoderEngine:
    """The split decoder graph on ONNX Runtime, fp32, any window length. ``run`` is thread-safe
    (one shared session). Margins and hop come from the graph's metadata (stamped by the split)."""

    shapes: tuple[int, ...] | None = None

    def __init__(self, graph: Path, plan: ExecutionPlan, session=None) -> None:  # type: ignore[no-untyped-def]
        self.graph = Path(graph)
        self.session = session if session is not None else stage_session(self.graph, plan)
        self.margins, self.hop = from_session(self.session, self.graph)

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        ctx = np.ascontiguousarray(z_ctx[np.newaxis], dtype=np.float32)  # (1, C, W)
        try:
            audio = self.session.run([AUDIO], {Z: ctx})[0]  # (1, 1, W * hop)
        except Exception as err:  # ORT raises its own exception types
            raise ModelError(f"the decoder failed on a window of {ctx.shape[-1]} frames: {err}") from err
        return audio.reshape(-1)


def make_decoder_engine(
    plan: ExecutionPlan, graphs: StageGraphs, windows: WindowPlan | None = None, model_path: Path | None = None
) -> DecoderEngine:
    """The decoder engine ``plan`` asks for, over the split ``graphs``. ``windows`` is the
    schedule the engine will see (a fixed-shape engine compiles ``windows.shapes(margins)``).

    ONNX Runtime fp32 is the default; any other ``plan.acoustic`` (the bf16 torch decoder,
    compiled at fixed shapes; the eager torch engines; int8) comes from ``engines.engine_for_plan``,
    which needs the voice's own file (its weights, and its sha256 keys the compiled packages)."""
    acoustic = getattr(plan, "acoustic", "ort-fp32")
    if acoustic in ("ort-fp32", "none", "") or model_path is None:
        return OrtDecoderEngine(graphs.decoder, plan)
    from tts_accel.core.voices.piper.engines import engine_for_plan

    first = OrtDecoderEngine(graphs.decoder, plan)
    longest = max(windows.shapes(first.margins)) if windows is not None else None
    return engine_for_plan(plan, model_path, margins=first.margins, first=first, longest=longest)  # type: ignore[no-any-return]
