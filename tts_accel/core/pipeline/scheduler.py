"""How chunks and acoustic windows reach the backend: sequential, parallel, pipelined, batched.

Phonemization stays on the calling thread, in text order (espeak-ng is not thread-safe);
only model runs go concurrent, over one shared backend. Output is always in text order.

``run`` yields :class:`Piece` objects: a whole chunk's audio in one piece, or (the pipelined
mode with windows, ``run_streaming``) a chunk's audio window by window, each window the moment
it is computed. The first piece of a chunk carries the chunk's frames per id when the backend
can report them (every real backend does).

Every model call runs under the run's cancellation (``core.cancel``), on a worker thread, never
on the consumer's: the consumer waits only where a cancel wakes it (``await_item``), so a cancel
(a signal, in the CLI) raises the cancellation's error at once, even while a run that cannot be
aborted (a torch forward) goes on; ONNX Runtime's runs in flight are aborted. A runner whose
consumer stops reading cancels its own runs in flight and does not wait for them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

import numpy as np

from tts_accel.core.cancel import Cancel
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.modes import Schedule, spec
from tts_accel.core.voices.base import Backend
from tts_accel.core.voices.params import SynthParams


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    ids: np.ndarray  # (T,) int64
    pause_after: float  # seconds of silence after this chunk's audio
    sentence_end: bool = True  # this chunk ends a sentence (its pause is the sentence silence)


@dataclass
class Piece:
    """What ``run`` yields, in text order: some or all of one chunk's audio."""

    chunk: Chunk
    audio: np.ndarray  # (N,) float32 samples of this piece (a window, or a whole chunk)
    last: bool  # the chunk's last piece: its pause follows
    #: (T,) int64 latent frames of each id, on the chunk's FIRST piece (None on later pieces, or
    #: when the backend cannot tell); sums to the chunk's frames (``Voice.hop`` samples each)
    frames_per_id: np.ndarray | None = None


Runner = Callable[[Iterable[Chunk], Backend, SynthParams, ExecutionPlan, Cancel], Iterator[Piece]]
T = TypeVar("T")
R = TypeVar("R")


_WAKE = object()  # put on a queue by a cancel: the consumer waiting on it checks the token


def await_item(items: queue.SimpleQueue[Any], cancel: Cancel) -> Any:
    """The next item of ``items``; a cancel ends the wait at once with its error (its abort puts
    a wake-up on the queue: ``SimpleQueue.put`` is reentrant, a signal handler may call it)."""
    with cancel.aborting(lambda: items.put(_WAKE)):
        item = items.get()
    if item is _WAKE:
        cancel.check()  # the token stays set: a wake-up left on a queue still means cancelled
    return item


class _Call:
    """``fn(*args)`` on a pool's thread under ``cancel``; ``result()`` waits where a cancel wakes."""

    def __init__(self, pool: ThreadPoolExecutor, cancel: Cancel, fn: Callable[..., R], *args: Any) -> None:
        self.cancel = cancel
        self.box: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self.future = pool.submit(self._run, fn, args)

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.box.put((True, self.cancel.call(fn, *args)))
        except BaseException as err:  # raised on the consumer's thread
            self.box.put((False, err))

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> Any:
        ok, value = await_item(self.box, self.cancel)
        if not ok:
            raise value
        return value


def _pool(workers: int, name: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)


def _release(pool: ThreadPoolExecutor, mine: Cancel) -> None:
    """A runner is done or its consumer stopped: its runs in flight are aborted, the calls not
    started are dropped, and nothing waits for a call that cannot be aborted (it ends alone)."""
    mine.cancel()
    pool.shutdown(wait=False, cancel_futures=True)


def in_order(
    items: Iterable[T], work: Callable[[T], R], workers: int, cancel: Cancel | None = None
) -> Iterator[tuple[T, R]]:
    """Run ``work`` on each item on ``workers`` threads; yield (item, result) in input order.

    An item is submitted as soon as the input iterator gives it (so the front-end runs ahead
    of the model), and at most ``2 * workers`` items are in flight, so memory stays flat on
    long inputs and the front-end never runs far ahead of the audio. A result is yielded the
    moment it and every result before it are done. ``work`` runs under ``cancel`` (a child of it,
    cancelled when the consumer stops reading).
    """
    mine = (cancel or Cancel()).child()
    pending: deque[tuple[T, _Call]] = deque()
    pool = _pool(workers, "tts-model")
    try:
        for item in items:
            mine.check()
            pending.append((item, _Call(pool, mine, work, item)))
            while pending and (len(pending) >= 2 * workers or pending[0][1].done()):
                head, call = pending.popleft()
                yield head, call.result()
        while pending:
            head, call = pending.popleft()
            yield head, call.result()
    finally:
        _release(pool, mine)


