"""Sinks: where the audio goes and in which format, without ever breaking the target.

``open_sink(target, sample_rate, fmt)`` picks the sink from what the target is:

- a regular file, or a name that does not exist yet: :class:`FileSink`, written to a
  temporary file beside it and renamed into place on success (:mod:`tts_accel.core.fsio`);
  a symlink's target is replaced and the link stays a link;
- ``-``, ``/dev/stdout``, ``/dev/fd/N``: the open descriptor, written in place;
- a character or block device, a FIFO, a Unix socket: opened and written in place, never
  unlinked or renamed over.

In place means streaming: the header says "length unknown" (WAV sizes 0xFFFFFFFF, FLAC total
samples 0) unless the descriptor is a regular file that can be sought back in, as
``-o - > out.wav`` gives. Every format here can stream, so none needs a file.

Formats: ``wav`` and ``raw`` are written here; ``flac``, ``ogg`` (Vorbis), ``opus`` and ``mp3``
through soundfile where the installed libsndfile can write them.

Every error is a :class:`~tts_accel.core.errors.TTSError` whose message names the target and
the cause: ``OutputError`` (exit 4), ``BrokenPipe`` when a reader went away (141).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from tts_accel.core.audio import Resampler, Sink, wav_header
from tts_accel.core.errors import BrokenPipe, InputError, OutputError
from tts_accel.core.fsio import AtomicFile

__all__ = [
    "FORMATS",
    "AudioFormat",
    "FileSink",
    "Guard",
    "StreamSink",
    "Target",
    "classify",
    "format_for",
    "open_sink",
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


# --- where the bytes go -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What ``-o`` names. ``kind``: ``file`` (regular or new: atomic), ``fd`` (an open descriptor:
    '-', /dev/stdout, /dev/fd/N; in place), ``device`` (character or block device, FIFO: opened
    in place), ``socket`` (a Unix stream socket: connected, in place)."""

    kind: str
    name: str
    path: Path | None = None
    fd: int | None = None


_FD_PATH = re.compile(r"/(?:dev/fd|proc/self/fd|proc/thread-self/fd|proc/(\d+)/fd)/(\d+)")


def classify(target: str) -> Target:
    """Sort ``target`` into one of the kinds of :class:`Target`. Raises OutputError when it is a
    directory or cannot be looked at (a symlink loop, a path through a file, no permission)."""
    if not target:
        raise InputError("the output name is empty: give a file name, or - for stdout.")
    if target in ("-", "/dev/stdout"):
        return Target("fd", "stdout", fd=1)
    m = _FD_PATH.fullmatch(target)
    if m and (m.group(1) is None or int(m.group(1)) == os.getpid()):
        return Target("fd", target, fd=int(m.group(2)))
    path = Path(target)
    try:
        st = os.stat(path)  # follows symlinks: a link to /dev/null is a device
    except FileNotFoundError:
        return Target("file", target, path)  # a new file (or a dangling link's missing target)
    except OSError as err:
        raise OutputError(f"cannot write {target}: {_cause(err)}.") from None
    if stat.S_ISREG(st.st_mode):
        return Target("file", target, path)
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"output {target} is a directory: give a file name such as {target.rstrip('/')}/out.wav.")
    if stat.S_ISSOCK(st.st_mode):
        return Target("socket", target, path)
    return Target("device", target, path)


def open_sink(
    target: str, sample_rate: int, fmt: str | AudioFormat | None = None, *, guard: Guard | None = None
) -> Sink:
    """The sink for ``target`` (see the module docstring): '-' is stdout."""
    spec = fmt if isinstance(fmt, AudioFormat) else format_for(target, fmt)
    where = classify(target)
    if where.kind == "file":
        assert where.path is not None
        return FileSink(where.path, sample_rate, spec)
    guard = guard or nullcontext
    if where.kind == "fd":
        assert where.fd is not None
        try:
            fd = os.dup(where.fd)  # ours to close; the original stays open for the shell
        except OSError as err:
            raise OutputError(
                f"cannot write {where.name}: descriptor {where.fd} is not open ({_cause(err)})."
            ) from None
    else:
        fd = _open_in_place(where, guard)
    try:
        return StreamSink(fd, sample_rate, spec, name=where.name, guard=guard, close_fd=True)
    except BaseException:
        os.close(fd)
        raise


