"""Words and sentences in time: text words onto model positions, positions onto output samples.

* :class:`Aligner` gives every text word of a chunk its half-open range of model positions
  (one duration entry each), through the voice's own symbol map (``Voice.symbols``,
  ``Voice.symbol_positions``) and :func:`~tts_accel.core.timestamps.align.align_words`.
* :class:`Timeline` is fed chunk by chunk in output order: text, ids, frames per model position,
  the chunk's sample count and the pause after it. The output is the concatenation of chunk audio
  (frames x hop samples) and pauses, so word times are integer sums. Speed is inside the frame
  counts (the graph rounds ``duration x length_scale``); volume changes no sample count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tts_accel.core.audio.pcm import silence
from tts_accel.core.errors import InputError
from tts_accel.core.timestamps.align import Span, align_words, sounds
from tts_accel.core.timestamps.words import TextWord, text_words

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.pipeline.scheduler import Piece
    from tts_accel.core.text.chunking import TextChunk
    from tts_accel.core.voices.base import Voice


@dataclass(frozen=True)
class WordSpan:
    """A text word and its half-open range of model positions in its chunk."""

    text: TextWord
    first: int
    last: int  # one past the last position; first == last: no sound of its own


class Aligner:
    """Text words -> model positions for one voice. ``spans`` calls espeak-ng (through the
    voice) for every word not seen before, so it runs where phonemization runs: one thread."""

    #: Words whose symbols are kept; a book has far fewer distinct words.
    CACHE_WORDS = 1 << 16

    def __init__(self, voice: Voice):
        self.voice = voice
        self.fallbacks = 0  # chunks whose ids were not what the front-end makes (shared by phonemes)
        self._own: dict[str, str] = {}

    def word_symbols(self, token: str) -> str:
        """The voice's symbols for one word said alone (cached)."""
        out = self._own.get(token)
        if out is None:
            if len(self._own) >= self.CACHE_WORDS:
                self._own.clear()
            out = self._own[token] = self.voice.symbols(token)
        return out

    def spans(self, text: str, ids: np.ndarray, n_positions: int) -> list[WordSpan]:
        """One span per word of ``text``, in order; ``n_positions`` is the length of the chunk's
        frames per position (ids, plus pads for voices that add them per run)."""
        words = text_words(text)
        if not words:
            return []
        sentence = self.voice.symbols(text)
        mapped = self.voice.symbol_positions(sentence)
        own = [self.word_symbols(w.token) for w in words]
        if not np.array_equal(mapped.ids, np.asarray(ids, dtype=np.int64)):
            self.fallbacks += 1
            return _proportional(words, own, n_positions)
        out = []
        cursor = _first_position(mapped.ranges, 0, n_positions)
        for w, (c0, c1) in zip(words, align_words(own, sentence), strict=True):
            inside = [r for r in mapped.ranges[c0:c1] if r is not None]
            if inside:
                first = max(min(r[0] for r in inside), cursor)
                last = max(max(r[1] for r in inside), first)
            else:
                first = last = max(cursor, _first_position(mapped.ranges, c0, n_positions))
            out.append(WordSpan(w, min(first, n_positions), min(last, n_positions)))
            cursor = last
        return out


def _first_position(ranges: Sequence[Span | None], from_char: int, default: int) -> int:
    return next((r[0] for r in ranges[from_char:] if r is not None), default)


def _proportional(words: Sequence[TextWord], own: Sequence[str], n_positions: int) -> list[WordSpan]:
    """When the ids are not what the front-end makes of the text (never seen on the measured
    texts), the chunk's positions are shared out in proportion to each word's phoneme count."""
    weights = [len(sounds(p)) for p in own]
    total = sum(weights) or 1
    out, acc = [], 0
    for w, k in zip(words, weights, strict=True):
        first = round(n_positions * acc / total)
        acc += k
        out.append(WordSpan(w, first, round(n_positions * acc / total)))
    return out


@dataclass(frozen=True)
class Word:
    word: str
    start: int  # samples from the start of the output
    end: int
    token: str = field(default="", compare=False)  # the raw text, for subtitle cues


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # samples
    end: int
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class ChunkSpan:
    """Where one chunk sits in the output: ``samples`` of audio from ``start``, then ``pause``
    samples of silence; its words are ``timeline.words[words_start:words_end]``."""

    text: str
    start: int
    samples: int
    pause: int
    words_start: int
    words_end: int


@dataclass
class _Open:
    texts: list[str] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    start: int | None = None  # first sample of the sentence's first chunk


