"""Tier 2: every accelerated path against the sequential reference, same ids, zero noise."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from tts_accel.core.errors import ModeNotApplicable, TTSError
from tts_accel.core.hardware.gpu import torch_available
from tts_accel.core.text.samples import harvard_sentences
from tts_accel.core.verify.data import REFERENCE, SPEECH_ONLY, Renders
from tts_accel.core.verify.quality import snr_db
from tts_accel.core.verify.report import FAIL, PASS, Row, check, skip
from tts_accel.core.voices.registry import resolve_voice

TIER = 2
# Scheduling modes run the same graph on the same ids; they only change which thread runs
# which chunk, so the samples should be identical. 1e-6 leaves room for ORT picking a
# different summation order at another intra-op thread count, far below 16-bit PCM's step
# (3e-5). Batching pads chunks to one length, which changes the convolutions' edges:
# measured 9.6e-5 over the 20 Harvard sentences (about 3 PCM steps); 1e-3 (-60 dBFS) gives
# tenfold headroom and is still inaudible.
# The eager torch mode is another implementation of the same graph (torch_vits): other
# kernels, other summation orders. Measured 5.8e-5 over the 20 Harvard sentences against ORT
# (2 PCM steps); it gets the batched mode's 1e-3 for the same reason.
DEFAULT_TOLERANCE = 1e-6
TOLERANCE = {"batched": 1e-3, "torch": 1e-3}
# The pipelined mode streams windows of the split graphs (two-stage voices): the windows join
# into the whole-sentence samples up to float rounding (convolutions over other lengths sum in
# another order): measured 2.5e-6 against the voice's own graph over paragraph, harvard and long
# texts; the bound, 1e-4 per sample (3 steps of 16-bit PCM), is the gate.
WINDOWED_TOLERANCE = 1e-4
# The int8 copy quantizes only the decoder, so durations are computed in float and the ratio is
# 1.0 (measured); the bound is kept for graphs that quantize more: the all-ops dynamic copy
# measured 0.984-1.005 on 8 Harvard sentences, and beyond 5 % speech drifts.
DURATION_BOUNDS = (0.95, 1.05)


def max_abs_diff(ref: list[np.ndarray], got: list[np.ndarray]) -> tuple[float, str]:
    """Largest sample difference over all sentences, and a reason when lengths differ."""
    worst = 0.0
    for i, (a, b) in enumerate(zip(ref, got, strict=True)):
        if a.shape != b.shape:
            return float("inf"), f"sentence {i + 1}: {b.size} samples instead of {a.size}"
        if a.size:
            worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b))))
    return worst, ""


def duration_ratio(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    total = sum(a.size for a in ref)
    return sum(b.size for b in got) / total if total else float("nan")


def _mode_rows(renders: Renders, mode: str, ref: list[np.ndarray]) -> list[Row]:
    try:
        got = renders.audio(mode)
    except ModeNotApplicable as err:  # e.g. batched on Kokoro, graph modes without a GPU
        return [skip(TIER, mode, str(err))]
    except TTSError as err:
        return [Row(TIER, mode, "runs", None, "", FAIL, f"{type(err).__name__}: {err}")]
    ratio = duration_ratio(ref, got)
    if mode in renders.family.extra_precisions("onnx"):  # a lower-precision copy (int8)
        lo, hi = DURATION_BOUNDS
        ref_all, got_all = np.concatenate(ref), np.concatenate(got)
        n = min(ref_all.size, got_all.size)  # over the common length
        snr = snr_db(ref_all[:n], got_all[:n])
        return [
            check(TIER, mode, "duration ratio", ratio, lo <= ratio <= hi, f"{lo}..{hi}", "durations drift"),
            # A vocoder's waveform decorrelates under weight changes (-4..0 dB measured with full
            # dynamic int8, 18.7 dB with the decoder-only static copy), so SNR is not gated beyond
            # "changed at all"; tier 3's WER judges int8. Bit-identical output means the graph was
            # never quantized.
            check(
                TIER,
                mode,
                "SNR dB",
                snr,
                math.isfinite(snr),
                "finite (output changed)",
                "bit-identical to fp32: the int8 graph is not quantized",
            ),
        ]
    plan = renders.plans[mode]
    windowed = not isinstance(plan, ModeNotApplicable) and plan.streams_windows
    tol = WINDOWED_TOLERANCE if windowed else TOLERANCE.get(mode, DEFAULT_TOLERANCE)
    diff, why = max_abs_diff(ref, got)
    return [check(TIER, mode, "max abs diff", diff, diff <= tol, f"<= {tol:g}", why or "samples differ")]


def torch_parity_rows(voice: str, quick: bool) -> list[Row]:
    """A family's torch port against its ONNX graph layer by layer (the family's
    ``layer_parity``), zero noise, on the first Harvard sentence (two with ``quick`` off):
    cosine at each named point, identical durations, and the waveform."""
    from tts_accel.core.voices.registry import family_of

    family = family_of(voice)
    if family.layer_parity is None:
        return [skip(TIER, "torch vs onnx", f"voice {voice!r} has no torch port ({family.name} voices)")]
    if not torch_available():
        return [skip(TIER, "torch vs onnx", "torch is not installed: pip install 'tts-accel[torch]'")]
    loaded = resolve_voice(voice)
    rows: list[Row] = []
    for n, sentence in enumerate(harvard_sentences(1 if quick else 2), start=1):
        for point, cosine, diff, threshold, passed in family.layer_parity(loaded, loaded.encode(sentence)):
            metric = "frames equal" if point == "durations" else "cosine"
            rows.append(
                Row(TIER, f"torch vs onnx #{n}: {point}", metric, float(cosine), f">= {threshold:g}",
                    PASS if passed else FAIL, "" if passed else f"max abs diff {diff:.3g}")
            )  # fmt: skip
    return rows


def windowed_rows(renders: Renders, ref: list[np.ndarray]) -> list[Row]:
    """The two-stage split of the voice: its windowed acoustic stage against one whole run of
    the same stage on the same latent (the voice's default noise, both schedules: the small
    opening windows and the steady ones), at most 1e-4 per sample and the same length; and the
    windows against the voice's own graph (the sequential reference) with zero noise."""
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    try:
        plan = plan_for("pipelined", renders.voice, tuned=False)
    except ModeNotApplicable as err:
        return [skip(TIER, "windows", str(err))]
    if not plan.streams_windows:
        why = f"{renders.family.name} voices have no two-stage split: they stream whole chunks"
        return [skip(TIER, "windows", why)]
    synth = Synthesizer(renders.voice, plan)
    try:
        stages = synth.backend.two_stage()
    except ModeNotApplicable as err:  # a graph that cannot be split (asked for by flag)
        return [Row(TIER, "windows", "split", None, "", FAIL, str(err))]
    if stages is None:
        return [skip(TIER, "windows", "; ".join(synth.backend.notes()) or "the graph could not be split")]
    noisy = synth.voice.resolve(replace(SPEECH_ONLY, noise_scale=None, noise_w=None))
    whole, windowed, zero = [], {True: [], False: []}, []
    for sentence in renders.sentences:
        for chunk in synth.chunks([sentence], SPEECH_ONLY):
            text = stages.text_stage(chunk.ids, noisy)
            whole.append(stages.acoustic_whole(text))
            for opening in (True, False):
                windowed[opening].append(np.concatenate([a for a, _ in stages.acoustic_stage(text, opening)]))
        chunks = synth.chunks([sentence], SPEECH_ONLY)
        zero.append(np.concatenate([stages.whole(c.ids, SPEECH_ONLY)[0] for c in chunks]))
    synth.backend.close()
    rows = []
    for opening, name in ((True, "opening"), (False, "steady")):
        diff, why = max_abs_diff(whole, windowed[opening])
        rows.append(check(TIER, f"windows ({name}) vs whole stage", "max abs diff", diff, diff <= WINDOWED_TOLERANCE,
                          f"<= {WINDOWED_TOLERANCE:g}", why or "windows do not join into the whole run"))  # fmt: skip
    diff, why = max_abs_diff(ref, zero)
    rows.append(check(TIER, "windows vs the voice's graph", "max abs diff", diff, diff <= WINDOWED_TOLERANCE,
                      f"<= {WINDOWED_TOLERANCE:g}", why or "the split changed the samples"))  # fmt: skip
    return rows


def tier2(renders: Renders) -> list[Row]:
    ref = renders.audio(REFERENCE)  # a broken voice stops here with its own error and exit code
    rows: list[Row] = []
    for mode in renders.modes:
        if mode != REFERENCE:
            rows.extend(_mode_rows(renders, mode, ref))
    if not any(m for m in renders.modes if m != REFERENCE):
        rows.append(skip(TIER, "modes", "the engine offers no mode besides sequential"))
    rows.extend(windowed_rows(renders, ref))
    rows.extend(torch_parity_rows(renders.voice, renders.quick))
    return rows
