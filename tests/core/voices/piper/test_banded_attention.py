"""The text graph's relative-position attention in band form: the same durations, the same latent
(to float rounding: measured bit-identical), none of the (T, 2T-1) work, and a rewrite that
does not check out is not used."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.core.pipeline.test_streaming import SENTENCE_60
from tts_accel.core.voices.piper import banded_attention as band
from tts_accel.core.voices.piper.split import META_BAND, banded_text_model, text_model

ZERO = np.array([0.0, 1.0, 0.0], dtype=np.float32)


@pytest.fixture(scope="module")
def exporter_text(piper_voice):  # type: ignore[no-untyped-def]
    """The text stage as the exporter traced it (no band form)."""
    return text_model(onnx.load(str(piper_voice.model_path)))


def session(model):  # type: ignore[no-untyped-def]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def test_the_split_runs_every_attention_layer_in_band_form(split_graphs, exporter_text) -> None:  # type: ignore[no-untyped-def]
    text = onnx.load(str(split_graphs.text))
    assert {p.key: p.value for p in text.metadata_props}[META_BAND] == "6"
    before, after = Counter(n.op_type for n in exporter_text.graph.node), Counter(n.op_type for n in text.graph.node)
    assert after["Softmax"] == before["Softmax"]  # 6 attention layers, 6 in the duration spline
    assert after["Where"] == before["Where"] - 6  # the all-ones padding masks before each Softmax
    assert after["Pad"] < before["Pad"]  # the (T, 2T-1) shuffles are gone
    assert not band.find_layers(text)  # nothing left in the traced form


@pytest.mark.parametrize("text", ["A.", "Hi there.", "The birch canoe slid on the smooth planks.", SENTENCE_60])
def test_band_form_gives_the_same_durations_and_latent(piper_voice, split_graphs, exporter_text, text) -> None:  # type: ignore[no-untyped-def]
    """Zero noise (ORT seeds each random node from the seed and the node's place in the graph,
    so the two graphs draw different noise for one seed: the maths is compared without it)."""
    ids = piper_voice.encode(text)
    banded, plain = session(onnx.load(str(split_graphs.text))), session(exporter_text)
    feeds = {"input": ids[None], "input_lengths": np.array([ids.size]), "scales": ZERO}
    (z0, f0), (z1, f1) = (s.run(["z_p", "frames_per_id"], feeds) for s in (plain, banded))
    np.testing.assert_array_equal(f0, f1)
    assert z0.shape == z1.shape and np.abs(z0 - z1).max() <= 1e-5


def test_a_graph_without_relative_attention_is_left_alone() -> None:
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    model = onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
    assert band.rewrite(model) == 0 and [n.op_type for n in model.graph.node] == ["Relu"]


def test_a_rewrite_that_does_not_check_out_is_not_used(piper_voice, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = band.rewrite

    def broken(model) -> int:  # type: ignore[no-untyped-def]
        layers = real(model)
        scale = next(t for t in model.graph.initializer if t.name.endswith("band0/emb_k_t"))
        values = onnx.numpy_helper.to_array(scale) * 1.01  # a wrong embedding: other scores
        scale.CopyFrom(onnx.numpy_helper.from_array(values, scale.name))
        return layers

    monkeypatch.setattr(band, "rewrite", broken)
    text = banded_text_model(onnx.load(str(piper_voice.model_path)))
    assert {p.key: p.value for p in text.metadata_props}[META_BAND] == "0"
    assert band.find_layers(text)  # the exporter's form, untouched