def _open_in_place(where: Target, guard: Guard) -> int:
    """Open a device, FIFO or socket for writing without creating, truncating or replacing it.
    Opening a FIFO waits for its reader, as any writer does."""
    try:
        with guard():
            if where.kind == "socket":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(os.fspath(where.path))
                except BaseException:
                    sock.close()
                    raise
                return sock.detach()
            return os.open(where.path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)  # type: ignore[arg-type]
    except OSError as err:
        raise OutputError(f"cannot open {where.name} for writing: {_cause(err)}.") from None


# --- the byte layer -----------------------------------------------------------------------


class _Output:
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


class _FdOutput(_Output):
    def __init__(self, fd: int, seekable: bool, guard: Guard, sync: bool):
        super().__init__(seekable, guard)
        self.fd = fd
        self.sync = sync
        self.start = os.lseek(fd, 0, os.SEEK_CUR) if seekable else 0
        self.at = 0  # where the descriptor's offset is, relative to the start

    def _put(self, data: bytes, at: int) -> None:
        if self.seekable and at != self.at:
            os.lseek(self.fd, self.start + at, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.at = at + len(data)

    def finish(self) -> None:
        if self.seekable and self.at != self.end:  # leave a shared descriptor after the audio
            os.lseek(self.fd, self.start + self.end, os.SEEK_SET)
        if self.sync:  # a regular file: surface errors the kernel only reports at writeback (NFS, EIO)
            os.fsync(self.fd)


class _ObjOutput(_Output):
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


class _Encoder:
    """PCM16 in, encoded bytes out to ``out``. Nothing is sent before the first audio (a run
    that fails before it, such as a text with nothing to pronounce, leaves a stream empty)."""

    def __init__(self, out: _Output, sample_rate: int):
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


class _WavEncoder(_Encoder):
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


class _SndEncoder(_Encoder):
    """flac, ogg, opus, mp3 through soundfile (libsndfile) over :class:`_Output`."""

    def __init__(self, out: _Output, sample_rate: int, spec: AudioFormat):
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


def _encoder(spec: AudioFormat, out: _Output, sample_rate: int) -> _Encoder:
    if spec.name == "wav":
        return _WavEncoder(out, sample_rate)
    if spec.container is None:
        return _Encoder(out, sample_rate)
    return _SndEncoder(out, sample_rate, spec)


def _spec(fmt: str | AudioFormat) -> AudioFormat:
    return fmt if isinstance(fmt, AudioFormat) else format_for(None, fmt)


# --- messages -----------------------------------------------------------------------------

_HINTS = {
    errno.ENOSPC: "Free some space or choose another -o.",
    errno.EDQUOT: "The disk quota is used up: free some space or choose another -o.",
    errno.EFBIG: "The file size limit (ulimit -f) or the file system's largest file was reached.",
    errno.EROFS: "The file system is mounted read-only: choose another -o.",
    errno.EACCES: "Choose a writable -o.",
    errno.EPERM: "Choose a writable -o.",
    errno.EIO: "The device reported an I/O error: check it (dmesg) or choose another -o.",
}


def _cause(err: OSError) -> str:
    code = errno.errorcode.get(err.errno or 0)
    text = err.strerror or str(err)
    return f"{text} ({code})" if code else text


def write_error(name: str, err: BaseException, *, detail: str = "") -> BaseException:
    """The one-line TTSError for a failed write to ``name``; anything not an OSError (a signal's
    Interrupted, a KeyboardInterrupt) is returned as it is."""
    if isinstance(err, (BrokenPipeError, ConnectionResetError)):
        if name == "stdout":
            return BrokenPipe("stdout was closed before the audio was done (reader exited early).")
        return BrokenPipe(f"{name} was closed by its reader before the audio was done.")
    if not isinstance(err, OSError):
        return err
    hint = _HINTS.get(err.errno or 0, "")
    return OutputError(f"cannot write {name}: {_cause(err)}{detail}. {hint}".rstrip())


# --- sinks --------------------------------------------------------------------------------


class FileSink(Sink):
    """A regular file (new or existing), replaced atomically: the audio goes to a temporary file
    beside it that is renamed into place on success, so a failed or interrupted run never leaves
    a partial file under the name, and an existing file stays untouched until the new one is
    complete on disk."""

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, fmt: str | AudioFormat = "wav"):
        self.path = Path(path)
        self.name = str(path)
        self.sample_rate = sample_rate
        self.frames = 0
        self._closed = False
        spec = _spec(fmt)
        try:
            self._file = AtomicFile(self.path)
        except IsADirectoryError:
            raise OutputError(
                f"output {self.name} is a directory: give a file name such as {self.name.rstrip('/')}/out.wav."
            ) from None
        except FileNotFoundError as err:
            raise OutputError(
                f"output directory {err.filename} does not exist: create it or choose another -o."
            ) from None
        except OSError as err:
            raise write_error(self.name, err) from None
        self._existed = self._file.target.exists()
        try:
            self._enc = _encoder(spec, _FdOutput(self._file.fd, True, nullcontext, sync=False), sample_rate)
        except BaseException as err:
            self._file.discard()
            raise self._error(err) from None

    def _error(self, err: BaseException) -> BaseException:
        detail = f"; the existing {self.name} is untouched" if self._existed else "; nothing was left under that name"
        return write_error(self.name, err, detail=detail) if isinstance(err, OSError) else err

    def write(self, pcm: np.ndarray) -> None:
        try:
            self._enc.write(pcm)
        except BaseException as err:
            self.close(ok=False)
            raise self._error(err) from None
        self.frames += len(pcm)

    def close(self, ok: bool) -> None:
        if self._closed:
            return
        self._closed = True
        if not ok:
            self._enc.abandon()
            self._file.discard()
            return
        try:
            self._enc.finish()
            self._file.commit()  # fsync, owner and mode, rename
        except BaseException as err:
            self._enc.abandon()
            self._file.discard()
            raise self._error(err) from None


