"""Tier 3, word timestamps: our word starts against Whisper tiny.en's own (``word_timestamps=True``).

The Harvard sentences are synthesized once more in the sequential mode with a Timeline, zero
noise and the default sentence silence, and the whole output goes to Whisper at once. Our words
and Whisper's are paired by a sequence alignment of their normalized spellings; for each pair the
error is our start minus Whisper's. Thresholds (docs/verify.md has the measurements behind them):
the median absolute error at most 0.08 s and at least 92 % of the words within 0.2 s, judged only
when Whisper heard at least 80 % of our words (otherwise there is too little to compare).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from tts_accel.core.errors import TTSError
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.timestamps import Timeline
from tts_accel.core.verify.report import FAIL, INFO, SKIP, Row, check
from tts_accel.core.voices.params import ZERO_NOISE

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.verify.asr import Transcriber

#: Median absolute word-start error allowed (s): measured 0.040-0.053 s on both families.
MEDIAN_MAX_S = 0.08
#: A word counts as placed when its start is this close to Whisper's (s).
WITHIN_S = 0.2
#: Share of matched words that must be placed (measured 96.3-98.6 %).
WITHIN_MIN = 0.92
#: Below this share of our words recognized by Whisper, the figures are not judged.
MATCHED_MIN = 0.80

Ours = Sequence[tuple[str, float]]  # (word, start s)
Theirs = Sequence[tuple[str, float, float]]  # (word, start s, end s)


def spelling(token: str) -> str:
    """Lower case letters, digits and inner apostrophes: how two spellings of a word are compared."""
    return re.sub(r"[^a-z0-9']", "", token.lower().replace("\u2019", "'")).strip("'")


def match(ours: Ours, theirs: Theirs) -> list[tuple[float, float]]:
    """(our start, Whisper's start) for every word both sides spell the same, in order: the
    matching blocks of a sequence alignment of the two word lists (a misheard word is left out,
    not paired with a neighbour)."""
    a = [spelling(w) for w, _ in ours]
    b = [spelling(w) for w, _, _ in theirs]
    pairs = []
    for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            if a[block.a + k]:
                pairs.append((ours[block.a + k][1], theirs[block.b + k][1]))
    return pairs


@dataclass(frozen=True)
class TimingStats:
    words: int  # our words with a spelling
    matched: float  # share of them Whisper heard (and placed in the same order)
    median_abs_s: float
    p90_abs_s: float
    within: float  # share of matched words within WITHIN_S of Whisper's start
    median_signed_s: float  # ours - Whisper's: negative when ours start earlier

    @property
    def judged(self) -> bool:
        return self.matched >= MATCHED_MIN

    @property
    def passed(self) -> bool:
        return self.judged and self.median_abs_s <= MEDIAN_MAX_S and self.within >= WITHIN_MIN

    def to_dict(self) -> dict[str, float]:
        return {
            "words": self.words,
            "matched": round(self.matched, 3),
            "median_abs_s": round(self.median_abs_s, 3),
            "p90_abs_s": round(self.p90_abs_s, 3),
            "within_0.2s": round(self.within, 3),
            "median_signed_s": round(self.median_signed_s, 3),
        }


def timing_stats(ours: Ours, theirs: Theirs) -> TimingStats:
    n = sum(1 for w, _ in ours if spelling(w))
    pairs = match(ours, theirs)
    if not pairs:
        return TimingStats(n, 0.0, float("inf"), float("inf"), 0.0, float("nan"))
    err = np.array([o - t for o, t in pairs])
    ab = np.abs(err)
    return TimingStats(
        words=n,
        matched=len(pairs) / max(n, 1),
        median_abs_s=float(np.median(ab)),
        p90_abs_s=float(np.percentile(ab, 90)),
        within=float((ab <= WITHIN_S).mean()),
        median_signed_s=float(np.median(err)),
    )


#: Pause between sentences in the timed render: the CLI's default, so that the bookkeeping of
#: pauses is part of what is checked (leaving it out costs 1.9 s of median error).
SENTENCE_SILENCE = 0.2


def timed_render(
    voice: str, sentences: Sequence[str], plan: ExecutionPlan | None = None, speed: float = 1.0
) -> tuple[np.ndarray, Timeline]:
    """(float32 audio, Timeline) for ``sentences`` as one output, zero noise, sequential unless
    ``plan`` says otherwise: the words' times as `tts synth --timestamps` writes them."""
    synth = Synthesizer(voice, plan or plan_for("sequential", voice, tuned=False))
    timeline = Timeline.for_voice(synth.voice)
    params = replace(ZERO_NOISE, sentence_silence=SENTENCE_SILENCE, speed=speed)
    pieces = list(synth.stream(list(sentences), params, on_piece=timeline.on_piece, on_skip=timeline.on_skip))
    synth.backend.close()
    return np.concatenate(pieces), timeline.finish()


def our_starts(timeline: Timeline) -> list[tuple[str, float]]:
    return [(w.word, w.start / timeline.sample_rate) for w in timeline.words]


def tier3_timestamps(voice: str, sentences: Sequence[str], transcriber: Transcriber) -> list[Row]:
    """Rows for `tts verify` tier 3: word starts of the sequential mode against Whisper's."""
    item = "timestamps"
    try:
        audio, timeline = timed_render(voice, sentences)
    except NotImplementedError as err:  # a voice without a symbol map cannot time its words
        return [Row(3, item, "word start vs Whisper", None, "", SKIP, str(err))]
    except TTSError as err:
        return [Row(3, item, "runs", None, "", FAIL, f"{type(err).__name__}: {err}")]
    stats = timing_stats(our_starts(timeline), transcriber.words(audio, timeline.sample_rate))
    matched = Row(3, item, "words matched %", 100 * stats.matched, "", INFO)
    if not stats.judged:
        why = f"too few words recognized to judge (Whisper matched {100 * stats.matched:.0f} % < {MATCHED_MIN:.0%})"
        return [matched, Row(3, item, "word start vs Whisper", None, "", SKIP, why)]
    return [
        matched,
        check(3, item, "median |start error| s", stats.median_abs_s, stats.median_abs_s <= MEDIAN_MAX_S,
              f"<= {MEDIAN_MAX_S:g}", "word starts drift from Whisper's"),
        check(3, item, f"words within {WITHIN_S:g} s %", 100 * stats.within, stats.within >= WITHIN_MIN,
              f">= {100 * WITHIN_MIN:g}", "too many words placed far from Whisper's"),
        Row(3, item, "p90 |start error| s", stats.p90_abs_s, "", INFO),
        Row(3, item, "median signed error s", stats.median_signed_s, "", INFO),
    ]  # fmt: skip
