"""The resident engine: voices loaded and warmed once, every request turned into scheduler units.

A request's units (``units``): for each chunk of its text, the chunk's phonemization and text
stage (one unit: no audio yet), then each acoustic window of the chunk (its flow, after which the
request waits at the window's decoder call, ``WindowCall``; then that call, alone or batched with
other requests' calls of the same shape by the scheduler, ``--max-batch``), over the
voice's one shared backend (ONNX Runtime's ``run`` is thread-safe; phonemization goes through
``phonemize``'s process-wide lock). A backend that cannot split its graph gives each chunk whole,
as one unit. The audio is the same as `tts synth`'s: the same chunks, the same stages and
window schedules (``opening`` for a request's first sentence or after its buffer ran dry), the
same int16 conversion and pauses.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from tts_accel.core.acoustic.engine import WindowCall
from tts_accel.core.audio.pcm import silence, to_pcm16
from tts_accel.core.errors import Busy, InputError, VoiceError
from tts_accel.core.pipeline.scheduler import Piece
from tts_accel.core.pipeline.synthesizer import NOTHING_TO_SAY, Synthesizer
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.serve.scheduler import END, RequestJob, Scheduler
from tts_accel.core.voices.base import VoiceEntry
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.registry import DEFAULT_VOICE, registry

#: A resident process amortises its start-up over hours of audio: the planner chooses the
#: acoustic engine for long work (bf16 where it is cheaper per second of audio and compiled here).
RESIDENT_CHARS = 100_000
WARM_TEXT = "Warm up."


@dataclass(frozen=True)
class EngineSettings:
    voice: str = DEFAULT_VOICE
    preload: tuple[str, ...] = ()
    max_voices: int = 4
    mode: str = "auto"
    acoustic: str | None = None
    threads: int | None = None
    workers: int | None = None
    max_queue: int = 32
    #: pieces a request may hold ready before its reader takes them (memory per request)
    capacity: int = 4
    #: decoder windows of equal shape from different requests run as one call (None: the plan's
    #: default, ``default_max_batch``)
    max_batch: int | None = None


@dataclass
class Out:
    """What a request's unit hands to its reader: a piece's samples (with the chunk's pause after
    its last piece) as int16, and the words that the piece completed (when timestamps were asked)."""

    pcm: np.ndarray  # (N,) int16
    seconds: float
    words: list = field(default_factory=list)  # timestamps.Word, in samples


@dataclass
class Loaded:
    name: str
    synth: Synthesizer
    pinned: bool
    in_use: int = 0
    fronts: dict[str, Synthesizer] = field(default_factory=dict)  # by --lang: same backend

    def for_lang(self, lang: str | None) -> Synthesizer:
        if lang is None:
            return self.synth
        if lang not in self.fronts:
            voice = self.synth.voice.for_language(lang)  # InputError for a language it cannot read
            self.fronts[lang] = Synthesizer(voice, self.synth.plan, backend=self.synth.backend)
        return self.fronts[lang]


#: ``--max-batch`` on a GPU: windows of equal shape share one launch there (docs/serve.md)
GPU_MAX_BATCH = 4


def default_max_batch(plan: ExecutionPlan) -> int:
    """1 on the CPU (a batch of windows costs what its windows cost one by one there: no
    throughput, and a later window of the batch waits for the others; docs/serve.md), else
    ``GPU_MAX_BATCH``."""
    return 1 if plan.device == "cpu" else GPU_MAX_BATCH


def installed_voices() -> list[VoiceEntry]:
    return [e for e in registry().values() if e.installed()]


class Stream:
    """One admitted request: read ``job`` (``aget``/``get``) until END."""

    def __init__(self, engine: Engine, loaded: Loaded, job: RequestJob | None = None):
        self.engine = engine
        self.loaded = loaded
        self.job: RequestJob = job  # type: ignore[assignment]
        self.sample_rate = loaded.synth.sample_rate
        self.timeline = None
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.engine._release(self.loaded)

    def cancel(self) -> None:
        self.engine.scheduler.cancel(self.job)
        self.release()


class Engine:
    def __init__(self, settings: EngineSettings):
        from tts_accel.core.pipeline.planning import plan_for

        self.settings = settings
        self._plan_for = plan_for
        names = dict.fromkeys((settings.voice, *settings.preload))
        if settings.max_voices < len(names):
            raise InputError(
                f"--max-voices {settings.max_voices} is less than the {len(names)} voices given: raise it."
            )
        for name in names:
            self.check_voice(name)
        self.plan = self.plan_of(settings.voice)  # a bad --mode/--acoustic is refused before loading
        self._lock = threading.Lock()
        self._voices: OrderedDict[str, Loaded] = OrderedDict()
        self._pinned = tuple(names)
        if settings.max_batch is not None and settings.max_batch < 1:
            raise InputError(f"--max-batch {settings.max_batch}: a batch holds at least 1 window (1: each alone).")
        self.max_batch = settings.max_batch or default_max_batch(self.plan)
        self.scheduler = Scheduler(self.plan.workers, settings.max_queue, settings.capacity, max_batch=self.max_batch)
        self.ready = False

    # -- voices ----------------------------------------------------------------------------------
    def plan_of(self, voice: str) -> ExecutionPlan:
        s = self.settings
        return self._plan_for(
            s.mode,
            voice,
            None,
            workers=s.workers,
            intra_op_threads=s.threads,
            acoustic=s.acoustic,
            streaming=True,
            text_chars=RESIDENT_CHARS,
        )

    @staticmethod
    def check_voice(name: str) -> VoiceEntry:
        """An installed voice's registry entry; a path or an unknown name is refused (a request
        reaches only installed voices, never the file system)."""
        entries = registry()
        entry = entries.get(name)
        if entry is None:
            known = ", ".join(e.name for e in installed_voices())
            raise VoiceError(f"unknown voice {name!r}: use one of {known} (only installed voice names are served).")
        if not entry.installed():
            raise VoiceError(f"voice {name!r} is not installed on this server: {entry.install}")
        return entry

    def load(self) -> None:
        """Load the default voice and the preloaded ones, warm them, then report ready."""
        for name in self._pinned:
            self._acquire(name, pinned=True)
            self._release(self._voices[name])
        for name in self._pinned:
            self.warm(name)
        self.ready = True

    def warm(self, name: str) -> None:
        stream = self.open(WARM_TEXT, name, SynthParams(noise_scale=0.0, noise_w=0.0))
        try:
            while stream.job.get(timeout=300) is not END:
                pass
        finally:
            stream.release()

    def _acquire(self, name: str, pinned: bool = False) -> Loaded:
        with self._lock:
            loaded = self._voices.get(name)
            if loaded is not None:
                self._voices.move_to_end(name)
                loaded.in_use += 1
                return loaded
            if len(self._voices) >= self.settings.max_voices:
                idle = [v for v in self._voices.values() if not v.pinned and v.in_use == 0]
                if not idle:
                    raise Busy(f"all {self.settings.max_voices} voices (--max-voices) are in use: try again shortly")
                gone = self._voices.pop(idle[0].name)
                gone.synth.backend.close()
            # loading takes a second or so; requests for loaded voices wait meanwhile (rare: first use)
            synth = Synthesizer(name, self.plan_of(name))
            loaded = Loaded(name, synth, pinned, in_use=1)
            self._voices[name] = loaded
            return loaded

    def _release(self, loaded: Loaded) -> None:
        with self._lock:
            loaded.in_use = max(0, loaded.in_use - 1)

    def default_rate(self) -> int:
        return registry()[self.settings.voice].sample_rate

    def loaded_voices(self) -> list[str]:
        with self._lock:
            return list(self._voices)

    # -- requests --------------------------------------------------------------------------------
    def open(
        self,
        text: str,
        voice: str | None = None,
        params: SynthParams | None = None,
        lang: str | None = None,
        timestamps: bool = False,
    ) -> Stream:
        """Admit one request (Busy when the queue is full); read its ``job`` for ``Out`` items."""
        if not text.strip():
            raise InputError(NOTHING_TO_SAY)
        name = voice or self.settings.voice
        self.check_voice(name)
        if self.scheduler.depth() >= self.scheduler.max_queue:  # before loading a voice for nothing
            raise Busy(f"the queue is full ({self.scheduler.max_queue} requests in flight): try again shortly")
        loaded = self._acquire(name)
        try:
            synth = loaded.for_lang(lang)
            stream = Stream(self, loaded)
            if timestamps:
                from tts_accel.core.timestamps import Timeline

                stream.timeline = Timeline.for_voice(synth.voice)
            units = self.units(synth, text, params or SynthParams(), stream)
            stream.job = self.scheduler.submit(units, lambda out: out.seconds)
        except BaseException:
            self._release(loaded)
            raise
        return stream

    def units(self, synth: Synthesizer, text: str, params: SynthParams, stream: Stream) -> Iterator[Out]:
        """The request's units, each ``next()`` one of them (see the module's docstring)."""
        params = synth.voice.resolve(params)
        backend, rate = synth.backend, synth.sample_rate
        timeline = stream.timeline
        if params.seed is not None:
            backend.reseed(params.seed)  # process-wide: repeatable only while no other request runs
        stages = backend.two_stage()
        hooks = {"on_skip": timeline.on_skip} if timeline is not None else {}
        spoken = 0
        for chunk in synth.chunks([text], params, **hooks):  # phonemizes: part of the text stage's unit
            spoken += 1
            if stages is None:
                audio, frames = backend.infer_with_frames(chunk.ids, params)
                yield self._out(Piece(chunk, audio, True, frames), params, rate, timeline)
                continue
            result = stages.text_stage(chunk.ids, params, alone=self.scheduler.alone())
            yield None  # the text stage was one unit; the windows are the next ones
            job = stream.job
            opening = job.first_audio is None or job.ahead(time.monotonic()) <= 0
            frames_per_id = result.frames_per_id
            for step in stages.acoustic_calls(result, opening):
                if isinstance(step, WindowCall):  # the window's flow ran: its decoder call is the next unit
                    yield step
                    continue
                audio, last = step
                yield self._out(Piece(chunk, audio, last, frames_per_id), params, rate, timeline)
                frames_per_id = None
        if spoken == 0:
            raise InputError(NOTHING_TO_SAY)
        if timeline is not None:
            before = len(timeline.words)
            timeline.finish()
            if len(timeline.words) > before:
                yield Out(np.zeros(0, np.int16), 0.0, timeline.words[before:])

    @staticmethod
    def _out(piece: Piece, params: SynthParams, rate: int, timeline) -> Out:  # type: ignore[no-untyped-def]
        parts = [to_pcm16(piece.audio, params.volume)]
        if piece.last and piece.chunk.pause_after:
            parts.append(to_pcm16(silence(piece.chunk.pause_after, rate), params.volume))
        pcm = np.concatenate(parts) if len(parts) > 1 else parts[0]
        words: list = []
        if timeline is not None:
            before = len(timeline.words)
            timeline.on_piece(piece)
            words = timeline.words[before:]
        return Out(pcm, len(pcm) / rate, words)

    def close(self, grace: float = 0.0) -> bool:
        """Refuse new requests, wait up to ``grace`` seconds for the admitted ones; True when all finished."""
        self.ready = False
        done = self.scheduler.wait_idle(grace)
        self.scheduler.cancel_all()
        self.scheduler.stop(timeout=1.0)
        return done
