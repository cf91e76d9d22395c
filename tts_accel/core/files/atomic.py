"""File-system primitives: replace a regular file atomically.

``AtomicFile`` is the one implementation of "write beside the target, fsync, rename" in the
package (audio files, caches, profiles): a temporary file ``.NAME.tts-XXXXXXXX.part`` in the
target's own directory (so the rename never crosses a file system, and a leftover after a
SIGKILL is recognisable: ``XXXXXXXX`` is ``PID-RANDOM``, the writer's process id, so that
:func:`sweep_stale` can tell a dead writer's leftover from a write in flight), created with
mode 0o666 so that the kernel applies the umask (and any default ACL) exactly as it does for
any new file. On commit the temporary file takes an
existing target's owner and mode where the process may set them, is flushed to disk and
renamed over the target, and the directory is synced. On any failure it is removed: the
target is either the complete new file or untouched.

Symlinks are followed: the file a link points to is replaced and the link stays a link. With
``within=ROOT`` (`tts batch` into OUTDIR) nothing below ROOT is followed: every folder from ROOT
down is opened with ``O_NOFOLLOW`` (and created there when missing), the temporary file is made
relative to that folder's descriptor, and a target that is a symlink is refused (ELOOP), so
neither a link planted before the run nor one swapped in during it can send a write outside ROOT.

:func:`commit_together` renames several prepared files only once all of them are complete on
disk (audio and its timestamps): a failure before that leaves every target untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = [
    "TEMP_MARK",
    "TEMP_SUFFIX",
    "AtomicFile",
    "build_atomic",
    "commit_together",
    "fsync",
    "is_temp_name",
    "open_below",
    "resolve_target",
    "sweep_stale",
    "temp_name",
    "write_atomic",
]

TEMP_MARK = ".tts-"
TEMP_SUFFIX = ".part"
_NAME_MAX = 255  # bytes in one path component on Linux file systems
#: A temporary file without a writer's pid in its name (older versions) is stale after this long.
STALE_AFTER_S = 3600.0
_PID_TAIL = re.compile(r"\.tts-(\d+)-[0-9a-f]{8}\.part(?:\.\w+)?$")  # build_atomic may add a suffix
_PART_TAIL = re.compile(r"\.part(?:\.\w+)?$")
#: ``.NAME.PID.tmp``: the optimized-graph cache's temporary name before this one (kill -9 leftovers)
_LEGACY_TMP = re.compile(r"^\..+\.(\d+)\.tmp$")


def temp_name(name: str) -> str:
    """``.NAME.tts-PID-XXXXXXXX.part`` for a target called NAME (shortened to fit in 255 bytes)."""
    tail = f"{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}{TEMP_SUFFIX}"
    room = _NAME_MAX - 1 - len(tail)
    encoded = os.fsencode(name)
    if len(encoded) > room:
        name = encoded[:room].decode("utf-8", "ignore") or "out"
    return f".{name}{tail}"


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of our temporary files (a SIGKILL leftover, or a write in flight)."""
    if not name.startswith("."):
        return False
    return (TEMP_MARK in name and _PART_TAIL.search(name) is not None) or _LEGACY_TMP.match(name) is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def sweep_stale(directory: str | os.PathLike[str], names: set[str] | None = None, *, every: bool = False) -> int:
    """Remove our temporary files (and folders) in ``directory`` (for the targets ``names``, or any) that no
    live writer owns: the pid in the name is not a running process on this machine (a writer
    killed by SIGKILL, or a worker lost when the disk filled), or, for a name without a pid, the
    file is older than :data:`STALE_AFTER_S`. ``every``: the caller holds a lock that excludes
    every other writer (`tts batch` in its OUTDIR), so each one goes. Never raises; returns how
    many were removed."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        n = entry.name
        if not is_temp_name(n) or (names is not None and not any(n.startswith(f".{t}{TEMP_MARK}") for t in names)):
            continue
        m = _PID_TAIL.search(n) or _LEGACY_TMP.match(n)
        if not every:
            if m is not None and (int(m.group(1)) == os.getpid() or _alive(int(m.group(1)))):
                continue
            with contextlib.suppress(OSError):
                if m is None and time.time() - entry.stat(follow_symlinks=False).st_mtime < STALE_AFTER_S:
                    continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):  # a build's temporary folder (aoti packages)
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
    return removed


def resolve_target(path: str | os.PathLike[str]) -> Path:
    """The file that a write to ``path`` replaces: every symlink followed, made absolute.

    Raises OSError(ELOOP) for a symlink loop rather than replacing the link itself. A dangling
    link resolves to the missing file it names, which the write then creates.
    """
    real = Path(os.path.realpath(path))
    if real.is_symlink():  # realpath stops at a link it cannot resolve: a loop
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fspath(path))
    return real


def open_below(root: str | os.PathLike[str], rel: str | os.PathLike[str], *, create: bool = True) -> int:
    """A descriptor of the folder ``root/rel``, reached without following any symlink below
    ``root`` (each part opened with ``O_NOFOLLOW``; with ``create``, missing parts are made).
    ``root`` itself may be a link: it is what the user named. Raises OSError: ELOOP for a part
    that is a symlink, ENOTDIR for a part that is a file, ENOENT without ``create``."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    fd = os.open(root, flags)
    try:
        for part in Path(rel).parts:
            if part in ("", "."):
                continue
            if part == ".." or "/" in part:
                raise OSError(errno.EPERM, "the path leaves its folder", os.fspath(Path(root) / rel))
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                nxt = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as err:
                err.filename = os.fspath(Path(root) / rel)
                with contextlib.suppress(OSError):  # Linux says ENOTDIR for a link under O_DIRECTORY
                    if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                        err.errno, err.strerror = errno.ELOOP, "a part of the path is a symbolic link"
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


