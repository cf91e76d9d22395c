"""The user cache directory and file digests, written once for every cache of the project.

``cache_dir()`` is ``$TTS_ACCEL_CACHE_DIR`` when set, else platformdirs' user cache dir
(``$XDG_CACHE_HOME/tts-accel`` on Linux). It holds derived ONNX graphs (``graphs/``), ORT's
optimized graphs (``optimized/``), the assembled Kokoro model and ``digests.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from tts_accel.core.files.atomic import write_atomic

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
