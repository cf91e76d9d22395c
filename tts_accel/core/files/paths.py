"""What a run may write, checked before it starts: outputs that are an input, and output paths
whose folder or suffix would only fail at the end.

- :func:`refuse_same_file`: an output that is the same regular file as an input (same device and
  inode: also through a symlink or a hard link) would destroy the input; refused (InputError,
  exit 2) before anything is read or written.
- :func:`check_output_file`: a report's path (`tts bench --json/--csv/--plot`, `tts verify
  --json`) is refused before the work when its folder is missing or read-only, when it is a
  folder, or when its suffix is not one the writer knows.

Containment below a folder (`tts batch`'s OUTDIR, no symlink followed) is
:func:`tts_accel.core.files.atomic.open_below` and ``AtomicFile(within=...)``;
:func:`escape_reason` is its check before the run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from tts_accel.core.errors import InputError, OutputError

__all__ = ["check_output_file", "escape_reason", "file_id", "refuse_same_file", "same_file"]

Named = tuple[str, "str | os.PathLike[str] | int"]  # (what the user calls it, a path or an open descriptor)


def file_id(where: str | os.PathLike[str] | int) -> tuple[int, int] | None:
    """(device, inode) of the regular file at ``where`` (a path, symlinks followed, or an open
    descriptor), or None when there is none (missing, a device, a FIFO, unreadable)."""
    try:
        st = os.fstat(where) if isinstance(where, int) else os.stat(where)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def same_file(a: str | os.PathLike[str] | int, b: str | os.PathLike[str] | int) -> bool:
    """Whether ``a`` and ``b`` are one regular file (device and inode)."""
    ia = file_id(a)
    return ia is not None and ia == file_id(b)


def refuse_same_file(outputs: Iterable[Named], inputs: Iterable[Named]) -> None:
    """InputError (exit 2, one line) for the first output that is the same regular file as an
    input. Each is (the name to print, a path or a descriptor)."""
    by_id = {}
    for label, where in inputs:
        fid = file_id(where)
        if fid is not None:
            by_id.setdefault(fid, label)
    if not by_id:
        return
    for label, where in outputs:
        source = by_id.get(file_id(where))  # type: ignore[arg-type]
        if source is not None:
            raise InputError(
                f"{label} is the same file as the input {source}: writing it would destroy the input; "
                "choose another output."
            )


def escape_reason(root: str | os.PathLike[str], rel: str) -> str | None:
    """Why writing ``rel`` (a relative '/'-separated path) below the folder ``root`` would leave
    it or go through a symlink, or None. Only what exists is looked at (``lstat``); the write
    itself repeats the check as it opens each folder (``open_below``), so a link swapped in later
    is refused there too."""
    here = Path(root)
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    for i, part in enumerate(parts):
        if part == "..":
            return "leaves OUTDIR (..)"
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            return None  # made by the run, as a folder (or the file itself)
        except OSError as err:
            return f"cannot be looked at ({err.strerror})"
        shown = "/".join(parts[: i + 1])
        if stat.S_ISLNK(st.st_mode):
            where = os.readlink(here)
            return f"goes through the symbolic link {shown} -> {where}, which tts batch never follows"
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            return f"needs {shown} to be a folder, and it is not"
        if last and stat.S_ISDIR(st.st_mode):
            return "is a folder"
    return None


def check_output_file(path: str | os.PathLike[str], flag: str, suffixes: Iterable[str] | None = None) -> None:
    """Refuse, before the work, a report path that could only fail at its end: an unknown suffix
    (InputError, exit 2), a folder, a missing or read-only folder (OutputError, exit 4)."""
    name = os.fspath(path)
    if suffixes is not None:
        allowed = sorted(suffixes)
        suffix = Path(name).suffix.lower().lstrip(".")
        if suffix not in allowed:
            raise InputError(
                f"{flag} {name}: unknown extension {('.' + suffix) if suffix else '(none)'}; "
                f"use {', '.join('.' + s for s in allowed)}."
            )
    if os.path.isdir(name):
        raise OutputError(f"{flag} {name} is a folder: give a file name inside it.")
    folder = Path(os.path.realpath(name)).parent
    if not folder.is_dir():
        raise OutputError(f"{flag} {name}: the folder {folder} does not exist; create it or choose another.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{flag} {name}: the folder {folder} is not writable; choose another place.")
    if os.path.exists(name) and not os.access(name, os.W_OK):
        raise OutputError(f"{flag} {name} is read-only: choose another place.")
