"""A run's cancellation: one token that the run checks between pieces and that aborts the model
runs in flight.

A flag checked between chunks and windows leaves a signal waiting for whatever model run is in
flight (a decoder window took up to 1.2 s of a 2 MB text's run on the dev VM under load; the run
ended 0.45-1.09 s after SIGTERM). A ``Cancel`` also reaches into those runs: code that starts a
run it can abort (``onnx.sessions.run``: ONNX Runtime's ``RunOptions.terminate``, honoured between
nodes, about 10 ms on a decoder window) registers the abort for its duration with ``aborting``,
and ``cancel`` calls every abort registered.

The token a model call runs under is ambient (a context variable, as an ``asyncio`` task or a trio
cancel scope is): the scheduler runs each model call under the run's token on its worker threads
(``call``), and code that starts threads of its own hands the token on (``carry``: the stages'
window helpers), so the layers between the scheduler and ONNX Runtime (backends, stages, engines)
pass nothing along. Code that runs under no token runs as before. An abort is any callable: the
scheduler also registers one that wakes its wait for the next piece.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from tts_accel.core.errors import Cancelled

R = TypeVar("R")
T = TypeVar("T")

#: The token of the model calls of this thread (or task), when a run bound one.
_CURRENT: contextvars.ContextVar[Cancel | None] = contextvars.ContextVar("tts_accel_cancel", default=None)


def _cancelled() -> BaseException:
    return Cancelled("the run was cancelled.")


class Cancel:
    """Set once, never cleared. ``is_set`` and ``set`` read as a ``threading.Event``'s do, so code
    that only waits on a flag takes either.

    ``cancel(reason)`` may be called from any thread or from a signal handler: it takes no lock
    (a handler runs on the main thread between two bytecodes, perhaps inside ``aborting`` or
    another ``cancel``; the flag is a plain attribute, not an Event, whose ``set`` takes a lock).
    A registration that races a cancel is still aborted: the token is set before the aborts are
    read, and a registration reads the token after it is stored. ``reason`` makes the exception
    that code stopped by this token raises (``check``, an aborted run): ``Terminated`` for
    SIGTERM, say. A child (``child``) is cancelled with its parent, and alone by itself (a
    runner's work, when its consumer stops reading).
    """

    def __init__(self, parent: Cancel | None = None) -> None:
        self._set = False
        self._reason: Callable[[], BaseException] | None = None
        self._parent = parent
        self._aborts: dict[object, Callable[[], None]] = {}

    def child(self) -> Cancel:
        return Cancel(self)

    # -- state ------------------------------------------------------------------------------------
    def is_set(self) -> bool:
        return self._set or (self._parent is not None and self._parent.is_set())

    def cancel(self, reason: Callable[[], BaseException] | None = None) -> None:
        """Stop the run: later checks raise ``reason()``, and the runs in flight are aborted."""
        if not self._set:
            self._reason = self._reason or reason
            self._set = True  # before any abort: an aborted run finds the token set
        for abort in list(self._aborts.values()):  # a snapshot: runs register from other threads
            with contextlib.suppress(Exception):
                abort()

    def set(self) -> None:  # threading.Event's name
        self.cancel()

    def error(self) -> BaseException:
        """The exception for code stopped by this token (its own reason, else its parent's)."""
        if self._set or self._parent is None:
            return (self._reason or _cancelled)()
        return self._parent.error()

    def check(self) -> None:
        if self.is_set():
            raise self.error()

    def each(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, checking before each."""
        for item in items:
            self.check()
            yield item

    def guard(self, fn: Callable[..., R]) -> Callable[..., R]:
        """``fn``, checking before each call (a phonemizer call on a long text's pieces)."""

        def guarded(*args: Any, **kwargs: Any) -> R:
            self.check()
            return fn(*args, **kwargs)

        return guarded

    # -- runs in flight ---------------------------------------------------------------------------
    def in_flight(self) -> int:
        """How many runs (of this token and its children) are registered now."""
        return len(self._aborts)

    @contextlib.contextmanager
    def aborting(self, abort: Callable[[], None]) -> Iterator[None]:
        """While inside, ``cancel`` (of this token or an ancestor) calls ``abort()``. Raises the
        token's error at once when it is already set: nothing new starts after a cancel."""
        self.check()
        chain = self._chain()
        key = object()  # one registration, in every token of the chain
        for token in chain:
            token._aborts[key] = abort
        try:
            if self.is_set():  # cancelled between the check and the registration
                abort()
            yield
        finally:
            for token in chain:
                token._aborts.pop(key, None)

    def _chain(self) -> list[Cancel]:
        chain: list[Cancel] = []
        token: Cancel | None = self
        while token is not None:
            chain.append(token)
            token = token._parent
        return chain

    # -- the ambient token ------------------------------------------------------------------------
    @contextlib.contextmanager
    def bound(self) -> Iterator[Cancel]:
        """Model calls made inside (on this thread, and on threads started through ``carry``) run
        under this token."""
        reset = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(reset)

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(*args, **kwargs)`` under this token (what a worker thread runs)."""
        with self.bound():
            return fn(*args, **kwargs)


def current() -> Cancel | None:
    """The token the model calls of this thread run under, if any."""
    return _CURRENT.get()


def carry(fn: Callable[..., R]) -> Callable[..., R]:
    """``fn`` to run on another thread under the calling thread's token (the context is copied
    now, at hand-over; a thread pool's threads do not inherit it)."""
    token = current()
    if token is None:
        return fn
    return lambda *args, **kwargs: token.call(fn, *args, **kwargs)
