"""ONNX Runtime backend for Piper VITS voices: the whole graph, or its two stages for streaming.

Sessions are created once, on a loading thread, while the front-end starts on the caller's:

* whole chunks (every mode but a windowed pipelined plan): one session over a cached copy of the
  voice's graph that also outputs frame counts (``graph_cache.py``);
* windows (``plan.windows`` set, the pipelined mode): the voice's graph split at first use into
  text, flow and decoder graphs (``split.py``, cached by the model's sha256), three sessions, and
  the window-by-window stream of ``stages.py``. A graph that cannot be split falls back to whole
  chunks with a ``--verbose`` note, unless the windows were asked for by flag: then the
  ``GraphSplitError`` is the run's error, naming the fix.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np

from tts_accel.core.errors import GraphSplitError, ModelError, TTSError
from tts_accel.core.onnx.sessions import create_session, optimized_path, run
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.modes import spec
from tts_accel.core.voices.base import Backend, TwoStage
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.piper.config import HOP
from tts_accel.core.voices.piper.graph_cache import FRAMES_OUTPUT, LENGTHS_OUTPUT, derived_model
from tts_accel.core.voices.piper.stages import PiperStages

#: Piper's decoder upsamples each frame to 256 samples (8 * 8 * 2 * 2).
PAD_ID = 0  # "_" in every Piper phoneme_id_map


def _alone_threads(plan: ExecutionPlan) -> int:
    """Threads for a text stage that runs alone (a stream's first sentence): every core the
    plan's workers use, no more than this process may run on."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(plan.workers * max(1, plan.intra_op_threads), cores)


class PiperOnnxBackend(Backend):
    """Piper graph: input (B,T) int64, input_lengths (B,), scales [noise, length, noise_w].

    The whole-chunk session runs a cached copy of the graph that also outputs each item's frame
    count (``lengths``: padded batches are cut back exactly) and each id's frame count
    (``frames_per_id``: every mode reports durations); with ``plan.precision == "int8"`` its
    decoder convolutions are int8, calibrated on ``calibration()``: id sequences the voice made
    from real text. A windowed plan loads the split stages instead (module docstring).
    """

    def __init__(self, model_path: Path, sample_rate: int, plan: ExecutionPlan, session=None, calibration=None):  # type: ignore[no-untyped-def]
        self.model_path = Path(model_path)
        self.sample_rate = sample_rate
        self.plan = plan
        self._session = session
        self._stages: PiperStages | None = None
        self._notes: list[str] = []
        self._calibration = calibration
        self._loaded = threading.Event()
        self._load_error: BaseException | None = None
        self._supports_batch = False
        self._frames_output: int | None = None  # set from the session's outputs once it is loaded
        windows = plan.window_plan if spec(plan.mode).schedule == "pipelined" else None
        self.window_plan = windows
        if session is not None:
            self._loaded.set()
            self.graph_path: Path | None = self.model_path
            self._outputs(session)
            return
        self._wants_lengths = spec(plan.mode).batches or plan.batch_size > 1 or plan.precision != "fp32"
        self.graph_path = None
        if plan.precision != "fp32":  # the int8 copy is calibrated on phonemized text: this thread
            self.graph_path = derived_model(
                self.model_path, plan.precision, lengths=self._wants_lengths, calibration=calibration
            )
        # Create the sessions on a thread: ORT releases the GIL while it loads and optimizes, so
        # the front-end (phonemizer import, espeak start, first chunk) runs meanwhile on another
        # core. Whole-process time on the dev VM: see docs/benchmarks.md (start-up).
        # Everything the loading thread needs is imported here, on the caller's thread: a Ctrl-C
        # that lands while the main thread imports a module the loader also imports can leave
        # that module's import lock held, and the process hangs at exit (seen 1 run in 6).
        import onnxruntime  # noqa: F401

        from tts_accel.core.acoustic import factory  # noqa: F401
        from tts_accel.core.voices.piper import acoustic, split  # noqa: F401

        with contextlib.suppress(OSError):
            optimized_path(self.model_path, plan.graph_optimization)  # platformdirs, digest, machine key
        # Not a daemon: exiting while ORT is mid-load aborts the process ("terminate called ...").
        threading.Thread(target=self._load, name="tts-onnx-load").start()

    # -- loading ----------------------------------------------------------------------------------
    def _outputs(self, session) -> None:  # type: ignore[no-untyped-def]
        names = [o.name for o in session.get_outputs()]
        self._supports_batch = LENGTHS_OUTPUT in names
        self._frames_output = names.index(FRAMES_OUTPUT) if FRAMES_OUTPUT in names else None

    def _derive(self) -> Path:
        """The graph copy with frames outputs (built on first use, on the loading thread)."""
        try:
            return derived_model(self.model_path, "fp32", lengths=self._wants_lengths)
        except TTSError:
            raise
        except Exception as err:  # onnx's parser raises its own types on a broken file
            raise ModelError(f"could not load {self.model_path}: {err}. Reinstall the voice package.") from err

    def _load_stages(self) -> PiperStages | None:
        """The split stages, or None (and a note) when the graph cannot be split and the
        windows were not asked for by flag."""
        from tts_accel.core.acoustic.factory import engine_for_plan
        from tts_accel.core.acoustic.ort import OrtDecoderEngine
        from tts_accel.core.voices.piper.acoustic import PiperAcoustic
        from tts_accel.core.voices.piper.split import split_graph
        from tts_accel.core.voices.piper.stages import AcousticStage, TextStage

        assert self.window_plan is not None
        try:
            graphs = split_graph(self.model_path)
        except GraphSplitError as err:
            if self.plan.sources.get("windows", "flag") == "flag":
                raise
            self._notes.append(f"{self.model_path.name}: whole chunks, not windows: {err}")
            return None
        # The text session loads on a thread of its own while this one loads the flow and the
        # decoder: ORT releases the GIL while it loads, the caller's thread is mostly waiting by
        # then, and the text graph is the largest of the three (docs/benchmarks.md, start-up).
        text: list[TextStage] = []
        failed: list[BaseException] = []

        def load_text() -> None:
            try:
                text.append(TextStage(graphs.text, self.plan, alone_threads=_alone_threads(self.plan)))
            except BaseException as err:  # re-raised below, on this thread
                failed.append(err)

        # Not a daemon: exiting while ORT is mid-load aborts the process.
        text_loader = threading.Thread(target=load_text, name="tts-text-load")
        text_loader.start()
        try:
            first = OrtDecoderEngine(graphs.decoder, self.plan)
            source = PiperAcoustic(self.model_path, self._calibration)
            decoder = engine_for_plan(self.plan, source, first, longest=max(self.window_plan.shapes(first.margins)),
                                      on_note=self._notes.append)  # fmt: skip
            acoustic = AcousticStage(graphs.flow, decoder, self.plan)
        finally:
            text_loader.join()
        if failed:
            raise failed[0]
        return PiperStages(text[0], acoustic, self.window_plan)

    def _load(self) -> None:
        try:
            if self.window_plan is not None:
                self._stages = self._load_stages()
                if self._stages is not None:
                    return
            if self.graph_path is None:
                self.graph_path = self._derive()
            session = create_session(self.graph_path, self.plan)
            self._outputs(session)
            self._session = session
        except BaseException as err:  # re-raised on the thread that first needs the session
            self._load_error = err
        finally:
            self._loaded.set()

    def _wait(self) -> None:
        self._loaded.wait()  # an Event, not Thread.join: Ctrl-C while waiting stays clean
        if self._load_error is not None:
            raise self._load_error

    @property
    def session(self):  # type: ignore[no-untyped-def]
        """The whole-graph session (None when the plan streams the split stages)."""
        self._wait()
        return self._session

    @session.setter
    def session(self, value) -> None:  # type: ignore[no-untyped-def]
        self._wait()  # let a load in progress finish first
        self._outputs(value)
        self._session = value

    @property
    def supports_batch(self) -> bool:  # type: ignore[override]
        """True when the graph outputs each item's frame count (known once the session loaded)."""
        self._wait()
        return self._supports_batch

    def two_stage(self) -> TwoStage | None:
        self._wait()
        return self._stages

    def notes(self) -> list[str]:
        return list(self._notes)

    def finish_loading(self) -> None:
        self._wait()
        finish = getattr(self._stages.acoustic.decoder, "finish", None) if self._stages is not None else None
        if finish is not None:
            finish()

    # -- running ----------------------------------------------------------------------------------
    @staticmethod
    def _scales(params: SynthParams) -> np.ndarray:
        assert params.noise_scale is not None and params.noise_w is not None, "resolve params first"
        return np.array([params.noise_scale, params.length_scale, params.noise_w], dtype=np.float32)

    def _run(self, ids: np.ndarray, lengths: np.ndarray, params: SynthParams) -> list[np.ndarray]:
        feeds = {"input": ids, "input_lengths": lengths, "scales": self._scales(params)}
        return run(self.session, None, feeds, f"the model failed on {ids.shape[0]} chunk(s) of {ids.shape[1]} ids")

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        return self.infer_with_frames(ids, params)[0]

    def infer_with_frames(self, ids: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray | None]:
        stages = self.two_stage()
        if stages is not None:  # the windows of one chunk, joined
            return stages.whole(ids, params)
        out = self._run(ids[np.newaxis, :], np.array([ids.shape[0]], dtype=np.int64), params)
        audio = np.ascontiguousarray(out[0].reshape(-1), dtype=np.float32)  # (1,1,1,N) -> (N,)
        return audio, self._frames(out, 0, ids.shape[0])

    def _frames(self, out: list[np.ndarray], row: int, n_ids: int) -> np.ndarray | None:
        """Row ``row``'s frames per id, (n_ids,) int64, from the ``frames_per_id`` output (B, 1, T)."""
        if self._frames_output is None:
            return None
        frames = out[self._frames_output].reshape(out[self._frames_output].shape[0], -1)[row, :n_ids]
        return np.rint(frames).astype(np.int64)

    def infer_batch(self, batch: list[np.ndarray], params: SynthParams) -> list[np.ndarray]:
        return [audio for audio, _ in self.infer_batch_with_frames(batch, params)]

    def infer_batch_with_frames(
        self, batch: list[np.ndarray], params: SynthParams
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Pad ``batch`` into one (B, T) run and cut each item's audio back out by its frame count."""
        if len(batch) == 1 or not self.supports_batch:  # (waits for the session)
            return [self.infer_with_frames(ids, params) for ids in batch]
        lengths = np.array([len(ids) for ids in batch], dtype=np.int64)
        padded = np.full((len(batch), int(lengths.max())), PAD_ID, dtype=np.int64)  # (B, T)
        for row, ids in enumerate(batch):
            padded[row, : len(ids)] = ids
        out = self._run(padded, lengths, params)
        audio, frames = out[0], out[1]  # (B,1,1,N), (B,)
        audio = audio.reshape(len(batch), -1)
        samples = np.rint(frames).astype(np.int64) * HOP
        if int(samples.max()) != audio.shape[1]:
            raise ModelError(
                f"{self.model_path.name}: {audio.shape[1]} samples for {int(samples.max() // HOP)} frames; "
                f"the batched mode needs a Piper graph with a hop of {HOP}: use --mode sequential."
            )
        cut = [np.ascontiguousarray(audio[row, : samples[row]], dtype=np.float32) for row in range(len(batch))]
        return [(cut[row], self._frames(out, row, len(batch[row]))) for row in range(len(batch))]

    def reseed(self, seed: int) -> None:
        import onnxruntime as ort

        # ORT seeds each random kernel when the session is created, so a repeatable run
        # needs a session made after set_seed (measured: same seed, same session -> new noise).
        # Both noise draws are in the text stage when the plan streams the split stages.
        ort.set_seed(seed)
        self._wait()  # the graph path is known once the first load is done
        if self._stages is not None:
            self._stages.text.reload()
            return
        assert self.graph_path is not None
        self.session = create_session(self.graph_path, self.plan)

    def warmup(self) -> None:
        self.infer(np.array([1, 0, 20, 0, 2], dtype=np.int64), SynthParams(noise_scale=0.0, noise_w=0.0))
