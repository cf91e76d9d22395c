"""ONNX Runtime fp32 until a faster engine is ready, then that engine, window by window."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tts_accel.core.acoustic.engine import DecoderEngine


class HandoffEngine:
    """``first`` (ONNX Runtime fp32) runs windows while ``load()`` builds the faster engine on a
    thread; every window after that runs on it. First audio stays ORT's and the faster engine's
    start-up (torch's import, loading compiled shapes) overlaps synthesis.

    The thread is not a daemon: a process exiting mid-import of torch can abort. ``run`` never
    waits for it. Both engines are the same voice (the gate), and a join between an fp32 window
    and a bf16 one is no different from a join between two bf16 windows. An error while loading
    keeps ORT (``on_error`` is told); with ``raise_errors`` the next ``run`` raises it instead
    (an engine the user asked for must not silently be another)."""

    def __init__(
        self,
        first: DecoderEngine,
        load: Callable[[], Any],
        *,
        shapes: tuple[int, ...] | None,
        on_error: Callable[[BaseException], None] | None = None,
        raise_errors: bool = False,
    ) -> None:
        self.first, self.hop, self.margins = first, first.hop, first.margins
        self.shapes = shapes  # the windows must fit the engine handed over to
        self.handed_over_at: int | None = None  # windows run before the handoff (None: not yet)
        self._next: Any = None
        self._error: BaseException | None = None
        self._raise = raise_errors
        self._on_error = on_error
        self._windows = 0
        self._thread = threading.Thread(target=self._load, args=(load,), name="tts-acoustic-load")
        self._thread.start()

    def _load(self, load: Callable[[], Any]) -> None:
        try:
            self._next = load()
        except BaseException as err:  # reported on the thread that runs windows
            self._error = err
            if self._on_error is not None:
                self._on_error(err)

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        if self._error is not None and self._raise:
            raise self._error
        engine = self._next
        if engine is None:
            self._windows += 1
            return self.first.run(z_ctx)
        if self.handed_over_at is None:
            self.handed_over_at = self._windows
        return engine.run(z_ctx)  # type: ignore[no-any-return]

    def wait(self) -> Any:
        """Block until the loading is done; the engine handed over to (None if it failed)."""
        self._thread.join()
        return self._next
