from __future__ import annotations

import threading

import numpy as np
import pytest

from tts_accel.core.errors import VoiceError
from tts_accel.core.text.phonemize import phonemize
from tts_accel.core.voices.registry import resolve_voice


@pytest.fixture(scope="module")
def voice():
    return resolve_voice("piper-joe")


def test_real_espeak_phonemizes_with_stress_and_punctuation():
    out = phonemize("Hello world.", "en-us")
    assert out.startswith("həlˈoʊ")
    assert out.endswith(".")


def test_ids_follow_the_piper_phonemize_layout(voice):
    ids = voice.encode("Hi.")
    m = voice.id_map
    assert ids[:2].tolist() == [*m["^"], *m["_"]]
    assert ids[-1] == m["$"][0]
    inner = ids[2:-1]
    assert inner[1::2].tolist() == [m["_"][0]] * (len(inner) // 2)  # a pad after every phoneme
    assert ids.dtype == np.int64


def test_nothing_pronounceable_gives_no_ids(voice):
    assert voice.encode("... !?").size == 0


def test_phonemizer_is_safe_from_many_threads():
    texts = [f"Sentence number {i} is here." for i in range(40)]
    expected = [phonemize(t, "en-us") for t in texts]
    phonemize.cache_clear()
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = phonemize(texts[i], "en-us")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(texts))] == expected


def test_voice_from_a_path_and_missing_paths(voice, tmp_path):
    direct = resolve_voice(str(voice.model_path))
    assert direct.sample_rate == 22050
    with pytest.raises(VoiceError, match="not found"):
        resolve_voice(str(tmp_path / "nope.onnx"))
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(b"x")
    with pytest.raises(VoiceError, match=r"\.onnx\.json beside it"):
        resolve_voice(str(lonely))


def test_unknown_voice_names_the_choices():
    with pytest.raises(VoiceError, match="piper-joe"):
        resolve_voice("nobody")
