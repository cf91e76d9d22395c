"""Word error rate after the normalization an ASR comparison needs.

Both sides are lower-cased, numbers are spelled out ("50" -> "fifty", "3rd" -> "third"),
punctuation goes, and hyphenated words split, so that "Fifty-two." and "52" match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}  # fmt: skip
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at "}

_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*)(?:\.(\d+))?(st|nd|rd|th)?(?!\w)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")


def number_to_words(n: int) -> str:
    """Cardinal English words for a non-negative integer: 2024 -> "two thousand twenty four"."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{number_to_words(head)} {name}" + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """21 -> "twenty first", 12 -> "twelfth", 40 -> "fortieth"."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL:
        words[-1] = _ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _spell(match: re.Match[str]) -> str:
    whole, fraction, suffix = match.group(1), match.group(2), match.group(3)
    digits = whole.replace(",", "")
    if not digits:
        return whole
    n = int(digits)
    if suffix and not fraction:
        return f" {ordinal_words(n)} "
    words = number_to_words(n)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return f" {words} "


def normalize_words(text: str) -> list[str]:
    """The words of ``text`` as compared for WER: lower case, numbers spelled, no punctuation."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = _NUMBER.sub(_spell, text.lower())
    return _WORD.findall(text.replace("-", " "))


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Substitutions + deletions + insertions turning ``ref`` into ``hyp`` (Levenshtein on words)."""
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class WerResult:
    errors: int
    words: int  # reference words

    @property
    def rate(self) -> float:
        """Errors per reference word (0.069 is 6.9 %); may exceed 1 with many insertions."""
        if self.words == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.words


def wer(references: Iterable[str], hypotheses: Iterable[str]) -> WerResult:
    """Corpus WER: total errors over total reference words, pairing texts in order."""
    refs, hyps = list(references), list(hypotheses)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    errors = words = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        ref_words = normalize_words(ref)
        errors += edit_distance(ref_words, normalize_words(hyp))
        words += len(ref_words)
    return WerResult(errors, words)
