"""`tts bench --serve URL`: a load generator for speech servers (ours or anyone's).

Targets: ``http://HOST:PORT`` speaks OpenAI's ``POST /v1/audio/speech`` (streamed pcm; Piper's own
HTTP server, ``POST /`` with ``{"text"}`` answering WAV, with ``api="piper"``), ``tcp://HOST:PORT``
speaks Wyoming's ``synthesize`` through the ``wyoming`` package's client. Every request opens a
fresh connection, as a new client would.

Levels: closed loop (``concurrency`` clients, each sending its next request when the last one
ended) and open loop (Poisson arrivals at ``rate`` requests per second, whatever the server does).
Each level stops issuing after ``requests`` requests or ``duration`` seconds, whichever comes first,
then waits for what is in flight (each request has a client-side ``timeout``). Texts: the Harvard
sentences with one long sentence among every ``LONG_EVERY`` (or the caller's texts), in order.

Per level: time to first audio and total latency p50/p95/p99 over the successful requests,
requests per second and audio seconds per wall second over the level's wall time, failures by
kind (``http_429``, ``wyoming_busy``, ``timeout``, ``connection``, ``protocol``), and the server's
peak resident memory from its ``/metrics`` (``process_resident_memory_bytes`` from
prometheus-client's process collector, polled once a second), or None where it exports none.

This module is a client: it never imports the server side (``tts_accel.core.serve``).
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import ssl
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from tts_accel.core.bench import save_figure
from tts_accel.core.errors import InputError
from tts_accel.core.hardware.profile import machine_label
from tts_accel.core.text.samples import harvard_sentences, read_text
from tts_accel.core.versions import versions_label

SERVE_INSTALL = "pip install 'tts-accel[serve]'"
#: one long sentence (169 characters, about 10 s of audio) among every this many requests of the default mix
LONG_EVERY = 8
_RSS = re.compile(r"^process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$", re.M)


@dataclass
class ServeRow:
    level: str  # "c=4" (closed loop, 4 clients) or "rate=2" (open loop, 2 requests/s)
    concurrency: int | None
    rate: float | None  # requests per second asked for (open loop)
    requests: int  # sent
    ok: int
    ttfa_p50_s: float | None  # time to first audio, successful requests
    ttfa_p95_s: float | None
    ttfa_p99_s: float | None
    total_p50_s: float | None  # time to the last byte
    total_p95_s: float | None
    total_p99_s: float | None
    req_per_s: float  # successful requests per wall second of the level
    audio_per_wall: float  # seconds of audio received per wall second of the level
    wall_s: float
    failures: int
    failure_kinds: str  # "http_429=3;timeout=1", or "" when none failed
    server_rss_mb: float | None  # the server's peak RSS during the level (its /metrics), None: n/a
    url: str
    protocol: str  # http | wyoming
    machine: str
    versions: str
    timestamp: str


@dataclass
class Result:
    """One request, as the client saw it."""

    ok: bool
    start: float
    ttfa_s: float | None = None
    total_s: float | None = None
    audio_s: float = 0.0
    failure: str | None = None  # kind, when not ok


@dataclass(frozen=True)
class ServerTarget:
    """The speech server a load runs against (not an output target: that is audio.sinks.Target)."""

    url: str
    protocol: str  # http | wyoming
    host: str
    port: int
    api: str = "openai"  # openai | piper (Piper's http_server)
    voice: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def parse_target(url: str, voice: str | None = None, api_key: str | None = None, api: str = "openai") -> ServerTarget:
    """``http://HOST:PORT`` or ``tcp://HOST:PORT``; anything else is an InputError naming the fix."""
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme not in ("http", "tcp") or not parsed.hostname:
        raise InputError(
            f"--serve {url!r}: give http://HOST:PORT (OpenAI's speech API) or tcp://HOST:PORT (Wyoming), "
            "e.g. http://127.0.0.1:8880."
        )
    if parsed.scheme == "tcp" and port is None:
        raise InputError(f"--serve {url!r}: a Wyoming address needs its port, e.g. tcp://127.0.0.1:10200.")
    headers = (("Authorization", f"Bearer {api_key}"),) if api_key else ()
    protocol = "http" if parsed.scheme == "http" else "wyoming"
    base = url.rstrip("/")
    return ServerTarget(base, protocol, parsed.hostname, port or 80, api, voice, headers)


