"""The receptive field walked from the graph: equal to the dependency reach ORT shows when one
frame is perturbed, refused for graphs that look across time."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tts_accel.core.acoustic.receptive import hop_of, receptive_field
from tts_accel.core.acoustic.windows import Margins
from tts_accel.core.errors import NonLocalError

DEFAULT_NOISE = (0.667, 1.0, 0.8)

C = 3


def _session(path):  # type: ignore[no-untyped-def]
    """An ORT session on one thread (impulse responses do not depend on threads)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def impulse_reach(session, name: str, frames: int, hop: int, seed: int = 0) -> Margins:  # type: ignore[no-untyped-def]
    """Perturb the middle frame of a random latent; the output frames that change tell how far
    each output frame looks: a change ``d`` frames to the right means a left margin of ``d``."""
    rng = np.random.default_rng(seed)
    shape = [d if isinstance(d, int) and d > 0 else frames for d in _dims(session)]
    x = rng.standard_normal(shape).astype(np.float32)
    f = frames // 2
    base = session.run(None, {name: x})[0]
    y = x.copy()
    y[:, :, f] += 1.0
    moved = session.run(None, {name: y})[0]
    # every output channel and position, folded onto positions along time
    diff = np.abs(moved - base).reshape(-1, moved.shape[-1]).max(axis=0)
    changed = np.nonzero(diff > 0)[0] // hop
    return Margins(left=int(changed.max() - f), right=int(f - changed.min()))


def _dims(session) -> list:  # type: ignore[no-untyped-def]
    return [1, *session.get_inputs()[0].shape[1:]]


def test_joe_decoder_field_is_the_dependency_reach(split_graphs) -> None:  # type: ignore[no-untyped-def]
    derived = receptive_field(split_graphs.decoder)
    assert hop_of(split_graphs.decoder) == 256
    session = _session(split_graphs.decoder)
    assert impulse_reach(session, "z", 96, 256) == derived
    assert derived.left > 0 and derived.right > 0


def test_joe_flow_field_is_the_dependency_reach(split_graphs) -> None:  # type: ignore[no-untyped-def]
    derived = receptive_field(split_graphs.flow)
    session = _session(split_graphs.flow)
    assert impulse_reach(session, "z_p", 160, 1) == derived
    # 4 coupling layers x 4 WaveNet layers x (kernel 5 - 1) / 2, read off the graph independently
    convs = [n for n in onnx.load(str(split_graphs.flow)).graph.node if n.op_type == "Conv"]
    reach = sum(
        (a.ints[0] - 1) // 2 for n in convs for a in n.attribute if a.name == "kernel_shape"
    )  # dilation 1 everywhere in the flow
    assert derived == Margins(reach, reach)


def test_empirically_exact_margins_are_within_the_field(stages, piper_voice) -> None:  # type: ignore[no-untyped-def]
    """The derived field is a safe upper bound for the 1e-4 criterion: the decoder is exact at
    the field and not 2 frames inside it (the outermost contributions are small, docs/streaming.md)."""
    from tts_accel.core.acoustic.windows import Schedule, windows

    ac = stages.acoustic
    out = stages.text.run(piper_voice.encode("The birch canoe slid on the smooth planks."), DEFAULT_NOISE)
    z = ac.flow.run(["z"], {"z_p": out.z_p[np.newaxis]})[0][0]
    whole = ac.decoder.run(z)

    def error(m: Margins) -> float:
        ws = windows(z.shape[1], Schedule(8, 8, m))
        return float(np.abs(np.concatenate([ac.run_window(z, w) for w in ws]) - whole).max())

    field = ac.decoder_margins
    assert error(field) <= 1e-4
    assert error(Margins(field.left - 2, field.right - 2)) > 1e-4


