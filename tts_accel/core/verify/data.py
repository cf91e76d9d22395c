"""What tiers 2 and 3 synthesize: the Harvard sentences, in every mode the voice's family can run, once per mode."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tts_accel.core.errors import ModelError, ModeNotApplicable
from tts_accel.core.hardware.gpu import torch_available
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.pipeline.scheduler import Piece
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.modes import ONNX_MODES
from tts_accel.core.text.samples import harvard_sentences
from tts_accel.core.voices.params import ZERO_NOISE
from tts_accel.core.voices.registry import family_of

REFERENCE = "sequential"
# Ten, not five: on the first five Whisper tiny.en's own slips ("birch canoe" -> "can use
# lid") put sequential at 9.8 %, one word (2.4 points) under the gate; ten give 8.75 %.
QUICK_SENTENCES = 10
QUICK_MODES = 2  # accelerated modes checked by --quick, besides the sequential reference
#: Zero noise and no pause between sentences: speech only, the same in every mode.
SPEECH_ONLY = replace(ZERO_NOISE, sentence_silence=0.0)
#: The torch mode tiers 2 and 3 check where the family has a torch port (eager: runs on a CPU).
TORCH_CHECKED = "torch"


def mode_plans(quick: bool, voice: str = "") -> dict[str, ExecutionPlan | ModeNotApplicable]:
    """Mode name -> plan, the sequential reference first: the ONNX modes, each extra ONNX
    precision of the family (int8 for Piper), the eager torch mode where the family has a torch
    port and torch is installed. A mode the voice's family cannot run maps to the reason."""
    family = family_of(voice)

    def plan(mode: str, precision: str | None = None) -> ExecutionPlan | ModeNotApplicable:
        try:
            return plan_for(mode, voice, precision, tuned=False)
        except ModeNotApplicable as err:
            return err

    plans = {name: plan(name) for name in ONNX_MODES if name != REFERENCE}
    for precision in family.extra_precisions("onnx"):
        plans[precision] = plan(REFERENCE, precision)
    if family.torch_port and torch_available():
        plans[TORCH_CHECKED] = plan(TORCH_CHECKED)
    if quick:
        plans = dict(list(plans.items())[:QUICK_MODES])
    reference = plan(REFERENCE)
    if isinstance(reference, ModeNotApplicable):
        raise reference
    return {REFERENCE: reference, **plans}


class Renders:
    """Per-sentence audio for each mode, synthesized on first request and kept."""

    def __init__(self, voice: str, quick: bool):
        self.voice = voice
        self.quick = quick
        self.family = family_of(voice)
        self.sentences = harvard_sentences(QUICK_SENTENCES if quick else None)
        self.plans = mode_plans(quick, voice)
        self.sample_rate = 0
        self._audio: dict[str, list[np.ndarray]] = {}

    @property
    def modes(self) -> list[str]:
        return list(self.plans)

    def audio(self, mode: str) -> list[np.ndarray]:
        """One float32 array per sentence. All sentences go through one ``stream`` call, so the
        parallel modes really overlap chunks; ``sentence_silence=0`` leaves speech only."""
        if mode not in self._audio:
            plan = self.plans[mode]
            if isinstance(plan, ModeNotApplicable):  # e.g. batched on Kokoro: its graph takes B=1
                raise ModeNotApplicable(f"{mode} does not apply to {self.voice}: {plan}")
            synth = Synthesizer(self.voice, plan)
            self.sample_rate = synth.sample_rate
            counts = [sum(1 for _ in synth.chunks([s], SPEECH_ONLY)) for s in self.sentences]
            chunks: list[list[np.ndarray]] = []  # audio pieces per chunk (one, or a window each)

            def collect(piece: Piece) -> None:  # chunks come in text order, indexed from 0
                if piece.chunk.index == len(chunks):
                    chunks.append([])
                chunks[piece.chunk.index].append(piece.audio)

            for _ in synth.stream(self.sentences, SPEECH_ONLY, on_piece=collect):
                pass
            if len(chunks) != sum(counts):
                raise ModelError(f"mode {mode}: audio for {len(chunks)} chunks, {sum(counts)} expected")
            out, start = [], 0
            for n in counts:
                part = [np.concatenate(c) for c in chunks[start : start + n]]
                out.append(np.concatenate(part) if part else np.zeros(0, dtype=np.float32))
                start += n
            self._audio[mode] = out
            synth.backend.close()
        return self._audio[mode]
