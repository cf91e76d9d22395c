"""What an acoustic engine is: one window of latent frames in, that window's samples out.

The acoustic stage (the flow, then the decoder, over windows with receptive-field margins) hands
each decoder window to a ``DecoderEngine``; it never knows which engine runs it. An engine with
``shapes = None`` takes any context length (ONNX Runtime): its windows are the smallest exact
ones. An engine with fixed ``shapes`` (compiled per shape) gets windows whose contexts come from
the schedule's fixed set (``windows(..., fixed=True)``) and pads and masks a shorter context
internally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from tts_accel.core.acoustic.windows import Margins, Schedule, windows
from tts_accel.core.errors import ModelError


class DecoderEngine(Protocol):
    """One decoder window: latent frames of a window's context -> that context's samples."""

    hop: int  # samples per latent frame (256 for Piper)
    margins: Margins  # receptive field in frames (left, right), from the graph
    shapes: tuple[int, ...] | None  # fixed context lengths (frames) this engine runs at; None = any

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        """z_ctx (C, W) float32 latent frames of one window's context (W <= max(shapes) when
        shapes is set) -> (W * hop,) float32: exactly the samples of those W frames as this engine
        computes them (the caller cuts the core out)."""
        ...


def run_windowed(run: Callable[[np.ndarray], np.ndarray], z: np.ndarray, schedule: Schedule, hop: int,
                 fixed: bool = False) -> np.ndarray:  # fmt: skip
    """The audio of latent ``z`` (C, F), produced window by window under ``schedule`` and cut to
    each window's core: the decoder alone, as the lab measures it (the stage adds the flow)."""
    pieces = []
    for w in windows(z.shape[1], schedule, fixed):
        audio = run(np.ascontiguousarray(z[:, w.ctx_start : w.ctx_stop]))
        if audio.shape[0] != w.frames * hop:
            raise ModelError(f"the acoustic engine gave {audio.shape[0]} samples for {w.frames} frames (hop {hop})")
        pieces.append(audio[w.skip * hop : (w.skip + w.core) * hop])
    return np.concatenate(pieces)


def joins(n_frames: int, schedule: Schedule, hop: int, fixed: bool = False) -> list[int]:
    """The sample index of every join between two windows of an ``n_frames`` latent."""
    return [w.core_stop * hop for w in windows(n_frames, schedule, fixed)[:-1]]