def parse_levels(concurrency: str | None, rate: str | None) -> list[tuple[int | None, float | None]]:
    """``1,2,4`` closed-loop levels, then ``0.5,2`` open-loop rates, as (concurrency, rate) pairs."""
    levels: list[tuple[int | None, float | None]] = []
    for part in (concurrency or "").split(","):
        if part.strip():
            if not part.strip().isdigit() or int(part) < 1:
                raise InputError(f"--concurrency {concurrency!r}: give whole numbers of clients, e.g. 1,2,4,8.")
            levels.append((int(part), None))
    for part in (rate or "").split(","):
        if part.strip():
            try:
                value = float(part)
            except ValueError:
                value = -1.0
            if not 0 < value <= 1000:
                raise InputError(f"--rate {rate!r}: give requests per second above 0, e.g. 0.5 or 2.")
            levels.append((None, value))
    return levels or [(1, None)]


def default_texts() -> list[str]:
    """The Harvard sentences, with the longest sentence of the long text after every ``LONG_EVERY - 1``."""
    short = harvard_sentences()
    sentences = re.split(r"(?<=[.!?])\s+", read_text("long").strip())
    long = max(sentences, key=len)
    mix: list[str] = []
    for i, text in enumerate(short):
        if i % (LONG_EVERY - 1) == LONG_EVERY - 2:
            mix.append(long)
        mix.append(text)
    return mix


# --- one request --------------------------------------------------------------------------------


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: building one (loading the CA bundle) took 0.16 s of CPU on
    the loaded dev VM, which a fresh client per request would have counted in its time to first audio."""
    return ssl.create_default_context()


async def _http(target: ServerTarget, text: str, timeout: float, start: float) -> Result:
    import httpx

    if target.api == "piper":
        path, body, wav = "/synthesize", {"text": text}, True
    else:
        body = {"input": text, "response_format": "pcm", "model": "tts-1"}
        if target.voice:
            body["voice"] = target.voice
        path, wav = "/v1/audio/speech", False
    first = None
    size = 0
    header = b""
    try:
        # a fresh client per request: a new connection, as a new user's client would open
        async with httpx.AsyncClient(timeout=timeout, headers=dict(target.headers), verify=_tls()) as client:
            async with client.stream("POST", target.url + path, json=body) as reply:
                if reply.status_code != 200:
                    await reply.aread()
                    return Result(False, start, failure=f"http_{reply.status_code}")
                rate = int(reply.headers.get("x-sample-rate", "24000"))
                async for part in reply.aiter_bytes():
                    if wav and len(header) < 44:
                        take = 44 - len(header)
                        header, part = header + part[:take], part[take:]
                        if len(header) == 44:
                            rate = int.from_bytes(header[24:28], "little")
                    if part and first is None:
                        first = time.perf_counter()
                    size += len(part)
    except httpx.TimeoutException:
        return Result(False, start, failure="timeout")
    except (httpx.TransportError, OSError):
        return Result(False, start, failure="connection")
    end = time.perf_counter()
    if first is None:
        return Result(False, start, failure="protocol")
    return Result(True, start, first - start, end - start, size / 2 / rate)


async def _wyoming(target: ServerTarget, text: str, timeout: float, start: float) -> Result:
    from wyoming.audio import AudioChunk
    from wyoming.client import AsyncTcpClient
    from wyoming.error import Error
    from wyoming.tts import Synthesize, SynthesizeVoice

    first = None
    audio = 0.0
    voice = SynthesizeVoice(name=target.voice) if target.voice else None
    try:
        async with AsyncTcpClient(target.host, target.port) as client:
            await client.write_event(Synthesize(text, voice=voice).event())
            while True:
                event = await client.read_event()
                if event is None:
                    return Result(False, start, failure="connection")
                if Error.is_type(event.type):
                    code = Error.from_event(event).code or "error"
                    return Result(False, start, failure=f"wyoming_{code}")
                if AudioChunk.is_type(event.type):
                    chunk = AudioChunk.from_event(event)
                    if chunk.audio and first is None:
                        first = time.perf_counter()
                    audio += len(chunk.audio) / (chunk.width * chunk.channels * chunk.rate)
                elif event.type == "audio-stop":
                    break
    except OSError:
        return Result(False, start, failure="connection")
    end = time.perf_counter()
    if first is None:
        return Result(False, start, failure="protocol")
    return Result(True, start, first - start, end - start, audio)


async def request(target: ServerTarget, text: str, timeout: float) -> Result:
    """One request to ``target``, bounded by ``timeout`` seconds in all."""
    start = time.perf_counter()
    run = _http if target.protocol == "http" else _wyoming
    try:
        return await asyncio.wait_for(run(target, text, timeout, start), timeout)
    except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
        return Result(False, start, failure="timeout")


# --- the server's memory ------------------------------------------------------------------------


async def server_rss_mb(metrics_url: str | None, headers: dict[str, str]) -> float | None:
    """``process_resident_memory_bytes`` from the server's Prometheus text, in MiB; None without one."""
    if not metrics_url:
        return None
    import httpx

    try:
        async with httpx.AsyncClient(timeout=5, headers=headers, verify=_tls()) as client:
            reply = await client.get(metrics_url)
    except (httpx.HTTPError, OSError):
        return None
    found = _RSS.search(reply.text) if reply.status_code == 200 else None
    return float(found.group(1)) / 2**20 if found else None


