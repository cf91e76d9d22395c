"""File-system primitives: replace a regular file atomically.

``AtomicFile`` is the one implementation of "write beside the target, fsync, rename" in the
package (audio files, caches, profiles): a temporary file ``.NAME.tts-XXXXXXXX.part`` in the
target's own directory (so the rename never crosses a file system, and a leftover after a
SIGKILL is recognisable), created with mode 0o666 so that the kernel applies the umask (and
any default ACL) exactly as it does for any new file. On commit the temporary file takes an
existing target's owner and mode where the process may set them, is flushed to disk and
renamed over the target, and the directory is synced. On any failure it is removed: the
target is either the complete new file or untouched.

Symlinks are followed: the file a link points to is replaced and the link stays a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = [
    "TEMP_MARK",
    "TEMP_SUFFIX",
    "AtomicFile",
    "build_atomic",
    "fsync",
    "is_temp_name",
    "resolve_target",
    "temp_name",
    "write_atomic",
]

TEMP_MARK = ".tts-"
TEMP_SUFFIX = ".part"
_NAME_MAX = 255  # bytes in one path component on Linux file systems


def temp_name(name: str) -> str:
    """``.NAME.tts-XXXXXXXX.part`` for a target called NAME (shortened to fit in 255 bytes)."""
    tail = f"{TEMP_MARK}{secrets.token_hex(4)}{TEMP_SUFFIX}"
    room = _NAME_MAX - 1 - len(tail)
    encoded = os.fsencode(name)
    if len(encoded) > room:
        name = encoded[:room].decode("utf-8", "ignore") or "out"
    return f".{name}{tail}"


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of our temporary files (a SIGKILL leftover, or a write in flight)."""
    return name.startswith(".") and TEMP_MARK in name and name.endswith(TEMP_SUFFIX)


def resolve_target(path: str | os.PathLike[str]) -> Path:
    """The file that a write to ``path`` replaces: every symlink followed, made absolute.

    Raises OSError(ELOOP) for a symlink loop rather than replacing the link itself. A dangling
    link resolves to the missing file it names, which the write then creates.
    """
    real = Path(os.path.realpath(path))
    if real.is_symlink():  # realpath stops at a link it cannot resolve: a loop
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fspath(path))
    return real


class AtomicFile:
    """A temporary file beside ``path``'s target; ``commit()`` renames it into place.

    Write through ``fd`` (or open ``tmp`` by name); ``commit()`` or ``discard()`` exactly once.
    As a context manager it commits when the block succeeds and discards when it raises.
    Every failure raises OSError (with the path as given in ``filename``) and leaves no
    temporary file behind.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.target = resolve_target(path)
        if self.target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        self.directory = self.target.parent
        for _ in range(64):
            tmp = self.directory / temp_name(self.target.name)
            try:
                # 0o666 and no fchmod: the umask (and a default ACL) decide, as for any new file.
                self.fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            except FileExistsError:
                continue
            except OSError as err:
                err.filename = os.fspath(path) if err.errno != errno.ENOENT else os.fspath(self.directory)
                raise
            break
        else:  # pragma: no cover - 64 collisions of 32 random bits
            raise FileExistsError(errno.EEXIST, "no free temporary name", os.fspath(self.directory))
        self.tmp = tmp
        self.done = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data`` at the current position."""
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(self.fd, view) :]

    def commit(self) -> None:
        """Give the temporary file the existing target's owner and mode, fsync it and rename it
        over the target. On failure the temporary file is removed and the target is untouched."""
        if self.done:
            return
        try:
            self._adopt_owner_and_mode()
            fsync(self.fd)
            fd, self.fd = self.fd, -1
            os.close(fd)
            self._refuse_if_not_regular()
            os.rename(self.tmp, self.target)
        except BaseException as err:
            self.discard()
            if isinstance(err, OSError) and err.filename is None:
                err.filename = os.fspath(self.path)
            raise
        self.done = True
        _fsync_directory(self.directory)

    def discard(self) -> None:
        """Close and remove the temporary file (never raises)."""
        self.done = True
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)

    def _adopt_owner_and_mode(self) -> None:
        try:
            old = os.stat(self.target)
        except FileNotFoundError:
            return  # a new file: the umask already gave its mode
        if not stat.S_ISREG(old.st_mode):
            return  # _refuse_if_not_regular reports it
        mine = os.fstat(self.fd)
        if (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid):
            try:  # root can keep both; an ordinary user at least a group they belong to
                os.fchown(self.fd, old.st_uid, old.st_gid)
            except PermissionError:
                with contextlib.suppress(PermissionError):
                    os.fchown(self.fd, -1, old.st_gid)
        os.fchmod(self.fd, stat.S_IMODE(old.st_mode))  # after chown, which clears set-id bits

    def _refuse_if_not_regular(self) -> None:
        """Something that is not a regular file appeared under the name during the run (a FIFO,
        a device, a directory): leave it alone rather than rename over it."""
        try:
            now = os.lstat(self.target)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(now.st_mode):
            raise OSError(errno.EEXIST, "it is no longer a regular file, so it was left as it is", os.fspath(self.path))

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def fsync(fd: int) -> None:
    """``os.fsync``, where EINVAL (a file system that cannot sync: some FUSE and network ones) is
    not an error: there is nothing more to wait for. Every other error (EIO, ENOSPC) raises."""
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno != errno.EINVAL:
            raise


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable. Some file systems refuse fsync on a directory: the file's
    own data is already on disk by then, so that is not an error."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace the file at ``path`` with ``data`` (str is written as UTF-8), atomically.

    A temporary file in the target's directory, flushed and fsync'd, renamed into place;
    symlinks followed so a link stays a link; a new file's mode comes from the umask, an
    existing file keeps its mode and owner where possible. Raises OSError and leaves no
    temporary file behind; on failure the target is untouched.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with AtomicFile(path) as out:
        out.write(payload)


def build_atomic(path: Path, build: Callable[[str], None], suffix: str = "") -> None:
    """Replace ``path`` with what ``build(tmp)`` writes to the temporary path ``tmp`` (for
    libraries that write a file themselves, by name: ONNX's save, ORT's quantizer). The temporary
    file sits beside the target with the recognisable name (``suffix`` appended, for libraries
    that look at the extension), is renamed over the target when ``build`` returns, and removed
    on any failure. Raises OSError (and whatever ``build`` raises); the target is then untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / (temp_name(path.name) + suffix)
    try:
        build(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
