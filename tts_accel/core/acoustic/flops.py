"""What the acoustic stage's decoder costs in arithmetic: FLOPs from its graph's convolutions.

Counted from the ONNX graph (``Conv`` and ``ConvTranspose`` nodes; every other node of a HiFi-GAN
decoder is element-wise and is left out), with the shapes ONNX shape inference gives once the
input's length is fixed. One multiply-add is 2 FLOPs; biases are left out.

    Conv          2 x N x prod(output spatial) x C_out x (C_in / group) x prod(kernel)
                  = 2 x N x prod(output spatial) x prod(weight shape)
    ConvTranspose 2 x N x prod(input spatial)  x C_in  x (C_out / group) x prod(kernel)
                  = 2 x N x prod(input spatial)  x prod(weight shape)

(an output of a convolution is a dot product over C_in / group x kernel inputs; an input of a
transposed convolution is scattered onto C_out / group x kernel outputs). The decoder's cost is
linear in its input's length, so FLOPs per second of audio are the slope between two lengths
(``per_audio_second``): edge effects (padding) cancel. The same figure holds for every engine
that computes the same convolutions (ORT fp32, torch bf16 in its 2-D layout): achieved GFLOP/s
of an engine = this x seconds of audio / its CPU seconds (``core/hardware/peak.py`` for the peak).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tts_accel.core.errors import ModelError
from tts_accel.core.onnx.graphs import needs_onnx

CONV_OPS = ("Conv", "ConvTranspose")


@dataclass(frozen=True)
class ConvCount:
    name: str
    op: str
    flops: int


def _dims(value_info: Any) -> list[int] | None:
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in value_info.type.tensor_type.shape.dim]
    return dims if dims and all(d > 0 for d in dims) else None


def conv_flops(model: Any, length: int | None = None) -> list[ConvCount]:
    """FLOPs of each Conv and ConvTranspose of ``model`` (an ``onnx.ModelProto``) with its first
    input's last dimension set to ``length`` (None: the graph's shapes as they are). A
    convolution whose shapes inference cannot find is a ModelError naming it."""
    onnx = needs_onnx("counting the decoder's FLOPs")
    model_copy = onnx.ModelProto()
    model_copy.CopyFrom(model)
    if length is not None:
        dim = model_copy.graph.input[0].type.tensor_type.shape.dim[-1]
        dim.Clear()
        dim.dim_value = int(length)
        del model_copy.graph.value_info[:]  # shapes recorded for another length: inferred afresh
        for output in model_copy.graph.output:
            output.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(model_copy)
    shapes: dict[str, list[int] | None] = {}
    for info in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        shapes[info.name] = _dims(info)
    weights = {t.name: list(t.dims) for t in inferred.graph.initializer}
    out = []
    for node in inferred.graph.node:
        if node.op_type not in CONV_OPS:
            continue
        weight = weights.get(node.input[1]) or shapes.get(node.input[1])
        x, y = shapes.get(node.input[0]), shapes.get(node.output[0])
        if not weight or x is None or y is None:
            raise ModelError(f"the shapes of {node.op_type} {node.name or node.output[0]!r} are unknown: "
                             "FLOPs need a graph whose shapes ONNX shape inference can find.")  # fmt: skip
        spatial = x[2:] if node.op_type == "ConvTranspose" else y[2:]
        flops = 2 * x[0]
        for n in (*spatial, *weight):
            flops *= n
        out.append(ConvCount(node.name or node.output[0], node.op_type, flops))
    return out


def total_flops(model: Any, length: int | None = None) -> int:
    return sum(c.flops for c in conv_flops(model, length))


@dataclass(frozen=True)
class DecoderFlops:
    """The decoder's arithmetic: FLOPs per second of audio, and how it was counted."""

    per_audio_s: float  # FLOPs per second of audio (fp32 terms: every multiply-add counted as 2)
    convs: int  # Conv and ConvTranspose nodes counted

    @property
    def gflop_per_audio_s(self) -> float:
        return self.per_audio_s / 1e9


def per_audio_second(model: Any, hop: int, sample_rate: int, lengths: tuple[int, int] = (64, 192)) -> DecoderFlops:
    """FLOPs per second of audio of a decoder ``z (1, C, frames) -> audio (hop samples a frame)``:
    the slope of ``total_flops`` between two input lengths."""
    lo, hi = lengths
    at_lo = conv_flops(model, lo)
    f_lo, f_hi = sum(c.flops for c in at_lo), total_flops(model, hi)
    seconds = (hi - lo) * hop / sample_rate
    return DecoderFlops((f_hi - f_lo) / seconds, len(at_lo))


def decoder_flops(decoder_path: str | Path, hop: int, sample_rate: int) -> DecoderFlops:
    """``per_audio_second`` of the decoder graph at ``decoder_path``, counted once per graph and
    kept in ``cache_dir()/flops`` (shape inference of a HiFi-GAN decoder takes seconds)."""
    import json

    from tts_accel.core.files.atomic import write_atomic
    from tts_accel.core.files.cache import cache_dir, model_digest

    path = Path(decoder_path)
    memo = cache_dir() / "flops" / f"{model_digest(path)[:20]}-h{hop}-r{sample_rate}.json"
    try:
        data = json.loads(memo.read_text(encoding="utf-8"))
        return DecoderFlops(float(data["per_audio_s"]), int(data["convs"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    onnx = needs_onnx("counting the decoder's FLOPs")
    found = per_audio_second(onnx.load(str(path)), hop, sample_rate)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(memo, json.dumps({"per_audio_s": found.per_audio_s, "convs": found.convs}))
    except OSError:
        pass  # a cache that cannot be written costs the next run the count again, nothing else
    return found
