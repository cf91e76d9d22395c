"""FLOPs from a graph's convolutions: a tiny hand-built graph counted by hand, and the real decoder."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tts_accel.core.acoustic.flops import conv_flops, decoder_flops, per_audio_second, total_flops
from tts_accel.core.errors import ModelError


def tiny_graph() -> onnx.ModelProto:
    """x (1, 4, L) -Conv k3 pad1-> (1, 8, L) -ConvTranspose k4 stride2 pad1-> (1, 2, 2L)
    -Relu-> -Conv k5 pad2 group2-> (1, 4, 2L): two output samples per input frame."""
    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int):  # type: ignore[no-untyped-def]
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="conv1", kernel_shape=[3], pads=[1, 1]),
        helper.make_node("ConvTranspose", ["a", "w2"], ["b"], name="up", kernel_shape=[4], strides=[2], pads=[1, 1]),
        helper.make_node("Relu", ["b"], ["c"], name="relu"),
        helper.make_node("Conv", ["c", "w3"], ["y"], name="grouped", kernel_shape=[5], pads=[2, 2], group=2),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "frames"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, "samples"])],
        [weight("w1", 8, 4, 3), weight("w2", 8, 2, 4), weight("w3", 4, 1, 5)],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_tiny_graph_counts_what_hand_arithmetic_gives() -> None:
    model = tiny_graph()
    onnx.checker.check_model(model)
    counts = {c.name: c.flops for c in conv_flops(model, 10)}
    # Conv: 2 x N x out length x C_out x C_in/group x k
    assert counts["conv1"] == 2 * 1 * 10 * 8 * 4 * 3  # 1920
    # ConvTranspose: 2 x N x in length x C_in x C_out/group x k (out length (10-1)*2 + 4 - 2 = 20)
    assert counts["up"] == 2 * 1 * 10 * 8 * 2 * 4  # 1280
    assert counts["grouped"] == 2 * 1 * 20 * 4 * (2 // 2) * 5  # 800: each output sees 1 input channel
    assert "relu" not in counts  # element-wise nodes are not counted
    assert total_flops(model, 10) == 4000 and total_flops(model, 20) == 8000
    # 2 samples per frame at 100 Hz: 10 more frames = 0.2 s of audio and 4000 more FLOPs
    found = per_audio_second(model, hop=2, sample_rate=100, lengths=(10, 20))
    assert found.per_audio_s == pytest.approx(20000.0) and found.convs == 3


def test_a_conv_whose_shapes_are_unknown_is_a_model_error() -> None:
    model = tiny_graph()
    model.graph.initializer.pop()  # w3 gone: its shape is nowhere
    model.graph.input.append(helper.make_tensor_value_info("w3", TensorProto.FLOAT, None))
    with pytest.raises(ModelError, match="shapes of Conv 'grouped' are unknown"):
        conv_flops(model, 10)


def test_the_piper_decoder_needs_about_3_9_gflop_per_second_of_audio(split_graphs) -> None:
    """joe's HiFi-GAN decoder (hop 256 at 22.05 kHz): 3.91 GFLOP per second of audio in its 23
    convolutions, the figure the research notes give (docs/acoustic.md, the roofline)."""
    found = decoder_flops(split_graphs.decoder, 256, 22050)
    assert found.convs == 23
    assert found.gflop_per_audio_s == pytest.approx(3.9, rel=0.02)
    assert decoder_flops(split_graphs.decoder, 256, 22050) == found  # the second call reads the memo
