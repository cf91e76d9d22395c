"""Atomic writes of whole files (caches, profiles, derived graphs).

Minimal stand-in: the outputs issue (sinks, formats, devices) owns the full version of this
module; only ``write_atomic`` is used by the rest of core.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it and rename it over ``path``:
    readers see the old file or the whole new one, never a part. A new file gets the mode the
    umask gives any new file. Raises OSError (the temporary file is removed)."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
