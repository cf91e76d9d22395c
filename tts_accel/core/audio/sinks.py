"""Sinks: where the audio goes, without ever breaking the target.

``open_sink(target, sample_rate, fmt)`` picks the sink from what the target is:

- a regular file, or a name that does not exist yet: :class:`FileSink`, written to a
  temporary file beside it and renamed into place on success (:mod:`tts_accel.core.files.atomic`);
  a symlink's target is replaced and the link stays a link;
- ``-``, ``/dev/stdout``, ``/dev/fd/N``: the open descriptor, written in place;
- a character or block device, a FIFO, a Unix socket: opened and written in place, never
  unlinked or renamed over.

In place means streaming: the header says "length unknown" (WAV sizes 0xFFFFFFFF, FLAC total
samples 0) unless the descriptor is a regular file that can be sought back in, as
``-o - > out.wav`` gives; such a file, when the run is interrupted, is finished where it stopped
(its header states the audio it holds) and :meth:`Sink.left` says so. Every format here can
stream, so none needs a file.

Formats and their encoders are in :mod:`tts_accel.core.audio.formats` (re-exported here: ``FORMATS``,
``AudioFormat``, ``format_for``, ``writable_formats``).

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
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tts_accel.core.audio.formats import (
    FORMATS,
    AudioFormat,
    ByteOutput,
    Guard,
    StreamOutput,
    format_for,
    make_encoder,
    spec_of,
    writable_formats,
)
from tts_accel.core.errors import BrokenPipe, InputError, OutputError
from tts_accel.core.files.atomic import AtomicFile, fsync, sweep_stale

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
    "write_error",
]


# --- where the bytes go -------------------------------------------------------------------


class Sink:
    """Receives int16 audio in order. ``close(ok)`` commits (or finishes the stream) or discards."""

    frames = 0
    name = "output"

    def write(self, pcm: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self, ok: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def left(self) -> str:
        """What a failed or interrupted run left under the target, for the one-line message."""
        return "nothing was written under the output name"

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        self.close(ok=exc_type is None)



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
    target: str,
    sample_rate: int,
    fmt: str | AudioFormat | None = None,
    *,
    guard: Guard | None = None,
    hold: bool = False,
) -> Sink:
    """The sink for ``target`` (see the module docstring): '-' is stdout. ``hold``: a file is left
    complete but not renamed (``FileSink(hold=True)``)."""
    spec = fmt if isinstance(fmt, AudioFormat) else format_for(target, fmt)
    where = classify(target)
    if where.kind == "file":
        assert where.path is not None
        # a killed run's temporary file for this name (its writer is gone): removed here
        sweep_stale(os.path.dirname(os.path.realpath(where.path)), {Path(os.path.realpath(where.path)).name})
        return FileSink(where.path, sample_rate, spec, hold=hold)
    guard = guard or nullcontext
    try:
        with guard():
            fd = open_in_place(where)
    except OSError as err:
        if where.kind == "fd":
            why = f"descriptor {where.fd} is not open ({_cause(err)})"
            raise OutputError(f"cannot write {where.name}: {why}.") from None
        raise OutputError(f"cannot open {where.name} for writing: {_cause(err)}.") from None
    try:
        return StreamSink(fd, sample_rate, spec, name=where.name, guard=guard, close_fd=True)
    except BaseException:
        os.close(fd)
        raise


def open_in_place(where: Target) -> int:
    """A descriptor of our own for a target written in place (an open descriptor: duplicated, so
    the original stays the shell's; a device or FIFO; a Unix socket: connected), never created,
    truncated or replaced. Opening a FIFO waits for its reader, as any writer does. Raises OSError."""
    if where.kind == "fd":
        assert where.fd is not None
        return os.dup(where.fd)
    if where.kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(os.fspath(where.path or where.name))
        except BaseException:
            sock.close()
            raise
        return sock.detach()
    return os.open(where.path or where.name, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)


class FdOutput(ByteOutput):
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
            fsync(self.fd)


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


def _open_error(name: str, err: OSError, contained: bool) -> BaseException:
    """Why a file target could not be opened, as one line. ``contained`` (below a folder that
    nothing may leave: `tts batch`): a link or a file in the way is the row's own problem
    (InputError: that row fails, the others go on)."""
    if contained and err.errno in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.EPERM):
        why = "it is a folder" if err.errno == errno.EISDIR else err.strerror
        return InputError(f"{name} cannot be written: {why}; remove it or choose another out.")
    if isinstance(err, IsADirectoryError):
        return OutputError(f"output {name} is a directory: give a file name such as {name.rstrip('/')}/out.wav.")
    if isinstance(err, FileNotFoundError):
        return OutputError(f"output directory {err.filename} does not exist: create it or choose another -o.")
    return write_error(name, err)


# --- sinks --------------------------------------------------------------------------------


class FileSink(Sink):
    """A regular file (new or existing), replaced atomically: the audio goes to a temporary file
    beside it that is renamed into place on success, so a failed or interrupted run never leaves
    a partial file under the name, and an existing file stays untouched until the new one is
    complete on disk. ``within``: the file lies below this folder and no symlink below it is
    followed (:class:`AtomicFile`; `tts batch`'s OUTDIR). ``hold``: a successful ``close`` leaves
    the complete file prepared but not renamed, for :func:`commit_together` with its timestamps
    (``file``); whoever holds it commits or discards it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int,
        fmt: str | AudioFormat = "wav",
        *,
        within: str | os.PathLike[str] | None = None,
        hold: bool = False,
    ):
        self.path = Path(path)
        self.name = str(path)
        self.sample_rate = sample_rate
        self.frames = 0
        self._closed = False
        self._hold = hold
        spec = spec_of(fmt)
        try:
            self.file = self._file = AtomicFile(self.path, within=within)
        except OSError as err:
            raise _open_error(self.name, err, within is not None) from None
        self._existed = self._file.target.exists()
        try:
            self._enc = make_encoder(spec, FdOutput(self._file.fd, True, nullcontext, sync=False), sample_rate)
        except BaseException as err:
            self._file.discard()
            raise self._error(err) from None

    def left(self) -> str:
        if self._existed:
            return f"the existing {self.name} is untouched"
        return f"nothing was written under {self.name}"

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
            if self._hold:
                self._file.prepare()  # complete on disk; the holder renames it
            else:
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
        out: ByteOutput
        self.kept_s: float | None = None  # audio a regular file kept after an interruption
        if isinstance(stream, int):
            regular = stat.S_ISREG(os.fstat(stream).st_mode)
            appending = bool(fcntl.fcntl(stream, fcntl.F_GETFL) & os.O_APPEND)
            out = FdOutput(stream, regular and not appending, guard, sync=regular)
        else:
            out = StreamOutput(stream, guard)
        try:
            self._enc = make_encoder(spec_of(fmt), out, sample_rate)
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
            elif not self._finish_where_stopped():
                self._enc.abandon()
        except BaseException as err:
            self._enc.abandon()
            raise write_error(self.name, err) from None
        finally:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)

    def _finish_where_stopped(self) -> bool:
        """Interrupted into a regular file that can be sought back in (``-o - > out.wav``): the
        audio written so far stays, so end it properly, its header stating what it holds.
        True when that worked."""
        out = self._enc.out
        if not (isinstance(out, FdOutput) and out.seekable and self._enc.started and out.error is None):
            return False
        out.guard = nullcontext  # the signal that stopped the run must not stop this too
        try:
            self._enc.finish()
            out.finish()
        except Exception:  # noqa: BLE001 - the run already failed: its own error is the one to report
            return False
        self.kept_s = self.frames / self.sample_rate
        return True

    def left(self) -> str:
        if self.kept_s is not None:
            return f"{self.name} holds the {self.kept_s:.2f} s of audio written before it, its header saying so"
        return f"{self.name} stops where the stream was"
