"""Windowed acoustic stage against whole-sentence runs, on the real voice: at most 1e-4 per
sample and exactly the same length, at every kind of window edge."""

from __future__ import annotations

import numpy as np
import pytest

from tts_accel.core.acoustic.windows import Margins, Schedule, windows

ZERO_NOISE = (0.0, 1.0, 0.0)
DEFAULT_NOISE = (0.667, 1.0, 0.8)
TOLERANCE = 1e-4  # the bound, absolute, per sample

SENTENCES = {
    "tiny": "Hi.",
    "short": "Hello there. This is a short test of the speech engine.",
    "harvard": "The birch canoe slid on the smooth planks.",
    "numbers": "In 1887, Clara Voss counted 3,400 paces, and wrote them down.",
    "long": (
        "People measured time by the church bell and the arrival of the mail coach, which came twice "
        "a week from the city and brought newspapers that were already three days old."
    ),
}
#: The schedule REPORT.md recommends, a low-latency ramp, and some that put edges in awkward places.
SCHEDULES = [(32, (), 512), (16, (64,), 256), (3, (5, 7), 11), (40, (), 300)]


def stream(ac, z_p: np.ndarray, schedule: Schedule, fixed: bool, flow_step: int | None = None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The acoustic stage's pieces for ``schedule``, with fixed-shape windows or not (the stage
    follows its engine's ``shapes``: fixed is what a fixed-shape engine gets)."""
    ac.fixed = fixed
    try:
        pieces = list(ac.stream(z_p, schedule, flow_step))
    finally:
        ac.fixed = False
    cores = [w.core for w in windows(z_p.shape[1], schedule, fixed)]
    assert [p.size for p in pieces] == [c * ac.hop for c in cores]  # one piece per window, in order
    return np.concatenate(pieces)


@pytest.fixture(scope="module")
def latents(stages, piper_voice):  # type: ignore[no-untyped-def]
    return {name: stages.text.run(piper_voice.encode(text), DEFAULT_NOISE).z_p for name, text in SENTENCES.items()}


@pytest.mark.parametrize("fixed", [False, True], ids=["variable", "fixed"])
@pytest.mark.parametrize("first, ramp, step", SCHEDULES)
@pytest.mark.parametrize("name", list(SENTENCES))
def test_windowed_equals_whole(stages, latents, name, first, ramp, step, fixed) -> None:  # type: ignore[no-untyped-def]
    ac = stages.acoustic
    z_p = latents[name]
    whole = ac.run_whole(z_p)
    out = stream(ac, z_p, ac.schedule(first, step, ramp), fixed)
    assert out.shape == whole.shape == (z_p.shape[1] * 256,)
    assert np.abs(out - whole).max() <= TOLERANCE


@pytest.mark.parametrize("name", ["tiny", "harvard"])
def test_one_frame_windows(stages, latents, name) -> None:  # type: ignore[no-untyped-def]
    """Every window a single frame: every core edge is a seam."""
    ac = stages.acoustic
    z_p = latents[name]
    whole = ac.run_whole(z_p)
    for fixed in (False, True):
        out = stream(ac, z_p, ac.schedule(1, 1), fixed)
        assert out.shape == whole.shape
        assert np.abs(out - whole).max() <= TOLERANCE


@pytest.mark.parametrize("flow_step", [None, 7, 1024])
def test_flow_windows_of_their_own_size(stages, latents, flow_step) -> None:  # type: ignore[no-untyped-def]
    """The flow may run ahead in windows of another size; fixed shapes with 32-frame buckets."""
    ac = stages.acoustic
    z_p = latents["long"]
    whole = ac.run_whole(z_p)
    for schedule in (ac.schedule(32, 512, whole_up_to=200), ac.schedule(16, 96, (40,), bucket=32)):
        for fixed in (False, True):
            out = stream(ac, z_p, schedule, fixed, flow_step)
            assert out.shape == whole.shape
            assert np.abs(out - whole).max() <= TOLERANCE


def test_windowed_equals_the_monolithic_graph(stages, monolithic, piper_voice) -> None:  # type: ignore[no-untyped-def]
    """Against the user's own graph (what ``sequential`` runs), zero noise, with both of the
    family's schedules."""
    ac = stages.acoustic
    for text in SENTENCES.values():
        ids = piper_voice.encode(text)
        reference = monolithic(ids, ZERO_NOISE)
        z_p = stages.text.run(ids, ZERO_NOISE).z_p
        for schedule in (stages.opening, stages.steady):
            out = stream(ac, z_p, schedule, fixed=False)
            assert out.shape == reference.shape
            assert np.abs(out - reference).max() <= TOLERANCE


@pytest.mark.parametrize("frames", [1, 2, 3, 12, 26, 27, 28, 29, 43, 44])
def test_latents_at_window_edges(stages, latents, frames) -> None:  # type: ignore[no-untyped-def]
    """Latents cut to lengths around the schedule's edges: shorter than the first window (27
    frames with first=16), exactly at it, one past it, and around the flow's first window."""
    ac = stages.acoustic
    z_p = np.ascontiguousarray(latents["long"][:, :frames])
    whole = ac.run_whole(z_p)
    for fixed in (False, True):
        out = stream(ac, z_p, ac.schedule(16, 256, (64,)), fixed)
        assert out.shape == whole.shape
        assert np.abs(out - whole).max() <= TOLERANCE


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_sentence_exactly_at_a_window_boundary(stages, latents, offset) -> None:  # type: ignore[no-untyped-def]
    """Schedules built so that a real sentence ends exactly on, one before and one after the
    end of the first window's context, and of the second window's core."""
    ac = stages.acoustic
    z_p = latents["harvard"]
    n = z_p.shape[1]
    right = ac.decoder_margins.right
    whole = ac.run_whole(z_p)
    for schedule in (ac.schedule(n - right + offset, 64), ac.schedule(16, n - 16 + offset)):
        for fixed in (False, True):
            out = stream(ac, z_p, schedule, fixed)
            assert np.abs(out - whole).max() <= TOLERANCE


def test_zero_padding_the_latent_is_not_exact(stages, latents) -> None:  # type: ignore[no-untyped-def]
    """Why windows at an edge run on the true edge: padding the latent with zero frames
    changes the samples near the end (biases and activations make the padding non-zero)."""
    ac = stages.acoustic
    z_p = np.ascontiguousarray(latents["long"][:, :200])  # ends mid-word: loud at the edge
    whole = ac.run_whole(z_p)
    padded = np.concatenate([z_p, np.zeros((z_p.shape[0], 40), dtype=np.float32)], axis=1)
    cut = ac.run_whole(padded)[: whole.size]
    assert np.abs(cut - whole).max() > 100 * TOLERANCE
    # while a window that ends on the true edge is exact
    out = stream(ac, z_p, ac.schedule(16, 64), fixed=True)
    assert np.abs(out - whole).max() <= TOLERANCE


def test_margins_inside_the_field_are_refused(stages, latents) -> None:  # type: ignore[no-untyped-def]
    ac = stages.acoustic
    inside = Schedule(16, 64, Margins(ac.decoder_margins.left - 1, ac.decoder_margins.right))
    with pytest.raises(ValueError, match="inside the decoder's field"):
        next(ac.stream(latents["short"], inside))


def test_acoustic_stage_pieces_say_which_is_last(stages, latents) -> None:  # type: ignore[no-untyped-def]
    from tts_accel.core.voices.piper.stages import TextOutput

    z_p = latents["long"]
    text = TextOutput(z_p, np.ones(z_p.shape[1], dtype=np.int64))
    for opening in (True, False):
        pieces = list(stages.acoustic_stage(text, opening))
        assert [last for _, last in pieces] == [False] * (len(pieces) - 1) + [True]
        assert sum(a.size for a, _ in pieces) == z_p.shape[1] * stages.hop
    assert len(list(stages.acoustic_stage(text, True))) > len(list(stages.acoustic_stage(text, False)))


def test_a_cancelled_stream_stops_between_windows(stages, latents) -> None:  # type: ignore[no-untyped-def]
    import threading

    cancel = threading.Event()
    out = []
    for audio in stages.acoustic.stream(latents["long"], stages.acoustic.schedule(16, 16), cancel=cancel):
        out.append(audio)
        cancel.set()
    assert len(out) == 1


@pytest.mark.parametrize("first, ramp, step", SCHEDULES[:3])
@pytest.mark.parametrize("name", ["short", "long"])
def test_windows_on_a_spare_core_equal_whole_and_run_beside_each_other(stages, latents, name, first, ramp, step) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    """With a spare core (``spare()`` true) each window takes its own flow and the next one runs
    on a helper thread: the same pieces, in order, within the bound; with no spare core, the
    stream never starts a helper."""
    import threading

    ac = stages.acoustic
    z_p = latents[name]
    whole = ac.run_whole(z_p)
    schedule = ac.schedule(first, step, ramp)
    threads: set[str] = set()
    real = ac.window_apart

    def spy(z, window):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        return real(z, window)

    ac.window_apart = spy
    try:
        pieces = list(ac.stream(z_p, schedule, spare=lambda: True))
        cores = [w.core for w in windows(z_p.shape[1], schedule)]
        assert [p.size for p in pieces] == [c * ac.hop for c in cores]
        out = np.concatenate(pieces)
        assert out.shape == whole.shape and np.abs(out - whole).max() <= TOLERANCE
        assert len(cores) == 1 or any(t.startswith("tts-window") for t in threads)  # the helper ran windows
        threads.clear()
        busy = np.concatenate(list(ac.stream(z_p, schedule, spare=lambda: False)))
        assert np.abs(busy - whole).max() <= TOLERANCE and not any(t.startswith("tts-window") for t in threads)
    finally:
        del ac.window_apart
