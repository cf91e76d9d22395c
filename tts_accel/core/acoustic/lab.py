"""The acoustic lab: real latents of texts, and engines run over them window by window.

`tts bench --acoustic`, `tts tune` and `tts verify` measure the acoustic engines here, apart from
the text stage: each chunk of a text (the chunker's own split) goes through the voice's whole
graph once at zero noise, giving the decoder's input ``z`` and the reference audio; then every
engine renders the same latents under the same window schedule. Family-neutral: the voice gives
its ids, and its ``AcousticSource`` the latents and the engines.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tts_accel.core.acoustic.engine import DecoderEngine, joins, run_windowed
from tts_accel.core.acoustic.factory import AcousticSource, make_engine
from tts_accel.core.acoustic.windows import WindowPlan
from tts_accel.core.errors import InputError

#: The schedule the lab measures at: a stream's (first sentence 32 frames, then 128, then 512 at a
#: time; later sentences 512), with sentences of at most 200 frames in one window.
LAB_WINDOWS = WindowPlan.parse("w200:32x128x512/512")


@dataclass
class Utterance:
    text: str
    ids: np.ndarray  # (T,) int64
    z: np.ndarray  # (C, F) float32: the decoder's input, zero noise
    audio: np.ndarray  # (F * hop,) float32: the voice's whole graph, fp32 (the reference)


class AcousticLab:
    """``voice``: a loaded voice (``encode``, ``chunk_budget``, ``measure``, ``sample_rate``);
    ``source``: its acoustic source, which also gives the reference latents (``reference(ids)``)."""

    def __init__(self, voice: Any, source: AcousticSource) -> None:
        self.voice, self.source = voice, source
        self.model_path = source.model_path
        self.sample_rate = voice.sample_rate
        self._reference: DecoderEngine | None = None

    @property
    def reference(self) -> DecoderEngine:
        """The reference engine (ONNX Runtime fp32, one thread): margins and hop come from it."""
        if self._reference is None:
            from tts_accel.core.acoustic.registry import REFERENCE

            self._reference = make_engine(REFERENCE, self.source)
        return self._reference

    @property
    def hop(self) -> int:
        return self.reference.hop

    def utterances(self, texts: Sequence[str]) -> list[Utterance]:
        """Each chunk of each text with its latent and reference audio."""
        from tts_accel.core.text.chunking import chunk_text, normalize

        out = []
        for text in texts:
            for piece in chunk_text(normalize(text), self.voice.chunk_budget, self.voice.measure):
                ids = self.voice.encode(piece.text)
                if ids.size == 0:
                    continue
                z, audio = self.source.reference(ids)  # type: ignore[attr-defined]
                out.append(Utterance(piece.text, ids, z, audio))
        if not out:
            raise InputError("the texts have nothing to pronounce")
        return out

    def engine(self, name: str, **kw: Any) -> DecoderEngine:
        return make_engine(name, self.source, margins=self.reference.margins, **kw)

    def _schedules(self) -> tuple[Any, Any]:
        return LAB_WINDOWS.schedules(self.reference.margins)

    def stream(self, engine: DecoderEngine, z: np.ndarray, opening: bool = True) -> tuple[np.ndarray, list[int]]:
        """One latent's audio through ``engine``, window by window, and the sample index of every
        join between windows (for the join check)."""
        schedule = self._schedules()[0 if opening else 1]
        return run_windowed(engine.run, z, schedule, self.hop), joins(z.shape[1], schedule, self.hop)

    def render(self, engine: DecoderEngine, utterances: Sequence[Utterance]) -> tuple[list[np.ndarray], float]:
        """Each utterance's audio through ``engine``, windowed as a stream is (the first with the
        opening schedule), and the CPU seconds the engine took (this thread's)."""
        opening, steady = self._schedules()
        out, cpu = [], 0.0
        for i, utt in enumerate(utterances):
            t0 = time.thread_time()
            out.append(run_windowed(engine.run, utt.z, opening if i == 0 else steady, self.hop))
            cpu += time.thread_time() - t0
        return out, cpu