class StreamSink(Sink):
    """In place, streaming: stdout, an open descriptor, a device, a FIFO, a socket, or a binary
    stream object (library use). Never unlinked, renamed or truncated. Each chunk leaves as
    soon as it is written, so a player downstream starts early. The header says "length
    unknown", unless the descriptor is a regular file (``-o - > out.wav``), whose WAV header is
    then rewritten in place with the real sizes at the end."""

    def __init__(
        self,
        stream: BinaryIO | int,
        sample_rate: int,
        fmt: str | AudioFormat = "wav",
        *,
        name: str = "stdout",
        guard: Guard | None = None,
        close_fd: bool = False,
    ):
        self.name = name
        self.sample_rate = sample_rate
        self.frames = 0
        self._closed = False
        self._fd = stream if isinstance(stream, int) and close_fd else None
        guard = guard or nullcontext
        out: _Output
        if isinstance(stream, int):
            regular = stat.S_ISREG(os.fstat(stream).st_mode)
            appending = bool(fcntl.fcntl(stream, fcntl.F_GETFL) & os.O_APPEND)
            out = _FdOutput(stream, regular and not appending, guard, sync=regular)
        else:
            out = _ObjOutput(stream, guard)
        try:
            self._enc = _encoder(_spec(fmt), out, sample_rate)
        except BaseException as err:
            raise write_error(self.name, err) from None

    def write(self, pcm: np.ndarray) -> None:
        try:
            self._enc.write(pcm)
        except BaseException as err:
            self.close(ok=False)
            raise write_error(self.name, err) from None
        self.frames += len(pcm)

    def close(self, ok: bool) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if ok:
                self._enc.finish()
                self._enc.out.finish()
            else:
                self._enc.abandon()
        except BaseException as err:
            self._enc.abandon()
            raise write_error(self.name, err) from None
        finally:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
