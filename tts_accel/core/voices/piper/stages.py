"""The two stages of a split Piper voice, and the exact windowed acoustic stream.

    ids --TextStage.run--> z_p (C, F), frames_per_id (T,)
    z_p --AcousticStage.stream(schedule)--> audio pieces, in order, that concatenate to the
          samples of a whole-sentence run (max |diff| <= 1e-4 required; <= 4e-5 measured, float
          rounding) with exactly the same length

The acoustic stage runs two graphs over two window sequences: the flow (32 frames of context
each side for joe), on ONNX Runtime fp32, fills ``z`` just ahead of the decoder (11 each side),
which runs on a ``DecoderEngine`` (``acoustic.py``). Keeping them apart pays the flow's wide
field at the flow's price (0.12 ms per frame against the decoder's 0.65, 1 thread on the dev
VM): ~34 decoder-frame equivalents of overlap per seam instead of ~100 with one flow+decoder
graph, which measured 1.20x a whole run against 1.06x (docs/streaming.md).

Neither stage phonemizes or writes files; ``run`` of every session is thread-safe, so the text
stage of one sentence and the windows of another may run at once on two threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tts_accel.core.acoustic.engine import WindowCall
from tts_accel.core.acoustic.receptive import from_session
from tts_accel.core.acoustic.windows import Margins, Schedule, Window, WindowPlan, windows
from tts_accel.core.cancel import Cancel, carry
from tts_accel.core.errors import ModelError
from tts_accel.core.onnx.sessions import run, stage_session
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.piper.split import FRAMES_PER_ID, TEXT_INPUTS, Z_P, Z  # the split graphs' tensor names

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.acoustic.engine import DecoderEngine
    from tts_accel.core.plan.model import ExecutionPlan



@dataclass(frozen=True)
class TextOutput:
    """What the text stage gives the acoustic stage (and word timing)."""

    z_p: np.ndarray  # (C, F) float32: prior latent, both noise draws included
    frames_per_id: np.ndarray  # (T,) int64: latent frames of each id; sums to F

    @property
    def frames(self) -> int:
        return int(self.z_p.shape[1])


def scales(params: SynthParams) -> np.ndarray:
    assert params.noise_scale is not None and params.noise_w is not None, "resolve params first"
    return np.array([params.noise_scale, params.length_scale, params.noise_w], dtype=np.float32)


class TextStage:
    """Encoder, duration predictor, alignment and both noise draws, on a whole sentence.

    Quadratic in ids (attention); the split runs its relative-position attention in band form
    (``banded_attention.py``): 54 ms at 377 ids, 117 ms at 719 on one thread of the dev VM, against 70 and
    175 ms for the exporter's graph (docs/streaming.md). It is the floor of first audio for long
    sentences, so a second session with ``alone_threads`` intra-op threads runs it when nothing
    else runs (a stream's first sentence): 39 and 78 ms with 2 threads."""

    def __init__(self, graph: Path, plan: ExecutionPlan, session=None, alone_threads: int = 0) -> None:  # type: ignore[no-untyped-def]
        self.graph = Path(graph)
        self.plan = plan
        self.alone_threads = alone_threads
        self.alone = self._alone_session() if alone_threads > 1 and session is None else None
        self._lock = threading.Lock()
        # With an alone session, the plan's own is built when first used: one sentence (the
        # commonest call) runs alone and never needs it, and each text session costs about
        # 0.1 s of start-up (docs/benchmarks.md, start-up).
        self._session = session if session is not None or self.alone is not None else stage_session(self.graph, plan)

    @property
    def session(self):  # type: ignore[no-untyped-def]
        """The session on the plan's intra-op threads (built on first use when there is an alone one)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = stage_session(self.graph, self.plan)
        return self._session

    @session.setter
    def session(self, value) -> None:  # type: ignore[no-untyped-def]
        self._session = value

    def _alone_session(self):  # type: ignore[no-untyped-def]
        """The same graph on ``alone_threads`` intra-op threads that spin between nodes (ORT's
        default): a run alone is first audio's floor, and a thread woken per node of the
        encoder's 1790 cost an 86-word sentence's first audio about 20 ms more (0.17x against
        0.14x sequential's, docs/streaming.md). The spin is short after a run ends."""
        from dataclasses import replace

        plan = replace(self.plan, intra_op_threads=self.alone_threads)
        return stage_session(self.graph, plan, lambda so: so.add_session_config_entry(
            "session.intra_op.allow_spinning", "1"))  # fmt: skip

    def run(self, ids: np.ndarray, scales: Sequence[float] | np.ndarray, alone: bool = False) -> TextOutput:
        """``ids`` (T,) int64; ``scales`` = (noise_scale, length_scale, noise_w); ``alone``:
        nothing else runs, so the multi-threaded session may take every core."""
        ids = np.asarray(ids, dtype=np.int64)
        feeds = {
            TEXT_INPUTS[0]: ids[np.newaxis, :],
            TEXT_INPUTS[1]: np.array([ids.shape[0]], dtype=np.int64),
            TEXT_INPUTS[2]: np.asarray(scales, dtype=np.float32),
        }
        session = self.alone if alone and self.alone is not None else self.session
        failed = f"the text stage failed on {ids.shape[0]} ids"
        z_p, frames = run(session, [Z_P, FRAMES_PER_ID], feeds, failed)  # (1, C, F), (1, 1, T)
        return TextOutput(z_p[0], np.rint(frames.reshape(-1)).astype(np.int64))

    def reload(self) -> None:
        """New sessions: ORT seeds its random kernels when a session is created (``reseed``)."""
        if self.alone is not None:
            self.alone = self._alone_session()
            self._session = None  # built fresh on first use
        else:
            self._session = stage_session(self.graph, self.plan)


class AcousticStage:
    """Flow (ORT fp32) and decoder (a DecoderEngine) over windows of latent frames."""

    def __init__(self, flow: Path, decoder: DecoderEngine, plan: ExecutionPlan, session=None) -> None:  # type: ignore[no-untyped-def]
        self.flow = session if session is not None else stage_session(Path(flow), plan)
        self.flow_margins, _ = from_session(self.flow, flow)
        self.decoder = decoder
        self.decoder_margins = decoder.margins
        self.hop = decoder.hop
        #: fixed-shape engines get windows from the schedule's fixed set of context lengths
        self.fixed = decoder.shapes is not None

    def schedule(self, first: int, step: int, ramp: tuple[int, ...] = (), whole_up_to: int = 0,
                 bucket: int = 0) -> Schedule:  # fmt: skip
        """A decoder schedule with the derived margins."""
        return Schedule(first, step, self.decoder_margins, ramp, whole_up_to, bucket)

    def schedules(self, plan: WindowPlan) -> tuple[Schedule, Schedule]:
        """(opening, steady) of ``plan`` with this stage's margins (and bucket, when fixed)."""
        return plan.schedules(self.decoder_margins, self.fixed)

    def flow_schedule(self, schedule: Schedule, flow_step: int | None = None) -> Schedule:
        """Flow windows that stay ahead of ``schedule``'s: the first flow core ends where the
        first decoder context ends; later flow windows take ``flow_step`` frames (default: the
        decoder's step and ramp), computed when the decoder first needs one of their frames."""
        right = schedule.margins.right
        whole = schedule.whole_up_to + right if schedule.whole_up_to else 0
        flow = Schedule(schedule.first + right, schedule.step, self.flow_margins, schedule.ramp, whole)
        return flow if flow_step is None else Schedule(flow.first, flow_step, flow.margins, (), whole)

    # -- one window -------------------------------------------------------------------------------
    def flow_window(self, z_p: np.ndarray, window: Window) -> np.ndarray:
        """z (C, core) for ``window``'s core frames, from z_p (C, F)."""
        ctx = np.ascontiguousarray(z_p[np.newaxis, :, window.ctx_start : window.ctx_stop])  # (1, C, W)
        z = run(self.flow, [Z], {Z_P: ctx}, f"the flow failed on a window of {ctx.shape[-1]} frames")[0]  # (1, C, W)
        return z[0, :, window.skip : window.skip + window.core]

    def run_window(self, z: np.ndarray, window: Window) -> np.ndarray:
        """Samples (core * hop,) of ``window``'s core frames, from the decoder latent z (C, F)."""
        return self.core(self.decoder.run(z[:, window.ctx_start : window.ctx_stop]), window)  # (W * hop,) in

    def core(self, audio: np.ndarray, window: Window) -> np.ndarray:
        """The core's samples of a window's context samples (W * hop,)."""
        return audio[window.skip * self.hop : (window.skip + window.core) * self.hop]

    # -- a sentence -------------------------------------------------------------------------------
    def run_whole(self, z_p: np.ndarray) -> np.ndarray:
        """The reference: flow and decoder each in one run over the whole sentence."""
        whole = Window(0, z_p.shape[1], 0, z_p.shape[1])
        return self.run_window(self.flow_window(z_p, whole), whole)

    def windows(self, n_frames: int, schedule: Schedule) -> list[Window]:
        return windows(n_frames, schedule, self.fixed)

    def stream(
        self,
        z_p: np.ndarray,
        schedule: Schedule,
        flow_step: int | None = None,
        cancel: Cancel | threading.Event | None = None,
        spare: Callable[[], bool] | None = None,
    ) -> Iterator[np.ndarray]:
        """Audio of z_p (C, F), window by window; the pieces concatenate to ``run_whole(z_p)``
        (float rounding). Stops early when ``cancel`` is set. ``schedule.margins`` inside the
        derived receptive field would not be exact: refused.

        ``spare``: asked before each window whether a core of the plan is idle (the scheduler has
        no other chunk to run: a lone sentence, or the text's last). While it says yes, this
        window and the next run at once on two helper threads, so a single long sentence uses
        both cores (two windows in flight at most: memory stays bounded). Each window then takes its flow over its
        own context plus the flow's margins, which reads only z_p: any two windows are
        independent, and exact by the receptive field."""
        if spare is not None:
            self._check(schedule)
            yield from self._stream_apart(z_p, self.windows(z_p.shape[1], schedule), cancel, spare)
            return
        for step in self.calls(z_p, schedule, flow_step, cancel):
            if isinstance(step, WindowCall):
                step.audio = self.decoder.run(step.z_ctx)
            else:
                yield step

    def calls(
        self, z_p: np.ndarray, schedule: Schedule, flow_step: int | None = None,
        cancel: Cancel | threading.Event | None = None,
    ) -> Iterator[WindowCall | np.ndarray]:
        """``stream`` with each decoder run handed to the caller: per window, a ``WindowCall`` (the
        flow has run; the caller runs the decoder, alone or batched with other requests' calls:
        ``acoustic.engine.run_calls``), then, on the next step, that window's core samples."""
        self._check(schedule)
        n = z_p.shape[1]
        z = np.empty_like(z_p)  # (C, F): filled by the flow just ahead of the decoder
        flow_windows = iter(windows(n, self.flow_schedule(schedule, flow_step), fixed=False))
        ready = 0
        for window in self.windows(n, schedule):
            if cancel is not None and cancel.is_set():
                return
            while ready < window.ctx_stop:
                fw = next(flow_windows)
                z[:, fw.core_start : fw.core_stop] = self.flow_window(z_p, fw)
                ready = fw.core_stop
            call = WindowCall(self.decoder, z[:, window.ctx_start : window.ctx_stop])
            yield call
            if call.audio is None:
                raise ModelError("a window's decoder call was not run before its samples were asked for")
            yield self.core(call.audio, window)

    def _check(self, schedule: Schedule) -> None:
        field = self.decoder_margins
        if schedule.margins.left < field.left or schedule.margins.right < field.right:
            raise ValueError(f"margins {schedule.margins} are inside the decoder's field {field}")

    def window_apart(self, z_p: np.ndarray, window: Window) -> np.ndarray:
        """One window's samples from z_p alone: the flow over its context widened by the flow's
        margins (clipped at the sentence's edges), then the decoder."""
        m, n = self.flow_margins, z_p.shape[1]
        start, stop = max(0, window.ctx_start - m.left), min(n, window.ctx_stop + m.right)
        flow = Window(window.ctx_start, window.ctx_stop, start, stop)  # its core: the decoder's context
        z_ctx = self.flow_window(z_p, flow)  # (C, ctx) of the decoder window's context
        return self.core(self.decoder.run(z_ctx), window)

    def _stream_apart(
        self,
        z_p: np.ndarray,
        plan: list[Window],
        cancel: Cancel | threading.Event | None,
        spare: Callable[[], bool],
    ) -> Iterator[np.ndarray]:
        from concurrent.futures import Future, ThreadPoolExecutor

        helpers: ThreadPoolExecutor | None = None
        ahead: dict[int, Future[np.ndarray]] = {}
        submitted = 0  # windows handed to the helpers so far (in order)
        try:
            for k, window in enumerate(plan):
                if cancel is not None and cancel.is_set():
                    return
                if spare():  # two windows in flight, on two helper threads, while this one waits
                    helpers = helpers or ThreadPoolExecutor(max_workers=2, thread_name_prefix="tts-window")
                    submitted = max(submitted, k)
                    while submitted < min(k + 2, len(plan)):
                        # under this thread's cancellation (a cancel aborts their runs too)
                        ahead[submitted] = helpers.submit(carry(self.window_apart), z_p, plan[submitted])
                        submitted += 1
                done = ahead.pop(k, None)
                yield done.result() if done is not None else self.window_apart(z_p, window)
        finally:
            if helpers is not None:
                helpers.shutdown(wait=True, cancel_futures=True)  # at most two windows still running


class PiperStages:
    """Both stages of one split voice with its window plan: what the scheduler streams through
    (``voices.base.TwoStage``). Thread-safe: one session per graph, shared."""

    def __init__(self, text: TextStage, acoustic: AcousticStage, plan: WindowPlan) -> None:
        self.text = text
        self.acoustic = acoustic
        self.window_plan = plan
        self.opening, self.steady = acoustic.schedules(plan)
        self.hop = acoustic.hop

    @property
    def margins(self) -> tuple[Margins, Margins]:
        """(flow, decoder) receptive fields, frames each side."""
        return self.acoustic.flow_margins, self.acoustic.decoder_margins

    def text_stage(self, ids: np.ndarray, params: SynthParams, alone: bool = False) -> TextOutput:
        return self.text.run(ids, scales(params), alone)

    def acoustic_stage(
        self,
        text: TextOutput,
        opening: bool,
        cancel: Cancel | threading.Event | None = None,
        spare: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[np.ndarray, bool]]:
        """(samples, last) per window of ``text``'s latent, in order: the ``opening`` schedule
        for a stream's first sentence (small first window), else the steady one; ``spare``: see
        ``AcousticStage.stream``."""
        schedule = self.opening if opening else self.steady
        count = len(self.acoustic.windows(text.frames, schedule))
        for k, audio in enumerate(self.acoustic.stream(text.z_p, schedule, cancel=cancel, spare=spare)):
            yield audio, k == count - 1

    def acoustic_calls(self, text: TextOutput, opening: bool) -> Iterator[WindowCall | tuple[np.ndarray, bool]]:
        """``acoustic_stage`` with each window's decoder run handed out: a ``WindowCall``, then
        (samples, last) once the caller has run it (``AcousticStage.calls``)."""
        schedule = self.opening if opening else self.steady
        count = len(self.acoustic.windows(text.frames, schedule))
        k = 0
        for step in self.acoustic.calls(text.z_p, schedule):
            if isinstance(step, WindowCall):
                yield step
            else:
                k += 1
                yield step, k == count

    def acoustic_whole(self, text: TextOutput) -> np.ndarray:
        return self.acoustic.run_whole(text.z_p)

    def whole(self, ids: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray]:
        """(audio, frames per id) of one chunk, windows joined (what ``Backend.infer`` gives)."""
        text = self.text_stage(ids, params)
        audio = [a for a, _ in self.acoustic_stage(text, opening=False)]
        return np.concatenate(audio) if audio else np.zeros(0, np.float32), text.frames_per_id