class _RssPoll:
    """The highest RSS the server reports while a level runs (one look a second)."""

    def __init__(self, metrics_url: str | None, headers: dict[str, str]):
        self.url, self.headers = metrics_url, headers
        self.peak: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def _look(self) -> None:
        value = await server_rss_mb(self.url, self.headers)
        if value is not None:
            self.peak = max(self.peak or 0.0, value)

    async def _loop(self) -> None:
        while True:
            await self._look()
            await asyncio.sleep(1.0)

    async def __aenter__(self) -> _RssPoll:
        if self.url:
            self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            await self._look()


# --- levels -------------------------------------------------------------------------------------


async def _closed(target: ServerTarget, texts: Sequence[str], clients: int, count: int, duration: float,
                  timeout: float) -> list[Result]:  # fmt: skip
    results: list[Result] = []
    issued = 0
    stop_at = time.perf_counter() + duration

    async def client() -> None:
        nonlocal issued
        while issued < count and time.perf_counter() < stop_at:
            text = texts[issued % len(texts)]
            issued += 1
            results.append(await request(target, text, timeout))

    await asyncio.gather(*(client() for _ in range(clients)))
    return results


async def _open(target: ServerTarget, texts: Sequence[str], rate: float, count: int, duration: float, timeout: float,
                seed: int = 0) -> list[Result]:  # fmt: skip
    rng = random.Random(seed)  # the same arrivals every run: contenders compared on equal terms
    tasks = []
    start = time.perf_counter()
    at = 0.0
    for i in range(count):
        if at > duration:
            break
        delay = start + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(request(target, texts[i % len(texts)], timeout)))
        at += rng.expovariate(rate)
    return list(await asyncio.gather(*tasks))


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarize(results: Sequence[Result], wall: float) -> dict[str, Any]:
    """The level's figures from its requests (the row's fields but the labels)."""
    good = [r for r in results if r.ok]
    ttfa = [r.ttfa_s for r in good if r.ttfa_s is not None]
    total = [r.total_s for r in good if r.total_s is not None]
    kinds = Counter(r.failure for r in results if not r.ok)
    wall = max(wall, 1e-9)
    return {
        "requests": len(results), "ok": len(good),
        "ttfa_p50_s": _pct(ttfa, 50), "ttfa_p95_s": _pct(ttfa, 95), "ttfa_p99_s": _pct(ttfa, 99),
        "total_p50_s": _pct(total, 50), "total_p95_s": _pct(total, 95), "total_p99_s": _pct(total, 99),
        "req_per_s": len(good) / wall, "audio_per_wall": sum(r.audio_s for r in good) / wall, "wall_s": wall,
        "failures": sum(kinds.values()), "failure_kinds": ";".join(f"{k}={n}" for k, n in sorted(kinds.items())),
    }  # fmt: skip


