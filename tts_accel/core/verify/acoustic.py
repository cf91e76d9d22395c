"""Tiers 2 and 3 for the acoustic stage's engines (voices with a separate acoustic stage).

Each engine renders the Harvard sentences' latents (the voice's own graph, zero noise) window by
window as a stream does; the reference is the fp32 whole-graph audio of the same latents.

* tier 2: every engine that claims the voice (torch-fp32, torch-bf16-eager, torch-bf16) against
  fp32: SNR >= 30 dB, MCD at 16 kHz <= 0.8 dB, PESQ-WB >= 4.5 (with the ``pesq`` package); the
  int8 engine's measures are shown, not gated (it is not the same voice, and says so); the
  bf16 windows join without a step (the error at every join no larger than elsewhere);
* tier 3: Whisper's WER of every engine that ran, at most ort-fp32's + 1 point for the engines
  that claim the voice.

Thresholds and the measurements behind them: docs/verify.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tts_accel.core.acoustic.registry import CLAIMS_VOICE, ENGINES, FAST, FAST_EAGER, REFERENCE
from tts_accel.core.errors import EvalUnavailable, InputError, TierUnavailable, TTSError
from tts_accel.core.text.samples import harvard_sentences, read_text
from tts_accel.core.verify.quality import MCD16_MAX_DB, PESQ_WB_MIN, SNR_MIN_DB, WER_POINTS, measure
from tts_accel.core.verify.report import INFO, Row, check, skip
from tts_accel.core.voices.registry import family_of, resolve_voice

QUICK_SENTENCES = 10
#: engines tiers 2 and 3 gate as the same voice; ort-int8 is measured and shown, never gated
#: a join is a click when the error against fp32 jumps there by more than this many times its
#: 99.9th-percentile step elsewhere: compiled bf16 measured 0.0014 at 61 joins of long.txt vs
#: 0.0027 elsewhere (ratio 0.5); a click is a step of the error itself, far above its noise
JOIN_FACTOR = 1.5


class AcousticRenders:
    """Each engine's audio of the Harvard sentences, rendered once and shared by tiers 2 and 3."""

    def __init__(self, voice: str, quick: bool) -> None:
        self.voice = voice
        self.quick = quick
        self.support = family_of(voice).acoustic
        self.sentences = harvard_sentences(QUICK_SENTENCES if quick else None)
        self._lab: Any = None
        self._utts: Any = None
        self._audio: dict[str, list[np.ndarray] | str] = {}

    @property
    def lab(self) -> Any:
        if self._lab is None:
            assert self.support is not None
            self._lab = self.support.lab(resolve_voice(self.voice))
        return self._lab

    @property
    def utterances(self) -> Any:
        if self._utts is None:
            self._utts = self.lab.utterances(self.sentences)
        return self._utts

    def engines(self) -> list[str]:
        """Every engine but the reference; ``--quick`` (CI): the bf16 engine `auto` can pick only
        (compiled where `tts tune` built it, else eager: the same numerics within 0.5 dB SNR)."""
        names = [n for n in (self.support.engines if self.support else ()) if n != REFERENCE]
        if self.quick and names:
            compiled = self.support is not None and self.support.compiled(self.voice, FAST)
            names = [n for n in names if n == (FAST if compiled else FAST_EAGER)]
        return names

    def audio(self, name: str) -> list[np.ndarray] | str:
        """The engine's audio per utterance, or why it cannot run here (a skip reason)."""
        if name not in self._audio:
            self._audio[name] = self._render(name)
        return self._audio[name]

    def _render(self, name: str) -> list[np.ndarray] | str:
        from tts_accel.core.hardware.gpu import torch_available
        from tts_accel.core.hardware.profile import HardwareProfile
        from tts_accel.core.plan.costs import BF16_ISAS, isa_class

        spec = ENGINES[name]
        if spec.runtime == "torch" and not torch_available():
            return "torch is not installed: pip install 'tts-accel[torch]'"
        isa = isa_class(HardwareProfile.detect(gpus=False).isa)
        if spec.precision == "bf16" and isa not in BF16_ISAS:
            return f"this CPU ({isa}) has no bf16 instructions: bf16 is never used here"
        if spec.compiled and self.support is not None and not self.support.compiled(self.voice, name):
            return "its window shapes are not compiled on this machine: `tts tune` builds them (verify does not)"
        try:
            engine = self.lab.engine(name, allow_compile=False)
            return list(self.lab.render(engine, self.utterances)[0])
        except TTSError as err:
            return f"{type(err).__name__}: {err}"


