"""PCM conversion, silence, and sinks: an atomic WAV file, or a stream (WAV or raw) on a pipe."""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tts_accel.core.errors import BrokenPipe, OutputError

FORMATS = ("wav", "raw")


def to_pcm16(audio: np.ndarray, volume: float = 1.0) -> np.ndarray:
    """float32 in [-1, 1] -> int16, scaled by ``volume`` and clipped (never wraps around)."""
    scaled = audio.astype(np.float32, copy=False) * np.float32(volume * 32767.0)
    return np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.float32)


def wav_header(sample_rate: int, data_bytes: int = 0xFFFFFFFF - 36) -> bytes:
    """A 44-byte PCM16 mono WAV header. The default sizes mark a stream of unknown length."""
    riff_size = min(36 + data_bytes, 0xFFFFFFFF)
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", riff_size, b"WAVE", b"fmt ", 16, 1, 1,
        sample_rate, sample_rate * 2, 2, 16, b"data", min(data_bytes, 0xFFFFFFFF),
    )  # fmt: skip


class Sink:
    """Receives int16 audio in order. ``close(ok)`` commits or discards."""

    frames = 0

    def write(self, pcm: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self, ok: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        self.close(ok=exc_type is None)


class FileSink(Sink):
    """Writes to a temporary file beside ``path`` and renames it into place on success, so a
    failed or interrupted run never leaves a truncated or empty file under the requested name."""

    def __init__(self, path: Path, sample_rate: int, fmt: str = "wav"):
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.fmt = fmt
        directory = self.path.parent
        if not directory.is_dir():
            raise OutputError(f"output directory {directory} does not exist: create it or choose another -o.")
        if self.path.is_dir():
            raise OutputError(f"output {self.path} is a directory: give a file name such as {self.path}/out.wav.")
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".part")
        except OSError as err:
            raise OutputError(f"cannot write in {directory}: {err.strerror}; choose a writable -o.") from err
        self.tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")
        if fmt == "wav":
            self._fh.write(wav_header(sample_rate, 0))

    def write(self, pcm: np.ndarray) -> None:
        try:
            self._fh.write(pcm.astype("<i2", copy=False).tobytes())
        except OSError as err:
            self.close(ok=False)
            raise OutputError(f"writing {self.path} failed: {err.strerror}; free space or choose another -o.") from err
        self.frames += len(pcm)

    def close(self, ok: bool) -> None:
        if self._fh.closed:
            return
        try:
            if ok and self.fmt == "wav":
                self._fh.seek(0)
                self._fh.write(wav_header(self.sample_rate, self.frames * 2))
            self._fh.close()
            if ok:
                os.replace(self.tmp, self.path)
                return
        except OSError as err:
            ok = False
            raise OutputError(f"finishing {self.path} failed: {err.strerror}.") from err
        finally:
            if not ok:
                with contextlib.suppress(OSError):
                    self.tmp.unlink()


class StreamSink(Sink):
    """Streams to a binary pipe (stdout): a WAV header of unknown length, or raw PCM16.

    Each chunk is flushed as soon as it is written, so a player downstream starts early.
    """

    def __init__(self, stream: BinaryIO, sample_rate: int, fmt: str = "wav"):
        self.stream = stream
        self.sample_rate = sample_rate
        self.fmt = fmt
        self._started = False

    def write(self, pcm: np.ndarray) -> None:
        try:
            if not self._started and self.fmt == "wav":
                self.stream.write(wav_header(self.sample_rate))
            self._started = True
            self.stream.write(pcm.astype("<i2", copy=False).tobytes())
            self.stream.flush()
        except (BrokenPipeError, ConnectionResetError) as err:
            raise BrokenPipe("stdout was closed before the audio was done (reader exited early).") from err
        self.frames += len(pcm)

    def close(self, ok: bool) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.stream.flush()
