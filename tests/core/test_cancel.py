"""A run's cancellation token: set once, checked, inherited by children, aborting what registered
while in flight, and carried to the threads the run starts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tts_accel.core.cancel import Cancel, carry, current
from tts_accel.core.errors import Cancelled, Terminated


def terminated() -> Terminated:
    return Terminated("terminated (SIGTERM)")


def test_check_raises_the_reason_given_to_the_first_cancel() -> None:
    token = Cancel()
    token.check()  # not set: nothing happens
    token.cancel(terminated)
    token.cancel(lambda: Cancelled("a later reason"))
    assert token.is_set()
    with pytest.raises(Terminated, match="SIGTERM"):
        token.check()


def test_a_cancel_without_a_reason_is_cancelled() -> None:
    token = Cancel()
    token.set()  # threading.Event's name
    with pytest.raises(Cancelled):
        token.check()


def test_a_child_is_cancelled_with_its_parent_and_alone_by_itself() -> None:
    parent = Cancel()
    one, two = parent.child(), parent.child()
    one.cancel()
    assert one.is_set() and not parent.is_set() and not two.is_set()
    parent.cancel(terminated)
    assert two.is_set()
    with pytest.raises(Terminated):
        two.check()  # the parent's reason
    with pytest.raises(Cancelled):
        one.check()  # its own, from before


def test_a_cancel_calls_the_aborts_registered_in_it_and_its_children() -> None:
    parent = Cancel()
    child = parent.child()
    aborted: list[str] = []
    with child.aborting(lambda: aborted.append("child's run")):
        assert parent.in_flight() == child.in_flight() == 1
        parent.cancel(terminated)
    assert aborted == ["child's run"]
    assert parent.in_flight() == child.in_flight() == 0  # unregistered on the way out


def test_cancelling_a_child_leaves_its_siblings_runs_alone() -> None:
    parent = Cancel()
    one, two = parent.child(), parent.child()
    aborted: list[str] = []
    with one.aborting(lambda: aborted.append("one")), two.aborting(lambda: aborted.append("two")):
        one.cancel()
    assert aborted == ["one"]


def test_nothing_starts_after_a_cancel() -> None:
    token = Cancel()
    token.cancel(terminated)
    started = []
    with pytest.raises(Terminated), token.aborting(lambda: None):
        started.append(True)
    assert started == [] and token.in_flight() == 0


def test_a_cancel_from_another_thread_reaches_a_registered_wait() -> None:
    """What a signal does to a run in flight, with an Event standing in for ONNX Runtime."""
    token = Cancel()
    stop = threading.Event()
    with token.aborting(stop.set):
        threading.Timer(0.05, token.cancel, args=(terminated,)).start()
        assert stop.wait(30)
    with pytest.raises(Terminated):
        token.check()


def test_the_token_is_carried_to_a_pool_thread_and_unbound_after() -> None:
    token = Cancel()
    assert current() is None
    with ThreadPoolExecutor(max_workers=1) as pool:
        with token.bound():
            assert current() is token
            carried = pool.submit(carry(current)).result()
            bare = pool.submit(current).result()  # a pool thread does not inherit the context
        assert carried is token and bare is None
        assert pool.submit(token.call, current).result() is token
    assert current() is None


def test_each_and_guard_check_before_every_item_and_call() -> None:
    token = Cancel()
    seen: list[int] = []
    measure = token.guard(len)
    with pytest.raises(Terminated):
        for item in token.each(range(10)):
            seen.append(measure("x" * item))
            if item == 2:
                token.cancel(terminated)
    assert seen == [0, 1, 2]
    with pytest.raises(Terminated):
        measure("more")