class AtomicFile:
    """A temporary file beside ``path``'s target; ``commit()`` renames it into place.

    Write through ``fd`` (or open ``tmp`` by name); ``commit()`` or ``discard()`` exactly once.
    As a context manager it commits when the block succeeds and discards when it raises.
    Every failure raises OSError (with the path as given in ``filename``) and leaves no
    temporary file behind. ``within``: ``path`` lies below this folder and nothing below it is
    followed (the module docstring); a relative ``path`` is taken relative to it.
    """

    def __init__(self, path: str | os.PathLike[str], *, within: str | os.PathLike[str] | None = None):
        self.path = Path(path)
        self._dir_fd: int | None = None
        if within is None:
            self.target = resolve_target(path)
            if self.target.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
            self.directory = self.target.parent
            self._name = os.fspath(self.target)
        else:
            rel = self.path.relative_to(within) if self.path.is_absolute() else self.path
            self.path = Path(within) / rel
            self._dir_fd = open_below(within, rel.parent)
            self.directory = self.path.parent
            self.target = self.path
            self._name = rel.name
            try:
                self._refuse_link_or_folder()
            except BaseException:
                os.close(self._dir_fd)
                raise
        for _ in range(64):
            tmp_name = temp_name(self.target.name)
            tmp = self.directory / tmp_name
            try:
                # 0o666 and no fchmod: the umask (and a default ACL) decide, as for any new file.
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
                self.fd = os.open(self._at(tmp_name, tmp), flags, 0o666, dir_fd=self._dir_fd)
            except FileExistsError:
                continue
            except OSError as err:
                self._close_dir()
                err.filename = os.fspath(path) if err.errno != errno.ENOENT else os.fspath(self.directory)
                raise
            break
        else:  # pragma: no cover - 64 collisions of 32 random bits
            self._close_dir()
            raise FileExistsError(errno.EEXIST, "no free temporary name", os.fspath(self.directory))
        self.tmp = tmp
        self._tmp = self._at(tmp_name, tmp)
        self.done = False
        self.prepared = False
        self.committed = False  # renamed into place

    def _at(self, name: str, full: Path) -> str:
        """How os calls name a file in the directory: by name beside the folder's descriptor
        (``within``), else by its full path."""
        return name if self._dir_fd is not None else os.fspath(full)

    def _refuse_link_or_folder(self) -> None:
        try:
            st = os.stat(self._name, dir_fd=self._dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise OSError(errno.ELOOP, "it is a symbolic link, which is never written through", os.fspath(self.path))
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(self.path))

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data`` at the current position."""
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(self.fd, view) :]

    def prepare(self) -> None:
        """Give the temporary file the existing target's owner and mode, fsync and close it: all
        that may fail before the rename. On failure the temporary file is removed."""
        if self.prepared or self.done:
            return
        try:
            self._adopt_owner_and_mode()
            fsync(self.fd)
            fd, self.fd = self.fd, -1
            os.close(fd)
        except BaseException as err:
            self._failed(err)
            raise
        self.prepared = True

    def commit(self) -> None:
        """``prepare()``, then rename the temporary file over the target. On failure the
        temporary file is removed and the target is untouched."""
        if self.done:
            return
        self.prepare()
        try:
            self._refuse_if_not_regular()
            if self._dir_fd is None:
                os.rename(self._tmp, self._name)
            else:
                os.rename(self._tmp, self._name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        except BaseException as err:
            self._failed(err)
            raise
        self.done = self.committed = True
        self._fsync_directory()
        self._close_dir()

    def _failed(self, err: BaseException) -> None:
        self.discard()
        if isinstance(err, OSError) and err.filename is None:
            err.filename = os.fspath(self.path)

    def discard(self) -> None:
        """Close and remove the temporary file (never raises; nothing once committed)."""
        if self.committed:
            return
        self.done = True
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(self._tmp, dir_fd=self._dir_fd)
        self._close_dir()

    def _close_dir(self) -> None:
        if self._dir_fd is not None:
            fd, self._dir_fd = self._dir_fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    def _adopt_owner_and_mode(self) -> None:
        try:
            old = os.stat(self._name, dir_fd=self._dir_fd, follow_symlinks=self._dir_fd is None)
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
            now = os.stat(self._name, dir_fd=self._dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(now.st_mode):
            raise OSError(errno.EEXIST, "it is no longer a regular file, so it was left as it is", os.fspath(self.path))

    def _fsync_directory(self) -> None:
        """Make the rename itself durable (see :func:`_fsync_directory`)."""
        if self._dir_fd is None:
            _fsync_directory(self.directory)
        else:
            with contextlib.suppress(OSError):
                os.fsync(self._dir_fd)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def commit_together(files: list[AtomicFile]) -> None:
    """Commit ``files`` as one: each is prepared (complete and fsync'd) before any is renamed, so a
    failure up to then (a full disk) leaves every target untouched and every temporary file
    removed. A rename failing after an earlier one succeeded is reported as an OSError whose
    message names the targets already replaced (renames in one folder practically never fail)."""
    try:
        for f in files:
            f.prepare()
    except BaseException:
        for f in files:
            f.discard()
        raise
    for i, f in enumerate(files):
        try:
            f.commit()
        except OSError as err:
            for rest in files[i + 1 :]:
                rest.discard()
            if i:
                done = ", ".join(os.fspath(g.path) for g in files[:i])
                err.strerror = f"{err.strerror}; {done} was replaced, so it is newer than {f.path}"
            raise


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
