"""What tiers 2 and 3 synthesize: the Harvard sentences, in every mode, once per mode."""

from __future__ import annotations

import importlib.util
import os
from importlib import resources
from pathlib import Path

import numpy as np

from tts_accel.core import modes as modes_mod
from tts_accel.core.engine import Synthesizer
from tts_accel.core.errors import ModelError, VoiceError
from tts_accel.core.params import SynthParams
from tts_accel.core.plan import ExecutionPlan

TEXTS_ENV = "TTS_ACCEL_TEXTS"
REFERENCE = "sequential"
# Ten, not five: on the first five Whisper tiny.en's own slips ("birch canoe" -> "can use
# lid") put sequential at 9.8 %, one word (2.4 points) under the gate; ten give 8.75 %.
QUICK_SENTENCES = 10
QUICK_MODES = 2  # accelerated modes checked by --quick, besides the sequential reference
# Zero noise: every mode sees the same ids and the same (absent) randomness, so any
# difference between modes is the mode's doing, and a run repeats exactly.
ZERO_NOISE = SynthParams(noise_scale=0.0, noise_w=0.0, sentence_silence=0.0)


def texts_dir() -> Path | None:
    """$TTS_ACCEL_TEXTS, else <repo>/../shared/texts when it exists (a checkout), else None."""
    env = os.environ.get(TEXTS_ENV)
    if env:
        return Path(env).expanduser()
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "texts"
    return shared if shared.is_dir() else None


def harvard_sentences(limit: int | None = None) -> list[str]:
    """The 20 Harvard sentences (public domain), one per line; the shipped copy is the fallback."""
    folder = texts_dir()
    if folder is not None and (folder / "harvard.txt").is_file():
        text = (folder / "harvard.txt").read_text(encoding="utf-8")
    else:
        text = resources.files("tts_accel.data").joinpath("texts/harvard.txt").read_text(encoding="utf-8")
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    return sentences[:limit] if limit else sentences


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def mode_plans(quick: bool, voice: str = "") -> dict[str, ExecutionPlan]:
    """Mode name -> plan, the sequential reference first; int8 and eager torch for Piper voices."""
    from tts_accel.core.plan import TORCH_FAMILIES
    from tts_accel.core.voices import voice_family

    def plan(mode: str, precision: str | None = None) -> ExecutionPlan:
        return modes_mod.plan_for(mode, voice, precision, tuned=False)

    plans = {name: plan(name) for name in modes_mod.ONNX_MODES if name != REFERENCE}
    piper = voice_family(voice) in TORCH_FAMILIES  # torch ports and int8 copies exist for Piper graphs
    if piper:
        plans["int8"] = plan(REFERENCE, "int8")
    if torch_available() and piper:
        plans.update({m: plan(m) for m in modes_mod.TORCH_MODES[:1]})  # eager torch
    if quick:
        plans = dict(list(plans.items())[:QUICK_MODES])
    return {REFERENCE: plan(REFERENCE), **plans}


class Renders:
    """Per-sentence audio for each mode, synthesized on first request and kept."""

    def __init__(self, voice: str, quick: bool):
        self.voice = voice
        self.quick = quick
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
            synth = Synthesizer(self.voice, self.plans[mode])
            self.sample_rate = synth.sample_rate
            reason = synth.backend.unsupported(self.plans[mode].mode)
            if reason:  # e.g. Kokoro's graph takes B=1
                synth.backend.close()
                raise VoiceError(f"{mode} does not apply to {self.voice}: {reason}")
            counts = [sum(1 for _ in synth.chunks([s], ZERO_NOISE)) for s in self.sentences]
            pieces = list(synth.stream(self.sentences, ZERO_NOISE))
            if len(pieces) != sum(counts):
                raise ModelError(f"mode {mode}: {len(pieces)} audio pieces for {sum(counts)} chunks")
            out, start = [], 0
            for n in counts:
                part = pieces[start : start + n]
                out.append(np.concatenate(part) if part else np.zeros(0, dtype=np.float32))
                start += n
            self._audio[mode] = out
            synth.backend.close()
        return self._audio[mode]
