"""Window schedules: cores tile the frames exactly, contexts carry the margins or touch a true
edge, fixed-shape mode uses only the schedule's shapes; the plan's text form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_accel.core.acoustic.windows import (
    Margins,
    Schedule,
    Window,
    WindowPlan,
    computed_frames,
    parse_windows,
    windows,
)
from tts_accel.core.errors import InputError

schedules = st.builds(
    Schedule,
    first=st.integers(1, 40),
    step=st.integers(1, 300),
    margins=st.builds(Margins, st.integers(0, 50), st.integers(0, 50)),
    ramp=st.lists(st.integers(1, 100), max_size=3).map(tuple),
    whole_up_to=st.one_of(st.just(0), st.integers(0, 400)),
    bucket=st.one_of(st.just(0), st.integers(1, 64)),
)


def check_exact_cover(n: int, schedule: Schedule, ws: list[Window]) -> None:
    assert ws[0].core_start == 0 and ws[-1].core_stop == n
    for a, b in zip(ws, ws[1:], strict=False):
        assert a.core_stop == b.core_start  # no gap, no overlap
    for w in ws:
        assert 0 <= w.ctx_start <= w.core_start < w.core_stop <= w.ctx_stop <= n
        # margins, or the sentence's true edge (where a whole run sees the same zero padding)
        assert w.skip >= schedule.margins.left or w.ctx_start == 0
        assert w.ctx_stop - w.core_stop >= schedule.margins.right or w.ctx_stop == n


@settings(max_examples=400, deadline=None)
@given(n=st.integers(1, 3000), schedule=schedules, fixed=st.booleans())
def test_windows_tile_the_frames_exactly(n: int, schedule: Schedule, fixed: bool) -> None:
    check_exact_cover(n, schedule, windows(n, schedule, fixed))


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 3000), schedule=schedules)
def test_fixed_mode_uses_only_the_schedule_shapes(n: int, schedule: Schedule) -> None:
    for w in windows(n, schedule, fixed=True):
        whole_sentence = w.ctx_start == 0 and w.ctx_stop == n
        assert w.frames in schedule.shapes or whole_sentence, (w, schedule.shapes)
    if n >= max(schedule.shapes) and n > schedule.whole_up_to:
        # a long enough sentence never runs at its own length
        assert all(w.frames in schedule.shapes for w in windows(n, schedule, fixed=True))


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 3000), schedule=schedules)
def test_both_modes_emit_the_same_cores(n: int, schedule: Schedule) -> None:
    cores = [(w.core_start, w.core_stop) for w in windows(n, schedule, fixed=False)]
    assert cores == [(w.core_start, w.core_stop) for w in windows(n, schedule, fixed=True)]


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 3000), schedule=schedules)
def test_variable_mode_runs_the_smallest_exact_context(n: int, schedule: Schedule) -> None:
    left, right = schedule.margins.left, schedule.margins.right
    for w in windows(n, schedule, fixed=False)[1:]:
        assert (w.ctx_start, w.ctx_stop) == (max(0, w.core_start - left), min(n, w.core_stop + right))


def test_core_sizes_follow_first_ramp_step() -> None:
    s = Schedule(16, 256, Margins(11, 11), ramp=(64,))
    ws = windows(2000, s)
    assert [w.core for w in ws[:4]] == [16, 64, 256, 256]
    assert s.shapes == (27, 86, 278)
    assert ws[0] == Window(0, 16, 0, 27)  # the first window starts at the true edge: no left margin
    assert ws[1] == Window(16, 80, 5, 91)
    # the last core takes what is left (at most step + right), not a sliver
    assert 0 < ws[-1].core <= 256 + 11


def test_short_sentences_run_whole() -> None:
    s = Schedule(16, 256, Margins(11, 11))
    assert windows(27, s) == [Window(0, 27, 0, 27)]  # exactly the first window's context
    assert windows(1, s) == [Window(0, 1, 0, 1)]
    assert windows(28, s) == [Window(0, 16, 0, 27), Window(16, 28, 5, 28)]


def test_bucketed_last_windows() -> None:
    s = Schedule(16, 256, Margins(11, 11), bucket=32)
    last = windows(400, s, fixed=True)[-1]  # 128 core frames left after 16 + 256
    assert (last.core_start, last.frames) == (272, 160)  # 11 + 128 = 139 -> 160
    assert last.frames in s.shapes and last.skip >= 11
    assert s.shapes == (27, 32, 64, 96, 128, 160, 192, 224, 256, 278)


def test_sentences_up_to_whole_up_to_run_as_one_window() -> None:
    s = Schedule(16, 256, Margins(11, 11), ramp=(64,), whole_up_to=128)
    assert windows(128, s) == [Window(0, 128, 0, 128)]
    assert len(windows(129, s)) == 3
    assert 128 not in s.shapes  # a whole sentence is not a fixed shape


def test_fixed_last_window_is_right_aligned_to_the_end() -> None:
    s = Schedule(16, 100, Margins(11, 11))
    last = windows(140, s, fixed=True)[-1]
    assert (last.ctx_start, last.ctx_stop, last.frames) == (18, 140, 122)
    assert computed_frames(140, s, fixed=True) > computed_frames(140, s, fixed=False)


@pytest.mark.parametrize(
    "kwargs", [{"first": 0, "step": 8}, {"first": 8, "step": 0}, {"first": 8, "step": 8, "ramp": (0,)}]
)
def test_empty_windows_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="at least 1 frame"):
        Schedule(margins=Margins(1, 1), **kwargs)


def test_negative_margins_and_empty_sentences_are_refused() -> None:
    with pytest.raises(ValueError, match="margins"):
        Schedule(8, 8, Margins(-1, 0))
    with pytest.raises(ValueError, match="whole_up_to"):
        Schedule(8, 8, Margins(1, 1), whole_up_to=-1)
    with pytest.raises(ValueError, match="at least 1 frame"):
        windows(0, Schedule(8, 8, Margins(1, 1)))


def test_the_plan_text_round_trips_and_reads_as_the_research_recommends() -> None:
    plan = WindowPlan.parse("w200:32x128x512/512")
    assert plan.opening.first == 32 and plan.opening.ramp == (128,) and plan.opening.step == 512
    assert plan.opening.whole_up_to == 200 and plan.steady.first == plan.steady.step == 512
    assert str(plan) == "w200:32x128x512/512" and WindowPlan.parse(str(plan)) == plan
    opening, steady = plan.schedules(Margins(11, 11))
    assert (opening.margins, opening.bucket, steady.bucket) == (Margins(11, 11), 0, 0)
    assert plan.schedules(Margins(11, 11), fixed=True)[0].bucket == 32  # fixed-shape engines
    assert WindowPlan.parse("16x64;b16") == WindowPlan.parse("16x64/16x64;b16")
    assert max(plan.shapes(Margins(11, 11))) == 534  # 11 + 512 + 11: the longest context
    files = WindowPlan.parse(plan.steady_only())  # `tts batch`: no listener, no opening windows
    assert files.opening == files.steady == plan.steady and files.bucket == plan.bucket
    assert WindowPlan.parse(WindowPlan.parse("16x64/8x32;b16").steady_only()) == WindowPlan.parse("8x32;b16")


@pytest.mark.parametrize("text", ["", "off", " OFF "])
def test_off_means_whole_chunks(text: str) -> None:
    assert parse_windows(text) is None


@pytest.mark.parametrize("text", ["fast", "32x", "x32", "w:32", "32/64/128", "0x32", "32;c4", "b32:32"])
def test_a_schedule_that_does_not_parse_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="windows"):
        parse_windows(text)
