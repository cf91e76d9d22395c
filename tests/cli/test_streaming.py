"""Streaming through the real process: stdout and FIFOs get each sentence window by window (the
pipelined mode's windows), the same samples as the whole-sentence reference within 1e-4 of
float (a few 16-bit steps), and --windows is checked like any other flag."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from tests.utils import cli_env

ZERO = ["--noise-scale", "0", "--noise-w", "0"]
TTS = [sys.executable, "-m", "tts_accel", "synth"]
#: 60 words in one sentence (two of long.txt's joined): several windows whatever the schedule.
LONG = (
    "People measured time by the church bell and the arrival of the mail coach, which came twice a week "
    "from the city and brought newspapers that were already three days old, and she rented the room above "
    "the bakery, and every morning she walked out along the river with her instruments, counting paces and "
    "writing numbers in tiny, careful columns."
)
#: |windowed - whole| <= 1e-4 in float is at most 4 steps of 16-bit PCM (32767 * 1e-4 = 3.3, rounded)
PCM_STEPS = 4


def tts(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*TTS, *args], stdin=subprocess.DEVNULL, capture_output=True, env=cli_env(),
                          timeout=timeout)  # fmt: skip


def pieces(proc: subprocess.CompletedProcess) -> tuple[int, int]:
    """(chunks, pieces) from the summary line: '... 2 chunks in 9 pieces)' (pieces = chunks when whole)."""
    m = re.search(rb"(\d+) chunks?(?: in (\d+) pieces)?\)", proc.stderr)  # "1 chunk", "2 chunks"
    assert m, proc.stderr
    return int(m.group(1)), int(m.group(2) or m.group(1))


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.int32)


@pytest.fixture(scope="module")
def whole() -> bytes:
    """The reference: --mode sequential, whole sentences on the voice's own graph, raw PCM."""
    proc = tts(LONG, *ZERO, "--mode", "sequential", "--format", "raw", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert pieces(proc)[0] == pieces(proc)[1]  # one piece per chunk
    return proc.stdout


def test_stdout_streams_each_sentence_window_by_window(whole: bytes) -> None:
    proc = tts(LONG, *ZERO, "--format", "raw", "-o", "-")  # auto: stdout streams
    assert proc.returncode == 0, proc.stderr
    chunks, out = pieces(proc)
    assert out >= chunks + 3  # the first sentence alone opens with 32, 128, then 512 frames
    got, want = pcm(proc.stdout), pcm(whole)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= PCM_STEPS


def test_a_fifo_streams_window_by_window(tmp_path, whole: bytes) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reads: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb", buffering=0) as fh:
            while block := fh.read(65536):
                reads.append(block)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = tts(LONG, *ZERO, "--format", "raw", "-o", str(fifo))
    reader.join(60)
    assert proc.returncode == 0, proc.stderr
    chunks, out = pieces(proc)
    assert out >= chunks + 3
    assert os.listdir(tmp_path) == ["fifo"]  # written in place, never replaced
    got = pcm(b"".join(reads))
    assert got.shape == pcm(whole).shape and np.abs(got - pcm(whole)).max() <= PCM_STEPS


def test_windows_off_streams_whole_sentences(whole: bytes) -> None:
    proc = tts(LONG, *ZERO, "--windows", "off", "--format", "raw", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert pieces(proc)[0] == pieces(proc)[1]
    assert proc.stdout == whole  # the same graph, the same samples


def test_sequential_stays_whole_even_on_stdout(whole: bytes) -> None:
    proc = tts(LONG, *ZERO, "--mode", "sequential", "--format", "raw", "-o", "-")
    assert pieces(proc)[0] == pieces(proc)[1] and proc.stdout == whole


def test_explain_shows_the_streaming_plan_and_its_schedule() -> None:
    proc = tts("--explain", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    text = proc.stderr.decode()
    assert re.search(r"mode\s+│\s+pipelined", text)
    assert "32x128x512/512" in text and "windows" in text
    custom = tts("--explain", "--windows", "w0:16x64x256/256", "-o", "-").stderr.decode()
    assert re.search(r"windows\s+│\s+16x64x256/256 .*│\s+flag", custom)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--windows", "fast"], "is not a schedule"),
        (["--windows", "32x512", "--mode", "sequential"], "--windows streams the pipelined mode"),
        (["--windows", "32x512", "--mode", "batched"], "--windows streams the pipelined mode"),
    ],
)
def test_bad_windows_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = tts("Hello.", *args, "-o", "-")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
