"""The voice registry: it iterates the list of families and knows nothing else about them.

A family is a package under ``core/voices/`` whose ``FAMILY`` (a ``base.Family``) lists its
voices, says what they can do and may claim voices given as file paths. Adding a family is one
new package and one line in ``FAMILIES``; nothing else in tts-accel names a family.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tts_accel.core.errors import VoiceError
from tts_accel.core.plan.profiles import DEFAULT_FAMILY
from tts_accel.core.voices import kokoro, piper
from tts_accel.core.voices.base import Family, Voice, VoiceEntry

#: Every family, in the order `tts voices` lists them and paths are offered to them.
FAMILIES: tuple[Family, ...] = (
    piper.FAMILY,
    kokoro.FAMILY,
)

DEFAULT_VOICE = "piper-joe"


def registry() -> dict[str, VoiceEntry]:
    """Every registered voice by name, installed or not."""
    return {entry.name: entry for family in FAMILIES for entry in family.entries()}


def family_named(name: str) -> Family:
    for family in FAMILIES:
        if family.name == name:
            return family
    raise VoiceError(f"unknown voice family {name!r}: use one of {', '.join(f.name for f in FAMILIES)}.")


def family_of(voice: str) -> Family:
    """The family of a registered voice or a voice file, without loading it."""
    entry = registry().get(voice)
    if entry is not None:
        return family_named(entry.family)
    return _path_family(voice) or FAMILIES[0]


def resolve_voice(name: str) -> Voice:
    """A registered voice name, or a path to a voice file a family claims (a Piper ``.onnx``
    with its ``.onnx.json`` beside it)."""
    return _resolve(name)


def is_voice_path(name: str) -> bool:
    """Whether ``name`` is meant as a voice file rather than a voice's name: it contains a ``/``
    or ends in a suffix a family reads (``.onnx``). Anything else is a name, looked up only in
    the registry, never on disk (so ``--voice passwd`` never opens a file called passwd)."""
    suffixes = {s for f in FAMILIES for s in f.path_suffixes}
    return "/" in name or any(name.lower().endswith(s) for s in suffixes)


def _path_family(name: str) -> Family | None:
    """The family that reads the voice file ``name`` (by its suffix), or None: not a path, or a
    path with a suffix no family reads."""
    if not is_voice_path(name):
        return None
    suffix = Path(name).suffix.lower()
    for family in FAMILIES:
        if family.from_path is not None and suffix in family.path_suffixes:
            return family
    return None


def _known() -> str:
    return ", ".join(sorted(registry()))


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
    family = _path_family(name)
    if family is not None and family.from_path is not None:
        try:
            return family.from_path(name)
        except VoiceError as err:
            raise VoiceError(f"{str(err).rstrip('.')}; or use a voice name: {_known()}.") from None
    if is_voice_path(name):
        suffixes = ", ".join(sorted({s for f in FAMILIES for s in f.path_suffixes}))
        raise VoiceError(
            f"voice path {name!r} is not a voice file: give a {suffixes} file (with its .json beside it), "
            f"or a voice name: {_known()} (see `tts voices`)."
        )
    raise VoiceError(f"unknown voice {name!r}: use one of {_known()} (see `tts voices`) or a path to a .onnx file.")


if family_of(DEFAULT_VOICE).name != DEFAULT_FAMILY:  # pragma: no cover - a wrong edit of either constant
    raise ImportError(f"DEFAULT_VOICE {DEFAULT_VOICE!r} is not of DEFAULT_FAMILY {DEFAULT_FAMILY!r} (plan.profiles)")
