"""Receptive field of an acoustic-stage graph, derived from its nodes (family-neutral).

Every tensor that depends on the latent carries, for each of its positions along time, the
first and last latent frame that position depends on (``lo``, ``hi``). The walk starts from
``lo = hi = arange(F)`` on the input and applies each node's exact index arithmetic:

* ``Conv``: output ``o`` reads input ``o * stride - pad_left + dilation * j``, ``j < kernel``
  (taps that land in the zero padding read nothing);
* ``ConvTranspose``: output ``o`` receives input ``i`` wherever ``o = i * stride - pad_left + j``;
* element-wise ops (``Add``, ``Mul``, ``LeakyRelu``, ``Tanh``, ...) join their inputs' intervals;
* ``Slice``/``Split``/``Concat`` are allowed along channels only; ``Unsqueeze`` moves the time axis.

Anything else that touches a latent-dependent tensor (``CumSum``, ``Range``, ``Reduce*``,
``MatMul``, ``Softmax``, ``Reshape``, a ``Slice`` along time...) raises ``NonLocalError``: the
acoustic stage must be convolutions and element-wise ops along time and nothing else.
``Shape`` of a latent-dependent tensor may only feed ``ConstantOfShape`` (the flow's zero
tensors): a fill value does not depend on where the sentence ends.

The walk also checks that every position depends on the frame under it
(``lo <= position // scale <= hi``). With that, a window whose context covers
``[f - left, f + right]`` for each of its core frames ``f`` computes every intermediate value
the core's samples need from real data, so the core samples equal a whole run's (to float
rounding), and a window that reaches the sentence's true edge sees the same zero padding a
whole run sees. Margins so derived are a safe upper bound; ``tests/core/acoustic/test_receptive.py``
measures how much smaller the empirically exact margin is on the real voice.

``onnx`` is imported only by the functions that walk a graph: sessions read the margins a
split stamped into the graph's metadata (``from_session``) without loading it into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tts_accel.core.acoustic.windows import Margins
from tts_accel.core.errors import NonLocalError

#: Element-wise ops (with numpy broadcasting) that may appear along time in the acoustic stage.
ELEMENTWISE = frozenset(
    {"Add", "Sub", "Mul", "Div", "Pow", "LeakyRelu", "Relu", "Tanh", "Sigmoid", "Exp", "Neg",
     "Identity", "Cast", "Sqrt", "Abs", "Clip", "Erf", "Softplus", "Sin", "Cos",
     "QuantizeLinear", "DequantizeLinear"}  # an int8 (QDQ) copy: per-tensor or per-channel scales
)  # fmt: skip


@dataclass
class _Track:
    lo: np.ndarray  # (positions,) int64: first latent frame this position depends on
    hi: np.ndarray  # (positions,) int64: last latent frame
    axis: int  # which axis of the tensor is time


def _attrs(node) -> dict:  # type: ignore[no-untyped-def]
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _constants(graph) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"])
        elif node.op_type == "DequantizeLinear" and all(name in values for name in node.input if name):
            # an int8 copy's weights: x (int8), scale, zero point -> float, per tensor or per axis
            x, scale = values[node.input[0]].astype(np.float64), values[node.input[1]].astype(np.float64)
            zero = values[node.input[2]].astype(np.float64) if len(node.input) > 2 and node.input[2] else 0.0
            if np.ndim(scale) == 1 and x.ndim > 1:
                shape = [1] * x.ndim
                shape[int(_attrs(node).get("axis", 1))] = -1
                scale = scale.reshape(shape)
                zero = np.reshape(zero, shape) if np.ndim(zero) == 1 else zero
            values[node.output[0]] = ((x - zero) * scale).astype(np.float32)
    return values


def _conv(track: _Track, node, kernel: int, dilation: int, stride: int, pad_l: int, pad_r: int) -> _Track:  # type: ignore[no-untyped-def]
    n = track.lo.size
    n_out = (n + pad_l + pad_r - dilation * (kernel - 1) - 1) // stride + 1
    o = np.arange(n_out)
    lo = np.full(n_out, np.iinfo(np.int64).max)
    hi = np.full(n_out, np.iinfo(np.int64).min)
    for j in range(kernel):
        src = o * stride - pad_l + dilation * j
        ok = (src >= 0) & (src < n)
        lo[ok] = np.minimum(lo[ok], track.lo[src[ok]])
        hi[ok] = np.maximum(hi[ok], track.hi[src[ok]])
    if (lo > hi).any():
        raise NonLocalError(f"{node.name}: an output position reads only padding")
    return _Track(lo, hi, track.axis)


def _conv_transpose(track: _Track, node, kernel: int, stride: int, pad_l: int, pad_r: int, out_pad: int) -> _Track:  # type: ignore[no-untyped-def]
    n = track.lo.size
    n_out = (n - 1) * stride + kernel - pad_l - pad_r + out_pad
    lo = np.full(n_out, np.iinfo(np.int64).max)
    hi = np.full(n_out, np.iinfo(np.int64).min)
    i = np.arange(n)
    for j in range(kernel):
        dst = i * stride - pad_l + j
        ok = (dst >= 0) & (dst < n_out)
        np.minimum.at(lo, dst[ok], track.lo[i[ok]])
        np.maximum.at(hi, dst[ok], track.hi[i[ok]])
    if (lo > hi).any():
        raise NonLocalError(f"{node.name}: an output position receives no input")
    return _Track(lo, hi, track.axis)


def _axis_list(node, consts: dict[str, np.ndarray], index: int, attr: str) -> list[int] | None:  # type: ignore[no-untyped-def]
    a = _attrs(node)
    if attr in a:
        return [int(x) for x in np.atleast_1d(a[attr])]
    if len(node.input) > index and node.input[index]:
        if node.input[index] not in consts:
            raise NonLocalError(f"{node.name}: its {attr} are computed at run time")
        return [int(x) for x in np.atleast_1d(consts[node.input[index]])]
    return None


def propagate(model, frames: int = 256) -> tuple[_Track, int]:  # type: ignore[no-untyped-def]
    """Walk ``model`` (an acoustic-stage ModelProto, one input) on ``frames`` virtual frames.

    Returns the output's track and its samples per frame."""
    graph = model.graph
    consts = _constants(graph)
    data_inputs = [vi for vi in graph.input if vi.name not in consts]
    if len(data_inputs) != 1:
        raise NonLocalError(f"the acoustic graph must have one input (the latent), has {len(data_inputs)}")
    tracks: dict[str, _Track] = {data_inputs[0].name: _Track(np.arange(frames), np.arange(frames), 2)}
    lengthy: set[str] = set()  # values computed from the shape of a latent-dependent tensor
    for node in graph.node:
        op, a = node.op_type, _attrs(node)
        ins = [tracks.get(name) for name in node.input]
        live = [t for t in ins if t is not None]
        if any(name in lengthy for name in node.input):
            if op == "ConstantOfShape":
                continue  # a constant fill: its value does not depend on the latent or its length
            if op in ("Gather", "Unsqueeze", "Concat", "Squeeze", "Cast") and not live:
                lengthy.update(node.output)
                continue
            raise NonLocalError(f"{node.name} ({op}) computes with the sentence's length")
        if not live:
            continue  # constants and shape arithmetic on constants
        if op == "Shape":
            lengthy.update(node.output)
            continue
        if op in ("Conv", "ConvTranspose"):
            if node.input[0] not in tracks or any(name in tracks for name in node.input[1:]):
                raise NonLocalError(f"{node.name}: weights that depend on the latent")
            track = ins[0]
            assert track is not None  # node.input[0] is in tracks (checked above)
            kernel = int(a.get("kernel_shape", [consts[node.input[1]].shape[-1]])[0])
            stride, dilation = (
                int(a.get("strides", [1])[0]),
                int(a.get("dilations", [1])[0]),
            )
            pads = [int(p) for p in a.get("pads", [0, 0])]
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or len(pads) != 2:
                raise NonLocalError(f"{node.name}: only 1-D convolutions with explicit pads are supported")
            if op == "Conv":
                tracks[node.output[0]] = _conv(track, node, kernel, dilation, stride, pads[0], pads[1])
            else:
                if dilation != 1:
                    raise NonLocalError(f"{node.name}: dilated ConvTranspose is not supported")
                out_pad = int(a.get("output_padding", [0])[0])
                tracks[node.output[0]] = _conv_transpose(track, node, kernel, stride, pads[0], pads[1], out_pad)
            continue
        if op in ELEMENTWISE:
            sizes = {t.lo.size for t in live}
            if len(sizes) != 1 or len({t.axis for t in live}) != 1:
                raise NonLocalError(f"{node.name} ({op}) mixes tensors of different lengths along time")
            lo = np.minimum.reduce([t.lo for t in live])
            hi = np.maximum.reduce([t.hi for t in live])
            tracks[node.output[0]] = _Track(lo, hi, live[0].axis)
            continue
        if op in ("Slice", "Split", "Concat", "Unsqueeze", "Squeeze"):
            track = live[0]
            if op == "Slice":
                axes = _axis_list(node, consts, 3, "axes")
                if axes is None or track.axis in axes:
                    raise NonLocalError(f"{node.name}: Slice along time")
            elif op in ("Split", "Concat"):
                axis = int(a.get("axis", 0))
                if axis == track.axis or (op == "Concat" and len({t.lo.size for t in live}) != 1):
                    raise NonLocalError(f"{node.name}: {op} along time")
                if op == "Concat":
                    track = _Track(np.minimum.reduce([t.lo for t in live]), np.maximum.reduce([t.hi for t in live]),
                                   track.axis)  # fmt: skip
            else:
                axes = _axis_list(node, consts, 1, "axes") or []
                shift = sum(1 for ax in axes if ax <= track.axis) * (1 if op == "Unsqueeze" else -1)
                if op == "Squeeze" and track.axis in axes:
                    raise NonLocalError(f"{node.name}: Squeeze of the time axis")
                track = _Track(track.lo, track.hi, track.axis + shift)
            for out in node.output:
                tracks[out] = track
            continue
        raise NonLocalError(f"{node.name} ({op}) is not a local operation along time: cannot window it")
    out = graph.output[0].name
    if out not in tracks:
        raise NonLocalError(f"the output {out} does not depend on the latent")
    track = tracks[out]
    if track.lo.size % frames:
        raise NonLocalError(f"{track.lo.size} output samples for {frames} frames: not a whole hop per frame")
    hop = track.lo.size // frames
    for name, t in tracks.items():
        scale = t.lo.size // frames
        if scale * frames != t.lo.size:
            raise NonLocalError(f"{name}: {t.lo.size} positions for {frames} frames")
        under = np.arange(t.lo.size) // scale
        if not ((t.lo <= under) & (under <= t.hi)).all():
            raise NonLocalError(f"{name}: a position does not depend on the frame under it")
    return track, hop


