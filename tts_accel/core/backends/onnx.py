"""ONNX Runtime backend for Piper VITS voices. One session per voice, created once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tts_accel.core.backends.base import Backend
from tts_accel.core.errors import ModelError
from tts_accel.core.params import SynthParams
from tts_accel.core.plan import ExecutionPlan

_OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
               "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}  # fmt: skip


def session_options(plan: ExecutionPlan):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = plan.intra_op_threads
    so.inter_op_num_threads = plan.inter_op_threads
    so.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL
        if plan.ort_execution_mode == "parallel"
        else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[plan.graph_optimization])
    so.log_severity_level = 3  # errors only: ORT's warnings would land on the user's terminal
    return so


def create_session(model_path: Path, plan: ExecutionPlan, session_opts=None):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(model_path),
            sess_options=session_opts or session_options(plan),
            providers=["CPUExecutionProvider"],
        )
    except Exception as err:  # ORT raises its own exception types
        raise ModelError(f"could not load {model_path}: {err}. Reinstall the voice package.") from err


class PiperOnnxBackend(Backend):
    """Piper graph: input (B,T) int64, input_lengths (B,), scales [noise, length, noise_w]."""

    def __init__(self, model_path: Path, sample_rate: int, plan: ExecutionPlan, session=None):  # type: ignore[no-untyped-def]
        self.model_path = Path(model_path)
        self.sample_rate = sample_rate
        self.plan = plan
        self.session = session if session is not None else create_session(self.model_path, plan)

    @staticmethod
    def _scales(params: SynthParams) -> np.ndarray:
        assert params.noise_scale is not None and params.noise_w is not None, "resolve params first"
        return np.array([params.noise_scale, params.length_scale, params.noise_w], dtype=np.float32)

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        feeds = {
            "input": ids[np.newaxis, :],  # (1, T)
            "input_lengths": np.array([ids.shape[0]], dtype=np.int64),
            "scales": self._scales(params),
        }
        try:
            audio = self.session.run(None, feeds)[0]  # (1, 1, 1, N)
        except Exception as err:
            raise ModelError(f"the model failed on a chunk of {ids.shape[0]} ids: {err}") from err
        return np.ascontiguousarray(audio.reshape(-1), dtype=np.float32)

    def reseed(self, seed: int) -> None:
        import onnxruntime as ort

        # ORT seeds each random kernel when the session is created, so a repeatable run
        # needs a session made after set_seed (measured: same seed, same session -> new noise).
        ort.set_seed(seed)
        self.session = create_session(self.model_path, self.plan)

    def warmup(self) -> None:
        from tts_accel.core.params import SynthParams

        self.infer(np.array([1, 0, 20, 0, 2], dtype=np.int64), SynthParams(noise_scale=0.0, noise_w=0.0))