# -- synthetic graphs -----------------------------------------------------------------------------
def conv(name: str, inp: str, out: str, k: int, d: int = 1, rng=np.random.default_rng(1)):  # type: ignore[no-untyped-def]
    w = numpy_helper.from_array(rng.standard_normal((C, C, k)).astype(np.float32), f"{name}.w")
    node = helper.make_node("Conv", [inp, w.name], [out], name=name, kernel_shape=[k], dilations=[d],
                            pads=[d * (k - 1) // 2] * 2)  # fmt: skip
    return node, w


def up(name: str, inp: str, out: str, k: int, s: int, rng=np.random.default_rng(2)):  # type: ignore[no-untyped-def]
    w = numpy_helper.from_array(rng.standard_normal((C, C, k)).astype(np.float32), f"{name}.w")
    node = helper.make_node("ConvTranspose", [inp, w.name], [out], name=name, kernel_shape=[k], strides=[s],
                            pads=[(k - s) // 2] * 2)  # fmt: skip
    return node, w


def model_of(parts, last: str):  # type: ignore[no-untyped-def]
    nodes = [p[0] for p in parts if p[0] is not None]
    inits = [p[1] for p in parts if p[1] is not None]
    x = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, C, "frames"])
    y = helper.make_tensor_value_info(last, TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(
    "layers",
    [
        [("conv", 5, 3), ("up", 8, 4), ("conv", 7, 12)],
        [("up", 16, 8), ("conv", 3, 1), ("up", 4, 2), ("conv", 5, 6)],
        [("conv", 7, 1), ("conv", 3, 5), ("conv", 1, 1)],
    ],
)
def test_synthetic_stacks_match_ort(tmp_path, layers) -> None:  # type: ignore[no-untyped-def]
    parts, prev, hop = [], "z", 1
    for i, (kind, k, arg) in enumerate(layers):
        out = f"t{i}"
        if kind == "conv":
            parts.append(conv(f"c{i}", prev, out, k, arg))
        else:
            parts.append(up(f"u{i}", prev, out, k, arg))
            hop *= arg
        act = f"a{i}"
        parts.append((helper.make_node("LeakyRelu", [out], [act], alpha=0.1), None))
        prev = act
    path = tmp_path / "stack.onnx"
    onnx.save(model_of(parts, prev), str(path))
    derived = receptive_field(path)
    assert hop_of(path) == hop
    assert impulse_reach(_session(path), "z", 64, hop) == derived


@pytest.mark.parametrize(
    "node, extra",
    [
        (helper.make_node("CumSum", ["t0", "axis"], ["y"]), numpy_helper.from_array(np.array(2), "axis")),
        (helper.make_node("ReduceMean", ["t0"], ["y"], axes=[2], keepdims=1), None),
        (helper.make_node("Softmax", ["t0"], ["y"], axis=2), None),
    ],
)
def test_ops_across_time_are_refused(tmp_path, node, extra) -> None:  # type: ignore[no-untyped-def]
    parts = [conv("c0", "z", "t0", 3), (node, extra)]
    path = tmp_path / "bad.onnx"
    onnx.save(model_of(parts, "y"), str(path))
    with pytest.raises(NonLocalError, match="not a local operation"):
        receptive_field(path)


def test_a_slice_along_time_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    consts = [numpy_helper.from_array(np.array([v]), n) for v, n in ((1, "s"), (9, "e"), (2, "ax"))]
    slice_node = helper.make_node("Slice", ["t0", "s", "e", "ax"], ["y"], name="cut")
    parts = [conv("c0", "z", "t0", 3), (slice_node, None), *[(None, c) for c in consts]]
    path = tmp_path / "slice.onnx"
    onnx.save(model_of(parts, "y"), str(path))
    with pytest.raises(NonLocalError, match="Slice along time"):
        receptive_field(path)


def test_the_sentence_length_may_not_enter_the_arithmetic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A mask built from the total length (Shape -> Range -> Less) is what windows cannot copy."""
    two = numpy_helper.from_array(np.array(2), "two")
    parts = [
        conv("c0", "z", "t0", 3),
        (helper.make_node("Shape", ["t0"], ["shape"]), None),
        (helper.make_node("Cast", ["shape"], ["fshape"], to=TensorProto.FLOAT), None),
        (helper.make_node("Gather", ["fshape", "two"], ["length"], axis=0), two),
        (helper.make_node("Mul", ["t0", "length"], ["y"]), None),  # scales by the sentence's length
    ]
    path = tmp_path / "len.onnx"
    onnx.save(model_of(parts, "y"), str(path))
    with pytest.raises(NonLocalError, match="length"):
        receptive_field(path)


def test_the_text_stage_is_not_windowable(split_graphs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NonLocalError):
        receptive_field(split_graphs.text)


def test_split_graphs_carry_their_field_in_metadata(split_graphs) -> None:  # type: ignore[no-untyped-def]
    """Sessions read margins and hop from the graph's metadata (no onnx.load at run time)."""
    from tts_accel.core.acoustic.receptive import META_LEFT, from_session

    for path in (split_graphs.flow, split_graphs.decoder):
        session = _session(path)
        assert META_LEFT in session.get_modelmeta().custom_metadata_map
        assert from_session(session, path) == (receptive_field(path), hop_of(path))
