"""Worker processes on this machine: each loads its voice once and takes one utterance at a time.

Processes rather than threads: phonemization (espeak-ng behind one lock) and the Python parts
of each run go truly parallel. Jobs go out longest first, so the last ones to finish are short
and no core waits long at the end. At most two jobs per worker are queued, and on a stop
request those not yet handed to a worker are dropped, so it is honoured within about one
utterance's time.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from tts_accel.core.batch.jobs import Job
from tts_accel.core.batch.worker import Outcome, Worker, WorkerConfig
from tts_accel.core.errors import Interrupted, ModelError

_WORKER: Worker | None = None


class StopFlag:
    """Set by the first SIGINT/SIGTERM: finish what is in flight, start nothing new. A second
    one sets ``hard``: stop now, discarding the files in flight (their temporary files go)."""

    def __init__(self) -> None:
        self.soft = threading.Event()
        self.hard = threading.Event()
        self.reason: Interrupted | None = None

    def request(self, reason: Interrupted) -> None:
        if self.soft.is_set():
            self.hard.set()
        self.reason = self.reason or reason
        self.soft.set()

    def check_hard(self, _chunk: object = None) -> None:
        if self.hard.is_set():
            raise self.reason or Interrupted("interrupted")


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the coordinator dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def _init(config: WorkerConfig, warm_voice: str, warm_lang: str | None) -> None:
    global _WORKER
    # The coordinator decides when to stop; a Ctrl-C on the terminal reaches the whole process
    # group, and a worker must finish (or be told to drop) the file it is writing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    _WORKER = Worker(config)
    with contextlib.suppress(Exception):  # load the voice now, on every worker at once
        _WORKER.synthesizer(warm_voice, warm_lang)


def _run(job: Job) -> Outcome:
    assert _WORKER is not None
    return _WORKER.run(job)


def run_local(
    jobs: list[Job], config: WorkerConfig, workers: int, stop: StopFlag, warm: tuple[str, str | None]
) -> Iterator[Outcome]:
    """Outcomes as jobs finish (not in input order). With one worker, runs in this process."""
    if workers <= 1:
        worker = Worker(config)
        for job in jobs:
            if stop.soft.is_set():
                return
            yield worker.run(job, on_chunk=stop.check_hard)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold ORT threads
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init, initargs=(config, *warm))
    pending: set[Future[Outcome]] = set()
    queue = iter(jobs)
    try:
        while True:
            while not stop.soft.is_set() and len(pending) < 2 * workers:
                job = next(queue, None)
                if job is None:
                    break
                pending.add(pool.submit(_run, job))
            if not pending:
                return
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            stop.check_hard()
            if stop.soft.is_set():  # jobs not yet handed to a worker are dropped, not waited for
                pending = {f for f in pending if not f.cancel()}
            for future in done:
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise ModelError(
                        "a worker process died (out of memory, or killed): run the same command again "
                        "to resume, with fewer --workers if memory is short."
                    ) from None
    except BaseException:
        _kill(pool)
        raise
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop now: the workers' files in flight stay temporary files, removed at the next start."""
    processes = getattr(pool, "_processes", None) or {}  # no public way to kill a pool's workers
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.kill()
