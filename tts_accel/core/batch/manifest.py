"""OUTDIR's bookkeeping: manifest.jsonl (what is done), errors.jsonl (what failed), the lock.

Order of events for one utterance: the worker writes a temporary file beside the target and
renames it into place; only then does the coordinator append its manifest line. So a line in
the manifest always names a complete file, and a run killed at any point leaves at worst a
complete file without a line (made again next time) or a temporary ``.NAME.*.part`` (removed
at the next start). Resume trusts a line only when the file is there with the same size and
sha256 and the same settings key.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import IO

from tts_accel.core.batch.jobs import ERRORS, LOCK, MANIFEST, Job
from tts_accel.core.errors import OutputError, RowError
from tts_accel.core.files.atomic import sweep_stale
from tts_accel.core.files.cache import sha256_file

LINK_NOTE = "tts batch writes nothing through a symbolic link below OUTDIR"


def nofollow(path: str, flags: int) -> int:
    """``open()``'s opener for OUTDIR's own files: a symlink planted under the name is refused
    (ELOOP) rather than followed to a file outside OUTDIR."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)


def _output_error(path: Path, err: OSError) -> OutputError:
    if err.errno == errno.ELOOP:
        return OutputError(f"{path} is a symbolic link: remove it ({LINK_NOTE}).")
    return OutputError(f"cannot write {path}: {err.strerror}; free space or choose a writable OUTDIR.")


class OutDir:
    """OUTDIR for one run: created if missing, locked against a second run into it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock: IO[str] | None = None

    def open(self) -> None:
        """Create OUTDIR, refuse a symlink under any of its own files' names, take the lock."""
        for name in (LOCK, MANIFEST, ERRORS):
            if (self.path / name).is_symlink():
                raise OutputError(f"{self.path / name} is a symbolic link: remove it ({LINK_NOTE}).")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.path / LOCK, "a+", encoding="utf-8", opener=nofollow)  # noqa: SIM115
        except FileExistsError:
            raise OutputError(f"OUTDIR {self.path} exists and is not a folder: choose another -o.") from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise OutputError(f"{self.path / LOCK} is a symbolic link: remove it ({LINK_NOTE}).") from None
            raise OutputError(
                f"cannot create or write OUTDIR {self.path}: {err.strerror}; choose another -o."
            ) from None
        import fcntl

        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(
                f"another tts batch is writing into {self.path}: wait for it, or choose another -o."
            ) from None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            with contextlib.suppress(OSError):
                (self.path / LOCK).unlink()
            self._lock = None

    def remove_leftovers(self, jobs: list[Job], *, every: bool = True) -> int:
        """Delete temporary files (``.NAME.tts-PID-*.part``) left beside this run's targets by a
        killed run or worker. At the start (``every``) the lock excludes every other writer, so
        all go; at the end, those whose writer is no longer alive (a worker killed mid-file, or
        one that stopped when the disk filled). ``jobs`` are the contained ones: no folder
        reached through a symlink is looked in."""
        by_dir: dict[Path, set[str]] = {self.path: {MANIFEST}}
        for job in jobs:
            for rel in (job.path, job.timestamps):
                if rel:
                    target = self.path / rel
                    by_dir.setdefault(target.parent, set()).add(target.name)
        return sum(sweep_stale(d, names, every=every) for d, names in by_dir.items())


class Manifest:
    """manifest.jsonl: one JSON object per finished utterance; for an id, the last line counts."""

    def __init__(self, outdir: Path):
        self.path = Path(outdir) / MANIFEST
        self._fh: IO[str] | None = None

    def read(self) -> tuple[dict[str, dict[str, object]], bool]:
        """Records by id, and whether the file is clean (every line whole, no id twice)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}, True
        except OSError as err:
            raise OutputError(f"cannot read {self.path}: {err.strerror}.") from None
        records: dict[str, dict[str, object]] = {}
        clean = not data or data.endswith(b"\n")
        for raw in data.splitlines():
            try:
                record = json.loads(raw)
                rid = record["id"]
            except (ValueError, KeyError, TypeError):  # a line cut short by a kill: not done
                clean = False
                continue
            if rid in records:
                clean = False
            records[str(rid)] = record
        return records, clean

    def start(self, keep: list[dict[str, object]], rewrite: bool) -> None:
        """Open for appending; with ``rewrite``, first replace the file (atomically) by ``keep``."""
        try:
            if rewrite:
                tmp = self.path.with_name(f".{MANIFEST}.{os.getpid()}.part")
                with open(tmp, "w", encoding="utf-8", opener=nofollow) as fh:
                    fh.writelines(_line(r) for r in keep)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            self._fh = open(self.path, "a", encoding="utf-8", opener=nofollow)  # noqa: SIM115 - held for the run
        except OSError as err:
            raise _output_error(self.path, err) from None

    def add(self, record: dict[str, object]) -> None:
        assert self._fh is not None
        try:
            self._fh.write(_line(record))
            self._fh.flush()  # one write per line: a kill leaves whole lines, or one cut line
        except OSError as err:
            raise _output_error(self.path, err) from None

    def close(self) -> None:
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        try:
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        except OSError as err:
            with contextlib.suppress(OSError):
                fh.close()
            raise _output_error(self.path, err) from None


class ErrorLog:
    """errors.jsonl: the rows of this run that failed (id, line, error); absent when none did."""

    def __init__(self, outdir: Path):
        self.path = Path(outdir) / ERRORS
        self._fh: IO[str] | None = None
        self.count = 0

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            raise _output_error(self.path, err) from None

    def add(self, error: RowError) -> None:
        try:
            if self._fh is None:
                self._fh = open(self.path, "a", encoding="utf-8", opener=nofollow)  # noqa: SIM115 - held for the run
            self._fh.write(_line(error.as_json()))
            self._fh.flush()
        except OSError as err:
            raise _output_error(self.path, err) from None
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None


def _line(obj: dict[str, object]) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def intact(outdir: Path, record: dict[str, object] | None, job: Job, key: str) -> bool:
    """True when ``record`` says ``job`` is done with these settings and its file is whole."""
    if record is None or record.get("path") != job.path or record.get("key") != key:
        return False
    path = Path(outdir) / job.path
    if job.timestamps and record.get("timestamps") != job.timestamps:
        return False  # asked for word times this run: a row made without them is made again
    try:
        if job.timestamps and (Path(outdir) / job.timestamps).stat().st_size == 0:
            return False
        if path.stat().st_size != record.get("bytes"):
            return False
        return sha256_file(path) == record.get("sha256")
    except OSError:
        return False
