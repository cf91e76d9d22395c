"""Both front ends in one process around one engine, and the way it stops.

Order: listen on HTTP at once (``/health`` says 503 while loading), load and warm the voices on
a thread, then open Wyoming and report ready. SIGTERM or Ctrl-C: stop accepting (HTTP and
Wyoming), let the requests in flight finish within ``grace`` seconds, then return 0; a request
still running after that is cancelled and the exit is 143 (SIGTERM) or 130 (SIGINT), as for
`tts synth`. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn

from tts_accel.core.serve.engine import Engine
from tts_accel.core.serve.http import HttpConfig, create_app
from tts_accel.core.serve.metrics import Metrics

log = logging.getLogger("tts_accel.serve")


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8880
    wyoming: str | None = None  # tcp://HOST:PORT, checked by wyoming.check_uri
    grace: float = 10.0


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, minus re-raising the signal after a graceful stop (the exit code is ours)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def run(engine: Engine, config: HttpConfig, listen: Listen, say: Callable[[str], None]) -> int:
    """Serve until a signal; the exit code (0: every request in flight finished within the grace)."""
    sched = engine.scheduler
    metrics = Metrics(sched.depth, sched.waiting, lambda: (sched.batches, sched.batched_windows))
    engine.scheduler.on_unit = metrics.on_unit
    app = create_app(engine, config, metrics)
    server = _Uvicorn(
        uvicorn.Config(
            app,
            host=listen.host,
            port=listen.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=max(0.1, listen.grace),
        )
    )
    failure: list[BaseException] = []

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        wyoming = None
        try:
            await asyncio.to_thread(engine.load)
        except BaseException as err:  # a voice that cannot load: stop serving, the CLI says why
            failure.append(err)
            server.should_exit = True
        else:
            if listen.wyoming and not server.should_exit:
                from tts_accel.core.serve import wyoming as wy

                wyoming = await wy.start(engine, metrics, listen.wyoming, config.request_timeout)
            if not server.should_exit:
                where = f"http://{listen.host}:{listen.port}" + (f" and {listen.wyoming}" if listen.wyoming else "")
                say(f"ready: {where} (voices: {', '.join(engine.loaded_voices())}; workers {engine.plan.workers})")
        await serving
        if wyoming is not None:
            await _stop_wyoming(wyoming, engine, listen.grace)

    started = time.monotonic()
    asyncio.run(main())
    if failure:
        raise failure[0]
    finished = engine.close(grace=max(0.0, listen.grace - (time.monotonic() - started)) if server.should_exit else 0)
    signals = getattr(server, "_captured_signals", [])
    cut_short = not finished or metrics.active > 0
    if cut_short and signals:
        return 143 if signals[-1] == signal.SIGTERM else 130
    return 0


async def _stop_wyoming(server, engine: Engine, grace: float) -> None:  # type: ignore[no-untyped-def]
    """Close Wyoming's listening socket, give its handlers the grace period, then end them."""
    if getattr(server, "_server", None) is not None:
        server._server.close()
    deadline = time.monotonic() + grace
    while getattr(server, "_handlers", None) and engine.scheduler.depth() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.stop(), 1.0)
