"""Splitting the real Piper graph: the seam, what lands where, determinism, caching, and
exactness of the composed stages against the monolithic graph."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tts_accel.core.errors import GraphSplitError, ModeNotApplicable
from tts_accel.core.voices.piper.split import find_seam, split_dir, split_graph

ZERO_NOISE = (0.0, 1.0, 0.0)


def ops(path) -> Counter:  # type: ignore[no-untyped-def]
    return Counter(n.op_type for n in onnx.load(str(path)).graph.node)


def test_seam_is_found_from_the_structure(piper_voice) -> None:  # type: ignore[no-untyped-def]
    seam = find_seam(onnx.load(str(piper_voice.model_path)))
    # the names the Piper exporter gives these tensors (ARCHITECTURE.md names /Mul_7_output_0)
    assert seam == {
        "frames_per_id": "/Ceil_output_0",
        "z_p": "/Add_output_0",
        "z": "/Mul_7_output_0",
        "mask": "/Cast_2_output_0",
    }


def test_both_noise_draws_are_in_the_text_stage(split_graphs) -> None:  # type: ignore[no-untyped-def]
    assert ops(split_graphs.text)["RandomNormalLike"] == 2
    assert ops(split_graphs.flow)["RandomNormalLike"] == 0
    assert ops(split_graphs.decoder)["RandomNormalLike"] == 0


def test_acoustic_graphs_take_only_the_latent(split_graphs) -> None:  # type: ignore[no-untyped-def]
    for path, name in ((split_graphs.flow, "z_p"), (split_graphs.decoder, "z")):
        model = onnx.load(str(path))
        assert [i.name for i in model.graph.input] == [name]
        # nothing that looks across time: no masks from the length, no cumulative sums
        assert not set(ops(path)) & {"Range", "CumSum", "ReduceSum", "ReduceMean", "MatMul", "Softmax"}


def test_split_is_deterministic_and_idempotent(piper_voice, split_graphs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    again = split_graph(piper_voice.model_path, tmp_path)
    for a, b in (
        (split_graphs.text, again.text),
        (split_graphs.flow, again.flow),
        (split_graphs.decoder, again.decoder),
    ):
        assert a.read_bytes() == b.read_bytes()
    stamp = {p: p.stat().st_mtime_ns for p in (again.text, again.flow, again.decoder)}
    os.utime(again.text, ns=(1, 1))  # a cached file is reused, never rewritten
    split_graph(piper_voice.model_path, tmp_path)
    assert again.text.stat().st_mtime_ns == 1
    assert again.flow.stat().st_mtime_ns == stamp[again.flow]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_missing_graph_is_rebuilt(piper_voice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = split_graph(piper_voice.model_path, tmp_path)
    first.decoder.unlink()
    assert split_graph(piper_voice.model_path, tmp_path).decoder.is_file()


def test_the_cache_is_keyed_by_the_model_and_the_split(piper_voice, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tts_accel.core.files.cache import model_digest

    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(tmp_path))
    graphs = split_graph(piper_voice.model_path)  # the default folder: the user cache
    folder = split_dir(piper_voice.model_path)
    assert graphs.text.parent == folder and folder.parent == tmp_path / "split"
    assert folder.name.startswith(model_digest(piper_voice.model_path)[:20])


def test_an_unwritable_cache_is_an_output_error(piper_voice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tts_accel.core.errors import OutputError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot cache the split graph in"):
        split_graph(piper_voice.model_path, blocker / "split")


@pytest.mark.parametrize("text", ["Hi.", "Hello there. This is a short test of the speech engine."])
def test_split_stages_equal_the_monolithic_graph(stages, monolithic, piper_voice, text) -> None:  # type: ignore[no-untyped-def]
    ids = piper_voice.encode(text)
    out = stages.text.run(ids, ZERO_NOISE)
    audio = stages.acoustic.run_whole(out.z_p)
    reference = monolithic(ids)
    assert audio.shape == reference.shape
    np.testing.assert_array_equal(audio, reference)  # same kernels, same order: bit-identical


def test_frames_per_id_sum_to_the_frame_count(stages, piper_voice, joe) -> None:  # type: ignore[no-untyped-def]
    from tts_accel.core.voices.params import SynthParams

    for text in ["Hi.", "The birch canoe slid on the smooth planks.", "A, B; and C: done!"]:
        ids = piper_voice.encode(text)
        for scales in (ZERO_NOISE, (0.667, 1.3, 0.8), (0.0, 0.7, 0.0)):
            out = stages.text.run(ids, scales)
            assert out.frames_per_id.shape == ids.shape
            assert out.frames_per_id.dtype == np.int64
            assert (out.frames_per_id >= 1).all()
            assert int(out.frames_per_id.sum()) == out.frames == out.z_p.shape[1]
        # the same durations as the whole graph's derived copy reports (what sequential runs)
        _, whole = joe.backend.infer_with_frames(ids, SynthParams(noise_scale=0.0, noise_w=0.0))
        np.testing.assert_array_equal(stages.text.run(ids, ZERO_NOISE).frames_per_id, whole)


def test_length_scale_stretches_the_frames(stages, piper_voice) -> None:  # type: ignore[no-untyped-def]
    ids = piper_voice.encode("The birch canoe slid on the smooth planks.")
    normal = stages.text.run(ids, ZERO_NOISE).frames
    slow = stages.text.run(ids, (0.0, 1.5, 0.0)).frames
    assert 1.4 * normal < slow < 1.6 * normal + len(ids)  # ceil adds < 1 frame per id


def test_a_graph_that_is_not_piper_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
    with pytest.raises(GraphSplitError, match="Ceil.*not a Piper VITS graph.*--windows off"):
        find_seam(model)
    path = tmp_path / "relu.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModeNotApplicable):  # bench, tune and verify skip it with the reason
        split_graph(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
