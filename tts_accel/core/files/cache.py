"""The user cache directory, file digests, and the one way every cached file is checked.

``cache_dir()`` is ``$TTS_ACCEL_CACHE_DIR`` when set, else platformdirs' user cache dir
(``$XDG_CACHE_HOME/tts-accel`` on Linux). It holds derived ONNX graphs (``graphs/``, ``split/``),
ORT's optimized graphs (``optimized/``), the assembled Kokoro model and ``digests.json``.

Every file the project derives into the cache is written by ``write_verified`` or
``build_verified`` (atomically, then a stamp ``NAME.stamp`` beside it: the sha256 of what was
*written*, with the file's size, mtime and inode) and is read only after ``verified(path)``. A
file whose stat still matches its stamp is trusted without reading it (hashing the split graphs
on every start would cost about 0.1 s: docs/text.md has the figures); one whose stat changed is
hashed again and must give the written sha256, so a same-size edit, a truncation or a copy with
other bytes is caught; a file with no stamp was not written by us. A file that fails is rebuilt
by its owner. ``atomic.sweep_stale`` removes the temporary files a killed build left behind.

``model_digest`` is different: it names a *source* file (a voice the user installed), so it has
no written digest to compare with; it only remembers the last hash by (path, size, mtime).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tts_accel.core.files.atomic import build_atomic, sweep_stale, write_atomic

CACHE_ENV = "TTS_ACCEL_CACHE_DIR"
_BLOCK = 1 << 20


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get(CACHE_ENV) or user_cache_dir("tts-accel"))


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def model_digest(model_path: Path) -> str:
    """sha256 of a model file, remembered in the cache by (path, size, mtime) so that a warm
    start skips hashing (80 ms for the 63 MB Piper voice on the dev VM)."""
    stat = model_path.stat()
    index_path = cache_dir() / "digests.json"
    key = str(model_path.resolve())
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        entry = index.get(key, {})
        if entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            return str(entry["sha256"])
    except (OSError, ValueError, AttributeError, KeyError):
        index = {}
    sha = sha256_file(model_path)
    index[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
    with contextlib.suppress(OSError):  # a read-only cache only costs a hash per start
        index_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(index_path, json.dumps(index, indent=1))
    return sha


# --- cached files: written with a stamp, read only when verified ----------------------------------

def stamp_path(path: Path) -> Path:
    """The stamp beside a cached file: ``NAME.stamp``."""
    return path.with_name(path.name + ".stamp")


def _stat_of(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def _read_stamp(path: Path) -> dict[str, Any]:
    try:
        stamp = json.loads(stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def record(path: Path, sha256: str | None = None) -> None:
    """Stamp ``path`` with the sha256 of its content (``sha256``: already known, e.g. of the bytes
    just written) and its stat. A read-only cache only loses the stamp: the file is rebuilt."""
    with contextlib.suppress(OSError):
        stamp = {"sha256": sha256 or sha256_file(path), **_stat_of(path)}
        write_atomic(stamp_path(path), json.dumps(stamp))


def verified(path: Path, expected_sha256: str | None = None) -> bool:
    """Whether ``path`` holds the bytes that were written there (its stamp's sha256), or
    ``expected_sha256`` when the caller knows what it must hold. Cheap while the file's size,
    mtime and inode match the stamp; otherwise one sha256 pass (then the stamp is refreshed)."""
    try:
        current = _stat_of(path)
    except OSError:
        return False
    stamp = _read_stamp(path)
    want = expected_sha256 or stamp.get("sha256")
    if not want:
        return False  # no stamp: not written through this module, so not trusted
    if stamp.get("sha256") == want and all(stamp.get(k) == v for k, v in current.items()):
        return True
    try:
        if sha256_file(path) != want:
            return False
    except OSError:
        return False
    record(path, want)
    return True


def write_verified(path: Path, data: bytes) -> None:
    """Write ``data`` to the cached file ``path`` atomically and stamp it (OSError on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent)
    write_atomic(path, data)
    record(path, hashlib.sha256(data).hexdigest())


def build_verified(path: Path, build: Callable[[str], None], suffix: str = "") -> None:
    """``atomic.build_atomic`` for a cached file (a library writes it by name), then the stamp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent)
    build_atomic(path, build, suffix=suffix)
    record(path)


def forget(path: Path) -> None:
    """Remove a cached file that failed, and its stamp (a missing one is fine)."""
    for p in (path, stamp_path(path)):
        with contextlib.suppress(OSError):
            p.unlink()
