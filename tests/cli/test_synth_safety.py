"""`tts synth` never destroys what it reads nor leaves a lie behind, through the real process: an
output that is an input (by device and inode) is refused before work; -i on a FIFO or an endless
character device is read as it comes, in bounded memory; a stream interrupted into a regular file
keeps a header that matches it; audio and timestamps are committed together; a killed writer's
temporary file is removed by the next run; a voice name is never taken for a file."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from tests.cli.test_outputs import TTS, _in_private_mount, complete_wav, one_line, tts
from tests.utils import TEXTS, cli_env, private_device

ZERO = ["--noise-scale", "0", "--noise-w", "0"]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


# --- row 2: the input destroyed by the output ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["-i", "p.txt", "-o", "p.txt"], "-o p.txt is the same file as the input p.txt"),
        (["-i", "p.txt", "-o", "hard.wav"], "-o hard.wav is the same file as the input p.txt"),
        (["-i", "p.txt", "-o", "soft.wav"], "-o soft.wav is the same file as the input p.txt"),
        (["-i", "p.txt", "-o", "a.wav", "--timestamps", "p.json"], "--timestamps p.json is the same file"),
    ],
)
def test_an_output_that_is_an_input_is_refused_with_exit_2(tmp_path, args, names):
    src = tmp_path / "p.txt"
    src.write_text("Hello there.\n")
    os.link(src, tmp_path / "hard.wav")
    (tmp_path / "soft.wav").symlink_to(src)
    (tmp_path / "p.json").symlink_to(src)
    proc = tts(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert names in one_line(proc) and "would destroy the input" in proc.stderr.decode()
    assert src.read_text() == "Hello there.\n"
    assert sorted(os.listdir(tmp_path)) == ["hard.wav", "p.json", "p.txt", "soft.wav"]


def test_stdout_appended_to_the_input_is_refused(tmp_path):
    src = tmp_path / "p.txt"
    src.write_text("Hello there.\n")
    with open(src, "ab") as out:
        proc = tts("-i", str(src), "-o", "-", stdout=out)
    assert proc.returncode == 2 and "stdout is the same file as the input" in one_line(proc)
    assert src.read_text() == "Hello there.\n"


# --- row 8: -i on a FIFO or an endless device ------------------------------------------------------


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _interrupt_after(proc: subprocess.Popen, source: Path, seconds: float) -> float:
    """Peak RSS (MiB) seen while ``proc`` reads ``source`` for ``seconds`` (counted from when it
    has opened it: start-up on a loaded machine takes its own time), then SIGINT."""
    deadline = time.monotonic() + 120
    while not _has_open(proc.pid, source):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    peak, end = 0.0, time.monotonic() + seconds
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        peak = max(peak, rss_mib(proc.pid))
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    return peak


def test_an_endless_character_device_is_read_in_bounded_memory(tmp_path):
    zero = private_device(tmp_path / "zero", 1, 5, 0o444)  # a private /dev/zero, never the real one
    proc = subprocess.Popen([*TTS, "-i", str(zero), "-o", str(tmp_path / "z.wav")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())  # fmt: skip
    peak = _interrupt_after(proc, zero, 5.0)  # reading it whole took 3.9 GB in 2 s
    _, err = proc.communicate(timeout=60)
    assert peak < 1024, f"{peak:.0f} MiB"
    assert proc.returncode == 130 and b"Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["zero"]


def test_a_fifo_is_read_as_it_comes_not_whole(tmp_path):
    fifo = tmp_path / "words"
    os.mkfifo(fifo)
    total, sent = 64 << 20, [0]
    block = b"hello there " * 4096  # 48 KiB, no line break anywhere

    def writer() -> None:
        with open(fifo, "wb") as fh:
            try:
                while sent[0] < total:
                    fh.write(block)
                    sent[0] += len(block)
            except BrokenPipeError:
                pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    proc = subprocess.Popen([*TTS, "-i", str(fifo), "-o", str(tmp_path / "w.wav")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())  # fmt: skip
    peak = _interrupt_after(proc, fifo, 5.0)
    read_by_then = sent[0]
    _, err = proc.communicate(timeout=60)
    assert read_by_then < total // 4, "the whole FIFO was read before speaking"
    assert peak < 1024 and proc.returncode == 130 and b"Traceback" not in err


# --- row 11: a stream interrupted into a regular file ---------------------------------------------


def test_an_interrupted_stream_into_a_file_keeps_a_header_that_matches(tmp_path):
    path = tmp_path / "out.wav"
    with open(path, "wb") as out:
        proc = subprocess.Popen([*TTS, "-i", str(TEXTS / "long.txt"), "-o", "-"], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.PIPE, env=cli_env())  # fmt: skip
        deadline = time.monotonic() + 120
        while path.stat().st_size < 100_000:  # some audio is in the file
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    frames = complete_wav(path)  # the header's sizes are the file's, not "length unknown"
    line = one_line(err)
    assert f"stdout holds the {frames / 22050:.2f} s of audio written before it" in line


# --- row 12: audio and timestamps committed together ----------------------------------------------


def test_timestamps_that_fail_leave_the_old_audio_in_step(tmp_path):
    """On a private tmpfs filled so that the new WAV fits and its timestamps do not (ENOSPC)."""
    wav = tmp_path / "probe.wav"
    assert tts("Hello world.", *ZERO, "-o", str(wav)).returncode == 0
    pages = -(-wav.stat().st_size // 4096)
    fill = (
        f"printf old > book.json; n=$(( $(stat -f -c %a .) - {pages} )); "
        "dd if=/dev/zero of=fill bs=4096 count=$n 2>/dev/null"
    )
    rc, err, listing, content = _in_private_mount(
        tmp_path, "size=1m", ["Hello world.", *ZERO, "-o", "book.wav", "--timestamps", "book.json"], setup=fill
    )
    assert rc == 4, err
    line = one_line(err.encode())
    assert "cannot write book.json" in line and "book.wav was not replaced either" in line
    assert content == b"old" and sorted(listing) == ["book.json", "book.wav", "fill"]


# --- row 10: a killed writer's temporary file ------------------------------------------------------


def test_a_dead_writers_temporary_file_is_removed_by_the_next_run(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = tmp_path / f".out.wav.tts-{gone.pid}-0123abcd.part"
    live = tmp_path / f".out.wav.tts-{os.getpid()}-89abcdef.part"  # this test runs: a write in flight
    dead.write_bytes(b"RIFF partial")
    live.write_bytes(b"RIFF partial")
    assert tts("Hello.", "-o", str(tmp_path / "out.wav")).returncode == 0
    assert sorted(os.listdir(tmp_path)) == [live.name, "out.wav"]


# --- voice names and paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        ("/etc/passwd", "voice path '/etc/passwd' is not a voice file"),
        ("passwd", "unknown voice 'passwd'"),  # a file of that name is here: a name is never a path
        ("missing.onnx", "voice file missing.onnx not found"),
    ],
)
def test_a_voice_is_a_known_name_or_a_real_onnx_path(tmp_path, voice, message):
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    proc = tts("Hello.", "--voice", voice, "-o", "out.wav", cwd=tmp_path)
    assert proc.returncode == 3
    line = one_line(proc)
    assert message in line and "piper-joe" in line  # the known voices are named
    assert sorted(os.listdir(tmp_path)) == ["passwd"]


def test_a_voice_path_beside_its_config_works(tmp_path, piper_voice):
    model = Path(piper_voice.model_path)
    (tmp_path / "joe.onnx").symlink_to(model)
    (tmp_path / "joe.onnx.json").symlink_to(Path(f"{model}.json"))
    proc = tts("Hello.", "--voice", "./joe.onnx", "-o", "out.wav", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sf.info(tmp_path / "out.wav").duration > 0.3
