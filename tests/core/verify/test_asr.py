from __future__ import annotations

import numpy as np
import pytest

from tts_accel.core.verify import asr
from tts_accel.core.verify.wer import normalize_words

pytestmark = pytest.mark.eval
pytest.importorskip("faster_whisper", reason="needs the eval extra: pip install 'tts-accel[eval]'")


def test_the_model_is_found_inside_the_installed_package():
    path = asr.model_dir()
    assert (path / "model.bin").is_file() and (path / "tokenizer.json").is_file()


def test_a_directory_without_a_model_is_reported_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(asr.MODEL_ENV, str(tmp_path))
    with pytest.raises(asr.EvalUnavailable, match="model.bin") as info:
        asr.model_dir()
    assert info.value.exit_code == 6 and asr.MODEL_ENV in str(info.value)


def test_resampling_keeps_the_pitch_and_the_duration():
    rate = 22050
    t = np.arange(rate) / rate  # 1 s
    out = asr.resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), rate)
    assert out.dtype == np.float32 and abs(out.size - asr.ASR_RATE) <= 64
    peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * asr.ASR_RATE / out.size
    assert abs(peak_hz - 440) < 2
    assert 0.9 < np.abs(out).max() < 1.1
    same = np.ones(100, dtype=np.float32)
    assert np.array_equal(asr.resample(same, asr.ASR_RATE), same)
    assert asr.resample(np.zeros(0, dtype=np.float32), rate).size == 0


def test_whisper_hears_the_words_the_piper_voice_said(joe, zero_noise):
    text = "The juice of lemons makes fine punch."
    audio = joe.synthesize(text, zero_noise)
    heard = asr.transcribe(audio, joe.sample_rate)
    assert normalize_words(heard) == normalize_words(text)


def test_different_sentences_are_told_apart(joe, zero_noise):
    audio = joe.synthesize("Rice is often served in round bowls.", zero_noise)
    words = normalize_words(asr.transcribe(audio, joe.sample_rate))
    assert {"rice", "round", "bowls"} <= set(words) and "lemons" not in words
