"""ONNX Runtime fp32 until a faster engine is ready, then that engine, shape by shape."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tts_accel.core.acoustic.engine import DecoderEngine, padded


class HandoffEngine:
    """``first`` (ONNX Runtime fp32) runs windows while ``load()`` builds the faster engine on a
    thread; every window after that runs on it. First audio stays ORT's and the faster engine's
    start-up (torch's import, loading compiled shapes) overlaps synthesis.

    A compiled engine (``shapes``, and a ``warm(length)`` method) is handed over one shape at a
    time: ``load()`` returns it with its packages loaded, then the thread calls each shape once
    (the first call of a shape builds oneDNN's kernels, 10-18x a steady call, and more the wider
    the window: docs/acoustic.md), and a window whose shape is warm runs on the faster engine
    while the others still run on ORT. The next shape warmed is the one whose windows ORT has run
    the most frames of meanwhile (``_most_wanted``): a long text's steady windows, or, in `tts
    batch`, where every row opens a stream, the short opening shapes; before any window, the
    longest. Handing over only when every shape was warm kept a whole text on ORT for the
    ~2.4 CPU-s those first calls cost on the Xeon AMX VM.

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
        self.shapes = tuple(sorted(shapes)) if shapes else None  # the windows must fit the engine handed over to
        self.handed_over_at: int | None = None  # windows run before the first on the faster engine (None: not yet)
        self._next: Any = None
        #: shapes the faster engine may run now (None: every window, once it is loaded)
        self._warm: frozenset[int] | None = None
        #: frames ORT ran per shape while that shape was cold: what is warmed next
        self._wanted: dict[int, int] = {}
        self._error: BaseException | None = None
        self._raise = raise_errors
        self._on_error = on_error
        self._windows = 0
        self._thread = threading.Thread(target=self._load, args=(load,), name="tts-acoustic-load")
        self._thread.start()

    def _load(self, load: Callable[[], Any]) -> None:
        try:
            engine = load()
            warm = getattr(engine, "warm", None)
            if self.shapes is None or warm is None:
                self._next = engine
                return
            self._warm = frozenset()
            self._next = engine
            while len(self._warm) < len(self.shapes):
                length = self._most_wanted()
                warm(length)
                self._warm = self._warm | {length}
        except BaseException as err:  # reported on the thread that runs windows
            self._error = err
            if self._on_error is not None:
                self._on_error(err)

    def _most_wanted(self) -> int:
        """The cold shape whose windows ORT has run the most frames of so far (the longest on a
        tie, or before any window came: the steady windows' shape)."""
        cold = [s for s in self.shapes or () if s not in (self._warm or ())]
        return max(cold, key=lambda s: (self._wanted.get(s, 0), s))

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        if self._error is not None and self._raise:
            raise self._error
        engine, warm = self._next, self._warm
        # the compiled shape this window runs at (past the longest: its own length, never warm)
        shape = None if self.shapes is None else padded(self, int(np.shape(z_ctx)[-1]))
        if engine is None or self._error is not None or (warm is not None and shape not in warm):
            self._windows += 1
            if shape is not None:
                self._wanted[shape] = self._wanted.get(shape, 0) + shape
            return self.first.run(z_ctx)
        if self.handed_over_at is None:
            self.handed_over_at = self._windows
        return engine.run(z_ctx)  # type: ignore[no-any-return]

    def finish(self) -> None:
        """``wait``, then raise the loading's error where the engine was asked for (``raise_errors``):
        a run too short to meet it in ``run`` still fails when its compile did."""
        self.wait()
        if self._error is not None and self._raise:
            raise self._error

    def wait(self) -> Any:
        """Block until the loading (and every shape's first call) is done; the engine handed
        over to (None if it failed)."""
        self._thread.join()
        return None if self._error is not None else self._next
