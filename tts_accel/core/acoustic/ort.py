"""The acoustic stage's decoder on ONNX Runtime: any window length, fp32 or an int8 copy.

The graph is a decoder cut out of the voice by its family (``z`` (1, C, W) -> ``audio``
(1, 1, W * hop)), with its receptive field and hop stamped into the metadata
(``receptive.stamp``): the margins are always the graph's own, never a number typed here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tts_accel.core.acoustic.receptive import from_session
from tts_accel.core.onnx.sessions import SessionSettings, Solo, run, stage_session

#: Tensor names of a split decoder graph.
Z, AUDIO = "z", "audio"


class OrtDecoderEngine:
    """A split decoder graph on ONNX Runtime. ``run`` is thread-safe (one shared session)."""

    shapes: tuple[int, ...] | None = None

    def __init__(self, graph: Path, settings: SessionSettings | None = None, session=None) -> None:  # type: ignore[no-untyped-def]
        self.graph = Path(graph)
        self.session = session if session is not None else stage_session(self.graph, settings or Solo())
        self.margins, self.hop = from_session(self.session, self.graph)

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        ctx = np.ascontiguousarray(z_ctx[np.newaxis], dtype=np.float32)  # (1, C, W)
        audio = run(self.session, [AUDIO], {Z: ctx}, f"the decoder failed on a window of {ctx.shape[-1]} frames")[0]
        return audio.reshape(-1)
