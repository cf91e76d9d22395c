"""Modes keep text order, bound the work in flight, and give the same samples on the real voice."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.utils import MODES_TEXT, DelayBackend, fake_chunks
from tts_accel.core.pipeline import scheduler
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.pipeline.scheduler import Chunk
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.modes import ONNX_MODES
from tts_accel.core.voices.params import SynthParams

PARAMS = SynthParams(noise_scale=0.0, noise_w=0.0)
PLANS = {
    "sequential": ExecutionPlan(mode="sequential"),
    "parallel": ExecutionPlan(mode="parallel", workers=4),
    "pipelined": ExecutionPlan(mode="pipelined", workers=4),
    "batched": ExecutionPlan(mode="batched", batch_size=3),
    "batched-workers": ExecutionPlan(mode="batched", batch_size=3, workers=3),
}


@pytest.mark.parametrize("name", list(PLANS))
def test_output_keeps_text_order_under_random_delays(name: str) -> None:
    backend = DelayBackend(max_delay=0.01, seed=7)
    out = list(scheduler.run(fake_chunks(23), backend, PARAMS, PLANS[name]))
    assert [p.chunk.index for p in out] == list(range(23))
    assert all(p.audio[0] == p.chunk.index and len(p.audio) == len(p.chunk.ids) for p in out)
    assert all(p.last for p in out)  # whole chunks: one piece each


def test_concurrent_modes_really_overlap_and_sequential_does_not() -> None:
    runs = {}
    for name in ("sequential", "pipelined"):
        backend = DelayBackend(max_delay=0.02, seed=1)
        list(scheduler.run(fake_chunks(12), backend, PARAMS, PLANS[name]))
        runs[name] = backend.max_active
    assert runs["sequential"] == 1
    assert 1 < runs["pipelined"] <= 4


def test_batched_groups_consecutive_chunks() -> None:
    backend = DelayBackend(max_delay=0.0)
    list(scheduler.run(fake_chunks(7), backend, PARAMS, PLANS["batched"]))
    assert backend.batch_sizes == [3, 3, 1]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_in_flight_window_is_bounded(workers: int) -> None:
    """The front-end never runs more than 2 * workers chunks ahead of the audio handed out."""
    pulled = 0

    def chunks() -> Iterator[Chunk]:
        nonlocal pulled
        for chunk in fake_chunks(40):
            pulled += 1
            yield chunk

    plan = ExecutionPlan(mode="pipelined", workers=workers)
    ahead = []
    for n, _ in enumerate(scheduler.run(chunks(), DelayBackend(max_delay=0.003), PARAMS, plan), 1):
        ahead.append(pulled - n)
    assert max(ahead) <= 2 * workers
    assert max(ahead) >= 1  # it does run ahead: the front-end overlaps the model


def test_parallel_phonemizes_everything_before_the_first_audio() -> None:
    pulled = 0

    def chunks() -> Iterator[Chunk]:
        nonlocal pulled
        for chunk in fake_chunks(10):
            pulled += 1
            yield chunk

    first = next(iter(scheduler.run(chunks(), DelayBackend(0.0), PARAMS, PLANS["parallel"])))
    assert first.chunk.index == 0 and pulled == 10


def test_a_failing_chunk_surfaces_its_error() -> None:
    class Failing(DelayBackend):
        def infer(self, ids, params):  # type: ignore[no-untyped-def]
            if ids[0] == 5:
                raise RuntimeError("chunk five broke")
            return super().infer(ids, params)

    with pytest.raises(RuntimeError, match="chunk five"):
        list(scheduler.run(fake_chunks(9), Failing(0.001), PARAMS, PLANS["pipelined"]))


@pytest.mark.parametrize("name", list(PLANS))
def test_a_cancel_ends_the_wait_while_a_run_that_cannot_be_aborted_goes_on(name: str) -> None:
    """A model call that ignores the cancel (a torch forward) blocks its worker, never the
    consumer: the cancel (a signal's handler, on the consumer's thread in the CLI) raises its
    error while the call still runs, in every mode."""
    import threading

    from tts_accel.core.cancel import Cancel
    from tts_accel.core.errors import Terminated

    release, started = threading.Event(), threading.Event()

    class Stuck(DelayBackend):
        def infer(self, ids, params):  # type: ignore[no-untyped-def]
            if ids[0] == 2:
                started.set()
                release.wait(60)  # seconds of work that no cancel reaches
            return super().infer(ids, params)

    token = Cancel()
    got: list[int] = []

    def cancel_once_stuck() -> None:
        started.wait(60)
        token.cancel(lambda: Terminated("stopped"))

    threading.Thread(target=cancel_once_stuck, daemon=True).start()
    try:
        with pytest.raises(Terminated, match="stopped"):
            for piece in scheduler.run(fake_chunks(9), Stuck(0.0), PARAMS, PLANS[name], token):
                got.append(piece.chunk.index)
        assert not release.is_set() and 2 not in got  # the stuck call never finished
    finally:
        release.set()


@pytest.fixture(scope="module")
def real_outputs() -> dict[str, np.ndarray]:
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    plans = {mode: plan_for(mode, tuned=False) for mode in ONNX_MODES}
    return {mode: Synthesizer("piper-joe", plan).synthesize(MODES_TEXT, PARAMS) for mode, plan in plans.items()}


def test_zero_noise_modes_give_identical_samples_on_the_real_voice(
    real_outputs: dict[str, np.ndarray],
) -> None:
    base = real_outputs["sequential"]
    assert len(base) > 22050 * 5  # several seconds of speech, several chunks
    np.testing.assert_array_equal(real_outputs["parallel"], base)
    # The pipelined mode streams windows of the split graph, and a stream's first text stage runs
    # on two ORT threads (another summation order): the same length, within the windowed
    # contract (docs/streaming.md: at most 1e-4 per sample, far under one 16-bit step).
    streamed = real_outputs["pipelined"]
    assert len(streamed) == len(base)
    assert np.abs(streamed - base).max() <= 1e-4


def test_zero_noise_pipelined_on_whole_sentences_is_bit_identical_to_sequential(
    real_outputs: dict[str, np.ndarray],
) -> None:
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    whole = Synthesizer("piper-joe", plan_for("pipelined", tuned=False, windows="off")).synthesize(MODES_TEXT, PARAMS)
    np.testing.assert_array_equal(whole, real_outputs["sequential"])


def test_batched_cuts_each_chunk_exactly(real_outputs: dict[str, np.ndarray]) -> None:
    # Same length to the sample (each cut is frames x 256), same audio within float tolerance:
    # padding changes ORT's kernel shapes, not the maths.
    base, batched = real_outputs["sequential"], real_outputs["batched"]
    assert len(batched) == len(base)
    np.testing.assert_allclose(batched, base, atol=2e-3)
    assert np.abs(batched - base).max() < 0.01 * np.abs(base).max()
