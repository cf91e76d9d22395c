"""How chunks reach the backend: sequential, parallel, pipelined, batched.

Phonemization stays on the calling thread, in text order (espeak-ng is not thread-safe);
only model runs go concurrent, over one shared backend. Output is always in text order.

``run`` yields :class:`Piece` objects: a whole chunk's audio in one piece, or (two-stage
streaming) a chunk's audio window by window. The first piece of a chunk carries the chunk's
frames per id when the backend can report them (every real backend does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

import numpy as np

from tts_accel.core.modes import Schedule, spec
from tts_accel.core.params import SynthParams
from tts_accel.core.plan import ExecutionPlan
from tts_accel.core.voices.base import Backend


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


Runner = Callable[[Iterable[Chunk], Backend, SynthParams, ExecutionPlan], Iterator[Piece]]
T = TypeVar("T")
R = TypeVar("R")


def in_order(items: Iterable[T], work: Callable[[T], R], workers: int) -> Iterator[tuple[T, R]]:
    """Run ``work`` on each item on ``workers`` threads; yield (item, result) in input order.

    An item is submitted as soon as the input iterator gives it (so the front-end runs ahead
    of the model), and at most ``2 * workers`` items are in flight, so memory stays flat on
    long inputs and the front-end never runs far ahead of the audio. A result is yielded the
    moment it and every result before it are done.
    """
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts-model") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(work, item)))
                while pending and (len(pending) >= 2 * workers or pending[0][1].done()):
                    head, future = pending.popleft()
                    yield head, future.result()
            while pending:
                head, future = pending.popleft()
                yield head, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def whole(chunk: Chunk, voiced: tuple[np.ndarray, np.ndarray | None]) -> Piece:
    """A chunk's whole audio as its one piece."""
    audio, frames_per_id = voiced
    return Piece(chunk, audio, True, frames_per_id)


def run_sequential(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan
) -> Iterator[Piece]:
    for chunk in chunks:
        yield whole(chunk, backend.infer_with_frames(chunk.ids, params))


def run_concurrent(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan
) -> Iterator[Piece]:
    """Whole chunks, pipelined: each chunk's model run goes to a worker as soon as the chunk is
    phonemized, and its audio is yielded as soon as it and every chunk before it are done. One
    shared session: ORT's ``run`` is thread-safe."""
    work = lambda chunk: backend.infer_with_frames(chunk.ids, params)  # noqa: E731
    for chunk, voiced in in_order(chunks, work, max(1, plan.workers)):
        yield whole(chunk, voiced)


def run_parallel(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan
) -> Iterator[Piece]:
    """Parallel (KittenTTS PR #147): phonemize the whole text first, then fan the model runs out
    over the workers. Same samples and throughput as pipelined, but the first audio waits for
    the whole front-end; kept as the throughput baseline the pipelined mode is judged against."""
    yield from run_concurrent(list(chunks), backend, params, plan)


def batches(chunks: Iterable[Chunk], size: int) -> Iterator[list[Chunk]]:
    """Consecutive groups of ``size`` chunks (the last may be shorter), in text order."""
    it = iter(chunks)
    while group := list(islice(it, size)):
        yield group


def run_batched(chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan) -> Iterator[Piece]:
    """``plan.batch_size`` consecutive chunks padded into one model run; with ``workers`` > 1
    several batches run at once. Each chunk's audio is cut out of the batch by its frame count."""

    def work(group: list[Chunk]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        return backend.infer_batch_with_frames([c.ids for c in group], params)

    groups = batches(chunks, max(1, plan.batch_size))
    Done = Iterator[tuple[list[Chunk], list[tuple[np.ndarray, np.ndarray | None]]]]
    if plan.workers <= 1:
        done: Done = ((g, work(g)) for g in groups)
    else:
        done = in_order(groups, work, plan.workers)
    for group, voiced in done:
        for chunk, one in zip(group, voiced, strict=True):
            yield whole(chunk, one)


#: One runner per schedule of the mode vocabulary (``modes.ModeSpec.schedule``).
RUNNERS: dict[Schedule, Runner] = {
    "sequential": run_sequential,
    "parallel": run_parallel,
    "pipelined": run_concurrent,
    "batched": run_batched,
}


def run(chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan) -> Iterator[Piece]:
    """The plan's mode decides the runner through its schedule (the torch modes run one chunk
    after another); an unknown mode is an UnknownMode error, never a silent sequential run."""
    return RUNNERS[spec(plan.mode).schedule](chunks, backend, params, plan)
