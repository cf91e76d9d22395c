"""The serve scheduler's policy, with fake requests: generators whose units record when they ran."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.utils import FakeBatchEngine
from tts_accel.core.acoustic.engine import WindowCall
from tts_accel.core.errors import Busy, Cancelled
from tts_accel.core.serve.scheduler import END, Scheduler


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake(name: str, n_windows: int, log: list[str], gate: threading.Event | None = None, seconds: float = 1.0):
    """A request: a text stage (no audio), then ``n_windows`` windows of ``seconds`` audio each."""
    if gate is not None:
        gate.wait(5)
    log.append(f"{name}.text")
    yield None
    for k in range(n_windows):
        log.append(f"{name}.{k}")
        yield (name, k, seconds)


def seconds(item) -> float:
    return item[2]


def drain(job) -> list:
    items = []
    while (item := job.get(timeout=5)) is not END:
        items.append(item)
    return items


@pytest.fixture
def one_worker():
    sched = Scheduler(workers=1, max_queue=8, capacity=100)
    yield sched
    sched.stop()


def test_every_unit_runs_once_and_items_come_in_order(one_worker):
    log: list[str] = []
    job = one_worker.submit(fake("a", 5, log), seconds)
    assert [k for _, k, _ in drain(job)] == [0, 1, 2, 3, 4]
    assert log == ["a.text", "a.0", "a.1", "a.2", "a.3", "a.4"]
    assert job.units_run == 7  # text, five windows, and the unit that found the end


def test_a_new_request_gets_its_first_audio_before_later_windows_of_a_running_one(one_worker):
    log: list[str] = []
    gate = threading.Event()

    def long():  # a stream that has audio out, its worker busy on its second window
        yield from fake("a", 1, log)
        gate.wait(5)
        for k in range(1, 6):
            log.append(f"a.{k}")
            yield ("a", k, 1.0)

    a = one_worker.submit(long(), seconds)
    assert a.get(timeout=5)[1] == 0
    b = one_worker.submit(fake("b", 2, log), seconds)
    gate.set()
    drain(a), drain(b)
    # a's window 1 was running; b (no audio yet) goes before any later window of a
    assert log[:5] == ["a.text", "a.0", "a.1", "b.text", "b.0"]
    assert sorted(log) == sorted(["a.text", *(f"a.{k}" for k in range(6)), "b.text", "b.0", "b.1"])


def test_requests_without_audio_go_oldest_first(one_worker):
    log: list[str] = []
    gate = threading.Event()
    a = one_worker.submit(fake("a", 2, log, gate), seconds)
    b = one_worker.submit(fake("b", 2, log), seconds)
    c = one_worker.submit(fake("c", 2, log), seconds)
    gate.set()
    drain(a), drain(b), drain(c)
    assert log[:6] == ["a.text", "a.0", "b.text", "b.0", "c.text", "c.0"]


def test_after_first_audio_the_stream_with_least_buffered_goes_next():
    clock = Clock()
    sched = Scheduler(workers=1, max_queue=8, capacity=100, clock=clock)
    try:
        log: list[str] = []
        gate = threading.Event()
        # a: long windows (3 s of audio each); b: short windows (0.5 s each)
        a = sched.submit(fake("a", 4, log, gate, seconds=3.0), seconds)
        b = sched.submit(fake("b", 4, log, seconds=0.5), seconds)
        gate.set()
        drain(a), drain(b)
        # first audio of both first; then b (0.5 s ahead) runs until it has more buffered than a (3 s)
        assert log[:4] == ["a.text", "a.0", "b.text", "b.0"]
        assert log[4:7] == ["b.1", "b.2", "b.3"]
        assert log[7:] == ["a.1", "a.2", "a.3"]
    finally:
        sched.stop()


def test_playback_time_drains_the_buffer_and_changes_the_order():
    clock = Clock()
    sched = Scheduler(workers=1, max_queue=8, capacity=100, clock=clock)
    try:
        gate = threading.Event()
        log: list[str] = []
        a = sched.submit(fake("a", 1, log, gate, seconds=10.0), seconds)
        gate.set()
        assert a.get(timeout=5)[1] == 0
        # 10 s of audio at t=0; at t=4 six seconds are still ahead of a listener
        clock.now = 4.0
        assert a.ahead(clock()) == pytest.approx(6.0)
        clock.now = 12.0
        assert a.ahead(clock()) == pytest.approx(-2.0)  # an underrun: it would go first among the started
    finally:
        sched.stop()


def test_a_full_queue_refuses_and_capacity_comes_back_when_a_request_ends():
    sched = Scheduler(workers=1, max_queue=2, capacity=100)
    try:
        gate = threading.Event()
        log: list[str] = []
        a = sched.submit(fake("a", 1, log, gate), seconds)
        b = sched.submit(fake("b", 1, log), seconds)
        with pytest.raises(Busy, match="queue is full"):
            sched.submit(fake("c", 1, log), seconds)
        sched.cancel(a)
        gate.set()
        assert len(drain(b)) == 1
        assert sched.wait_idle(5)
        c = sched.submit(fake("c", 1, log), seconds)  # a's place is free again
        assert [k for _, k, _ in drain(c)] == [0]
    finally:
        sched.stop()


def test_cancel_drops_the_pending_units_and_the_running_one_is_the_last(one_worker):
    log: list[str] = []
    gate = threading.Event()
    started = threading.Event()

    def units():
        started.set()
        yield from fake("a", 50, log, gate)

    job = one_worker.submit(units(), seconds)
    assert started.wait(5)
    one_worker.cancel(job)  # while its first unit runs
    gate.set()
    assert one_worker.wait_idle(5)
    assert log == ["a.text"]
    with pytest.raises(Cancelled):
        job.get(timeout=1)
    assert one_worker.depth() == 0


def test_a_slow_reader_holds_its_own_request_at_the_buffer_capacity():
    sched = Scheduler(workers=1, max_queue=4, capacity=2)
    try:
        log: list[str] = []
        slow = sched.submit(fake("slow", 20, log), seconds)
        other = sched.submit(fake("other", 3, log), seconds)
        assert len(drain(other)) == 3  # not stuck behind the slow reader
        assert sum(1 for e in log if e.startswith("slow.") and e != "slow.text") == 2  # two windows, no more
        assert len(drain(slow)) == 20
    finally:
        sched.stop()


def test_an_error_in_a_unit_reaches_the_consumer_after_the_audio_before_it(one_worker):
    def failing():
        yield ("x", 0, 1.0)
        raise ValueError("model failed")

    job = one_worker.submit(failing(), seconds)
    assert job.get(timeout=5)[1] == 0
    with pytest.raises(ValueError, match="model failed"):
        job.get(timeout=5)
    assert one_worker.depth() == 0


def test_stop_refuses_new_requests_and_lets_admitted_ones_finish():
    sched = Scheduler(workers=2, max_queue=4, capacity=100)
    log: list[str] = []
    job = sched.submit(fake("a", 3, log), seconds)
    sched.stop(timeout=5)
    with pytest.raises(Busy, match="shutting down"):
        sched.submit(fake("b", 1, log), seconds)
    assert len(drain(job)) == 3


def test_async_consumer_gets_the_same_items(one_worker):
    import asyncio

    async def read(job):
        items = []
        while (item := await job.aget()) is not END:
            items.append(item)
        return items

    log: list[str] = []
    job = one_worker.submit(fake("a", 4, log), seconds)
    assert [k for _, k, _ in asyncio.run(read(job))] == [0, 1, 2, 3]


# --- windows of equal shape across requests (max_batch) -----------------------------------------


class Piece:
    """A window's audio as a fake request hands it out; ``more``: its next unit is a window's flow."""

    def __init__(self, name: str, k: int, audio, more: bool) -> None:  # type: ignore[no-untyped-def]
        self.name, self.k, self.audio, self.more = name, k, audio, more


def windowed(name: str, widths: list[int], engine, log: list[str], gate: threading.Event | None = None):  # type: ignore[no-untyped-def]
    """A request: a text stage, then per window a decoder call (``widths[k]`` frames) and its piece."""
    if gate is not None:
        gate.wait(5)
    yield None
    for k, width in enumerate(widths):
        call = WindowCall(engine, np.full((2, width), float(k), np.float32))
        log.append(f"{name}.flow{k}")
        yield call
        log.append(f"{name}.{k}")
        yield Piece(name, k, call.audio, more=k < len(widths) - 1)


def piece_seconds(item) -> float:  # type: ignore[no-untyped-def]
    return 1.0


def batched_run(max_batch: int, widths: dict[str, list[int]]):  # type: ignore[no-untyped-def]
    """One worker (frozen clock): a gated request holds it while the others are admitted; then
    every request is drained. (engine, scheduler, {name: pieces}, log)."""
    engine, log = FakeBatchEngine(), []
    sched = Scheduler(workers=1, max_queue=8, capacity=100, clock=Clock(), max_batch=max_batch)
    gate = threading.Event()
    blocker = sched.submit(fake("gate", 0, [], gate), seconds)
    jobs = {name: sched.submit(windowed(name, w, engine, log), piece_seconds) for name, w in widths.items()}
    gate.set()
    try:
        drain(blocker)
        return engine, sched, {name: drain(job) for name, job in jobs.items()}, log
    finally:
        sched.stop()


def test_equal_shapes_of_different_requests_run_as_one_call():
    engine, sched, out, log = batched_run(4, {"a": [10, 10, 10], "b": [10, 10, 10], "c": [10, 10, 10]})
    # each first window alone (no other request had audio yet, none waited at a call), then the
    # later windows of all three in one call each
    assert engine.sizes == [1, 1, 1, 3, 3]
    assert sched.batches == 2 and sched.batched_windows == 6
    for name, pieces in out.items():  # every piece is its own window's samples, in order
        assert [(p.name, p.k) for p in pieces] == [(name, 0), (name, 1), (name, 2)]
        assert all(np.array_equal(p.audio, np.full(10, 2.0 * p.k, np.float32)) for p in pieces)


def test_unequal_shapes_are_not_gathered_and_max_batch_bounds_a_call():
    engine, _, out, _ = batched_run(2, {"a": [10, 10], "b": [10, 10], "c": [10, 10], "d": [10, 20]})
    # first windows alone; then a, b, c wait at 10-frame calls and d at a 20-frame one: a and b in
    # one call (max_batch 2), c alone, d alone
    assert engine.sizes == [1, 1, 1, 1, 2, 1, 1]
    assert [p.audio.shape for p in out["d"]] == [(10,), (20,)]
    engine, _, _, _ = batched_run(4, {"a": [10, 30], "b": [10, 20]})
    assert engine.sizes == [1, 1, 1, 1]  # second windows of 30 and 20 frames: two calls


def test_a_first_audio_call_is_not_joined_by_later_windows():
    engine, _, _, log = batched_run(4, {"a": [10, 10, 10], "b": [10, 10, 10]})
    # when b's first window ran, a already waited at its second call of the same shape: b ran alone
    assert log.index("b.flow0") > log.index("a.flow1") and engine.sizes[:2] == [1, 1]
    assert log.index("b.0") < log.index("a.1")  # and a's second window did not go first either


def test_max_batch_1_runs_every_call_alone_in_the_old_order():
    engine, sched, out, log = batched_run(1, {"a": [10, 10], "b": [10, 10]})
    assert engine.sizes == [1, 1, 1, 1] and sched.batches == 0
    # no look-ahead to the next call: a's windows, its first audio, then b's, as before batching
    assert log == ["a.flow0", "a.0", "b.flow0", "b.0", "a.flow1", "a.1", "b.flow1", "b.1"]
