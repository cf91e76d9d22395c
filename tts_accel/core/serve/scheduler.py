"""One scheduler for every request: units of work from a shared, bounded pool, on N workers.

A request is a generator of *units*: each ``next()`` does one unit of model work (a sentence's
text stage, or one acoustic window) and yields what it made (an audio piece, or ``None`` for a
unit that makes no audio yet). The scheduler never runs a whole request at once: a worker takes
the next unit of the request that should go next, runs it, hands the result to that request's
small output buffer, and picks again. So a long sentence of one request never holds a worker
for longer than one window while another request waits for its first audio.

Which request goes next (``RequestJob.key``, smallest first):

1. a request that has not yet produced audio (its text stage, then its first window), oldest first;
2. then the request with the least audio buffered ahead of real-time playback: seconds of audio
   handed out minus seconds since its first audio (a listener who started playing at the first
   piece has that much left before an underrun).

A request is runnable only while no worker runs it (its units are sequential: a generator),
it is not cancelled, and its output buffer has room (``capacity`` pieces): a slow reader stops
its own request, not the others, and memory per request stays at a few windows. ``cancel()``
(a client went away, a time limit) drops the request: its pending units never run, and a unit
running now is the last. ``max_queue`` bounds the requests admitted (running or waiting); each
has at most one unit queued, so it bounds the queued units too; past it ``submit`` raises
:class:`Busy` (HTTP 429, a Wyoming error event).

Windows of equal shape across requests (``max_batch``): a unit may yield a
``acoustic.engine.WindowCall`` instead of audio: its window's flow ran and its decoder call waits
(``pending``). With ``max_batch > 1`` a worker steps a request on until it waits at such a call
(handing each piece out as it comes), so that waiting requests sit at their decoder calls. The
worker that takes a waiting request takes with it up to ``max_batch - 1`` other runnable requests
whose pending calls have the same ``key`` (same engine, same length class), best priority first,
runs them as one call (``run_calls``), then steps each on. Only calls already waiting join: a
batch is never waited for. A request without audio yet is joined only by other requests without
audio yet, so no stream's later window lengthens a first-audio call. ``max_batch = 1`` (or an
engine that cannot batch) runs every unit alone, in exactly the order it had before batching.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from tts_accel.core.acoustic.engine import WindowCall, run_calls
from tts_accel.core.errors import Busy, Cancelled

#: Returned by ``RequestJob.get`` once every item of the request is out.
END = object()


class RequestJob:
    """One request: its units, its output buffer, and what the priority needs."""

    def __init__(
        self,
        units: Iterator[Any],
        seconds: Callable[[Any], float],
        seq: int,
        capacity: int,
        cond: threading.Condition,
        clock: Callable[[], float],
    ):
        self.units = units
        self.seconds = seconds  # audio seconds an item carries (pauses included)
        self.seq = seq
        self.capacity = capacity
        self._cond = cond
        self._clock = clock
        self.created = clock()
        self.buffer: deque[Any] = deque()
        self.busy = False  # a worker runs one of its units now
        self.done = False  # every unit ran (or it failed, or it was cancelled)
        self.cancelled = False
        self.error: BaseException | None = None
        self.first_audio: float | None = None  # clock time of its first audio
        self.audio_s = 0.0  # seconds of audio produced so far
        self.units_run = 0
        self.pending: WindowCall | None = None  # a decoder call its last unit left to run
        self._wake: Callable[[], None] | None = None  # an async consumer's wake-up

    # -- the policy --------------------------------------------------------------------------------
    def ahead(self, now: float) -> float:
        """Seconds of audio buffered ahead of real-time playback that began at the first audio."""
        if self.first_audio is None:
            return 0.0
        return self.audio_s - (now - self.first_audio)

    def key(self, now: float) -> tuple[int, float, int]:
        if self.first_audio is None:
            return (0, 0.0, self.seq)
        return (1, self.ahead(now), self.seq)

    def runnable(self) -> bool:
        return not (self.busy or self.done or self.cancelled) and len(self.buffer) < self.capacity

    # -- the consumer's side ---------------------------------------------------------------------
    def _take(self) -> Any | None:
        """(under the lock) the next item, END, or None when nothing is ready yet."""
        if self.buffer:
            item = self.buffer.popleft()
            self._cond.notify_all()  # room in the buffer: the job may be runnable again
            return item
        if self.error is not None:
            err, self.error = self.error, None
            self.done = True
            raise err
        if self.cancelled:
            raise Cancelled("the request was cancelled")
        if self.done:
            return END
        return None

    def get(self, timeout: float | None = None) -> Any:
        """The next item (blocking), END when the request is complete; its error is raised here.
        TimeoutError after ``timeout`` seconds without an item."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                item = self._take()
                if item is not None:
                    return item
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("no audio in time")
                self._cond.wait(left)

    async def aget(self) -> Any:
        """``get`` for an asyncio consumer: waits without blocking the event loop."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._wake = lambda: loop.call_soon_threadsafe(event.set)
        while True:
            event.clear()
            with self._cond:
                item = self._take()
            if item is not None:
                return item
            await event.wait()

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None:
            try:
                wake()
            except RuntimeError:  # the consumer's loop is closed: nobody is waiting
                pass


class Scheduler:
    """``workers`` threads serving every admitted job's units, highest priority first."""

    def __init__(self, workers: int, max_queue: int, capacity: int = 4, clock: Callable[[], float] = time.monotonic,
                 max_batch: int = 1):  # fmt: skip
        self.workers = max(1, workers)
        self.max_batch = max(1, max_batch)
        #: decoder calls run in batches of more than one window, and the windows in them
        self.batches = self.batched_windows = 0
        self.max_queue = max(1, max_queue)
        self.capacity = max(1, capacity)
        self.clock = clock
        self._cond = threading.Condition()
        self._jobs: list[RequestJob] = []
        self._seq = itertools.count()
        self._running = 0  # units running now
        self._stopping = False
        #: (job, wall seconds, CPU seconds of the worker thread) after each unit
        self.on_unit: Callable[[RequestJob, float, float], None] | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"tts-serve-{i}", daemon=True) for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- admission -------------------------------------------------------------------------------
    def submit(self, units: Iterator[Any], seconds: Callable[[Any], float] = lambda item: 0.0) -> RequestJob:
        """Admit a request; Busy when ``max_queue`` requests are already admitted."""
        with self._cond:
            if self._stopping:
                raise Busy("the server is shutting down")
            if len(self._jobs) >= self.max_queue:
                raise Busy(f"the queue is full ({self.max_queue} requests in flight): try again shortly")
            job = RequestJob(units, seconds, next(self._seq), self.capacity, self._cond, self.clock)
            self._jobs.append(job)
            self._cond.notify_all()
            return job

    def cancel(self, job: RequestJob) -> None:
        """Drop ``job``: its pending units never run; one running now is its last."""
        with self._cond:
            if job.done:
                return
            job.cancelled = True
            job.buffer.clear()
            if not job.busy:
                self._retire(job)
            self._cond.notify_all()
        job._notify()

    def cancel_all(self) -> None:
        with self._cond:
            jobs = list(self._jobs)
        for job in jobs:
            self.cancel(job)

    def depth(self) -> int:
        """Requests admitted and not finished (running or waiting)."""
        with self._cond:
            return len(self._jobs)

    def waiting(self) -> int:
        """Units ready to run that no worker has taken yet."""
        with self._cond:
            return sum(1 for j in self._jobs if j.runnable())

    def alone(self) -> bool:
        """Whether the unit running now is the only work there is (a text stage may take every core)."""
        with self._cond:
            return self._running <= 1 and not any(j.runnable() for j in self._jobs)

    def idle(self) -> bool:
        with self._cond:
            return not self._jobs

    def stop(self, timeout: float = 5.0) -> None:
        """Refuse new jobs and end the workers once the admitted jobs are done or cancelled."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every admitted job is finished; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- the workers -----------------------------------------------------------------------------
    def _pick(self) -> RequestJob | None:
        now = self.clock()
        ready = [j for j in self._jobs if j.runnable()]
        return min(ready, key=lambda j: j.key(now)) if ready else None

    def _retire(self, job: RequestJob) -> None:
        """(under the lock) the job leaves the pool; its generator is closed (not running now)."""
        job.done = True
        if job in self._jobs:
            self._jobs.remove(job)
        try:
            job.units.close()  # type: ignore[attr-defined]
        except (AttributeError, ValueError, RuntimeError):
            pass

    def _gather(self, leader: RequestJob, now: float) -> list[RequestJob]:
        """(under the lock) ``leader`` and the runnable requests whose pending decoder call may share
        its call: the same key, at most ``max_batch`` in all, best priority first; a first-audio
        leader only with other first-audio requests. Nothing is waited for."""
        call = leader.pending
        if self.max_batch <= 1 or call is None or call.key is None:
            return [leader]
        first = leader.first_audio is None
        mates = [
            j for j in self._jobs
            if j is not leader and j.runnable() and j.pending is not None and j.pending.key == call.key
            and (j.first_audio is None or not first)
        ]  # fmt: skip
        mates.sort(key=lambda j: j.key(now))
        return [leader, *mates[: min(self.max_batch, call.limit) - 1]]

    def _work(self) -> None:
        while True:
            with self._cond:
                job = self._pick()
                while job is None:
                    if self._stopping and not self._jobs:
                        return
                    self._cond.wait()
                    job = self._pick()
                batch = self._gather(job, self.clock())
                for j in batch:
                    j.busy = True
                self._running += len(batch)
            start, cpu = time.perf_counter(), time.thread_time()
            failed: BaseException | None = None
            if job.pending is not None:  # the decoder calls, one batched call where they are several
                try:
                    run_calls([j.pending for j in batch])  # type: ignore[misc]
                except BaseException as err:  # noqa: BLE001 - handed to each request's consumer
                    failed = err
                for j in batch:
                    j.pending = None
                if len(batch) > 1:
                    self.batches += 1
                    self.batched_windows += len(batch)
            shared = (time.perf_counter() - start) / len(batch), (time.thread_time() - cpu) / len(batch)
            for j in batch:
                self._step(j, failed, shared)

    def _step(self, job: RequestJob, failed: BaseException | None, shared: tuple[float, float]) -> None:
        """One unit of ``job`` (``next``), unless its decoder call ``failed``; then its result in
        its buffer. ``shared``: its part of the batch's decoder call (wall, CPU seconds). With
        ``max_batch > 1`` the request is stepped on (its item handed out first) until it waits at
        its next decoder call, where a batch can find it, or ends, or its buffer is full, or an
        item says ``more = False``."""
        while self._step_once(job, failed, shared):
            failed, shared = None, (0.0, 0.0)

    def _step_once(self, job: RequestJob, failed: BaseException | None, shared: tuple[float, float]) -> bool:
        start, cpu = time.perf_counter(), time.thread_time()
        item: Any = None
        finished = False
        error = failed
        if error is None and not job.cancelled:
            try:
                item = next(job.units)
            except StopIteration:
                finished = True
            except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
                error = err
        took, cpu = time.perf_counter() - start + shared[0], time.thread_time() - cpu + shared[1]
        with self._cond:
            job.units_run += 1
            again = (
                self.max_batch > 1 and not (finished or job.cancelled or isinstance(item, WindowCall))
                and error is None and getattr(item, "more", True) and len(job.buffer) + 1 < job.capacity
            )  # fmt: skip
            if not again:
                job.busy = False
                self._running -= 1
            if isinstance(item, WindowCall):  # its decoder call waits for a worker (maybe a batch)
                job.pending, item = item, None
            if not job.cancelled:
                if item is not None:
                    audio = job.seconds(item)
                    if audio > 0 and job.first_audio is None:
                        job.first_audio = self.clock()
                    job.audio_s += audio
                    job.buffer.append(item)
                if error is not None:
                    job.error = error
            if finished or error is not None or job.cancelled:
                self._retire(job)
            self._cond.notify_all()
        if self.on_unit is not None:
            self.on_unit(job, took, cpu)
        job._notify()
        return again
