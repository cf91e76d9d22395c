"""Sample bookkeeping: word and sentence times from frame counts, pauses and chunk lengths."""

from __future__ import annotations

import numpy as np
import pytest

from tts_accel.core.timestamps import TextWord, Timeline, WordSpan, text_words

SR, HOP = 22050, 256


def _fake_spans(text: str, frames: np.ndarray) -> list[WordSpan]:
    """One word per 3 positions, from position 2: a stand-in aligner for pure bookkeeping tests."""
    return [WordSpan(w, 2 + 3 * k, min(2 + 3 * k + 3, len(frames))) for k, w in enumerate(text_words(text))]


def _feed(timeline: Timeline, chunks: list[tuple[str, list[int], int, bool]]) -> np.ndarray:
    """Feed (text, frames, pause, sentence_end) chunks; return the output they stand for."""
    out = []
    for text, frames, pause, end in chunks:
        frames = np.asarray(frames)
        audio = np.ones(int(frames.sum()) * HOP, dtype=np.float32)
        timeline.add(text, np.zeros(len(frames), np.int64), frames, len(audio), pause, end, _fake_spans(text, frames))
        out += [audio, np.zeros(pause, np.float32)]
    timeline.finish()
    return np.concatenate(out)


def test_chunks_and_pauses_add_up_to_the_output_exactly() -> None:
    tl = Timeline(SR, HOP)
    rng = np.random.default_rng(0)
    chunks = [
        (f"w{k} x{k} y{k},", list(rng.integers(1, 9, size=12)), int(rng.integers(0, 9000)), bool(k % 3 != 1))
        for k in range(25)
    ]
    output = _feed(tl, chunks)
    assert sum(c.samples + c.pause for c in tl.chunks) == tl.position == len(output)
    for prev, nxt in zip(tl.chunks, tl.chunks[1:], strict=False):  # contiguous
        assert nxt.start == prev.start + prev.samples + prev.pause
    for c in tl.chunks:  # every word lies in its own chunk's audio, not in a pause
        for w in tl.words[c.words_start : c.words_end]:
            assert c.start <= w.start <= w.end <= c.start + c.samples


def test_word_times_are_frame_sums_times_hop() -> None:
    tl = Timeline(SR, HOP)
    frames = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    _feed(tl, [("alpha beta gamma", frames, 100, True)])
    edges = np.concatenate(([0], np.cumsum(frames))) * HOP
    assert [(w.start, w.end) for w in tl.words] == [(edges[2], edges[5]), (edges[5], edges[8]), (edges[8], edges[11])]


def test_a_sentence_cut_into_clause_chunks_is_one_sentence() -> None:
    tl = Timeline(SR, HOP)
    _feed(
        tl,
        [("First part,", [2] * 8, 0, False), ("second part.", [2] * 8, 4410, True), ("Next one.", [3] * 8, 4410, True)],
    )
    assert [s.text for s in tl.sentences] == ["First part, second part.", "Next one."]
    first = tl.sentences[0]
    assert first.start == tl.words[0].start and first.end == tl.words[3].end
    assert tl.sentences[1].start >= first.end + 4410  # the pause lies between them


def test_text_that_ends_without_a_sentence_end_is_closed_by_finish() -> None:
    tl = Timeline(SR, HOP)
    tl.add("no end", np.zeros(8, np.int64), np.full(8, 2), 16 * HOP, 0, False, _fake_spans("no end", np.full(8, 2)))
    assert tl.sentences == []
    tl.finish()
    tl.finish()  # idempotent
    assert [s.text for s in tl.sentences] == ["no end"]


def test_unspoken_chunk_keeps_its_words_at_zero_length() -> None:
    tl = Timeline(SR, HOP)
    _feed(tl, [("One two.", [2] * 8, 10, True)])
    at = tl.position
    tl.add_unspoken("§§ ¶", pause=10)
    assert [w.word for w in tl.words[-2:]] == ["§§", "¶"]
    assert all(w.start == w.end == at for w in tl.words[-2:])
    assert tl.position == at + 10


def test_audio_that_is_not_frames_times_hop_is_scaled_monotonically() -> None:
    tl = Timeline(24000, 600)
    frames = np.array([2, 3, 5])
    spans = [WordSpan(TextWord("a", "a", 0, 1), 0, 2), WordSpan(TextWord("b", "b", 2, 3), 2, 3)]
    tl.add("a b", np.zeros(3, np.int64), frames, 5000, 0, True, spans)  # 5000 instead of 6000
    assert [(w.start, w.end) for w in tl.words] == [(0, 2500), (2500, 5000)]


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        Timeline(SR, HOP).add("x", np.zeros(1, np.int64), np.array([1]), -1, 0)
