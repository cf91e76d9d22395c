"""Audio formats: which ones this installation can write, and how each is encoded into bytes.

``format_for(target, name)`` picks the format (the name, else the target's extension, else
wav); ``makemake_encoder(spec, out, rate)`` turns PCM16 into that format's bytes on a
:class:`ByteOutput`. ``wav`` and ``raw`` are written here; ``flac``, ``ogg`` (Vorbis), ``opus``
and ``mp3`` through soundfile, where the installed libsndfile can write them. Every one of them
streams (:class:`ByteOutput` explains how a stream survives libsndfile's header rewrites).
Where the bytes go (atomic file, device, stdout) is :mod:`tts_accel.core.audio.sinks`' business.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from tts_accel.core.audio.pcm import Resampler, wav_header
from tts_accel.core.errors import InputError, OutputError

__all__ = [
    "FORMATS",
    "AudioFormat",
    "ByteOutput",
    "AudioEncoder",
    "Guard",
    "StreamOutput",
    "format_for",
    "make_encoder",
    "spec_of",
    "writable_formats",
]

Guard = Callable[[], AbstractContextManager[object]]
"""Entered around every call that may block on the target (opening a FIFO, writing to a slow
reader): the CLI uses it to let SIGINT/SIGTERM interrupt such a call at once."""


@dataclass(frozen=True)
class AudioFormat:
    name: str
    extensions: tuple[str, ...]
    container: str | None = None  # libsndfile major format; None: written by tts itself
    subtype: str | None = None
    rates: tuple[int, ...] = ()  # sample rates the codec takes; others are resampled up to the next one
    about: str = ""

    def rate_for(self, sample_rate: int) -> int:
        if not self.rates or sample_rate in self.rates:
            return sample_rate
        return next((r for r in sorted(self.rates) if r >= sample_rate), max(self.rates))


_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
FORMATS: dict[str, AudioFormat] = {
    f.name: f
    for f in (
        AudioFormat("wav", (".wav", ".wave"), about="16-bit PCM WAV"),
        AudioFormat("raw", (".raw", ".pcm"), about="headerless 16-bit little-endian mono PCM"),
        AudioFormat("flac", (".flac",), "FLAC", "PCM_16", about="lossless, 16-bit"),
        AudioFormat("ogg", (".ogg", ".oga"), "OGG", "VORBIS", about="Ogg Vorbis"),
        AudioFormat("opus", (".opus",), "OGG", "OPUS", _OPUS_RATES, "Ogg Opus"),
        AudioFormat("mp3", (".mp3",), "MP3", "MPEG_LAYER_III", _MP3_RATES, "MPEG Layer III"),
    )
}
_BY_EXTENSION = {ext: f for f in FORMATS.values() for ext in f.extensions}


def writable_formats() -> list[str]:
    """The formats this installation can write: wav and raw always, the others where libsndfile can."""
    names = ["wav", "raw"]
    try:
        import soundfile as sf
    except (ImportError, OSError):  # soundfile missing, or libsndfile itself could not load
        return names
    for f in FORMATS.values():
        if f.container and f.container in sf.available_formats() and f.subtype in sf.available_subtypes(f.container):
            names.append(f.name)
    return names


def format_for(target: str | None, name: str | None = None) -> AudioFormat:
    """The format named, else the one the target's extension says, else wav; refused with one line
    naming what this installation can write when libsndfile cannot write it."""
    if name is None:
        ext = Path(target).suffix.lower() if target and target != "-" else ""
        return _check_writable(_BY_EXTENSION.get(ext, FORMATS["wav"]))
    if name not in FORMATS:
        raise InputError(f"unknown format {name!r}: choose one of {', '.join(FORMATS)}.")
    return _check_writable(FORMATS[name])


def _check_writable(spec: AudioFormat) -> AudioFormat:
    if spec.container is None:
        return spec
    can = writable_formats()
    if spec.name not in can:
        try:
            import soundfile as sf

            lib = f"the installed libsndfile ({sf.__libsndfile_version__})"
        except (ImportError, OSError):
            lib = "libsndfile (not loadable here)"
        raise InputError(f"{lib} cannot write {spec.name} ({spec.about}); formats available here: {', '.join(can)}.")
    return spec


# --- the byte layer -----------------------------------------------------------------------


class ByteOutput:
    """Encoded bytes on their way to the target; also the file object that soundfile's virtual
    I/O calls. It never raises into libsndfile: the first error is kept and raised by
    ``check()``. A stream cannot take back bytes it has sent: a seek back (libsndfile rewriting
    a header at the end) is followed, and what is written there is dropped, so the header keeps
    its "length unknown" form and the stream stays valid."""

    def __init__(self, seekable: bool, guard: Guard):
        self.seekable = seekable
        self.guard = guard
        self.pos = 0  # where the next write lands, relative to the start
        self.end = 0  # bytes that reached the target (or that a seekable target holds)
        self.error: BaseException | None = None
        self.dropping = False

    def write(self, data: Any) -> int:
        data = bytes(data)
        n = len(data)
        if self.error is None and not self.dropping:
            if not self.seekable and self.pos < self.end:
                data = data[self.end - self.pos :]  # only what goes past the end can be sent
                at = self.end
            else:
                at = self.pos
            if data:
                try:
                    with self.guard():
                        self._put(data, at)
                except BaseException as err:  # noqa: B036 - a signal's exception too: re-raised by check()
                    self.error = err
        self.pos += n
        self.end = max(self.end, self.pos)
        return n

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.pos, os.SEEK_END: self.end}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:  # libsndfile never reads in write mode
        return b""

    def check(self) -> None:
        if self.error is not None:
            err, self.error = self.error, None
            self.dropping = True  # nothing more goes out after an error
            raise err

    def drop(self) -> None:
        """Send nothing more (the run failed: an encoder's closing frames are not wanted)."""
        self.dropping = True

    def _put(self, data: bytes, at: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def finish(self) -> None:
        """After the last write: anything the target needs to be complete."""


class StreamOutput(ByteOutput):
    def __init__(self, stream: BinaryIO, guard: Guard):
        super().__init__(False, guard)
        self.stream = stream

    def _put(self, data: bytes, at: int) -> None:
        view = memoryview(data)
        while view:
            written = self.stream.write(view)
            view = view[len(view) if written is None else written :]
        self.stream.flush()


# --- encoders -----------------------------------------------------------------------------


class AudioEncoder:
    """PCM16 in, encoded bytes out to ``out``. Nothing is sent before the first audio (a run
    that fails before it, such as a text with nothing to pronounce, leaves a stream empty)."""

    def __init__(self, out: ByteOutput, sample_rate: int):
        self.out = out
        self.sample_rate = sample_rate
        self.started = False

    def write(self, pcm: np.ndarray) -> None:
        self._begin()
        self._write(pcm)
        self.out.check()

    def finish(self) -> None:
        self._begin()
        self._finish()
        self.out.check()

    def abandon(self) -> None:
        self.out.drop()

    def _begin(self) -> None:
        if not self.started:
            self.started = True
            self._start()
            self.out.check()

    def _start(self) -> None:
        pass

    def _write(self, pcm: np.ndarray) -> None:
        self.out.write(pcm.astype("<i2", copy=False).tobytes())

    def _finish(self) -> None:
        pass


class WavEncoder(AudioEncoder):
    """A header of unknown length first (so even an interrupted file or a stream is readable),
    rewritten with the real sizes at the end where the target can be sought back in."""

    data_bytes = 0

    def _start(self) -> None:
        self.out.write(wav_header(self.sample_rate))

    def _write(self, pcm: np.ndarray) -> None:
        super()._write(pcm)
        self.data_bytes += 2 * len(pcm)

    def _finish(self) -> None:
        if self.out.seekable:
            self.out.seek(0)
            self.out.write(wav_header(self.sample_rate, self.data_bytes))
            self.out.seek(0, os.SEEK_END)


class SndEncoder(AudioEncoder):
    """flac, ogg, opus, mp3 through soundfile (libsndfile) over :class:`ByteOutput`."""

    def __init__(self, out: ByteOutput, sample_rate: int, spec: AudioFormat):
        super().__init__(out, sample_rate)
        self.spec = spec
        self.rate = spec.rate_for(sample_rate)
        self.resampler = Resampler(sample_rate, self.rate) if self.rate != sample_rate else None
        self.file: Any = None

    def _start(self) -> None:
        import soundfile as sf

        extra: dict[str, Any] = {}
        if self.spec.name == "mp3" and not self.out.seekable:
            # A stream cannot get the VBR header LAME fills in at the end, and without it
            # readers (libsndfile's among them) misjudge a VBR stream's length; constant bit
            # rate lets any reader compute it. compression_level 0.5 is about 80 kbit/s mono.
            extra = {"bitrate_mode": "CONSTANT", "compression_level": 0.5}
        try:
            self.file = sf.SoundFile(
                self.out, "w", samplerate=self.rate, channels=1,
                format=self.spec.container, subtype=self.spec.subtype, **extra,
            )  # fmt: skip
        except (RuntimeError, ValueError) as err:  # soundfile.LibsndfileError is a RuntimeError
            self.out.check()
            raise OutputError(f"cannot encode {self.spec.name} at {self.rate} Hz: {err}.") from None

    def _write(self, pcm: np.ndarray) -> None:
        with self._library_errors():
            self.file.write(pcm if self.resampler is None else self.resampler.process(pcm))

    def _finish(self) -> None:
        with self._library_errors():
            if self.resampler is not None:
                self.file.write(self.resampler.flush())
            self.file.close()  # the encoder's last frames, and a seekable file's header

    @contextlib.contextmanager
    def _library_errors(self) -> Iterator[None]:
        """libsndfile's own failures, after the I/O error that usually caused them."""
        try:
            yield
        except RuntimeError as err:  # soundfile.LibsndfileError
            self.out.check()
            raise OutputError(f"encoding {self.spec.name} failed: {err}.") from None

    def abandon(self) -> None:
        self.out.drop()
        if self.file is not None:
            with contextlib.suppress(Exception):
                self.file.close()


def make_encoder(spec: AudioFormat, out: ByteOutput, sample_rate: int) -> AudioEncoder:
    if spec.name == "wav":
        return WavEncoder(out, sample_rate)
    if spec.container is None:
        return AudioEncoder(out, sample_rate)
    return SndEncoder(out, sample_rate, spec)


def spec_of(fmt: str | AudioFormat) -> AudioFormat:
    return fmt if isinstance(fmt, AudioFormat) else format_for(None, fmt)