def analyse(model, frames: int = 256) -> tuple[Margins, int]:  # type: ignore[no-untyped-def]
    """(margins, hop) of an acoustic-stage ModelProto: one walk of the graph (~0.1-1 s)."""
    while True:
        track, hop = propagate(model, frames)
        frame = np.arange(track.lo.size) // hop
        # interior frames only: at the edges the zero padding shortens the reach
        inner = (frame >= frames // 4) & (frame < frames - frames // 4)
        left = int((frame[inner] - track.lo[inner]).max())
        right = int((track.hi[inner] - frame[inner]).max())
        if max(left, right) < frames // 4:  # the interior saw no edge: the reach is the field
            return Margins(left, right), hop
        frames *= 4


def receptive_field(acoustic_graph: str | Path) -> Margins:
    """Latent frames of context each side that make a window's core samples exact.

    Derived from the graph (module docstring). For joe (medium): the decoder 11 left / 11
    right; the flow 32 / 32 (4 couplings x 4 WaveNet layers of kernel 5, dilation 1); both as
    one graph 43 / 43. Equal to the reach ORT shows when one frame is perturbed
    (tests/core/acoustic/test_receptive.py), and a safe upper bound for exactness at 1e-4 (docs/streaming.md)."""
    import onnx

    return analyse(onnx.load(str(acoustic_graph)))[0]


def hop_of(acoustic_graph: str | Path) -> int:
    """Output samples per latent frame (256 for Piper voices: 8 * 8 * 4 here)."""
    import onnx

    return analyse(onnx.load(str(acoustic_graph)), frames=16)[1]


#: Metadata keys a split (``voices/piper/split.py``) writes into the acoustic graphs, so a session
#: reads its field without loading the graph into Python (which held ~60 MiB of RSS).
META_LEFT, META_RIGHT, META_HOP = "tts_accel.margin_left", "tts_accel.margin_right", "tts_accel.hop"


def stamp(model) -> None:  # type: ignore[no-untyped-def]
    """Write the graph's margins and hop into its metadata_props."""
    margins, hop = analyse(model)
    for key, value in ((META_LEFT, margins.left), (META_RIGHT, margins.right), (META_HOP, hop)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)


def from_session(session, path: str | Path) -> tuple[Margins, int]:  # type: ignore[no-untyped-def]
    """(margins, hop) from a session's metadata, or derived from ``path`` when missing."""
    meta = session.get_modelmeta().custom_metadata_map
    if {META_LEFT, META_RIGHT, META_HOP} <= set(meta):
        return Margins(int(meta[META_LEFT]), int(meta[META_RIGHT])), int(meta[META_HOP])
    import onnx

    return analyse(onnx.load(str(path)))