class Timeline:
    """Words and sentences of one output, fed chunk by chunk in output order.

    ``hop`` is the voice's samples per frame (``Voice.hop``). Everything is counted in integer
    samples; seconds appear only in the writers.
    """

    def __init__(self, sample_rate: int, hop: int, aligner: Aligner | None = None):
        self.sample_rate = sample_rate
        self.hop = hop
        self.aligner = aligner
        self.position = 0  # samples of output so far (audio and pauses)
        self.words: list[Word] = []
        self.sentences: list[Sentence] = []
        self.chunks: list[ChunkSpan] = []
        #: chunks whose backend reported no frames: their words are spread by id count instead
        self.estimated = 0
        self._open = _Open()
        self._frames: np.ndarray | None = None  # the current chunk's, from its first piece
        self._samples = 0  # the current chunk's audio so far
        self._skipped: list[tuple[int, TextChunk]] = []  # (index of the chunk after it, chunk)

    @classmethod
    def for_voice(cls, voice: Voice) -> Timeline:
        """The timeline of ``voice``'s output; InputError when the voice reports no durations."""
        if not voice.hop:
            raise InputError(
                f"voice {voice.name!r} cannot time its words (no durations in its graph): drop --timestamps."
            )
        return cls(voice.sample_rate, voice.hop, Aligner(voice))

    def add(
        self,
        text: str,
        ids: np.ndarray,
        frames: np.ndarray,
        samples: int,
        pause: int = 0,
        sentence_end: bool = True,
        spans: Sequence[WordSpan] | None = None,
    ) -> None:
        """One chunk: its text, ids, frames per model position, the number of audio samples the
        output got for it, then ``pause`` samples of silence. ``spans`` overrides the aligner."""
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)  # (P,)
        if samples < 0 or pause < 0 or (frames < 0).any():
            raise ValueError("sample and frame counts cannot be negative")
        start = self.position
        edges = np.concatenate(([0], np.cumsum(frames)))  # (P + 1,) first frame of each position
        total = int(edges[-1])
        if total * self.hop == samples:
            at = edges * self.hop  # exact: the decoder makes hop samples per frame
        elif total > 0:  # a model whose audio is not frames x hop: scaled, still monotone
            at = np.rint(edges * (samples / total)).astype(np.int64)
        else:
            at = np.zeros_like(edges)
        if spans is None:
            spans = self.aligner.spans(text, ids, len(frames)) if self.aligner else []
        for span in spans:
            first, last = min(span.first, len(frames)), min(span.last, len(frames))
            self._word(span.text, start + int(at[first]), start + int(at[last]))
        self._chunk(text, start, samples, pause, sentence_end)

    def on_piece(self, piece: Piece) -> None:
        """``Synthesizer.stream``'s ``on_piece`` hook: the first piece of a chunk brings its frames
        per model position, every piece its samples; after the last one the chunk is added, with
        the pause the engine yields after it (``audio.silence(chunk.pause_after)``, same rounding)."""
        self._flush_skipped(piece.chunk.index)
        if piece.frames_per_id is not None:
            self._frames = np.asarray(piece.frames_per_id, dtype=np.int64).reshape(-1)
        self._samples += len(piece.audio)
        if not piece.last:
            return
        chunk, frames, samples = piece.chunk, self._frames, self._samples
        self._frames, self._samples = None, 0
        if frames is None:  # a backend that cannot tell its durations: every id one share
            self.estimated += 1
            frames = np.ones(len(chunk.ids), dtype=np.int64)
        pause = len(silence(chunk.pause_after, self.sample_rate)) if chunk.pause_after else 0
        self.add(chunk.text, chunk.ids, frames, samples, pause, getattr(chunk, "sentence_end", True))

    def on_skip(self, before: int, chunk: TextChunk) -> None:
        """``Synthesizer.stream``'s ``on_skip`` hook: a chunk with nothing to pronounce, which the
        engine drops before the chunk numbered ``before``. The front-end may run ahead of the
        audio, so it waits here until every chunk before it has been added (or ``finish``)."""
        self._skipped.append((before, chunk))

    def _flush_skipped(self, upto: int | None) -> None:
        while self._skipped and (upto is None or self._skipped[0][0] <= upto):
            _, chunk = self._skipped.pop(0)
            self.add_unspoken(chunk.text, 0, chunk.sentence_end)  # the engine yields no pause for it

    def add_unspoken(self, text: str, pause: int = 0, sentence_end: bool = True) -> None:
        """A chunk with nothing to pronounce (no audio): its words get zero length where the
        output stands, so that every word of the text still has its entry."""
        for w in text_words(text):
            self._word(w, self.position, self.position)
        self._chunk(text, self.position, 0, pause, sentence_end)

    def _word(self, w: TextWord, start: int, end: int) -> None:
        word = Word(w.word, start, max(start, end), w.token)
        self.words.append(word)
        self._open.words.append(word)

    def _chunk(self, text: str, start: int, samples: int, pause: int, sentence_end: bool) -> None:
        first = self.chunks[-1].words_end if self.chunks else 0
        self.chunks.append(ChunkSpan(text, start, samples, pause, first, len(self.words)))
        if self._open.start is None:
            self._open.start = start
        self._open.texts.append(text)
        if sentence_end:
            self._close(start + samples)
        self.position = start + samples + pause

    def _close(self, audio_end: int) -> None:
        o = self._open
        if o.texts:
            timed = [w for w in o.words if w.end > w.start]
            begin = timed[0].start if timed else (o.start or 0)
            finish = timed[-1].end if timed else audio_end
            self.sentences.append(Sentence(" ".join(o.texts), begin, max(begin, finish), tuple(o.words)))
        self._open = _Open()

    def finish(self) -> Timeline:
        """Add the skipped chunks after the last one and close a sentence left open (text that
        ended without a sentence end). Idempotent."""
        self._flush_skipped(None)
        if self._open.texts:
            self._close(self.position)
        return self

    def seconds(self, sample: int) -> float:
        """Seconds, rounded to the microsecond: ``round(t * sample_rate)`` gives the sample back."""
        return round(sample / self.sample_rate, 6)
