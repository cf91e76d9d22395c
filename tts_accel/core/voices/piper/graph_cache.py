"""Derived Piper graphs, built once and kept in ``cache_dir()/graphs`` (``tts_accel.core.files.cache``):

* a copy of a voice's graph that also outputs each item's frame count (``lengths``), so the
  batched mode can cut every chunk's audio out of a padded batch exactly, and each id's frame
  count (``frames_per_id``, the graph's one ``Ceil``), which every mode reports for word timing;
  the copy computes exactly the original's samples (an Identity per output, nothing else);
* an int8 copy of that graph (static QDQ quantization of the decoder's convolutions,
  calibrated on the voice's own ids), keyed by the model's sha256 and the ONNX Runtime version.

(ORT's optimized copy of any graph is ``tts_accel.core.onnx.sessions``'s; the two-stage split is
``split.py``'s.) Every file is written to a temporary name and renamed into place, so a crash
never leaves a half-written graph under the final name. A cache that cannot be written is an
OutputError naming the path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tts_accel.core.errors import ModelError, output_error
from tts_accel.core.files.cache import build_verified, verified
from tts_accel.core.onnx.graphs import add_outputs, derived_path, needs_onnx, produced, save
from tts_accel.core.plan.modes import PRECISIONS as MODE_PRECISIONS

#: The Piper graph's clamped sum of ceil(durations): frames per item, shape (B,) float32.
PIPER_LENGTHS_TENSOR = "/Clip_output_0"
LENGTHS_OUTPUT = "lengths"
#: ceil(exp(logw) * x_mask * length_scale): frames per id, (B, 1, T) float32 holding integers.
FRAMES_OUTPUT = "frames_per_id"
PRECISIONS = MODE_PRECISIONS["onnx"]


def frames_tensor(model) -> str | None:  # type: ignore[no-untyped-def]
    """The tensor holding each id's frame count: the output of the graph's one ``Ceil``."""
    ceils = [node for node in model.graph.node if node.op_type == "Ceil"]
    return ceils[0].output[0] if len(ceils) == 1 else None


def _with_outputs(src: Path, dst: Path, lengths: bool) -> bool:
    """Write ``src`` with its ``lengths`` and ``frames_per_id`` outputs to ``dst``. False (and
    nothing written) when the graph has neither tensor and ``lengths`` is not required."""
    onnx = needs_onnx("the batched mode" if lengths else "frames per id")
    model = onnx.load(str(src))
    outputs = {}
    if PIPER_LENGTHS_TENSOR in produced(model):
        outputs[PIPER_LENGTHS_TENSOR] = LENGTHS_OUTPUT
    elif lengths:
        raise ModelError(f"{src.name} has no {PIPER_LENGTHS_TENSOR} tensor: batching needs a Piper VITS graph.")
    frames = frames_tensor(model)
    if frames is not None:
        outputs[frames] = FRAMES_OUTPUT
    if not outputs:
        return False
    add_outputs(model, outputs)
    save(model, dst)
    return True


#: Conv layers left in float: the decoder's first and last (its input from the flow and the
#: waveform itself), where int8 steps are heard most.
INT8_KEEP_FLOAT = ("/dec/conv_pre/", "/dec/conv_post/")
#: Noise scales used while calibrating: the voices' defaults, so that the ranges cover noisy latents.
CALIBRATION_SCALES = (0.667, 1.0, 0.8)

Calibration = Callable[[], Sequence[np.ndarray]]


def int8_nodes(model) -> list[str]:  # type: ignore[no-untyped-def]
    """The convolutions the int8 copy quantizes: the HiFi-GAN decoder's (about 3/4 of the
    time), not the text encoder's, duration predictor's or flow's, which decide *what* is said
    and *how long*: quantizing those too ran 1.74x fp32 at 1 thread but changed durations and
    raised Whisper's WER on harvard.txt from 5.7 % to 9.4 %; the decoder alone runs 1.51x and
    keeps durations, at 9.3 % (fp32: 5.6 %) calibrated on paragraph.txt (docs/benchmarks.md)."""
    return [
        node.name for node in model.graph.node
        if node.op_type == "Conv" and node.name.startswith("/dec/") and not node.name.startswith(INT8_KEEP_FLOAT)
    ]  # fmt: skip


def _quantize_int8(src: Path, dst: Path, calibration: Calibration) -> None:
    """Static (calibrated) QDQ int8: ORT fuses each quantized Conv into QLinearConv, which has
    int8 kernels (VNNI where the CPU has it). Dynamic quantization makes ConvInteger instead,
    0.39x the speed of fp32 here, so it was dropped."""
    onnx = needs_onnx("--precision int8")
    import logging

    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    samples = [np.asarray(ids, dtype=np.int64) for ids in calibration() if len(ids)]
    if not samples:
        raise ModelError("--precision int8 needs calibration ids: the voice gave none.")
    nodes = int8_nodes(onnx.load(str(src), load_external_data=False))
    if not nodes:
        raise ModelError(f"{src.name} has no /dec/ convolutions: --precision int8 needs a Piper VITS graph.")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._left = iter(samples)

        def get_next(self) -> dict[str, np.ndarray] | None:
            ids = next(self._left, None)
            if ids is None:
                return None
            return {"input": ids[np.newaxis, :], "input_lengths": np.array([len(ids)], dtype=np.int64),
                    "scales": np.array(CALIBRATION_SCALES, dtype=np.float32)}  # fmt: skip

    # quantize_static writes the file itself (by path): fsio.build_atomic gives it a temporary
    # name beside the target and renames it into place.
    def build(tmp: str) -> None:
        quantize_static(
            src, tmp, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv"], nodes_to_quantize=nodes, calibrate_method=CalibrationMethod.MinMax,
        )  # fmt: skip

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs an advisory warning on the root logger
    try:
        build_verified(dst, build, suffix=".onnx")
    except OSError as err:
        raise output_error(dst, err, "cache the int8 graph in") from None
    finally:
        root.setLevel(level)


def derived_model(
    model_path: Path, precision: str = "fp32", lengths: bool = False, calibration: Calibration | None = None
) -> Path:
    """The graph to load: a cached copy with ``lengths`` and ``frames_per_id`` outputs (fp32),
    with int8 decoder convolutions too for ``precision="int8"``; the original when the graph has
    neither tensor (not a Piper VITS graph) and ``lengths`` (the batched mode) is not required.
    ``calibration`` gives id sequences of real text (the voice phonemizes them; it is called only
    when the int8 copy must be built)."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}.")
    with_len = derived_path(model_path, "fp32-len-fpi")
    if not verified(with_len) and not _with_outputs(model_path, with_len, lengths):
        if precision == "fp32":
            return model_path
        raise ModelError(f"{model_path.name} is not a Piper VITS graph: --precision int8 needs one.")
    if precision == "fp32":
        return with_len
    int8 = derived_path(model_path, "int8dec-len-fpi")
    if not verified(int8):
        if calibration is None:
            raise ModelError("--precision int8 needs calibration ids: load the voice through its Voice class.")
        _quantize_int8(with_len, int8, calibration)
    return int8
