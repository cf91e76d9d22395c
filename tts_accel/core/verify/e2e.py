"""Tier 3: the Harvard sentences through each mode, then Whisper tiny.en, then WER; and the word
timestamps of the sequential mode against Whisper's own (``verify.timing``)."""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING

import numpy as np

from tts_accel.core.errors import EvalUnavailable, ModeNotApplicable, TierUnavailable, TTSError
from tts_accel.core.verify.data import REFERENCE, Renders
from tts_accel.core.verify.report import FAIL, INFO, Row, check, skip
from tts_accel.core.verify.timing import tier3_timestamps
from tts_accel.core.voices.registry import DEFAULT_VOICE, family_of

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.verify.asr import Transcriber

TIER = 3
#: The ceiling of the default voice's family; each family declares its own (``Family.wer_max``,
#: with the measurements behind it in its package and docs/verify.md).
WER_MAX = family_of(DEFAULT_VOICE).wer_max


def wer_max(voice: str) -> float:
    """The WER ceiling for ``voice``'s family (a voice file's family for a path)."""
    return family_of(voice).wer_max


# One sentence holds about 8 words, so 3 points on 20 sentences is about 5 words: more than
# Whisper's jitter between two renderings that sound the same, less than one garbled sentence.
WER_MARGIN = 3.0  # percentage points above sequential's WER on the same sentences


def dbfs(audio: np.ndarray) -> float:
    """RMS level relative to full scale (a full-scale square wave is 0 dBFS)."""
    if audio.size == 0:
        return float("-inf")
    rms = math.sqrt(float(np.mean(audio.astype(np.float64) ** 2)))
    return 20.0 * math.log10(rms) if rms > 0 else float("-inf")


def _transcriber() -> Transcriber:
    from tts_accel.core.verify.asr import default_transcriber

    try:
        return default_transcriber()
    except EvalUnavailable as err:
        raise TierUnavailable(f"tier 3 needs the speech recognizer: {err}") from err


class Heard:
    """Transcripts keyed by the samples: modes that render identical audio (the scheduling
    modes at zero noise) are transcribed once, since the recognizer is deterministic."""

    def __init__(self, transcriber: Transcriber, sample_rate: int):
        self.transcriber = transcriber
        self.sample_rate = sample_rate
        self._seen: dict[bytes, str] = {}

    def __call__(self, audio: np.ndarray) -> str:
        key = hashlib.blake2b(audio.tobytes(), digest_size=16).digest()
        if key not in self._seen:
            self._seen[key] = self.transcriber.transcribe(audio, self.sample_rate)
        return self._seen[key]


def mode_wer(renders: Renders, mode: str, heard: Heard) -> tuple[float, list[str]]:
    """WER in per cent over the sentences, and the transcripts."""
    from tts_accel.core.verify.wer import wer

    hyps = [heard(a) for a in renders.audio(mode)]
    return 100.0 * wer(renders.sentences, hyps).rate, hyps


def tier3(renders: Renders) -> list[Row]:
    transcriber = _transcriber()
    ref_audio_list = renders.audio(REFERENCE)
    heard = Heard(transcriber, renders.sample_rate)
    ref_wer, _ = mode_wer(renders, REFERENCE, heard)
    ref_audio = np.concatenate(ref_audio_list)
    ref_level = dbfs(ref_audio)
    limit = wer_max(renders.voice)
    rows = [
        check(TIER, REFERENCE, "WER %", ref_wer, ref_wer <= limit, f"<= {limit:g}", "ASR misheard"),
        Row(TIER, REFERENCE, "loudness dBFS", ref_level, "", INFO),
    ]
    gate = min(limit, ref_wer + WER_MARGIN)
    for mode in renders.modes:
        if mode == REFERENCE:
            continue
        try:
            value, _ = mode_wer(renders, mode, heard)
        except ModeNotApplicable as err:
            rows.append(skip(TIER, mode, str(err)))
            continue
        except TTSError as err:
            rows.append(Row(TIER, mode, "runs", None, "", FAIL, f"{type(err).__name__}: {err}"))
            continue
        audio = np.concatenate(renders.audio(mode))
        threshold = f"<= {gate:.1f} (seq + {WER_MARGIN:g}, max {limit:g})"
        rows += [
            check(TIER, mode, "WER %", value, value <= gate, threshold, "more words misheard than seq"),
            Row(TIER, mode, "duration ratio vs seq", audio.size / ref_audio.size, "", INFO),
            Row(TIER, mode, "loudness dB vs seq", dbfs(audio) - ref_level, "", INFO),
        ]
    return rows + tier3_timestamps(renders.voice, renders.sentences, transcriber)
