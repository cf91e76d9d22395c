"""Sinks in process: formats, target kinds, the byte layer. The real CLI on real targets is in
tests/cli/test_outputs.py."""

from __future__ import annotations

import io
import os
import socket
import stat

import numpy as np
import pytest
import soundfile as sf

from tts_accel.core.audio import formats
from tts_accel.core.audio.sinks import FileSink, StreamSink, classify, format_for, open_sink, writable_formats
from tts_accel.core.errors import BrokenPipe, InputError, OutputError

RATE = 22050
TONE = np.rint(np.sin(np.arange(RATE) / 7.0) * 8000).astype(np.int16)  # one second


def _write(sink, pcm=TONE, pieces=4):
    with sink:
        for part in np.array_split(pcm, pieces):
            sink.write(part)
    return sink


def test_file_sink_writes_a_readable_wav_only_on_success(tmp_path):
    target = tmp_path / "out.wav"
    with FileSink(target, RATE) as sink:
        sink.write(np.arange(100, dtype=np.int16))
        assert not target.exists()  # still a temporary file
    data, sr = sf.read(target, dtype="int16")
    assert sr == RATE and data.tolist() == list(range(100))
    assert os.listdir(tmp_path) == ["out.wav"]


def test_file_sink_leaves_nothing_when_the_run_fails(tmp_path):
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), FileSink(target, RATE) as sink:
        sink.write(np.ones(10, dtype=np.int16))
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"  # the previous file is untouched
    assert os.listdir(tmp_path) == ["out.wav"]


