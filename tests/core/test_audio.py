from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf

from tts_accel.core.audio import FileSink, StreamSink, to_pcm16, wav_header
from tts_accel.core.errors import BrokenPipe, OutputError


def test_pcm16_clips_instead_of_wrapping():
    pcm = to_pcm16(np.array([0.0, 0.5, 1.5, -2.0], dtype=np.float32), volume=1.0)
    assert pcm.tolist() == [0, 16384, 32767, -32768]
    assert to_pcm16(np.array([0.5], dtype=np.float32), volume=4.0).tolist() == [32767]


def test_file_sink_writes_a_readable_wav_only_on_success(tmp_path):
    target = tmp_path / "out.wav"
    with FileSink(target, 22050) as sink:
        sink.write(np.arange(100, dtype=np.int16))
        assert not target.exists()  # still a temporary file
    data, sr = sf.read(target, dtype="int16")
    assert sr == 22050 and data.tolist() == list(range(100))
    assert os.listdir(tmp_path) == ["out.wav"]


def test_file_sink_leaves_nothing_when_the_run_fails(tmp_path):
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), FileSink(target, 22050) as sink:
        sink.write(np.ones(10, dtype=np.int16))
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"  # the previous file is untouched
    assert os.listdir(tmp_path) == ["out.wav"]


def test_file_sink_refuses_missing_or_unwritable_directories(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        FileSink(tmp_path / "no" / "out.wav", 22050)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(OutputError, match="cannot write"):
            FileSink(locked / "out.wav", 22050)
    finally:
        locked.chmod(0o700)


def test_stream_sink_wav_is_readable_without_knowing_the_length():
    buf = io.BytesIO()
    sink = StreamSink(buf, 16000)
    sink.write(np.arange(50, dtype=np.int16))
    sink.write(np.arange(50, dtype=np.int16))
    data, sr = sf.read(io.BytesIO(buf.getvalue()), dtype="int16")
    assert sr == 16000 and len(data) == 100


def test_stream_sink_raw_is_headerless_pcm():
    buf = io.BytesIO()
    StreamSink(buf, 16000, "raw").write(np.array([1, -1], dtype=np.int16))
    assert buf.getvalue() == np.array([1, -1], dtype="<i2").tobytes()


def test_stream_sink_reports_a_closed_reader():
    class Closed(io.RawIOBase):
        def write(self, b):
            raise BrokenPipeError

    with pytest.raises(BrokenPipe):
        StreamSink(Closed(), 16000).write(np.zeros(4, dtype=np.int16))


def test_header_sizes():
    header = wav_header(22050, 200)
    assert len(header) == 44 and header[4:8] == (236).to_bytes(4, "little")