def tier2_rows(renders: AcousticRenders) -> list[Row]:
    if renders.support is None:
        return []
    refs = [u.audio for u in renders.utterances]
    rate = renders.lab.sample_rate
    rows: list[Row] = []
    for name in renders.engines():
        got = renders.audio(name)
        item = f"acoustic {name} vs fp32"
        if isinstance(got, str):
            rows.append(skip(2, item, got))
            continue
        q = measure(refs, got, rate)
        if name not in CLAIMS_VOICE:
            verdict = "same voice" if q.pesq_wb is None or q.pesq_wb >= PESQ_WB_MIN else "not the same voice"
            note = "shown, not gated: never chosen by auto"
            rows += [Row(2, item, "SNR dB (median)", q.snr_db, "", INFO, verdict),
                     Row(2, item, "MCD16 dB", q.mcd16_db, "", INFO, note)]  # fmt: skip
            if q.pesq_wb is not None:
                rows.append(Row(2, item, "PESQ-WB", q.pesq_wb, "", INFO, ""))
            continue
        rows += [
            check(2, item, "SNR dB (worst)", q.snr_worst_db, q.snr_worst_db >= SNR_MIN_DB, f">= {SNR_MIN_DB:g}",
                  "the smoke check failed"),
            check(2, item, "MCD16 dB (median)", q.mcd16_db, q.mcd16_db <= MCD16_MAX_DB, f"<= {MCD16_MAX_DB:g}",
                  "the spectrum moved: not the same voice"),
        ]  # fmt: skip
        if q.pesq_wb is not None:
            rows.append(check(2, item, "PESQ-WB (median)", q.pesq_wb, q.pesq_wb >= PESQ_WB_MIN,
                              f">= {PESQ_WB_MIN:g}", "heard as another rendering"))  # fmt: skip
    rows.extend(join_rows(renders))
    return rows


def join_rows(renders: AcousticRenders) -> list[Row]:
    """The bf16 stream's joins on the longest sentence of long.txt: the error against fp32 does
    not jump at a join more than it moves between any two samples elsewhere (a click would)."""
    name = next((n for n in (FAST, FAST_EAGER) if isinstance(renders.audio(n), list)), None)
    item = "acoustic bf16 joins"
    if name is None:
        return [skip(2, item, "no bf16 engine runs here")]
    try:
        text = read_text("long")
    except InputError as err:  # a texts folder (TTS_ACCEL_TEXTS) with the Harvard list alone
        return [skip(2, item, str(err))]
    long = max(text.split(". "), key=len) + "."
    (utt,) = renders.lab.utterances([long])[:1]
    got, joins = renders.lab.stream(renders.lab.engine(name, allow_compile=False), utt.z)
    if not joins:
        return [skip(2, item, "the sentence ran as one window")]
    err_steps = np.abs(np.diff(got.astype(np.float64) - utt.audio))  # how the error moves, sample to sample
    typical = float(np.percentile(err_steps, 99.9)) + 1e-6
    worst = max(float(err_steps[j - 1]) for j in joins) / typical
    return [check(2, f"{item} ({name}, {len(joins)} joins)", "error step at joins / its p99.9 elsewhere", worst,
                  worst <= JOIN_FACTOR, f"<= {JOIN_FACTOR:g}", "a step at a join: a click")]  # fmt: skip


def tier3_rows(renders: AcousticRenders) -> list[Row]:
    if renders.support is None:
        return []
    from tts_accel.core.verify.asr import default_transcriber
    from tts_accel.core.verify.wer import wer

    try:
        asr = default_transcriber()
    except EvalUnavailable as err:
        raise TierUnavailable(f"tier 3 needs the speech recognizer: {err}") from err
    rate = renders.lab.sample_rate
    texts = [u.text for u in renders.utterances]
    ref = 100.0 * wer(texts, [asr.transcribe(u.audio, rate) for u in renders.utterances]).rate
    rows = [Row(3, f"acoustic {REFERENCE}", "WER %", ref, "", INFO, "the reference: fp32 whole graph")]
    for name in renders.engines():
        got = renders.audio(name)
        item = f"acoustic {name}"
        if isinstance(got, str):
            rows.append(skip(3, item, got))
            continue
        value = 100.0 * wer(texts, [asr.transcribe(a, rate) for a in got]).rate
        if name in CLAIMS_VOICE:
            rows.append(check(3, item, "WER %", value, value <= ref + WER_POINTS, f"<= {ref + WER_POINTS:.1f} "
                              f"(fp32 + {WER_POINTS:g})", "more words misheard than fp32"))  # fmt: skip
        else:
            rows.append(Row(3, item, "WER %", value, "", INFO, "shown, not gated: never chosen by auto"))
    return rows