def test_file_sink_refuses_missing_or_unwritable_directories(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        FileSink(tmp_path / "no" / "out.wav", RATE)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root (tests/cli/test_outputs.py::test_no_permission_eacces drops CAP_DAC_OVERRIDE)")
        with pytest.raises(OutputError, match=r"cannot write .*Permission denied \(EACCES\)"):
            FileSink(locked / "out.wav", RATE)
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("fmt", ["flac", "ogg", "opus", "mp3"])
def test_every_libsndfile_format_writes_a_readable_file(tmp_path, fmt):
    if fmt not in writable_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    target = tmp_path / f"out.{fmt}"
    _write(open_sink(str(target), RATE))  # format from the extension
    data, sr = sf.read(target, dtype="int16")
    assert sr == (24000 if fmt == "opus" else RATE)  # Opus takes 8/12/16/24/48 kHz: resampled up
    assert len(data) / sr == pytest.approx(1.0, abs=0.08)  # codec delay and padding only
    if fmt == "flac":
        assert np.array_equal(data, TONE)  # lossless
    assert os.listdir(tmp_path) == [target.name]


@pytest.mark.parametrize("fmt", ["ogg", "opus", "mp3"])
def test_lossy_formats_stream_readably(fmt):
    if fmt not in writable_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    buf = io.BytesIO()
    _write(StreamSink(buf, RATE, fmt), pieces=9)
    data, sr = sf.read(io.BytesIO(buf.getvalue()), dtype="int16")
    # the encoder's delay and padding (mp3: about 0.1 s, and no LAME tag in a stream to trim it);
    # constant-bit-rate mp3, else a reader would guess the length of a VBR stream wrong
    assert len(data) / sr == pytest.approx(1.0, abs=0.12)


def test_a_flac_stream_is_the_file_with_length_and_checksum_unknown(tmp_path):
    """A stream cannot take back the STREAMINFO libFLAC completes at the end: the rewrite is
    dropped and the stream keeps "total samples 0, MD5 0" (length unknown, valid FLAC); every
    audio frame is the file's."""
    _write(FileSink(tmp_path / "a.flac", RATE, "flac"))
    buf = io.BytesIO()
    _write(StreamSink(buf, RATE, "flac"))
    file, stream = (tmp_path / "a.flac").read_bytes(), buf.getvalue()
    assert len(stream) == len(file) and stream[:12] == file[:12] and stream[42:] == file[42:]
    assert stream[21] & 0x0F == 0 and stream[22:26] == bytes(4) and stream[26:42] == bytes(16)
    assert file[22:26] == RATE.to_bytes(4, "big")  # the file's STREAMINFO has the real count


def test_stream_wav_and_raw():
    buf = io.BytesIO()
    sink = StreamSink(buf, 16000)
    sink.write(np.arange(50, dtype=np.int16))
    sink.write(np.arange(50, dtype=np.int16))
    data, sr = sf.read(io.BytesIO(buf.getvalue()), dtype="int16")
    assert sr == 16000 and len(data) == 100
    raw = io.BytesIO()
    StreamSink(raw, 16000, "raw").write(np.array([1, -1], dtype=np.int16))
    assert raw.getvalue() == np.array([1, -1], dtype="<i2").tobytes()


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_a_stream_that_fails_before_any_audio_sends_nothing(fmt):
    """A text with nothing to pronounce fails after the sink opened: no header on stdout."""
    if fmt not in writable_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    buf = io.BytesIO()
    with pytest.raises(InputError), StreamSink(buf, RATE, fmt):
        raise InputError("nothing to pronounce")
    assert buf.getvalue() == b""


def test_a_regular_file_descriptor_gets_the_real_wav_sizes_unless_appending(tmp_path):
    for flags, exact in ((os.O_WRONLY | os.O_CREAT, True), (os.O_WRONLY | os.O_CREAT | os.O_APPEND, False)):
        path = tmp_path / f"fd-{exact}.wav"
        fd = os.open(path, flags, 0o644)
        _write(StreamSink(fd, RATE, close_fd=True))
        header = path.read_bytes()[:44]
        assert (int.from_bytes(header[40:44], "little") == 2 * RATE) is exact
        assert sf.read(path, dtype="int16")[0].tolist() == TONE.tolist()


class _Failing(io.RawIOBase):
    def __init__(self, err: OSError):
        self.err = err

    def writable(self):
        return True

    def write(self, b):
        raise self.err


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_stream_errors_name_the_target_and_the_cause(fmt):
    if fmt not in writable_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    with pytest.raises(BrokenPipe, match="stdout was closed"):
        _write(StreamSink(_Failing(BrokenPipeError(32, "Broken pipe")), RATE, fmt))
    with pytest.raises(OutputError) as err:  # an error inside libsndfile's callbacks surfaces too
        _write(StreamSink(_Failing(OSError(5, "Input/output error")), RATE, fmt, name="/mnt/tape"))
    assert str(err.value).startswith("cannot write /mnt/tape: Input/output error (EIO).")


def test_targets_are_classified_by_what_they_are(tmp_path):
    assert classify("-").kind == classify("/dev/stdout").kind == "fd" and classify("-").fd == 1
    assert classify("/dev/fd/7").fd == classify("/proc/self/fd/7").fd == classify(f"/proc/{os.getpid()}/fd/7").fd == 7
    (tmp_path / "file.wav").write_bytes(b"")
    assert classify(str(tmp_path / "file.wav")).kind == "file"
    assert classify(str(tmp_path / "new.wav")).kind == "file"
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "to-fifo").symlink_to("fifo")
    assert classify(str(tmp_path / "fifo")).kind == classify(str(tmp_path / "to-fifo")).kind == "device"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "sock"))
    try:
        assert classify(str(tmp_path / "sock")).kind == "socket"
    finally:
        server.close()
    with pytest.raises(OutputError, match="is a directory"):
        classify(str(tmp_path))
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)


def test_formats_come_from_the_flag_else_the_extension_else_wav(monkeypatch):
    assert format_for("out.FLAC").name == "flac" and format_for("x.opus").name == "opus"
    assert format_for("out.flac", "wav").name == "wav"  # the flag wins
    assert format_for("out.txt").name == format_for("-").name == format_for("/dev/null").name == "wav"
    with pytest.raises(InputError, match="unknown format"):
        format_for("-", "aiff")
    monkeypatch.setattr(formats, "writable_formats", lambda: ["wav", "raw", "flac"])
    with pytest.raises(InputError) as err:
        format_for("book.mp3")
    assert "cannot write mp3" in str(err.value) and str(err.value).endswith("formats available here: wav, raw, flac.")