def whole(chunk: Chunk, voiced: tuple[np.ndarray, np.ndarray | None]) -> Piece:
    """A chunk's whole audio as its one piece."""
    audio, frames_per_id = voiced
    return Piece(chunk, audio, True, frames_per_id)


def one_at_a_time(items: Iterable[T], work: Callable[[T], R], cancel: Cancel) -> Iterator[tuple[T, R]]:
    """(item, ``work(item)``) for each item in turn, the next item taken only after the last
    result: ``in_order`` with nothing ahead. The work runs on one worker thread all the same,
    so that the consumer's thread waits where a cancel wakes it."""
    mine = cancel.child()
    pool = _pool(1, "tts-model")
    try:
        for item in mine.each(items):
            yield item, _Call(pool, mine, work, item).result()
    finally:
        _release(pool, mine)


def run_sequential(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan, cancel: Cancel
) -> Iterator[Piece]:
    work = lambda chunk: backend.infer_with_frames(chunk.ids, params)  # noqa: E731
    for chunk, voiced in one_at_a_time(chunks, work, cancel):
        yield whole(chunk, voiced)


def run_concurrent(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan, cancel: Cancel
) -> Iterator[Piece]:
    """Whole chunks, pipelined: each chunk's model run goes to a worker as soon as the chunk is
    phonemized, and its audio is yielded as soon as it and every chunk before it are done. One
    shared session: ORT's ``run`` is thread-safe."""
    work = lambda chunk: backend.infer_with_frames(chunk.ids, params)  # noqa: E731
    for chunk, voiced in in_order(chunks, work, max(1, plan.workers), cancel):
        yield whole(chunk, voiced)


def run_parallel(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan, cancel: Cancel
) -> Iterator[Piece]:
    """Parallel (KittenTTS PR #147): phonemize the whole text first, then fan the model runs out
    over the workers. Same samples and throughput as pipelined, but the first audio waits for
    the whole front-end; kept as the throughput baseline the pipelined mode is judged against."""
    yield from run_concurrent(list(chunks), backend, params, plan, cancel)


class _Stream:
    """One chunk on a worker: its text stage, then its acoustic windows, each piece put on a
    queue the consumer reads as it comes."""

    def __init__(
        self, chunk: Chunk, opening: bool, spare: Callable[[], bool] | None = None, cancel: Cancel | None = None
    ):
        self.chunk = chunk
        self.spare = spare  # whether a worker of the plan is idle now (the windows may use it)
        self.opening = opening  # nothing buffered ahead of it: the small-first-window schedule
        self.pieces: queue.SimpleQueue[Piece | BaseException | object] = queue.SimpleQueue()
        self.opened = False  # (consumer's view) its first piece is out
        self.cancel = cancel or Cancel()  # its model runs run under it (and its windows stop)

    def run(self, backend: Backend, params: SynthParams) -> None:
        with self.cancel.bound():
            self._run(backend, params)

    def _run(self, backend: Backend, params: SynthParams) -> None:
        try:
            self.cancel.check()  # cancelled before it started: the consumer hears why
            stages = backend.two_stage()
            if stages is None:  # the graph could not be split: the whole chunk, one piece
                audio, frames = backend.infer_with_frames(self.chunk.ids, params)
                self.pieces.put(Piece(self.chunk, audio, True, frames))
                return
            text = stages.text_stage(self.chunk.ids, params, alone=self.opening)  # an opening runs alone
            frames: np.ndarray | None = text.frames_per_id
            for audio, last in stages.acoustic_stage(text, self.opening, self.cancel, self.spare):
                self.pieces.put(Piece(self.chunk, audio, last, frames))
                frames = None
            self.cancel.check()  # the windows stopped early: the consumer may be waiting for the next
        except BaseException as err:  # handed to the consumer, raised there in text order
            self.pieces.put(err)


