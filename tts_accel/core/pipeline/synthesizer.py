"""The pipeline: text -> normalize -> chunk -> phonemize -> ids -> backend -> audio -> sink."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from tts_accel.core.audio.pcm import silence, to_pcm16
from tts_accel.core.audio.sinks import Sink
from tts_accel.core.cancel import Cancel
from tts_accel.core.errors import InputError
from tts_accel.core.pipeline import scheduler
from tts_accel.core.pipeline.scheduler import Chunk, Piece
from tts_accel.core.pipeline.stats import RunStats, Stopwatch, peak_rss_mb
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.text.chunking import TextChunk, chunk_text, normalize
from tts_accel.core.voices.base import Backend, Voice
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.registry import DEFAULT_VOICE, family_named, resolve_voice

NOTHING_TO_SAY = "the text has nothing to pronounce: give words, e.g. tts synth \"Hello world.\" -o hello.wav"


def pin_to(cpus: tuple[int, ...]) -> tuple[int, ...]:
    """Restrict the calling thread, and every thread it starts from now on (ONNX Runtime's pool,
    the chunk workers), to ``cpus`` (performance cores first, from the plan); CPUs this process
    may not use are ignored. Returns the CPUs now in force; a no-op without affinity support."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return ()
    allowed = os.sched_getaffinity(0)
    chosen = [c for c in cpus if c in allowed]
    if chosen:
        os.sched_setaffinity(0, chosen)
    return tuple(sorted(os.sched_getaffinity(0)))


