"""espeak-ng phonemization through phonemizer, with espeak-ng itself from espeakng-loader.

espeak-ng keeps global state and is not thread-safe, so every call goes through one
process-wide lock; the scheduler keeps phonemization on one thread anyway. Results are
cached per (language, text): repeated sentences and the chunker's measuring pass cost
nothing the second time.

Two repairs of phonemizer 3.4's punctuation handling (``preserve_punctuation=True``), which
otherwise loses words: it finds the marks with a regular expression that rightly skips a decimal
point between digits, but then cuts the line at the *first occurrence of the mark's text*, so in
"He ran 100m in 9.58s at the 2009 World Championships." the final "." cuts at "9.58": two lines
come back for one input, and keeping the first one dropped the rest ("He ran one hundred m in
nine."). Here the line is cut where each mark was found (so espeak-ng reads "9.58" itself: "nine
point five eight"), and every line that comes back is kept. docs/timestamps.md has the
measurement (14 words lost in 5 of 50 hard sentences before, none after).

phonemizer imports joblib at its top for ``njobs > 1``, which we never ask for (one thread, one
lock): joblib and its process pool cost about 75 ms of every start-up. So while phonemizer is
imported, ``joblib`` stands for a placeholder module that imports the real one the first time
one of its attributes is read (never, at ``njobs=1``); after the import the name is free again.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import threading
from functools import lru_cache
from types import MethodType, ModuleType
from typing import Any

from tts_accel.core.errors import InputError, VoiceError

_LOCK = threading.Lock()
_CONFIGURED = False


def _configure() -> None:
    """Point phonemizer's EspeakWrapper at the espeak-ng library shipped by espeakng-loader."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    _import_phonemizer()
    import espeakng_loader
    from phonemizer.backend.espeak.wrapper import EspeakWrapper

    EspeakWrapper.set_library(espeakng_loader.get_library_path())
    EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
    _CONFIGURED = True


class _Deferred(ModuleType):
    """A module imported by name only: the real one is imported when an attribute is read."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # import machinery probing (__path__, __file__): not ours
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def _import_phonemizer() -> None:
    """Import phonemizer with ``joblib`` deferred (see the module docstring)."""
    if "phonemizer.backend" in sys.modules:
        return
    placeholder = None if "joblib" in sys.modules else _Deferred("joblib")
    if placeholder is not None:
        sys.modules["joblib"] = placeholder
    try:
        import phonemizer.backend  # noqa: F401
    finally:
        if placeholder is not None and sys.modules.get("joblib") is placeholder:
            del sys.modules["joblib"]


@lru_cache(maxsize=8)
def _backend(language: str):  # type: ignore[no-untyped-def]
    _configure()
    from phonemizer.backend import EspeakBackend

    logger = logging.getLogger("tts_accel.phonemizer")
    logger.setLevel(logging.ERROR)
    try:
        backend = EspeakBackend(
            language,
            preserve_punctuation=True,
            with_stress=True,
            language_switch="remove-flags",
            logger=logger,
        )
    except RuntimeError as err:
        raise VoiceError(
            f"espeak-ng has no language {language!r}: pick a voice for a supported language."
        ) from err
    _cut_at_marks(backend)
    return backend


def _cut_at_marks(backend) -> None:  # type: ignore[no-untyped-def]
    """Make the backend's punctuation splitter cut each line where its marks were found (see the
    module docstring). phonemizer's own ``_preserve_line`` is kept where its private names differ
    from 3.4's: every line is still kept by ``phonemize``, so no word is lost either way."""
    from phonemizer import punctuation

    punctuator = getattr(backend, "_punctuator", None)
    mark_index = getattr(punctuation, "_MarkIndex", None)
    if punctuator is None or mark_index is None or not hasattr(punctuator, "_preserve_line"):
        return

    def preserve_line(self, line: str, num: int):  # type: ignore[no-untyped-def]
        matches = list(re.finditer(self._marks_re, line))
        if not matches:
            return [line], []
        if len(matches) == 1 and matches[0].group() == line:  # only punctuation
            return [], [mark_index(num, line, "A")]
        marks, pieces, at = [], [], 0
        for k, match in enumerate(matches):
            position = "I"  # begin, end, inside: how restore() puts the mark back
            if k == 0 and match.start() == 0:
                position = "B"
            elif k == len(matches) - 1 and match.end() == len(line):
                position = "E"
            marks.append(mark_index(num, match.group(), position))
            pieces.append(line[at : match.start()])
            at = match.end()
        return [*pieces, line[at:]], marks

    punctuator._preserve_line = MethodType(preserve_line, punctuator)


@lru_cache(maxsize=4096)
def phonemize(text: str, language: str) -> str:
    """IPA phonemes for ``text`` (punctuation kept, stress marks on)."""
    with _LOCK:
        backend = _backend(language)
        try:
            out = backend.phonemize([text], strip=True, njobs=1)
        except Exception as err:  # espeak failures surface as assorted exceptions
            raise InputError(f"espeak-ng could not phonemize {text[:40]!r}: {err}") from err
    # One input can come back as several lines (phonemizer's punctuation splitting): keep them all.
    return " ".join(line.strip() for line in out if line.strip())
