"""How chunks reach the backend: sequential, parallel, pipelined, batched.

Phonemization stays on the calling thread, in text order (espeak-ng is not thread-safe);
only model runs go concurrent, over one shared backend. Output is always in text order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from tts_accel.core.backends.base import Backend
from tts_accel.core.params import SynthParams
from tts_accel.core.plan import ExecutionPlan


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    ids: np.ndarray  # (T,) int64
    pause_after: float  # seconds of silence after this chunk's audio


Runner = Callable[[Iterable[Chunk], Backend, SynthParams, ExecutionPlan], Iterator[tuple[Chunk, np.ndarray]]]


def run_sequential(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan
) -> Iterator[tuple[Chunk, np.ndarray]]:
    for chunk in chunks:
        yield chunk, backend.infer(chunk.ids, params)


def run_concurrent(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan
) -> Iterator[tuple[Chunk, np.ndarray]]:
    """Submit each chunk as soon as it is phonemized; yield results in order as they finish.

    At most ``2 * workers`` chunks are in flight, so memory stays flat on long inputs and
    the front-end never runs far ahead of the audio.
    """
    workers = max(1, plan.workers)
    pending: deque[tuple[Chunk, Future[np.ndarray]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts-model") as pool:
        try:
            for chunk in chunks:
                pending.append((chunk, pool.submit(backend.infer, chunk.ids, params)))
                while pending and (len(pending) >= 2 * workers or pending[0][1].done()):
                    head, future = pending.popleft()
                    yield head, future.result()
            while pending:
                head, future = pending.popleft()
                yield head, future.result()
        finally:
            for _, future in pending:
                future.cancel()


RUNNERS: dict[str, Runner] = {
    "sequential": run_sequential,
    "parallel": run_concurrent,
    "pipelined": run_concurrent,
}


def run(
    chunks: Iterable[Chunk], backend: Backend, params: SynthParams, plan: ExecutionPlan
) -> Iterator[tuple[Chunk, np.ndarray]]:
    runner = RUNNERS.get(plan.mode, run_sequential)  # torch-backend modes schedule sequentially
    return runner(chunks, backend, params, plan)
