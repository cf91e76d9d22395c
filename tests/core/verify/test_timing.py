"""`tts verify` tier 3, word timestamps: pairing with Whisper's words, the figures, the verdict."""

from __future__ import annotations

import importlib.util

import pytest

from tts_accel.core.verify import timing as T


def test_words_are_paired_by_spelling_and_a_misheard_word_is_left_out() -> None:
    ours = [("The", 0.10), ("birch", 0.30), ("canoe", 0.55), ("slid", 0.90), ("Don't", 1.2)]
    theirs = [("the", 0.12, 0.2), ("burch", 0.33, 0.5), ("canoe,", 0.5, 0.8), ("slid.", 0.95, 1.1), ("don’t", 1.3, 1.5)]
    assert T.match(ours, theirs) == [(0.10, 0.12), (0.55, 0.50), (0.90, 0.95), (1.2, 1.3)]


def test_figures_and_verdict() -> None:
    ours = [(f"w{k}", k * 0.5) for k in range(100)]
    theirs = [(f"w{k}", k * 0.5 + (0.05 if k % 10 else 0.3), 0.0) for k in range(100)]  # 10 % far off
    stats = T.timing_stats(ours, theirs)
    assert stats.matched == 1.0 and stats.within == pytest.approx(0.9)
    assert stats.median_abs_s == pytest.approx(0.05) and stats.median_signed_s == pytest.approx(-0.05)
    assert stats.judged and not stats.passed  # 90 % within 0.2 s < 92 %
    good = T.timing_stats(ours, [(w, t + 0.04, 0.0) for w, t in ours])
    assert good.passed


def test_too_few_recognized_words_are_not_judged() -> None:
    ours = [(f"w{k}", float(k)) for k in range(10)]
    stats = T.timing_stats(ours, [(f"w{k}", float(k), 0.0) for k in range(7)])
    assert stats.matched == pytest.approx(0.7) and not stats.judged and not stats.passed
    assert not T.timing_stats(ours, []).judged


needs_eval = pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is None, reason="needs the eval extra")


@pytest.mark.eval
@needs_eval
def test_whisper_gives_word_times_for_real_speech(joe, zero_noise) -> None:
    from tts_accel.core.verify.asr import default_transcriber

    audio = joe.synthesize("The juice of lemons makes fine punch.", zero_noise)
    words = default_transcriber().words(audio, joe.sample_rate)
    assert [T.spelling(w) for w, _, _ in words] == ["the", "juice", "of", "lemons", "makes", "fine", "punch"]
    assert all(0 <= a < b <= len(audio) / joe.sample_rate + 0.1 for _, a, b in words)


@pytest.mark.eval
@needs_eval
def test_tier3_timestamp_rows_pass_on_the_default_voice() -> None:
    from tts_accel.core.text.samples import harvard_sentences
    from tts_accel.core.verify.asr import default_transcriber

    rows = T.tier3_timestamps("piper-joe", harvard_sentences(5), default_transcriber())
    checked = {r.metric: r for r in rows if r.status in ("pass", "fail")}
    assert set(checked) == {"median |start error| s", "words within 0.2 s %"}
    assert all(r.status == "pass" for r in checked.values()), rows


@pytest.mark.eval
@needs_eval
def test_tier3_catches_a_timeline_that_forgets_the_pauses(monkeypatch) -> None:
    """A bookkeeping bug (sentence silences left out) must fail the check, not pass it."""
    from tts_accel.core.text.samples import harvard_sentences
    from tts_accel.core.timestamps import Timeline
    from tts_accel.core.verify.asr import default_transcriber

    real = Timeline.add

    def no_pauses(self, text, ids, frames, samples, pause=0, sentence_end=True, spans=None):  # type: ignore[no-untyped-def]
        real(self, text, ids, frames, samples, 0, sentence_end, spans)

    monkeypatch.setattr(Timeline, "add", no_pauses)
    rows = T.tier3_timestamps("piper-joe", harvard_sentences(5), default_transcriber())
    assert any(r.status == "fail" for r in rows), rows
