"""The HTTP front end (FastAPI): OpenAI's ``POST /v1/audio/speech`` and the server's own routes.

It translates the protocol and never synthesizes: a request becomes one ``Engine.open`` and its
audio is encoded (``core.formats``' encoders) as the scheduler hands out pieces, so bytes leave
window by window. Every error is OpenAI's shape with a 4xx (or 503 before the engine is warm,
500 for a bug: one line in the log, never a traceback in a reply).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tts_accel.core.audio.formats import ByteOutput, format_for, make_encoder, writable_formats
from tts_accel.core.errors import ApiError, Busy, Cancelled, InputError, TTSError, VoiceError
from tts_accel.core.serve.api import FORMATS, MEDIA_TYPES, MODEL, MODEL_ALIASES, Limits, parse_speech
from tts_accel.core.serve.engine import Engine, Stream, installed_voices
from tts_accel.core.serve.metrics import CONTENT_TYPE, Metrics
from tts_accel.core.serve.scheduler import END

log = logging.getLogger("tts_accel.serve")
RETRY_AFTER_S = 1
#: the page at / (one HTML file and its script, shipped in the package): public like /health, as a
#: browser cannot send a key to open a page; everything it fetches asks for the key
PAGE = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8")}
OPEN_PATHS = ("/health", *PAGE)
STATIC = Path(__file__).resolve().parent / "static"


@dataclass
class HttpConfig:
    api_key: str | None = None
    max_input_chars: int = 4096
    request_timeout: float = 300.0
    voice_map: dict[str, str] = field(default_factory=dict)


def available_formats() -> tuple[str, ...]:
    """The response formats this installation can encode (mp3, opus and flac need libsndfile's)."""
    can = writable_formats()
    return tuple(name for name, ours in FORMATS.items() if ours in can)


class _Collected(ByteOutput):
    """The encoder's bytes, taken after each piece (a stream: no seeking back)."""

    def __init__(self) -> None:
        super().__init__(False, contextlib.nullcontext)
        self.parts: list[bytes] = []

    def _put(self, data: bytes, at: int) -> None:
        self.parts.append(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class _RequestMetrics:
    """One request's metrics: in flight until ``done(outcome)`` (once)."""

    def __init__(self, metrics: Metrics, protocol: str = "http"):
        self.metrics, self.protocol = metrics, protocol
        self.start = time.perf_counter()
        self.first: float | None = None
        self.finished = False
        self.outcome: str | None = None  # once done
        metrics.in_flight.inc()
        metrics.active += 1

    def audio(self, seconds: float) -> None:
        if self.first is None and seconds > 0:
            self.first = time.perf_counter()
            self.metrics.ttfa.labels(self.protocol).observe(self.first - self.start)
        self.metrics.audio.inc(seconds)

    def done(self, outcome: str) -> None:
        if self.finished:
            return
        self.finished = True
        self.outcome = outcome
        self.metrics.in_flight.dec()
        self.metrics.active -= 1
        self.metrics.requests.labels(self.protocol, outcome).inc()
        if outcome == "ok":
            self.metrics.latency.labels(self.protocol).observe(time.perf_counter() - self.start)


class BearerAuth:
    """``Authorization: Bearer KEY`` on every route but /health and the page, compared in constant time. A plain
    ASGI middleware: Starlette's BaseHTTPMiddleware would cut streamed replies short."""

    def __init__(self, app: Any, key: bytes):
        self.app = app
        self.key = key

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, token = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
                err = ApiError(401, "missing or wrong API key: send Authorization: Bearer KEY.", None,
                               "invalid_api_key", {"WWW-Authenticate": "Bearer"})  # fmt: skip
                await _error(err)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _error(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def api_error(err: BaseException) -> ApiError:
    """A core exception as the reply a client gets."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, Busy):
        return ApiError(429, str(err), None, "queue_full", {"Retry-After": str(RETRY_AFTER_S)})
    if isinstance(err, VoiceError):
        return ApiError(400, str(err), "voice", "voice_not_found")
    if isinstance(err, InputError):
        return ApiError(400, str(err), None, "invalid_value")
    if isinstance(err, TimeoutError):
        return ApiError(504, "the request ran out of time (the server's per-request limit).", None, "timeout")
    if isinstance(err, TTSError):
        return ApiError(500, str(err), None, "model_error")
    return ApiError(500, f"internal error: {type(err).__name__}", None, "internal_error")


def _outcome(err: ApiError) -> str:
    return {429: "busy", 504: "timeout"}.get(err.status, "client_error" if err.status < 500 else "error")


def create_app(engine: Engine, config: HttpConfig, metrics: Metrics) -> FastAPI:
    app = FastAPI(title="tts-accel", summary="OpenAI's speech API on a resident tts-accel engine")
    limits = Limits(config.max_input_chars, available_formats())
    default_voice = engine.settings.voice

    from tts_accel.core.serve.api import voice_table

    voices = voice_table(default_voice, config.voice_map)
    installed = tuple(e.name for e in installed_voices())
    key = config.api_key.encode() if config.api_key else None

    if key is not None:
        app.add_middleware(BearerAuth, key=key)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(ApiError(exc.status_code, str(exc.detail), None, None, getattr(exc, "headers", None)))

    @app.exception_handler(Exception)
    async def surprise(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s: %s: %s", request.url.path, type(exc).__name__, exc)
        return _error(api_error(exc))

    @app.get("/health")
    async def health() -> JSONResponse:
        if not engine.ready:
            return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})
        return JSONResponse({"status": "ok", "voices": engine.loaded_voices()})

    def page_route(path: str, name: str, media_type: str) -> None:
        async def page() -> Response:
            return Response((STATIC / name).read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})

        app.get(path, include_in_schema=False)(page)

    for path, (name, media_type) in PAGE.items():
        page_route(path, name, media_type)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "tts-accel"} for name in (MODEL, *MODEL_ALIASES)
        ]
        return {"object": "list", "data": data}

    @app.get("/v1/audio/voices")
    async def list_voices() -> dict[str, Any]:
        loaded = set(engine.loaded_voices())
        rows = [
            {
                "id": e.name,
                "name": e.name,
                "family": e.family,
                "language": e.language,
                "sample_rate": e.sample_rate,
                "loaded": e.name in loaded,
            }
            for e in installed_voices()
        ]
        return {"voices": rows, "aliases": voices, "default": default_voice}

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        track = _RequestMetrics(metrics)
        deadline = track.start + config.request_timeout
        stream: Stream | None = None
        try:
            if not engine.ready:
                raise ApiError(
                    503, "the engine is still loading: try again shortly.", None, "not_ready", {"Retry-After": "1"}
                )
            body = await _read_body(request, limits.max_body_bytes)
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise ApiError(400, "the body is not valid JSON.", None, "invalid_json") from None
            req = parse_speech(data, limits, voices, installed, default_voice)
            spec = format_for(None, FORMATS[req.response_format])
            stream = await asyncio.to_thread(
                engine.open, req.input, req.voice, req.params, req.lang, req.timestamps
            )  # a voice not loaded yet loads here, off the event loop
            first = await _next(stream, deadline)  # errors before any audio get a status of their own
        except BaseException as err:
            if stream is not None:
                stream.cancel()
            if isinstance(err, asyncio.CancelledError):
                track.done("cancelled")
                raise
            reply = api_error(err)
            if reply.status >= 500:
                log.error("speech request failed: %s", reply.message)
            else:
                log.info("speech request refused (%d): %s", reply.status, reply.message)
            track.done(_outcome(reply))
            return _error(reply)
        headers = {"X-Sample-Rate": str(stream.sample_rate)}
        items = _items(stream, first, deadline, track)
        if req.stream_format == "sse":
            return StreamingResponse(
                _sse(items, spec, stream.sample_rate, req.timestamps, track),
                media_type="text/event-stream",
                headers=headers,
            )
        if req.timestamps:  # the audio and its word times in one JSON reply (docs/serve.md)
            audio, words = bytearray(), []
            async for chunk, out in _encoded(items, spec, stream.sample_rate, track):
                audio += chunk
                words += [_word(w, stream.sample_rate) for w in out.words] if out is not None else []
            if track.outcome != "ok":  # cut short before the reply began: say why, not half the audio
                return _error(api_error(TimeoutError() if track.outcome == "timeout" else RuntimeError()))
            return JSONResponse(
                {
                    "audio": base64.b64encode(bytes(audio)).decode(),
                    "response_format": req.response_format,
                    "sample_rate": stream.sample_rate,
                    "words": words,
                }
            )
        body = (chunk async for chunk, _ in _encoded(items, spec, stream.sample_rate, track) if chunk)
        return StreamingResponse(body, media_type=MEDIA_TYPES[req.response_format], headers=headers)

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413, f"the body has {declared} bytes; this server takes at most {limit}.", None, "body_too_large"
        )
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > limit:
            raise ApiError(413, f"the body is over {limit} bytes: send less text.", None, "body_too_large")
    return bytes(data)


async def _next(stream: Stream, deadline: float) -> Any:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError
    return await asyncio.wait_for(stream.job.aget(), left)


async def _items(stream: Stream, first: Any, deadline: float, track: _RequestMetrics) -> AsyncIterator[Any]:
    """The request's Out items; its metrics and its place in the queue are settled however it ends
    (a client that goes away cancels the generator here: its pending units are dropped)."""
    outcome = "cancelled"
    try:
        item = first
        while item is not END:
            track.audio(item.seconds)
            yield item
            item = await _next(stream, deadline)
        outcome = "ok"
    except TimeoutError:
        outcome = "timeout"
        log.info("speech request ran out of time after %.1f s", time.perf_counter() - track.start)
    except Cancelled:
        outcome = "cancelled"
    except Exception as err:  # after the first byte a status cannot change: the stream ends short
        outcome = "error"
        log.error("speech stream failed: %s", api_error(err).message)
    finally:
        if outcome != "ok":
            stream.cancel()
        stream.release()
        track.done(outcome)


async def _encoded(
    items: AsyncIterator[Any], spec: Any, rate: int, track: _RequestMetrics
) -> AsyncIterator[tuple[bytes, Any]]:
    """Encoded bytes per item; a request cut short (time limit, failure) ends without the
    encoder's trailer, so a client can tell it from a whole one."""
    out = _Collected()
    encoder = make_encoder(spec, out, rate)
    ok = False
    try:
        async for item in items:
            if item.pcm.size:
                encoder.write(item.pcm)
            yield out.take(), item
        if track.outcome != "ok":
            return
        encoder.finish()
        ok = True
        yield out.take(), None
    finally:
        if not ok:
            encoder.abandon()


def _word(w, rate: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"word": w.word, "start": round(w.start / rate, 6), "end": round(w.end / rate, 6)}


async def _sse(
    items: AsyncIterator[Any], spec: Any, rate: int, timestamps: bool, track: _RequestMetrics
) -> AsyncIterator[bytes]:
    seconds = 0.0
    async for chunk, out in _encoded(items, spec, rate, track):
        event: dict[str, Any] = {"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()}
        if out is not None:
            seconds += out.seconds
            if timestamps:
                event["words"] = [_word(w, rate) for w in out.words]
        if chunk or event.get("words"):
            yield f"data: {json.dumps(event)}\n\n".encode()
    if track.outcome != "ok":  # cut short: no speech.audio.done (docs/serve.md)
        return
    done = {
        "type": "speech.audio.done",
        "audio_seconds": round(seconds, 6),
        "sample_rate": rate,
        "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    }
    yield f"data: {json.dumps(done)}\n\n".encode()


def pcm_of(data: bytes) -> np.ndarray:
    """int16 samples of a pcm reply (tests and the load generator)."""
    return np.frombuffer(data, dtype="<i2")
