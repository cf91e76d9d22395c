"""Writers: JSON, SubRip and WebVTT, parsed back; 42-character lines; where files go."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from tts_accel.core.errors import InputError, OutputError
from tts_accel.core.timestamps import (
    MAX_LINE,
    MAX_LINES,
    TextWord,
    Timeline,
    WordSpan,
    check_path,
    check_target,
    cues,
    text_words,
    to_json,
    to_srt,
    to_vtt,
    wrap,
    write_timestamps,
)

SR = 22050


def _timeline(sentences: list[str], words_per_s: float = 3.0, pause_s: float = 0.2) -> Timeline:
    """A timeline where every word lasts 1/words_per_s seconds (exact in samples via hop=1)."""
    tl = Timeline(SR, 1)
    per = int(SR / words_per_s)
    for text in sentences:
        words = text_words(text)
        frames = np.full(len(words), per)
        spans = [WordSpan(w, k, k + 1) for k, w in enumerate(words)]
        tl.add(text, np.zeros(len(words), np.int64), frames, int(frames.sum()), int(pause_s * SR), True, spans)
    return tl.finish()


LONG = (
    "The miller, who owned the land where the bridge would stand, sat down at his kitchen table and "
    "did arithmetic until well past midnight; nobody in the town, not even his wife, knew what the numbers said."
)
SENTENCES = ["The birch canoe slid on the smooth planks.", LONG, 'He said "a < b & c > d" --> fine.']


def test_json_has_the_documented_shape_and_sample_exact_times() -> None:
    tl = _timeline(SENTENCES)
    data = json.loads(to_json(tl))
    assert set(data) == {"sample_rate", "words", "sentences"} and data["sample_rate"] == SR
    assert [w["word"] for w in data["words"]] == [w.word for w in tl.words]
    assert all(set(w) == {"word", "start", "end"} for w in data["words"])
    assert all(set(s) == {"text", "start", "end"} for s in data["sentences"])
    assert [s["text"] for s in data["sentences"]] == SENTENCES
    for w, ours in zip(data["words"], tl.words, strict=True):  # seconds give back the sample exactly
        assert round(w["start"] * SR) == ours.start and round(w["end"] * SR) == ours.end


_SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
_SRT_CUE = re.compile(rf"^(\d+)\n{_SRT_TIME} --> {_SRT_TIME}\n((?:.+\n)+)$")


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def test_srt_parses_back_with_strict_format() -> None:
    text = to_srt(_timeline(SENTENCES))
    blocks = text.split("\n\n")
    assert text.endswith("\n") and all(blocks)
    prev_end = 0
    for k, block in enumerate(blocks, 1):
        m = _SRT_CUE.match(block if block.endswith("\n") else block + "\n")
        assert m, block
        assert int(m.group(1)) == k
        start, end = _ms(*m.group(2, 3, 4, 5)), _ms(*m.group(6, 7, 8, 9))
        assert prev_end <= start < end
        prev_end = end
        assert len(m.group(10).splitlines()) <= MAX_LINES
        assert "-->" not in m.group(10)


def test_srt_through_the_srt_library() -> None:
    srt = pytest.importorskip("srt")
    tl = _timeline(SENTENCES)
    subs = list(srt.parse(to_srt(tl)))
    assert subs[0].start.total_seconds() == pytest.approx(tl.sentences[0].start / SR, abs=0.0005)
    assert subs[0].content == "The birch canoe slid on the smooth planks."
    joined = " ".join(" ".join(s.content.split("\n")) for s in subs[1:-1])
    assert joined == LONG  # the long sentence is cut into cues, but no word is lost


def test_vtt_through_webvtt_and_escaped() -> None:
    webvtt = pytest.importorskip("webvtt")
    tl = _timeline(SENTENCES)
    text = to_vtt(tl)
    assert text.startswith("WEBVTT\n\n")
    assert re.search(r"^\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}$", text, re.M)
    captions = list(webvtt.from_string(text))
    assert len(captions) == len(cues(tl))
    assert captions[-1].text == 'He said "a &lt; b &amp; c &gt; d" --&gt; fine.'
    assert captions[0].start_in_seconds == int(tl.sentences[0].start / SR)


def test_long_sentence_is_cut_at_clauses_into_two_line_cues() -> None:
    tl = _timeline([LONG])
    out = cues(tl)
    assert len(out) > 1
    for cue in out:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= MAX_LINE for line in cue.lines)
    texts = [" ".join(c.lines) for c in out]
    assert texts[0].endswith(",") or texts[0].endswith(";")  # cut after clause punctuation
    starts = [c.start for c in out]
    assert starts == sorted(starts) and out[0].start == tl.words[0].start and out[-1].end == tl.words[-1].end


def test_wrap_balances_two_lines_within_42() -> None:
    lines = wrap("Glue the sheet to the dark blue background and then wait for it.")
    assert len(lines) == 2 and all(len(x) <= 42 for x in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 10
    assert wrap("Short line.") == ["Short line."]


def test_a_word_longer_than_a_line_gets_its_own_line() -> None:
    url = "https://example.com/a/very/long/path/that/never/ends/at/all"
    lines = wrap(f"See {url} now")
    assert url in lines and all(len(x) <= 42 for x in lines if x != url)


def test_hour_timecodes() -> None:
    tl = Timeline(1000, 1)
    tl.position = 3_725_500  # 1 h 2 min 5.5 s
    spans = [WordSpan(TextWord("late", "late.", 0, 5), 0, 1)]
    tl.add("late.", np.zeros(1, np.int64), np.array([250]), 250, 0, True, spans)
    assert "01:02:05,500 --> 01:02:05,750" in to_srt(tl)
    assert "01:02:05.500 --> 01:02:05.750" in to_vtt(tl)


def test_write_by_extension_atomically(tmp_path: Path) -> None:
    tl = _timeline(SENTENCES[:1])
    for ext in (".json", ".srt", ".vtt", ".JSON"):
        write_timestamps(tmp_path / f"out{ext}", tl)
    assert json.loads((tmp_path / "out.json").read_text())["words"][0]["word"] == "The"
    assert (tmp_path / "out.vtt").read_text().startswith("WEBVTT")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.JSON", "out.json", "out.srt", "out.vtt"]  # no temp


def test_an_existing_file_is_replaced_through_a_symlink_that_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.srt"
    real.write_text("old")
    link = tmp_path / "link.srt"
    link.symlink_to(real)
    write_timestamps(link, _timeline(SENTENCES[:1]))
    assert link.is_symlink() and real.read_text().startswith("1\n")


def test_unknown_extensions_are_input_errors_naming_the_choices(tmp_path: Path) -> None:
    for name in ("out.txt", "out", "-"):
        with pytest.raises(InputError, match=r"use \.json, \.srt or \.vtt"):
            check_path(tmp_path / name if name != "-" else name)
    assert check_path("a/b/Out.VTT") == ".vtt"


def test_paths_that_cannot_be_written_are_output_errors(tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(OutputError, match="directory"):
        check_target(tmp_path / "dir.json")
    with pytest.raises(OutputError, match="does not exist"):
        check_target(tmp_path / "missing" / "t.json")
    check_target(tmp_path / "fine.json")  # a new name in a writable folder
    assert not (tmp_path / "fine.json").exists()  # checking creates nothing
    with pytest.raises(OutputError, match="missing"):
        write_timestamps(tmp_path / "missing" / "t.json", _timeline(SENTENCES[:1]))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_synthesis(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    with pytest.raises(OutputError, match="not writable"):
        check_target(folder / "t.json")


def test_write_into_a_fifo_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.srt"
    try:
        os.mkfifo(fifo)
    except (OSError, AttributeError) as err:
        pytest.skip(f"no FIFO here: {err}")
    check_target(fifo)  # a FIFO is a fine target, and checking it does not open it
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_timestamps(fifo, _timeline(SENTENCES[:1]))
    reader.join(10)
    assert got and got[0].startswith(b"1\n00:00:00,000 --> ")
    assert fifo.exists() and not fifo.is_file()  # still the FIFO, not replaced by a file
