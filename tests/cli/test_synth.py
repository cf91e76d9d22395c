"""`tts synth` through the real process: real voice, real espeak-ng, real files and pipes."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from tests.utils import REPO, TEXTS, cli_env, run_cli
from tts_accel.cli.app import app

runner = CliRunner()
ZERO = ["--noise-scale", "0", "--noise-w", "0"]


def test_writes_a_16_bit_mono_wav_at_the_voice_rate(tmp_path):
    out = tmp_path / "hello.wav"
    proc = run_cli("synth", "Hello world.", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert 0.5 < info.duration < 3
    assert proc.stdout == b""  # nothing but audio ever goes to stdout


def test_stdout_wav_stream_is_readable_and_matches_the_file(tmp_path):
    out = tmp_path / "a.wav"
    assert run_cli("synth", "Streams and files agree.", *ZERO, "-o", str(out)).returncode == 0
    proc = run_cli("synth", "Streams and files agree.", *ZERO, "-o", "-")
    assert proc.returncode == 0
    streamed, sr = sf.read(io.BytesIO(proc.stdout), dtype="int16")
    written, _ = sf.read(out, dtype="int16")
    assert sr == 22050 and np.array_equal(streamed, written)


def test_raw_stream_length_matches_the_reported_duration():
    proc = run_cli("synth", "Raw output has no header.", "--format", "raw", "-o", "-", "--sentence-silence", "0.5")
    assert proc.returncode == 0
    seconds = len(proc.stdout) / 2 / 22050
    reported = float(proc.stderr.decode().split(" s of audio")[0].split()[-1])
    assert seconds == pytest.approx(reported, abs=0.01)
    assert not proc.stdout.startswith(b"RIFF")


def test_text_from_stdin_files_and_dash(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("First file.", encoding="utf-8")
    b.write_text("Second file.", encoding="utf-8")
    both = run_cli("synth", "-i", str(a), "-i", str(b), *ZERO, "--format", "raw", "-o", "-")
    joined = run_cli("synth", "First file.\n\nSecond file.", *ZERO, "--format", "raw", "-o", "-")
    piped = run_cli("synth", *ZERO, "--format", "raw", "-o", "-", input=b"First file.\n\nSecond file.\n")
    dash = run_cli("synth", "-", *ZERO, "--format", "raw", "-o", "-", input=b"First file.\n\nSecond file.\n")
    assert both.returncode == 0 and both.stdout == joined.stdout == piped.stdout == dash.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["   "], None, 2, "empty"),
        (["... !!!"], None, 2, "nothing to pronounce"),
        (["hi", "--voice", "nobody"], None, 3, "unknown voice"),
        (["-i", "/no/such/file.txt"], None, 2, "not found"),
        (["hi", "-o", "/no/such/dir/x.wav"], None, 4, "does not exist"),
        (["hi", "--speed", "0"], None, 2, "--speed 0.0 is out of range"),
        (["hi", "--noise-scale", "50"], None, 2, "out of range"),
        (["hi", "--mode", "warp"], None, 2, "unknown mode"),
        (["-"], b"\xff\xfe\xfa not utf-8 at all.", 2, "not valid UTF-8"),
        ([], b"", 2, "nothing to pronounce"),
    ],
)
def test_bad_input_gets_one_line_and_an_exit_code(tmp_path, args, stdin, code, message):
    out = tmp_path / "x.wav"
    extra = [] if "-o" in args else ["-o", str(out)]
    proc = run_cli("synth", *args, *extra, input=stdin)
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert os.listdir(tmp_path) == []  # no partial or temporary file left behind


def test_invalid_utf8_file_is_refused(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait.".encode("latin-1"))
    proc = run_cli("synth", "-i", str(bad), "-o", str(tmp_path / "x.wav"))
    assert proc.returncode == 2 and b"not valid UTF-8" in proc.stderr and b"iconv" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["latin1.txt"]


def test_closed_pipe_exits_cleanly_with_a_code():
    """`tts synth ... -o - | head -c 100`: the reader leaves early."""
    tts = subprocess.Popen(
        [sys.executable, "-m", "tts_accel", "synth", "-i", str(TEXTS / "paragraph.txt"), "-o", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cli_env(),
    )  # fmt: skip
    head = subprocess.run(["head", "-c", "100"], stdin=tts.stdout, capture_output=True, timeout=120)
    tts.stdout.close()
    err = tts.stderr.read().decode()
    assert tts.wait(timeout=120) == 141
    assert len(head.stdout) == 100 and head.stdout.startswith(b"RIFF")
    assert err.count("\n") == 1 and "stdout was closed" in err and "Traceback" not in err


def test_ctrl_c_leaves_no_file(tmp_path):
    out = tmp_path / "long.wav"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tts_accel", "synth", "-i", str(TEXTS / "long.txt"), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cli_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):  # synthesis has begun
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_volume_scales_the_samples(tmp_path):
    loud = run_cli("synth", "Volume check.", *ZERO, "--volume", "2", "--format", "raw", "-o", "-")
    soft = run_cli("synth", "Volume check.", *ZERO, "--volume", "0.5", "--format", "raw", "-o", "-")
    a = np.frombuffer(loud.stdout, dtype="<i2").astype(float)
    b = np.frombuffer(soft.stdout, dtype="<i2").astype(float)
    assert len(a) == len(b) and np.abs(a).mean() > 3 * np.abs(b).mean()


def test_voices_lists_the_default_voice_as_installed():
    result = runner.invoke(app, ["voices"])
    assert result.exit_code == 0
    line = next(ln for ln in result.output.splitlines() if "piper-joe" in ln)
    assert "yes" in line and "22050" in line and "MB" in line


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).output.startswith("tts-accel ")
    for args in (["-h"], ["synth", "-h"], ["voices", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output
    assert "tts synth" in runner.invoke(app, ["synth", "--help"]).output  # examples


def test_explain_prints_the_plan_without_synthesizing():
    proc = run_cli("synth", "--explain", "--mode", "sequential")
    assert proc.returncode == 0 and b"Execution plan" in proc.stderr and proc.stdout == b""


def test_python_dash_m_entry_point_matches_console_script():
    proc = subprocess.run([sys.executable, "-m", "tts_accel", "--version"], capture_output=True, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.startswith(b"tts-accel")
