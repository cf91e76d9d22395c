"""espeak-ng phonemization through phonemizer, with espeak-ng itself from espeakng-loader.

espeak-ng keeps global state and is not thread-safe, so every call goes through one
process-wide lock; the scheduler keeps phonemization on one thread anyway. Results are
cached per (language, text): repeated sentences and the chunker's measuring pass cost
nothing the second time.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from tts_accel.core.errors import InputError, VoiceError

_LOCK = threading.Lock()
_CONFIGURED = False


def _configure() -> None:
    """Point phonemizer's EspeakWrapper at the espeak-ng library shipped by espeakng-loader."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    import espeakng_loader
    from phonemizer.backend.espeak.wrapper import EspeakWrapper

    EspeakWrapper.set_library(espeakng_loader.get_library_path())
    EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
    _CONFIGURED = True


@lru_cache(maxsize=8)
def _backend(language: str):  # type: ignore[no-untyped-def]
    from phonemizer.backend import EspeakBackend

    _configure()
    logger = logging.getLogger("tts_accel.phonemizer")
    logger.setLevel(logging.ERROR)
    try:
        return EspeakBackend(
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


@lru_cache(maxsize=4096)
def phonemize(text: str, language: str) -> str:
    """IPA phonemes for ``text`` (punctuation kept, stress marks on)."""
    with _LOCK:
        backend = _backend(language)
        try:
            out = backend.phonemize([text], strip=True, njobs=1)
        except Exception as err:  # espeak failures surface as assorted exceptions
            raise InputError(f"espeak-ng could not phonemize {text[:40]!r}: {err}") from err
    return out[0] if out else ""
