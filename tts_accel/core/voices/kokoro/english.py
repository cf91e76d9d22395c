"""espeak-ng en-us IPA -> the symbols Kokoro's American English voices were trained on.

Kokoro-82M learned English from misaki's phoneme set, which writes the diphthongs and
affricates as one symbol each, r-coloured vowels as vowel + ɹ and has no length marks.
espeak-ng writes the same sounds in plain IPA. The table below rewrites one into the
other (longest match first); docs/kokoro.md explains every row. Whatever is still not in
the model's vocabulary afterwards is dropped and counted, never fed to the model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

# (espeak-ng en-us, Kokoro) pairs; matched longest first so that "ɜːɹ" wins over "ɜː".
ESPEAK_TO_KOKORO: tuple[tuple[str, str], ...] = (
    ("eɪ", "A"),  # day
    ("aɪ", "I"),  # high
    ("aʊ", "W"),  # how
    ("ɔɪ", "Y"),  # boy
    ("oʊ", "O"),  # go
    ("dʒ", "ʤ"),  # judge
    ("tʃ", "ʧ"),  # church
    ("ɜːɹ", "ɜɹ"),  # stressed r-coloured vowel, with or without the trailing ɹ
    ("ɜː", "ɜɹ"),  # bird: espeak bˈɜːd
    ("oːɹ", "ɔɹ"),  # door: espeak dˈoːɹ
    ("ɚ", "əɹ"),  # butter: unstressed r-coloured schwa
    ("ʔn̩", "tᵊn"),  # button: the glottal stop before a syllabic n is Kokoro's t + ᵊn
    ("n̩", "ᵊn"),  # syllabic consonants: Kokoro writes the reduced vowel before them
    ("l̩", "ᵊl"),
    ("m̩", "ᵊm"),
    ("ɐ", "ə"),  # espeak's near-open central vowel is a schwa for Kokoro
    ("r", "ɹ"),  # trilled r does not occur in American English: the approximant
    ("ɬ", "l"),
    ("x", "k"),  # loch, Bach as an American reads them
    ("ç", "k"),
    ("ː", ""),  # American Kokoro has no length marks
)

_PATTERN = re.compile("|".join(re.escape(k) for k, _ in sorted(ESPEAK_TO_KOKORO, key=lambda kv: -len(kv[0]))))
_TABLE = dict(ESPEAK_TO_KOKORO)


def to_kokoro(ipa: str) -> str:
    """Rewrite espeak-ng en-us IPA into Kokoro's phoneme symbols."""
    return _PATTERN.sub(lambda m: _TABLE[m.group(0)], ipa)


def to_ids(phonemes: str, vocab: Mapping[str, int], dropped: Counter[str] | None = None) -> list[int]:
    """Kokoro ids for ``phonemes``; symbols outside ``vocab`` are skipped and counted in ``dropped``."""
    ids: list[int] = []
    for ch in phonemes:
        token = vocab.get(ch)
        if token is None:
            if dropped is not None:
                dropped[ch] += 1
            continue
        ids.append(token)
    return ids