class Synthesizer:
    """A voice with its backend, loaded once and reused for any number of texts."""

    def __init__(
        self,
        voice: str | Voice = DEFAULT_VOICE,
        plan: ExecutionPlan | None = None,
        backend: Backend | None = None,
        lang: str | None = None,
    ):
        self.voice = resolve_voice(voice) if isinstance(voice, str) else voice
        if lang is not None:
            self.voice = self.voice.for_language(lang)
        self.plan = plan or ExecutionPlan()
        pin_to(self.plan.affinity)  # before the backend starts its threads: they inherit it
        if backend is None:  # a plan made by hand: the resolver checks this for the plans it makes
            family_named(self.voice.family).check(self.plan.mode, self.plan.precision)
        self.backend = backend or self.voice.create_backend(self.plan)
        self.sample_rate = self.voice.sample_rate

    def chunks(
        self,
        blocks: Iterable[str],
        params: SynthParams,
        on_skip: Callable[[int, TextChunk], None] | None = None,
        cancel: Cancel | None = None,
    ) -> Iterator[Chunk]:
        """Normalized, chunked, phonemized text, in order; unpronounceable chunks are skipped
        (``on_skip(index of the next chunk, text)`` hears of each: word timing keeps their words).
        ``cancel`` is checked before each phonemization: splitting a long text stops at once."""
        measure = self.voice.measure if cancel is None else cancel.guard(self.voice.measure)
        index = 0
        for block in blocks:
            pieces = chunk_text(normalize(block), self.voice.chunk_budget, measure)
            for piece in pieces if cancel is None else cancel.each(pieces):
                ids = self.voice.encode(piece.text)
                if ids.size == 0:
                    if on_skip is not None:
                        on_skip(index, piece)
                    continue
                pause = params.sentence_silence if piece.sentence_end else 0.0
                yield Chunk(index, piece.text, ids, pause, piece.sentence_end)
                index += 1

    def stream(
        self,
        blocks: Iterable[str],
        params: SynthParams | None = None,
        stats: RunStats | None = None,
        on_chunk: Callable[[Chunk], None] | None = None,
        on_piece: Callable[[Piece], None] | None = None,
        on_skip: Callable[[int, TextChunk], None] | None = None,
        cancel: Cancel | None = None,
    ) -> Iterator[np.ndarray]:
        """float32 audio in text order, as it is ready: each piece the scheduler yields (a whole
        chunk, or a window of one when the plan streams windows), then the chunk's pause after
        its last piece. ``on_piece(piece)`` is called for every piece just before its audio is
        yielded (``Piece.frames_per_id`` on a chunk's first piece: what word timing needs);
        ``on_chunk(chunk)`` after a chunk's pause. ``cancel`` (``core.cancel``) stops the run:
        the model runs in flight are aborted and its error is raised."""
        params = self.voice.resolve(params or SynthParams())
        stats = stats if stats is not None else RunStats()
        if params.seed is not None:
            self.backend.reseed(params.seed)
        clock = Stopwatch()
        chunks = self.chunks(blocks, params, on_skip, cancel)
        pieces = scheduler.run(chunks, self.backend, params, self.plan, cancel)
        played = 0.0  # when the audio out so far ends, on a player started at first audio
        for piece in pieces:
            chunk = piece.chunk
            now = clock.elapsed()
            if stats.ttfa_s is None:
                stats.ttfa_s = played = now
            elif now > played:  # the player ran dry before this piece came
                stats.stall_s += now - played
                played = now
            stats.audio_s += len(piece.audio) / self.sample_rate
            played += len(piece.audio) / self.sample_rate
            stats.pieces += 1
            if on_piece is not None:
                on_piece(piece)
            yield piece.audio
            if not piece.last:
                continue
            stats.chunks += 1
            stats.audio_s += chunk.pause_after
            played += chunk.pause_after
            if chunk.pause_after:
                yield silence(chunk.pause_after, self.sample_rate)
            if on_chunk is not None:
                on_chunk(chunk)
            stats.wall_s, stats.cpu_s = clock.elapsed(), clock.cpu()
        stats.wall_s, stats.cpu_s = clock.elapsed(), clock.cpu()
        stats.peak_rss_mb = peak_rss_mb()
        if stats.chunks == 0:
            raise InputError(NOTHING_TO_SAY)

    def synthesize(self, text: str, params: SynthParams | None = None) -> np.ndarray:
        """All of ``text`` as one float32 array (for library use; the CLI streams instead)."""
        return np.concatenate(list(self.stream([text], params)))

    def write(
        self,
        blocks: Iterable[str],
        sink: Sink,
        params: SynthParams | None = None,
        on_chunk: Callable[[Chunk], None] | None = None,
        on_piece: Callable[[Piece], None] | None = None,
        on_skip: Callable[[int, TextChunk], None] | None = None,
        cancel: Cancel | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> RunStats:
        """Stream ``blocks`` into ``sink`` as 16-bit PCM, piece by piece as the scheduler yields
        them; the sink commits only on success (not after a ``cancel``). ``before_commit()`` runs
        once all audio is written, before the sink commits: what it raises fails the run."""
        params = params or SynthParams()
        stats = RunStats()
        with sink:
            for audio in self.stream(blocks, params, stats, on_chunk, on_piece, on_skip, cancel):
                sink.write(to_pcm16(audio, params.volume))
            if before_commit is not None:
                before_commit()
        return stats


def synthesize(
    text: str, voice: str = DEFAULT_VOICE, mode: str = "sequential", precision: str | None = None,
    **params: object,
) -> tuple[np.ndarray, int]:
    """Library entry point: ``(float32 samples, sample_rate)``. The plan comes from the one
    resolver (``pipeline.planning.plan_for``): ``mode="torch"`` runs the torch port or says why it cannot,
    ``mode="auto"`` is what `tts synth` would pick here."""
    if not text or not text.strip():
        raise InputError(NOTHING_TO_SAY)
    synth = _cached_synthesizer(voice, mode, precision)
    return synth.synthesize(text, SynthParams(**params)), synth.sample_rate  # type: ignore[arg-type]


_SYNTHS: dict[tuple[str, str, str | None], Synthesizer] = {}


def _cached_synthesizer(voice: str, mode: str, precision: str | None) -> Synthesizer:
    from tts_accel.core.pipeline.planning import plan_for

    key = (voice, mode, precision)
    if key not in _SYNTHS:
        _SYNTHS[key] = Synthesizer(voice, plan_for(mode, voice, precision))
    return _SYNTHS[key]
