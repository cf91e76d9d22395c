"""The pipelined mode with windows: pieces as they are computed, in text order, on the real voice
equal to the whole-sentence reference; the scheduling rules on small fakes."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.utils import fake_chunks
from tts_accel.core.cancel import Cancel
from tts_accel.core.errors import GraphSplitError, ModelError, Terminated
from tts_accel.core.pipeline import scheduler
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.pipeline.scheduler import Chunk, Piece
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.voices.base import Backend
from tts_accel.core.voices.params import SynthParams

PARAMS = SynthParams(noise_scale=0.0, noise_w=0.0)
STREAM = ExecutionPlan(mode="pipelined", workers=2, windows="32x128x512/512")
#: 60 words in one sentence (two of long.txt's joined): the issue's long-sentence case.
SENTENCE_60 = (
    "People measured time by the church bell and the arrival of the mail coach, which came twice a week "
    "from the city and brought newspapers that were already three days old, and she rented the room above "
    "the bakery, and every morning she walked out along the river with her instruments, counting paces and "
    "writing numbers in tiny, careful columns."
)


class FakeText:
    def __init__(self, ids: np.ndarray):
        self.ids = ids
        self.frames_per_id = np.full(len(ids), 2, dtype=np.int64)


class FakeStages:
    """Windows of ``samples`` samples, 3 per chunk (every value = the chunk's first id); records
    which chunks got the opening schedule and can hold a window until a gate opens."""

    hop = 1

    def __init__(self, samples: int = 4, windows: int = 3, delay: float = 0.0, seed: int = 0):
        self.samples, self.windows, self.delay = samples, windows, delay
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.opening: dict[int, bool] = {}
        self.computed: dict[int, int] = {}
        self.gate: threading.Event | None = None  # window 2 of every chunk waits for it
        self.done = threading.Event()

    def text_stage(self, ids: np.ndarray, params: SynthParams, alone: bool = False) -> FakeText:
        return FakeText(ids)

    def acoustic_stage(self, text, opening: bool, cancel=None, spare=None) -> Iterator[tuple[np.ndarray, bool]]:  # type: ignore[no-untyped-def]
        key = int(text.ids[0])
        self.opening[key] = opening
        try:
            for k in range(self.windows):
                if cancel is not None and cancel.is_set():
                    return
                if k == 1 and self.gate is not None and not self.gate.wait(60):
                    raise RuntimeError("the second window was never released: the first was not yielded")
                with self.lock:
                    delay = self.rng.uniform(0, self.delay)
                time.sleep(delay)
                self.computed[key] = self.computed.get(key, 0) + 1
                yield np.full(self.samples, float(key), dtype=np.float32), k == self.windows - 1
        finally:
            self.done.set()


class StagedBackend(Backend):
    sample_rate = 100

    def __init__(self, stages: FakeStages | None):
        self.stages = stages

    def two_stage(self):  # type: ignore[no-untyped-def]
        return self.stages

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        return np.full(len(ids), float(ids[0]), dtype=np.float32)


def test_the_first_window_is_out_before_the_next_is_computed() -> None:
    """Window 2 waits until the consumer holds window 1: a scheduler that waited for the whole
    sentence would never release it (the fake raises after a minute instead of hanging)."""
    stages = FakeStages()
    stages.gate = threading.Event()
    out = []
    for piece in scheduler.run(fake_chunks(1), StagedBackend(stages), PARAMS, STREAM):
        out.append(piece)
        stages.gate.set()
    assert [p.last for p in out] == [False, False, True]


def test_windows_keep_text_order_under_random_delays() -> None:
    stages = FakeStages(delay=0.005, seed=3)
    out = list(scheduler.run(fake_chunks(17), StagedBackend(stages), PARAMS, STREAM))
    assert [p.chunk.index for p in out] == [i for i in range(17) for _ in range(3)]
    assert all(p.audio[0] == p.chunk.index for p in out)
    firsts = [p for p in out if p.frames_per_id is not None]
    assert [p.chunk.index for p in firsts] == list(range(17))  # durations on each chunk's first piece
    assert [p.last for p in out] == [False, False, True] * 17


def test_only_a_stream_start_gets_the_opening_schedule() -> None:
    """A chunk that starts with audio still ahead of it (here: hours, at 100 samples per second)
    gets the steady schedule; the text's first chunk, with nothing ahead, the opening one."""
    stages = FakeStages(samples=10**6)
    list(scheduler.run(fake_chunks(6), StagedBackend(stages), PARAMS, STREAM))
    assert stages.opening == {0: True, 1: False, 2: False, 3: False, 4: False, 5: False}


def test_a_stream_that_ran_dry_opens_again() -> None:
    """Pieces of no audio: a real-time listener has heard everything at once, so every chunk
    that starts with nothing pending is a new opening."""
    stages = FakeStages(samples=0)
    plan = ExecutionPlan(mode="pipelined", workers=1, windows=STREAM.windows)
    chunks = fake_chunks(3)
    for chunk in chunks:  # one at a time: the next starts only when this one is done
        list(scheduler.run([chunk], StagedBackend(stages), PARAMS, plan))
    assert stages.opening == {0: True, 1: True, 2: True}


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_chunks_in_flight_are_bounded(workers: int) -> None:
    pulled = 0

    def chunks() -> Iterator[Chunk]:
        nonlocal pulled
        for chunk in fake_chunks(30):
            pulled += 1
            yield chunk

    plan = ExecutionPlan(mode="pipelined", workers=workers, windows=STREAM.windows)
    ahead, done = [], 0
    for piece in scheduler.run(chunks(), StagedBackend(FakeStages(delay=0.002)), PARAMS, plan):
        done += piece.last
        ahead.append(pulled - done)
    assert max(ahead) <= 2 * workers


def test_the_first_chunk_runs_its_text_stage_alone() -> None:
    """Nothing competes with the first text stage: the second chunk is not even phonemized
    before it is done, and that text stage is told it runs alone (it may take every core)."""
    pulled: list[int] = []
    seen: dict[int, tuple[bool, list[int]]] = {}

    class Recording(FakeStages):
        def text_stage(self, ids, params, alone=False):  # type: ignore[no-untyped-def]
            seen[int(ids[0])] = (alone, list(pulled))
            return super().text_stage(ids, params)

    def chunks() -> Iterator[Chunk]:
        for chunk in fake_chunks(5):
            pulled.append(chunk.index)
            yield chunk

    out = list(scheduler.run(chunks(), StagedBackend(Recording(samples=10**6)), PARAMS, STREAM))
    assert seen[0] == (True, [0])
    assert all(not alone for alone, _ in (seen[k] for k in range(1, 5)))
    assert [p.chunk.index for p in out] == [i for i in range(5) for _ in range(3)]


def test_nothing_starts_beside_the_first_window() -> None:
    """The chunks after an opening one are pulled (phonemized) and started only once its first
    window is out: neither the next text stage nor its phonemizing competes with first audio."""
    pulled: list[int] = []
    at_first_piece: list[int] = []

    def chunks() -> Iterator[Chunk]:
        for chunk in fake_chunks(5):
            pulled.append(chunk.index)
            yield chunk

    out = []
    for piece in scheduler.run(chunks(), StagedBackend(FakeStages()), PARAMS, STREAM):
        if not out:
            at_first_piece.extend(pulled)
        out.append(piece)
    assert at_first_piece == [0]
    assert [p.chunk.index for p in out] == [i for i in range(5) for _ in range(3)]


def test_a_failing_window_surfaces_its_error_in_order() -> None:
    class Failing(FakeStages):
        def acoustic_stage(self, text, opening, cancel=None, spare=None):  # type: ignore[no-untyped-def]
            for n, (audio, last) in enumerate(super().acoustic_stage(text, opening, cancel, spare)):
                if int(text.ids[0]) == 4 and n == 1:
                    raise ModelError("window two of chunk four broke")
                yield audio, last

    got = []
    with pytest.raises(ModelError, match="chunk four"):
        for piece in scheduler.run(fake_chunks(9), StagedBackend(Failing()), PARAMS, STREAM):
            got.append(piece.chunk.index)
    assert got[-1] == 4 and got[:-1] == [i for i in range(4) for _ in range(3)]


def test_closing_the_stream_cancels_the_windows_left() -> None:
    stages = FakeStages(windows=50)
    stages.gate = threading.Event()
    stream = scheduler.run(fake_chunks(1), StagedBackend(stages), PARAMS, STREAM)
    next(iter(stream))
    # the window in flight is released while close() waits for it (close lets the running unit end)
    threading.Timer(0.5, stages.gate.set).start()
    stream.close()  # the reader went away (a broken pipe, Ctrl-C)
    assert stages.done.wait(60)
    assert stages.computed[0] < 50


@pytest.mark.parametrize("cancel_at", [0, 1, 7])  # pieces out before the cancel (7: mid-chunk 2)
def test_a_cancel_while_the_consumer_waits_raises_its_reason(cancel_at) -> None:  # type: ignore[no-untyped-def]
    """The run's token cancelled from another thread (a signal) while the consumer waits for the
    head chunk's next window: the error comes out, even when the jobs queued behind it are
    cancelled before they start, and nothing hangs."""
    token = Cancel()
    got: list[int] = []
    raised: list[BaseException] = []

    def consume() -> None:
        try:
            stages = FakeStages(windows=20, delay=0.01)
            for piece in scheduler.run(fake_chunks(12), StagedBackend(stages), PARAMS, STREAM, token):
                got.append(piece.chunk.index)
                if len(got) == cancel_at:
                    threading.Timer(0.02, token.cancel, args=(lambda: Terminated("stopped"),)).start()
        except BaseException as err:
            raised.append(err)

    if cancel_at == 0:
        token.cancel(lambda: Terminated("stopped"))
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    consumer.join(60)
    assert not consumer.is_alive(), "the consumer hangs after the cancel"
    assert [type(err) for err in raised] == [Terminated]
    assert len(got) < 12 * 20 and len(got) >= cancel_at


def test_windows_that_stop_quietly_on_a_cancel_still_end_the_wait() -> None:
    """The real stream returns between windows when cancelled; the consumer, waiting for the
    head's next window, must hear why rather than wait for good."""

    class Quiet(FakeStages):
        def acoustic_stage(self, text, opening, cancel=None, spare=None):  # type: ignore[no-untyped-def]
            yield np.zeros(4, dtype=np.float32), False
            while not cancel.is_set():  # the next window is "computing" until the cancel
                time.sleep(0.005)

    token = Cancel()
    raised: list[BaseException] = []

    def consume() -> None:
        try:
            for _ in scheduler.run(fake_chunks(3), StagedBackend(Quiet()), PARAMS, STREAM, token):
                threading.Timer(0.1, token.cancel, args=(lambda: Terminated("stopped"),)).start()
        except BaseException as err:
            raised.append(err)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    consumer.join(60)
    assert not consumer.is_alive(), "the consumer hangs after the cancel"
    assert [type(err) for err in raised] == [Terminated]


def test_without_stages_the_chunks_come_whole() -> None:
    out = list(scheduler.run(fake_chunks(4), StagedBackend(None), PARAMS, STREAM))
    assert [(p.chunk.index, p.last) for p in out] == [(i, True) for i in range(4)]


# -- the real voice ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def streamed() -> Synthesizer:
    return Synthesizer("piper-joe", plan_for("pipelined", tuned=False))


@pytest.fixture(scope="module")
def reference() -> Synthesizer:
    return Synthesizer("piper-joe", plan_for("sequential", tuned=False))


@pytest.mark.parametrize("text", ["paragraph", "sixty words"])
def test_streamed_equals_the_sequential_reference(streamed, reference, text) -> None:  # type: ignore[no-untyped-def]
    """Zero noise: the pipelined mode's windows against the user's own graph, whole sentence by
    whole sentence: at most 1e-4 per sample, exactly the same length."""
    from tests.utils import TEXTS

    words = (TEXTS / "paragraph.txt").read_text(encoding="utf-8") if text == "paragraph" else SENTENCE_60
    pieces: list[Piece] = []
    got = np.concatenate(list(streamed.stream([words], PARAMS, on_piece=pieces.append)))
    want = reference.synthesize(words, PARAMS)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4
    assert len(pieces) > len({p.chunk.index for p in pieces})  # some sentence came in windows


def test_the_first_sentence_opens_with_a_small_window(streamed) -> None:  # type: ignore[no-untyped-def]
    pieces: list[Piece] = []
    for _ in streamed.stream([SENTENCE_60], PARAMS, on_piece=pieces.append):
        pass
    assert pieces[0].audio.size == 32 * 256  # the opening schedule's first window: 372 ms
    assert pieces[0].frames_per_id is not None and pieces[0].frames_per_id.shape == pieces[0].chunk.ids.shape
    first = [p for p in pieces if p.chunk.index == 0]  # 719 ids: the chunker cut it at a clause (600-id budget)
    assert len(first) >= 3 and int(pieces[0].frames_per_id.sum()) * 256 == sum(p.audio.size for p in first)


def test_seeded_noise_repeats_window_by_window() -> None:
    """Both noise draws are in the text stage, re-seeded per run: what two `tts synth --seed`
    runs do (one process each)."""
    text, seeded = "Seeds make noise repeatable, window by window.", SynthParams(seed=11)
    a = Synthesizer("piper-joe", plan_for("pipelined", tuned=False)).synthesize(text, seeded)
    again = Synthesizer("piper-joe", plan_for("pipelined", tuned=False))
    np.testing.assert_array_equal(a, again.synthesize(text, seeded))
    np.testing.assert_array_equal(a, again.synthesize(text, seeded))


@pytest.fixture(scope="module")
def unsplittable(tmp_path_factory):  # type: ignore[no-untyped-def]
    """joe's graph with a second Ceil on a constant: the same voice, but not a graph the split
    recognises (it looks for one Ceil: the durations)."""
    import shutil

    import onnx

    from tts_accel.core.voices.registry import resolve_voice

    joe = resolve_voice("piper-joe")
    folder = tmp_path_factory.mktemp("odd-voice")
    model = onnx.load(str(joe.model_path))
    one = onnx.helper.make_tensor("odd_one", onnx.TensorProto.FLOAT, [1], [1.5])
    model.graph.initializer.append(one)
    model.graph.node.append(onnx.helper.make_node("Ceil", ["odd_one"], ["odd_ceil"]))
    model.graph.output.append(onnx.helper.make_tensor_value_info("odd_ceil", onnx.TensorProto.FLOAT, [1]))
    path = folder / "odd.onnx"
    onnx.save(model, str(path))
    shutil.copy(joe.config_path, folder / "odd.onnx.json")
    return path


def test_a_graph_that_cannot_be_split_falls_back_to_whole_sentences(unsplittable) -> None:  # type: ignore[no-untyped-def]
    synth = Synthesizer(str(unsplittable), plan_for("pipelined", str(unsplittable), tuned=False))
    pieces: list[Piece] = []
    audio = np.concatenate(list(synth.stream(["One sentence. And another one."], PARAMS, on_piece=pieces.append)))
    assert [p.last for p in pieces] == [True, True] and audio.size > 22050
    (note,) = synth.backend.notes()
    assert "whole chunks, not windows" in note and "not a Piper VITS graph" in note


def test_windows_asked_for_on_such_a_graph_are_an_error_naming_the_fix(unsplittable) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for("pipelined", str(unsplittable), tuned=False, windows="32x512")
    assert plan.sources["windows"] == "flag"
    synth = Synthesizer(str(unsplittable), plan)
    with pytest.raises(GraphSplitError, match="--windows off"):
        synth.synthesize("One sentence.", PARAMS)
