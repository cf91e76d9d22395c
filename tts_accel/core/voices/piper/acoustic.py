"""The Piper family's part of the acoustic stage: its decoder graphs and its torch network.

Everything family-neutral (the engine protocol, the registry, the ORT engine, the hand-off, the
factory, the lab) lives in ``core/acoustic``; a Piper voice contributes a ``PiperAcoustic``
source (``acoustic.factory.AcousticSource``):

* ``decoder("fp32")``: the decoder of the voice's split graph (``split.py``), margins stamped;
* ``decoder("int8")``: the decoder of the split of the voice's int8 copy (``graph_cache``: static
  QDQ of the decoder's convolutions but the first and last), margins derived the same way;
* ``torch_engine``: the 2-D torch decoder (``torch_acoustic``), eager or AOTInductor-compiled at
  the registry's shapes (imports torch, so only a torch engine loads it);
* ``reference(ids)``: the decoder's input and the whole graph's audio at zero noise (the lab's).

Nothing here imports torch or onnx at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tts_accel.core.acoustic.registry import AcousticSpec
from tts_accel.core.acoustic.windows import Margins

#: The decoder's input in Piper's graph (feeds /dec/conv_pre/Conv) and the graph's audio output.
DECODER_INPUT, AUDIO_OUTPUT = "/Mul_7_output_0", "output"


class PiperAcoustic:
    """The acoustic source of one Piper voice file. ``calibration`` gives id sequences of real
    text, called only when the int8 copy must be built."""

    def __init__(self, model_path: str | Path, calibration: Callable[[], Sequence[np.ndarray]] | None = None) -> None:
        self.model_path = Path(model_path)
        self.calibration = calibration
        self._tap: Any = None

    def decoder(self, precision: str) -> Path:
        from tts_accel.core.voices.piper.split import split_graph

        if precision == "fp32":
            return split_graph(self.model_path).decoder
        from tts_accel.core.voices.piper.graph_cache import derived_model

        copy = derived_model(self.model_path, precision, lengths=True, calibration=self.calibration)
        return split_graph(copy).decoder

    def torch_engine(self, spec: AcousticSpec, *, margins: Margins, runners: int, allow_compile: bool,
                     on_compile: Callable[[Any], None] | None) -> Any:  # fmt: skip
        try:
            from tts_accel.core.voices.piper.torch_acoustic.engine import TorchDecoderEngine
        except ImportError as err:
            from tts_accel.core.errors import torch_missing

            raise torch_missing(f"--acoustic {spec.name}") from err
        return TorchDecoderEngine(
            self.model_path, precision=spec.precision, compiled=spec.compiled, shapes=spec.shapes, threads=spec.threads,
            runners=runners, margins=margins, allow_compile=allow_compile, on_compile=on_compile,
        )  # fmt: skip

    def compiled(self, spec: AcousticSpec) -> bool:
        from tts_accel.core.voices.piper.torch_acoustic.artifacts import ready

        return spec.compiled and ready(self.model_path, spec.precision, spec.shapes, spec.threads)

    def reference(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z (C, F), audio (F * hop,)) of ``ids`` through the voice's whole graph, zero noise."""
        if self._tap is None:
            from tts_accel.core.onnx.graphs import with_outputs
            from tts_accel.core.onnx.sessions import Solo, create_session

            tapped = with_outputs(self.model_path, {DECODER_INPUT: "z"}, "tap-decoder-z", "tapping the decoder's input")
            self._tap = create_session(tapped, Solo())
        feeds = {"input": ids[np.newaxis], "input_lengths": np.array([ids.size], dtype=np.int64),
                 "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32)}  # fmt: skip
        audio, z = self._tap.run([AUDIO_OUTPUT, "z"], feeds)
        return np.ascontiguousarray(z[0]), audio.reshape(-1)
