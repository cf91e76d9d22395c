"""ONNX Runtime backend for Kokoro-82M: tokens (1, N+2), style (1, 256) at row N, speed (1,).

The session runs a cached copy of the graph that also outputs the duration predictor's frames
per token (``/encoder/Clip_output_0`` as ``frames_per_id``: one per token, both pads included,
in frames of ``HOP`` = 600 samples; they sum to the audio's length exactly, measured), so
every mode reports durations. A graph without that tensor runs as it is, without durations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tts_accel.core.errors import InputError, ModelError, OutputError
from tts_accel.core.onnx.sessions import create_session, run
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.voices.base import Backend
from tts_accel.core.voices.kokoro.limits import BATCH_UNSUPPORTED
from tts_accel.core.voices.params import SynthParams

SAMPLE_RATE = 24000
#: Output samples per duration frame (sum of durations x 600 == samples, measured on every text).
HOP = 600
#: The duration predictor's rounded, clipped frames per token: (1, N + 2) float32.
DURATIONS_TENSOR = "/encoder/Clip_output_0"
FRAMES_OUTPUT = "frames_per_id"
#: Tokens one model run takes between its two pads: the graph's 512 positions less 2.
MAX_TOKENS = 510
#: Ids a long run is preferably split after: space and the punctuation marks in vocab.json.
_BREAK_IDS = frozenset({16, 1, 2, 3, 4, 5, 6, 9, 10})

__all__ = ["BATCH_UNSUPPORTED", "HOP", "MAX_TOKENS", "SAMPLE_RATE", "KokoroOnnxBackend", "split_ids"]


def _with_durations(model_path: Path) -> Path:
    """The cached copy of the model with a ``frames_per_id`` output; the model itself when its
    graph has no durations tensor (another export) or the copy cannot be cached."""
    from tts_accel.core.onnx.graphs import with_outputs

    try:
        return with_outputs(model_path, {DURATIONS_TENSOR: FRAMES_OUTPUT}, "durations", "Kokoro's durations")
    except (ModelError, OutputError):
        return model_path


def split_ids(ids: np.ndarray, limit: int = MAX_TOKENS) -> list[np.ndarray]:
    """Pieces of at most ``limit`` ids, cut after the last space or punctuation when there is one.

    The chunker keeps chunks under the budget; this only catches a single "word" longer than
    the model's context (a run of unpunctuated kana, a pasted hash), which would fail the run.
    """
    pieces: list[np.ndarray] = []
    start = 0
    while len(ids) - start > limit:
        window = ids[start : start + limit]
        breaks = [i for i, t in enumerate(window.tolist()) if t in _BREAK_IDS]
        cut = breaks[-1] + 1 if breaks and breaks[-1] > 0 else limit
        pieces.append(ids[start : start + cut])
        start += cut
    pieces.append(ids[start:])
    return pieces


class KokoroOnnxBackend(Backend):
    """One shared session; ``infer`` keeps no state on ``self`` and is safe from several threads."""

    sample_rate = SAMPLE_RATE
    supports_batch = False
    batch_unsupported_reason = BATCH_UNSUPPORTED

    def __init__(self, model_path: Path, styles: np.ndarray, plan: ExecutionPlan, session=None):  # type: ignore[no-untyped-def]
        self.model_path = Path(model_path)
        self.styles = np.asarray(styles, dtype=np.float32).reshape(len(styles), -1)  # (510, 256)
        self.plan = plan
        self.session = session if session is not None else create_session(_with_durations(self.model_path), plan)
        outputs = getattr(self.session, "get_outputs", None)  # an injected stand-in may have none
        names = [o.name for o in outputs()] if outputs else []
        self._frames_output = names.index(FRAMES_OUTPUT) if FRAMES_OUTPUT in names else None

    def style_for(self, n_tokens: int) -> np.ndarray:
        """The style row for a sequence of ``n_tokens`` tokens (Kokoro's convention: row N)."""
        row = min(max(n_tokens, 0), len(self.styles) - 1)  # row 510 does not exist: the last one
        return self.styles[row][np.newaxis, :]  # (1, 256)

    def _run(self, ids: np.ndarray, speed: float) -> tuple[np.ndarray, np.ndarray | None]:
        feeds = {
            "tokens": np.concatenate(([0], ids, [0])).astype(np.int64)[np.newaxis, :],  # (1, N + 2)
            "style": self.style_for(len(ids)),
            "speed": np.array([speed], dtype=np.float32),
        }
        failed = f"the Kokoro model failed on a chunk of {len(ids)} tokens"
        out = run(self.session, None, feeds, failed)  # (samples,), [(1, N + 2)]
        audio = np.asarray(out[0], dtype=np.float32).reshape(-1)
        if self._frames_output is None:
            return audio, None
        return audio, np.rint(out[self._frames_output].reshape(-1)).astype(np.int64)

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        return self.infer_with_frames(ids, params)[0]

    def infer_with_frames(self, ids: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray | None]:
        """Audio and frames per token: (N + 2,) per model run (a pad each side), runs concatenated."""
        runs = [self._run(p, params.speed) for p in split_ids(np.asarray(ids, dtype=np.int64)) if len(p)]
        if not runs:
            return np.zeros(0, dtype=np.float32), None
        audio = np.ascontiguousarray(np.concatenate([a for a, _ in runs]), dtype=np.float32)
        frames = [f for _, f in runs]
        if any(f is None for f in frames):
            return audio, None
        return audio, np.concatenate(frames)  # type: ignore[arg-type]

    def infer_batch(self, batch: list[np.ndarray], params: SynthParams) -> list[np.ndarray]:
        if len(batch) > 1:
            raise InputError(BATCH_UNSUPPORTED)
        return [self.infer(ids, params) for ids in batch]

    def warmup(self) -> None:
        self.infer(np.array([50, 47, 54, 57], dtype=np.int64), SynthParams())  # "helo"
