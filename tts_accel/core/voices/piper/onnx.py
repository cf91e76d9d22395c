"""ONNX Runtime backend for Piper VITS voices. One session per voice, created once (on a thread)."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np

from tts_accel.core.errors import ModelError, TTSError
from tts_accel.core.modes import spec
from tts_accel.core.onnx_session import create_session, optimized_path
from tts_accel.core.params import SynthParams
from tts_accel.core.plan import ExecutionPlan
from tts_accel.core.voices.base import Backend
from tts_accel.core.voices.piper.graph_cache import FRAMES_OUTPUT, LENGTHS_OUTPUT, derived_model

#: Piper's decoder upsamples each frame to 256 samples (8 * 8 * 2 * 2).
HOP = 256
PAD_ID = 0  # "_" in every Piper phoneme_id_map


class PiperOnnxBackend(Backend):
    """Piper graph: input (B,T) int64, input_lengths (B,), scales [noise, length, noise_w].

    The session runs a cached copy of the graph that also outputs each item's frame count
    (``lengths``: padded batches are cut back exactly) and each id's frame count
    (``frames_per_id``: every mode reports durations); with ``plan.precision == "int8"`` its
    decoder convolutions are int8, calibrated on ``calibration()``: id sequences the voice made
    from real text.
    """

    def __init__(self, model_path: Path, sample_rate: int, plan: ExecutionPlan, session=None, calibration=None):  # type: ignore[no-untyped-def]
        self.model_path = Path(model_path)
        self.sample_rate = sample_rate
        self.plan = plan
        self._session = session
        self._loaded = threading.Event()
        self._load_error: BaseException | None = None
        if session is not None:
            self._loaded.set()
            self.graph_path = self.model_path
            self._outputs(session)
            return
        self._wants_lengths = spec(plan.mode).batches or plan.batch_size > 1 or plan.precision != "fp32"
        self._supports_batch = False
        self._frames_output: int | None = None  # set from the session's outputs once it is loaded
        self.graph_path: Path | None = None
        if plan.precision != "fp32":  # the int8 copy is calibrated on phonemized text: this thread
            self.graph_path = derived_model(
                self.model_path, plan.precision, lengths=self._wants_lengths, calibration=calibration
            )
        # Create the session on a thread: ORT releases the GIL while it loads and optimizes, so
        # the front-end (phonemizer import, espeak start, first chunk) runs meanwhile on another
        # core. Whole-process time on the dev VM: see docs/benchmarks.md (start-up).
        # Everything the loading thread needs is imported here, on the caller's thread: a Ctrl-C
        # that lands while the main thread imports a module the loader also imports can leave
        # that module's import lock held, and the process hangs at exit (seen 1 run in 6).
        import onnxruntime  # noqa: F401

        with contextlib.suppress(OSError):
            optimized_path(self.model_path, plan.graph_optimization)  # platformdirs, digest, machine key
        # Not a daemon: exiting while ORT is mid-load aborts the process ("terminate called ...").
        threading.Thread(target=self._load, name="tts-onnx-load").start()

    def _outputs(self, session) -> None:  # type: ignore[no-untyped-def]
        names = [o.name for o in session.get_outputs()]
        self._supports_batch = LENGTHS_OUTPUT in names
        self._frames_output = names.index(FRAMES_OUTPUT) if FRAMES_OUTPUT in names else None

    @property
    def supports_batch(self) -> bool:  # type: ignore[override]
        """True when the graph outputs each item's frame count (known once the session loaded)."""
        self.session  # noqa: B018
        return self._supports_batch

    def _derive(self) -> Path:
        """The graph copy with frames outputs (built on first use, on the loading thread)."""
        try:
            return derived_model(self.model_path, "fp32", lengths=self._wants_lengths)
        except TTSError:
            raise
        except Exception as err:  # onnx's parser raises its own types on a broken file
            raise ModelError(f"could not load {self.model_path}: {err}. Reinstall the voice package.") from err

    def _load(self) -> None:
        try:
            if self.graph_path is None:
                self.graph_path = self._derive()
            session = create_session(self.graph_path, self.plan)
            self._outputs(session)
            self._session = session
        except BaseException as err:  # re-raised on the thread that first needs the session
            self._load_error = err
        finally:
            self._loaded.set()

    @property
    def session(self):  # type: ignore[no-untyped-def]
        self._loaded.wait()  # an Event, not Thread.join: Ctrl-C while waiting stays clean
        if self._load_error is not None:
            raise self._load_error
        return self._session

    @session.setter
    def session(self, value) -> None:  # type: ignore[no-untyped-def]
        self.session  # noqa: B018 - let a load in progress finish first
        self._outputs(value)
        self._session = value

    @staticmethod
    def _scales(params: SynthParams) -> np.ndarray:
        assert params.noise_scale is not None and params.noise_w is not None, "resolve params first"
        return np.array([params.noise_scale, params.length_scale, params.noise_w], dtype=np.float32)

    def _run(self, ids: np.ndarray, lengths: np.ndarray, params: SynthParams) -> list[np.ndarray]:
        feeds = {"input": ids, "input_lengths": lengths, "scales": self._scales(params)}
        try:
            return self.session.run(None, feeds)  # type: ignore[no-any-return]
        except Exception as err:
            raise ModelError(f"the model failed on {ids.shape[0]} chunk(s) of {ids.shape[1]} ids: {err}") from err

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        return self.infer_with_frames(ids, params)[0]

    def infer_with_frames(self, ids: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray | None]:
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
        ort.set_seed(seed)
        self.session  # noqa: B018 - the graph path is known once the first load is done
        assert self.graph_path is not None
        self.session = create_session(self.graph_path, self.plan)

    def warmup(self) -> None:
        self.infer(np.array([1, 0, 20, 0, 2], dtype=np.int64), SynthParams(noise_scale=0.0, noise_w=0.0))
