"""The Wyoming front end (the ``wyoming`` package): what Home Assistant and its satellites speak.

* ``describe`` -> ``info``: every installed voice, ``supports_synthesize_streaming: true``.
* ``synthesize`` -> ``audio-start``, an ``audio-chunk`` per window as it finishes, ``audio-stop``.
* ``synthesize-start``, ``synthesize-chunk``..., ``synthesize-stop``: each completed sentence is
  spoken as its text arrives (one ``audio-start`` before the first audio, ``audio-stop`` at the
  end), then ``synthesize-stopped``. The ``synthesize`` a streaming client also sends for older
  servers, inside the start/stop pair, is ignored, as the protocol says.
* Errors (unknown voice, a full queue, nothing to say) are ``error`` events; the connection stays.

Wyoming has no authentication: the server listens on loopback unless ``--wyoming-allow-remote``.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlparse

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from tts_accel import __version__
from tts_accel.core.errors import Busy, InputError, TTSError
from tts_accel.core.serve.engine import Engine, installed_voices
from tts_accel.core.serve.metrics import Metrics
from tts_accel.core.serve.scheduler import END

log = logging.getLogger("tts_accel.serve")
DEFAULT_URI = "tcp://127.0.0.1:10200"
#: a sentence is complete once its end mark is followed by white space (more text may follow "9.")
_SENTENCE_END = re.compile(r"[.!?;:\u2026\u3002\uff01\uff1f]['\")\]]*\s")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_uri(uri: str, allow_remote: bool) -> str:
    """``tcp://HOST:PORT`` (or ``unix://PATH``); a non-loopback host needs ``allow_remote``."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("tcp", "unix"):
        raise InputError(f"--wyoming {uri}: give tcp://HOST:PORT (default {DEFAULT_URI}) or unix://PATH.")
    if parsed.scheme == "tcp":
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not parsed.hostname or port is None:
            raise InputError(f"--wyoming {uri}: give tcp://HOST:PORT, e.g. {DEFAULT_URI}.")
        if parsed.hostname not in LOOPBACK and not allow_remote:
            raise InputError(
                f"--wyoming {uri} listens beyond this machine and Wyoming has no authentication: "
                "add --wyoming-allow-remote to mean it, or use 127.0.0.1."
            )
    return uri


def info(engine: Engine) -> Info:
    us = Attribution(name="tts-accel", url="https://pypi.org/project/tts-accel/")
    voices = [
        TtsVoice(
            name=e.name,
            description=f"{e.family} voice, {e.sample_rate} Hz",
            attribution=Attribution(name=e.package, url=f"https://pypi.org/project/{e.package}/"),
            installed=True,
            version=None,
            languages=[e.language],
        )
        for e in installed_voices()
    ]
    program = TtsProgram(
        name="tts-accel",
        description="tts-accel resident engine",
        attribution=us,
        installed=True,
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


def split_complete(text: str) -> tuple[str, str]:
    """(the complete sentences at the start of ``text``, the rest)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not ends:
        return "", text
    return text[: ends[-1]], text[ends[-1] :]


class Handler(AsyncEventHandler):
    def __init__(self, engine: Engine, metrics: Metrics, timeout: float, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.engine = engine
        self.metrics = metrics
        self.timeout = timeout  # --request-timeout: seconds for each text spoken
        self.streaming = False
        self.voice: str | None = None
        self.pending = ""  # streamed text not yet spoken (an incomplete sentence)
        self.audio_started = False

    async def handle_event(self, event: Event) -> bool:
        try:
            if Describe.is_type(event.type):
                await self.write_event(info(self.engine).event())
            elif Synthesize.is_type(event.type):
                if not self.streaming:  # inside a start/stop pair it only repeats the streamed text
                    request = Synthesize.from_event(event)
                    self.audio_started = False
                    await self._speak(request.text, self._voice(request.voice))
                    await self._audio_stop()
            elif SynthesizeStart.is_type(event.type):
                start = SynthesizeStart.from_event(event)
                self.streaming, self.pending, self.audio_started = True, "", False
                self.voice = self._voice(start.voice)
            elif SynthesizeChunk.is_type(event.type):
                if self.streaming:
                    done, self.pending = split_complete(self.pending + SynthesizeChunk.from_event(event).text)
                    if done.strip():
                        await self._speak(done, self.voice)
            elif SynthesizeStop.is_type(event.type):
                if self.streaming:
                    rest, self.pending, self.streaming = self.pending, "", False
                    if rest.strip():
                        await self._speak(rest, self.voice)
                    await self._audio_stop()
                    await self.write_event(SynthesizeStopped().event())
        except (TTSError, TimeoutError) as err:
            timeout = isinstance(err, TimeoutError)
            code = "busy" if isinstance(err, Busy) else "timeout" if timeout else type(err).__name__
            text = f"the request ran out of time (--request-timeout {self.timeout:g} s)" if timeout else str(err)
            log.info("wyoming request refused: %s", text)
            self.streaming, self.pending = False, ""
            await self.write_event(Error(text=text, code=code).event())
        return True

    def _voice(self, voice: Any) -> str | None:
        if voice is None:
            return None
        if voice.name:
            self.engine.check_voice(voice.name)  # only installed names; never a path
            return voice.name
        if voice.language:
            for entry in installed_voices():
                if entry.language == voice.language or entry.language.split("_")[0] == voice.language.split("_")[0]:
                    return entry.name
            raise InputError(f"no installed voice speaks {voice.language!r}.")
        return None

    async def _audio_stop(self) -> None:
        if not self.audio_started:  # nothing was said: still a well-formed (empty) audio stream
            await self.write_event(AudioStart(rate=self.engine.default_rate(), width=2, channels=1).event())
        await self.write_event(AudioStop().event())
        self.audio_started = False

    async def _speak(self, text: str, voice: str | None) -> None:
        import asyncio

        from tts_accel.core.serve.http import _next, _RequestMetrics

        if not self.engine.ready:
            raise Busy("the engine is still loading: try again shortly")
        track = _RequestMetrics(self.metrics, "wyoming")
        deadline = track.start + self.timeout
        outcome = "cancelled"
        stream = None
        try:
            stream = await asyncio.to_thread(self.engine.open, text, voice)
            rate = stream.sample_rate
            while (item := await _next(stream, deadline)) is not END:
                if not self.audio_started:
                    await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
                    self.audio_started = True
                if item.pcm.size:
                    track.audio(item.seconds)
                    await self.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=item.pcm.tobytes()).event())
            outcome = "ok"
        except Busy:
            outcome = "busy"
            raise
        except TimeoutError:
            outcome = "timeout"
            raise
        except InputError:
            outcome = "client_error"
            raise
        finally:
            if stream is not None:
                if outcome != "ok":
                    stream.cancel()
                stream.release()
            track.done(outcome)


async def start(engine: Engine, metrics: Metrics, uri: str, timeout: float = 300.0) -> AsyncServer:
    server = AsyncServer.from_uri(uri)
    await server.start(lambda reader, writer: Handler(engine, metrics, timeout, reader, writer))
    return server
