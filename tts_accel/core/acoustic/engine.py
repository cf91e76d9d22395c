"""What an acoustic engine is: one window of latent frames in, that window's samples out.

The acoustic stage (the flow, then the decoder, over windows with receptive-field margins) hands
each decoder window to a ``DecoderEngine``; it never knows which engine runs it. An engine with
``shapes = None`` takes any context length (ONNX Runtime): its windows are the smallest exact
ones. An engine with fixed ``shapes`` (compiled per shape) gets windows whose contexts come from
the schedule's fixed set (``windows(..., fixed=True)``) and pads and masks a shorter context
internally.

Batching across requests (``tts serve --max-batch``): the stage can hand a window out as a
``WindowCall`` instead of running it, so that a scheduler holding windows of several requests runs
those of equal shape (same engine, same padded context length: ``WindowCall.key``) as one call
(``run_calls``). An engine that can take several windows in one call says so with ``max_batch > 1``
and a ``run_batch``; every other engine runs a batch's windows one call each. Either way each
window's samples are the ones it would get alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


class BatchEngine(DecoderEngine, Protocol):
    """An engine that runs several windows in one call (a batch dimension)."""

    max_batch: int  # windows one call may take (1: it cannot batch)
    #: lengths that windows of a batch share (each padded to the batch's longest and masked): ()
    #: batches only windows of one exact length
    batch_shapes: tuple[int, ...]

    def run_batch(self, z_ctxs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``[run(z) for z in z_ctxs]`` in one call; the windows share one padded length
        (``padded``) and each result equals its window's ``run`` (fp32: within float rounding)."""
        ...


def max_batch(engine: DecoderEngine) -> int:
    """Windows ``engine`` takes in one call: its ``max_batch`` with a ``run_batch``, else 1."""
    if not callable(getattr(engine, "run_batch", None)):
        return 1
    return max(1, int(getattr(engine, "max_batch", 1)))


def padded(engine: DecoderEngine, frames: int) -> int:
    """The length class of a ``frames``-frame window on ``engine``: its smallest fixed shape that
    holds it, else its smallest ``batch_shapes`` entry that does (an engine that takes any length
    but batches windows padded to a few lengths), else ``frames`` itself."""
    shapes = engine.shapes or getattr(engine, "batch_shapes", None) or ()
    return next((s for s in shapes if s >= frames), frames)


@dataclass(eq=False)
class WindowCall:
    """One decoder window waiting to run: ``engine.run(z_ctx)``, deferred so that a scheduler may
    run it together with other requests' windows of the same ``key``; ``run_calls`` sets ``audio``."""

    engine: DecoderEngine
    z_ctx: np.ndarray  # (C, W) float32
    audio: np.ndarray | None = None  # (W * hop,) once run

    @property
    def key(self) -> tuple[int, int] | None:
        """Calls with equal keys may share one batched call (the same engine object at the same
        padded length); None: this engine runs one window per call."""
        if max_batch(self.engine) <= 1:
            return None
        return id(self.engine), padded(self.engine, int(self.z_ctx.shape[1]))

    @property
    def limit(self) -> int:
        return max_batch(self.engine)


def run_calls(calls: Sequence[WindowCall]) -> None:
    """Run ``calls`` (all on one engine): one batched call where the engine has ``run_batch`` and
    there is more than one, else one call each; each call's ``audio`` is set."""
    if not calls:
        return
    engine = calls[0].engine
    if any(c.engine is not engine for c in calls):
        raise ValueError("a batch of window calls must share one engine")
    if len(calls) > 1 and max_batch(engine) >= len(calls):
        outs = engine.run_batch([c.z_ctx for c in calls])  # type: ignore[attr-defined]
        if len(outs) != len(calls):
            raise ModelError(f"the acoustic engine gave {len(outs)} windows for a batch of {len(calls)}")
    else:
        outs = [engine.run(c.z_ctx) for c in calls]
    for call, audio in zip(calls, outs, strict=True):
        call.audio = audio


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