async def _level(target: ServerTarget, texts: Sequence[str], clients: int | None, rate: float | None, count: int,
                 duration: float, timeout: float, metrics_url: str | None) -> dict[str, Any]:  # fmt: skip
    async with _RssPoll(metrics_url, dict(target.headers)) as rss:
        start = time.perf_counter()
        if clients is not None:
            results = await _closed(target, texts, clients, count, duration, timeout)
        else:
            assert rate is not None
            results = await _open(target, texts, rate, count, duration, timeout)
        wall = time.perf_counter() - start
    return {**summarize(results, wall), "server_rss_mb": rss.peak}


async def _check_reachable(target: ServerTarget, timeout: float) -> None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port), timeout)
    except (OSError, TimeoutError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise InputError(f"--serve {target.url}: cannot connect ({reason}); start the server (tts serve) "
                         "or check the address.") from None  # fmt: skip
    writer.close()


def run_load(
    target: ServerTarget,
    levels: Sequence[tuple[int | None, float | None]],
    texts: Sequence[str] | None = None,
    requests: int = 20,
    duration: float = 60.0,
    timeout: float = 60.0,
    metrics_url: str | None = "",
    on_step: Callable[[str], None] | None = None,
) -> list[ServeRow]:
    """A row per level, in order. ``metrics_url`` "" means the target's own /metrics (HTTP targets
    only); None means none. The server must accept a connection first (else InputError)."""
    for module in ("httpx",) if target.protocol == "http" else ("wyoming",):
        try:
            __import__(module)
        except ImportError:
            raise InputError(f"tts bench --serve needs {module}: {SERVE_INSTALL}") from None
    if requests < 1:
        raise InputError("--requests must be at least 1.")
    if not duration > 0 or not timeout > 0:
        raise InputError("--duration and the request timeout must be above 0 seconds.")
    mix = list(texts) if texts else default_texts()
    if metrics_url == "":
        metrics_url = target.url + "/metrics" if target.protocol == "http" and target.api == "openai" else None
    machine, versions = machine_label(), versions_label()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    async def main() -> list[ServeRow]:
        await _check_reachable(target, min(timeout, 10.0))
        rows = []
        for clients, rate in levels:
            label = f"c={clients}" if clients is not None else f"rate={rate:g}"
            if on_step:
                on_step(label)
            figures = await _level(target, mix, clients, rate, requests, duration, timeout, metrics_url)
            labels = {"url": target.url, "protocol": target.protocol, "machine": machine, "versions": versions}
            rows.append(ServeRow(level=label, concurrency=clients, rate=rate, **figures, **labels, timestamp=stamp))
        return rows

    return asyncio.run(main())


def plot(rows: Sequence[ServeRow], path: Any) -> None:
    """Time to first audio (p50, p95, p99) and audio seconds per wall second, per level."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'tts-accel[plot]'") from None
    labels = [r.level for r in rows]
    xs = list(range(len(rows)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(4 + 0.8 * len(rows), 4))
    for key, name in (("ttfa_p50_s", "p50"), ("ttfa_p95_s", "p95"), ("ttfa_p99_s", "p99")):
        left.plot(xs, [getattr(r, key) or float("nan") for r in rows], marker="o", label=name)
    left.set_xticks(xs, labels)
    left.set_ylabel("time to first audio, s")
    left.legend()
    right.bar(xs, [r.audio_per_wall for r in rows])
    right.set_xticks(xs, labels)
    right.set_ylabel("audio s per wall s")
    fig.suptitle(f"{rows[0].url}: {rows[0].machine}" if rows else "")
    fig.tight_layout()
    save_figure(fig, path)
