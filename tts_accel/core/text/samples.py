"""The benchmark texts everyone measures on: short, paragraph, long and harvard (public domain).

They ship inside the package (``tts_accel/data/texts/``). ``$TTS_ACCEL_TEXTS``, when it names a
folder, replaces that folder (for all of them: a text missing there is an error, not a silent
fallback); when it names no folder, the shipped texts are used. Tests, benchmarks, `tts bench`
and `tts verify` all find texts here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tts_accel.core.errors import InputError

TEXTS_ENV = "TTS_ACCEL_TEXTS"
TEXT_NAMES = ("short", "paragraph", "long")
PACKAGED = Path(__file__).resolve().parents[2] / "data" / "texts"


def texts_dir() -> Path:
    """``$TTS_ACCEL_TEXTS`` when it is a folder, else the texts shipped in the package."""
    env = os.environ.get(TEXTS_ENV)
    if env and Path(env).expanduser().is_dir():
        return Path(env).expanduser()
    return PACKAGED


def read_text(name: str) -> str:
    """The text ``name`` (``paragraph``, ``harvard``...) from ``texts_dir()``."""
    path = texts_dir() / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"text {name!r} is not in {path.parent}: set {TEXTS_ENV} to a folder with {name}.txt, "
                         "or give a file with -i.") from None  # fmt: skip


def load_texts(names: Sequence[str] = TEXT_NAMES, files: Sequence[Path] = ()) -> dict[str, str]:
    """{name: text} for the named texts, or for ``files`` (named by their stem) when given."""
    if files:
        out = {}
        for path in files:
            try:
                out[path.stem] = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as err:
                raise InputError(f"cannot read benchmark text {path}: {err}; give a UTF-8 file to -i.") from None
        return out
    folder = texts_dir()
    missing = [n for n in names if not (folder / f"{n}.txt").is_file()]
    if missing:
        raise InputError(f"benchmark texts {', '.join(missing)} not in {folder}: set {TEXTS_ENV} or use -i FILE.")
    return {n: (folder / f"{n}.txt").read_text(encoding="utf-8") for n in names}


def harvard_sentences(limit: int | None = None) -> list[str]:
    """The 20 Harvard sentences, one per line (``limit``: the first ones)."""
    sentences = [line.strip() for line in read_text("harvard").splitlines() if line.strip()]
    return sentences[:limit] if limit else sentences
