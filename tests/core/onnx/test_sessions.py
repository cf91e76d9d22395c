"""``sessions.run``: a model run under a run's cancellation. A cancel aborts a real ONNX Runtime run
in flight and it raises the cancellation's error, never a ModelError; a real failure stays one."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tts_accel.core.cancel import Cancel
from tts_accel.core.errors import ModelError, Terminated
from tts_accel.core.onnx.sessions import run


def terminated() -> Terminated:
    return Terminated("terminated (SIGTERM)")


class Recording:
    """A session that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def run(self, *args: object) -> list[int]:
        self.calls.append(args)
        return [1]


def test_a_cancel_aborts_the_decoder_run_in_flight_as_the_cancellation(stages) -> None:  # type: ignore[no-untyped-def]
    decoder = stages.acoustic.decoder  # the real joe decoder on ONNX Runtime, one thread
    z = np.random.default_rng(0).standard_normal((192, 2000)).astype(np.float32)  # seconds of work
    token = Cancel()
    cancelled_in_flight = threading.Event()

    def cancel_once_running() -> None:
        deadline = time.monotonic() + 60
        while not token.in_flight() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.05)  # well inside the run
        if token.in_flight():
            cancelled_in_flight.set()
        token.cancel(terminated)

    threading.Thread(target=cancel_once_running, daemon=True).start()
    with token.bound(), pytest.raises(Terminated, match="SIGTERM"):  # a run that ends normally fails here
        decoder.run(z)
    assert cancelled_in_flight.is_set()
    assert token.in_flight() == 0


def test_a_failing_run_under_a_live_token_is_a_model_error(stages) -> None:  # type: ignore[no-untyped-def]
    with Cancel().bound(), pytest.raises(ModelError, match="the decoder failed on a window of 7 frames"):
        stages.acoustic.decoder.run(np.zeros((5, 7), dtype=np.float32))  # 5 channels, not 192


def test_a_run_after_the_cancel_never_reaches_the_session() -> None:
    session = Recording()
    token = Cancel()
    token.cancel(terminated)
    with token.bound(), pytest.raises(Terminated):
        run(session, ["out"], {"x": 1}, "the fake failed")
    assert session.calls == []


def test_without_a_token_the_run_is_the_sessions_own() -> None:
    session = Recording()
    assert run(session, ["out"], {"x": 1}, "the fake failed") == [1]
    assert session.calls == [(["out"], {"x": 1})]  # no run options