def run_streaming(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan, cancel: Cancel
) -> Iterator[Piece]:
    """The pipelined mode with windows: each chunk runs on a worker (text stage, then its
    acoustic windows), and every window is yielded the moment it and all audio before it are
    out, so a sentence's first audio waits for its text stage and one small window, not for
    the sentence.

    Order and concurrency, on ``plan.workers`` threads:

    * a chunk that starts with nothing buffered ahead of it (the text's first, or the first after
      the output ran dry: a listener playing in real time would have heard all audio out so far)
      runs its text stage alone, on every core the plan has (``alone=True``), then its windows
      on the ``opening`` schedule (a small first window); the chunks after it are phonemized
      and started only when its first window is out, so nothing competes with its first audio
      (starting them when its text stage was done put the next text stage beside the first
      window on 2 cores: docs/streaming.md, first audio);
    * later chunks run on the ``steady`` schedule (large windows), one per worker: the text stage
      of the next sentence overlaps the windows of this one, and whole workers stay busy;
    * at most ``2 * workers`` chunks are in flight; a chunk not yet at the head keeps its pieces
      (at most one chunk's audio, under the voice's id budget): memory stays flat.
    """
    workers = max(1, plan.workers)
    mine = cancel.child()  # every job's: cancelled too when the consumer stops reading
    pending: deque[_Stream] = deque()
    source = iter(chunks)
    running = [0]  # chunks whose job is on a worker now (text stage or windows)
    lock = threading.Lock()

    def spare() -> bool:  # a worker has nothing to do: the windows of a running chunk may take it
        return running[0] < workers

    def counted(job: _Stream) -> None:
        with lock:
            running[0] += 1
        try:
            job.run(backend, params)
        finally:
            with lock:
                running[0] -= 1

    more = True
    rate = backend.sample_rate
    first_out: float | None = None  # when the first piece went out
    out_s = 0.0  # seconds of audio out so far, pauses included
    pool = _pool(workers, "tts-stage")
    try:
        while True:
            # an opening chunk's text stage runs alone; else up to 2 chunks per worker
            alone = bool(pending) and pending[0].opening and not pending[0].opened
            while more and len(pending) < 2 * workers and not alone:
                mine.check()
                chunk = next(source, None)  # phonemizes, on this thread
                if chunk is None:
                    more = False
                    break
                # Dry: a listener playing in real time has heard everything out so far.
                dry = first_out is None or time.perf_counter() - first_out >= out_s
                job = _Stream(chunk, not pending and dry, spare if workers > 1 else None, mine)
                pending.append(job)
                pool.submit(counted, job)
                if job.opening:  # it runs alone: the next chunks wait for its first window
                    break
            if not pending:
                return
            head = pending[0]
            item = await_item(head.pieces, mine)
            if isinstance(item, BaseException):
                raise item
            head.opened = True
            if first_out is None:
                first_out = time.perf_counter()
            out_s += item.audio.size / rate + (item.chunk.pause_after if item.last else 0.0)
            yield item
            if item.last:
                pending.popleft()
    finally:
        _release(pool, mine)


def run_pipelined(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan, cancel: Cancel
) -> Iterator[Piece]:
    """Window by window when the plan has windows (``run_streaming``), else whole chunks
    (``run_concurrent``)."""
    runner = run_streaming if plan.streams_windows else run_concurrent
    yield from runner(chunks, backend, params, plan, cancel)


def batches(chunks: Iterable[Chunk], size: int) -> Iterator[list[Chunk]]:
    """Consecutive groups of ``size`` chunks (the last may be shorter), in text order."""
    it = iter(chunks)
    while group := list(islice(it, size)):
        yield group


def run_batched(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan, cancel: Cancel
) -> Iterator[Piece]:
    """``plan.batch_size`` consecutive chunks padded into one model run; with ``workers`` > 1
    several batches run at once. Each chunk's audio is cut out of the batch by its frame count."""

    def work(group: list[Chunk]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        return backend.infer_batch_with_frames([c.ids for c in group], params)

    groups = batches(chunks, max(1, plan.batch_size))
    Done = Iterator[tuple[list[Chunk], list[tuple[np.ndarray, np.ndarray | None]]]]
    if plan.workers <= 1:
        done: Done = one_at_a_time(groups, work, cancel)
    else:
        done = in_order(groups, work, plan.workers, cancel)
    for group, voiced in done:
        for chunk, one in zip(group, voiced, strict=True):
            yield whole(chunk, one)


#: One runner per schedule of the mode vocabulary (``modes.ModeSpec.schedule``).
RUNNERS: dict[Schedule, Runner] = {
    "sequential": run_sequential,
    "parallel": run_parallel,
    "pipelined": run_pipelined,
    "batched": run_batched,
}


def run(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan, cancel: Cancel | None = None
) -> Iterator[Piece]:
    """The plan's mode decides the runner through its schedule (the torch modes run one chunk
    after another); an unknown mode is an UnknownMode error, never a silent sequential run.
    ``cancel``: the run's cancellation (``core.cancel``); a run stopped by it raises its error."""
    return RUNNERS[spec(plan.mode).schedule](chunks, backend, params, plan, cancel or Cancel())
