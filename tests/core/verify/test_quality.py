"""The reference measures on signals with known answers, and the same-voice gate."""

from __future__ import annotations

import numpy as np
import pytest

from tts_accel.core.verify.quality import Quality, mcd16_db, mcd_db, measure, pesq_wb, same_voice, snr_db

RATE = 22050


def _speechlike(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Harmonics of a gliding pitch under a syllable-rate envelope: enough spectrum for the measures."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 30 * np.sin(2 * np.pi * 2 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 30))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return (0.2 * env * voiced + 0.002 * rng.standard_normal(t.size)).astype(np.float32)


def test_snr_of_a_known_noise_level() -> None:
    ref = _speechlike()
    noise = np.random.default_rng(1).standard_normal(ref.size)
    noise *= np.sqrt(np.sum(ref.astype(np.float64) ** 2) / np.sum(noise**2)) * 10 ** (-30 / 20)  # exactly 30 dB below
    assert snr_db(ref, ref + noise) == pytest.approx(30.0, abs=1e-6)
    assert snr_db(ref, ref) == float("inf")


def test_mcd_is_zero_for_identical_audio_and_grows_with_distortion() -> None:
    ref = _speechlike()
    assert mcd_db(ref, ref, RATE) == 0.0
    rng = np.random.default_rng(2)
    small = mcd16_db(ref, ref + 0.001 * rng.standard_normal(ref.size), RATE)
    large = mcd16_db(ref, ref + 0.02 * rng.standard_normal(ref.size), RATE)
    assert 0.0 < small < large


def test_a_length_change_is_refused() -> None:
    with pytest.raises(ValueError, match="must not change durations"):
        snr_db(np.zeros(10), np.zeros(11))


def test_pesq_scores_identical_speech_at_its_ceiling() -> None:
    pytest.importorskip("pesq")
    ref = np.concatenate([_speechlike(1.5, 3), np.zeros(RATE // 4, np.float32), _speechlike(1.5, 4)])
    assert pesq_wb(ref, ref, RATE) == pytest.approx(4.64, abs=0.01)
    assert measure([ref], [ref], RATE).pesq_wb == pytest.approx(4.64, abs=0.01)


@pytest.mark.parametrize(
    ("quality", "same", "why"),
    [
        (Quality(40.5, 38.3, 0.54, 4.62, 5.0, 5.6), True, "within the thresholds"),  # compiled bf16 (measured)
        (Quality(40.5, 38.3, 0.54, None, None, None), True, "WER and PESQ-WB not measured"),
        (Quality(20.0, 15.5, 0.88, 4.52, 5.0, 5.6), False, "above 0.8 dB"),  # int8 of 8 convs
        (Quality(17.6, 15.0, 1.59, 3.99, 6.0, 5.6), False, "PESQ-WB 3.99"),  # int8 of 12 convs
        (Quality(40.0, 38.0, 0.5, 4.6, 7.0, 5.6), False, "more than 1 point above"),
    ],
)
def test_the_same_voice_gate(quality: Quality, same: bool, why: str) -> None:
    ok, reason = same_voice(quality)
    assert ok is same and why in reason
