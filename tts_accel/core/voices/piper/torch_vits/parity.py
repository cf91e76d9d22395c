"""Torch-vs-ONNX parity at named points of the VITS pipeline (used by `tts verify`, tier 2).

ONNX Runtime is run on a copy of the voice graph whose outputs include the node outputs that
correspond to the port's capture points; both sides get the same ids and zero noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tts_accel.core.errors import ModelError

#: capture point of the port -> output name of the matching node in Piper's exported graph
ONNX_POINTS = {
    "enc.x": "/enc_p/encoder/Mul_2_output_0",  # encoder hidden states * mask
    "enc.m_p": "/enc_p/Split_output_0",
    "enc.logs_p": "/enc_p/Split_output_1",
    "dp.logw": "/dp/Split_output_0",
    "w_ceil": "/Ceil_output_0",
    "flow.z": "/Mul_7_output_0",  # z * y_mask, the decoder's input
    "dec.out": "/dec/Tanh_output_0",
}
POINT_THRESHOLD = 0.999  # cosine at each named point
WAVEFORM_THRESHOLD = 0.99  # cosine on the trimmed waveform


@dataclass(frozen=True)
class ParityRow:
    point: str
    cosine: float
    max_abs_diff: float
    threshold: float
    passed: bool

    def as_tuple(self) -> tuple[str, float, float, float, bool]:
        return (self.point, self.cosine, self.max_abs_diff, self.threshold, self.passed)


def onnx_intermediates(model_path: str | Path, ids: np.ndarray, noise_scale: float = 0.0,
                       length_scale: float = 1.0, noise_w: float = 0.0) -> dict[str, np.ndarray]:  # fmt: skip
    """Run ORT on ids (T,) int64 and return {'waveform': (N,), point: array for each ONNX_POINTS}."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    known = {o for n in model.graph.node for o in n.output}
    missing = [name for name in ONNX_POINTS.values() if name not in known]
    if missing:
        raise ModelError(f"{model_path} lacks the nodes parity compares ({missing[0]}, ...): not a Piper export?")
    for name in ONNX_POINTS.values():
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = {
        "input": ids[np.newaxis, :].astype(np.int64),
        "input_lengths": np.array([ids.shape[0]], dtype=np.int64),
        "scales": np.array([noise_scale, length_scale, noise_w], dtype=np.float32),
    }
    names = ["output", *ONNX_POINTS.values()]
    values = session.run(names, feeds)
    out = {"waveform": values[0].reshape(-1)}
    out.update({point: v for point, v in zip(ONNX_POINTS, values[1:], strict=True)})
    return out


def compare(reference: np.ndarray, candidate: np.ndarray, threshold: float, point: str) -> ParityRow:
    a = np.asarray(reference, dtype=np.float64).reshape(-1)
    b = np.asarray(candidate, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        return ParityRow(point, float("nan"), float("inf"), threshold, False)
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    cosine = float(a @ b / denom) if denom > 0 else float(np.array_equal(a, b))
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    return ParityRow(point, cosine, diff, threshold, bool(cosine >= threshold))


def parity_rows(model_path: str | Path, ids: np.ndarray, model=None, mode: str = "torch",  # type: ignore[no-untyped-def]
                length_scale: float = 1.0) -> list[tuple[str, float, float, float, bool]]:  # fmt: skip
    """Compare the torch port with ONNX Runtime on one id sequence, with zero noise.

    Args:
        model_path: the voice's .onnx file.
        ids: (T,) int64 phoneme ids (``^ _ p1 _ ... _ $`` as piper-phonemize writes them).
        model: a loaded ``PiperVits`` to check (its ops decide torch or triton); loaded on CPU
            in float32 when None.
        mode: "torch" or "triton": which fused ops to bind when ``model`` is None.
        length_scale: 1 / speed.

    Returns:
        rows ``(point, cosine, max_abs_diff, threshold, passed)``: one per name in ONNX_POINTS,
        then ``("durations", 1.0 or 0.0, max |frame count difference|, 1.0, equal)`` and
        ``("waveform", ...)`` with threshold 0.99. Shapes that differ give cosine NaN, failed.
    """
    import torch

    from tts_accel.core.voices.piper.torch_vits.model import PiperVits
    from tts_accel.core.voices.piper.torch_vits.ops import torch_ops, triton_ops

    if model is None:
        model = PiperVits.from_onnx(model_path)
        model.set_ops(triton_ops() if mode == "triton" else torch_ops())
    ids = np.asarray(ids, dtype=np.int64)
    ref = onnx_intermediates(model_path, ids, 0.0, length_scale, 0.0)
    captured: dict = {}
    audio, audio_len = model.infer(torch.from_numpy(ids)[None], torch.tensor([ids.shape[0]]),
                                   0.0, length_scale, 0.0, capture=captured)  # fmt: skip
    mine = {k: v.float().cpu().numpy() for k, v in captured.items()}
    rows = [compare(ref[p], mine[p], POINT_THRESHOLD, p) for p in ONNX_POINTS if p != "w_ceil"]
    same = ref["w_ceil"].shape == mine["w_ceil"].shape and np.array_equal(ref["w_ceil"], mine["w_ceil"])
    diff = float(np.abs(ref["w_ceil"] - mine["w_ceil"]).max()) if ref["w_ceil"].shape == mine["w_ceil"].shape \
        else float("inf")  # fmt: skip
    rows.append(ParityRow("durations", float(same), diff, 1.0, same))
    wave = audio[0, : int(audio_len[0])].float().cpu().numpy()
    rows.append(compare(ref["waveform"], wave, WAVEFORM_THRESHOLD, "waveform"))
    return [r.as_tuple() for r in rows]
