"""Word error rate of what a recognizer heard against what we said: the one function that
`tts verify` tier 3 and every benchmark script use.

Both sides go through whisper-normalizer's ``EnglishTextNormalizer`` (the normalisation
OpenAI's Whisper evaluation uses: lower case, punctuation dropped, numbers and ordinals as
digits, British spellings and contractions unified, so "Fifty-two" and "52", "colour" and
"color", "busses" and "buses" match), then ``fold_compounds`` joins a word pair on one side
that is one word on the other ("rose bush" / "rosebush", "half way" / "halfway"): how a word is
split is spelling, not hearing. jiwer counts the edits (substitutions + deletions + insertions).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from tts_accel.core.errors import EVAL_INSTALL, EvalUnavailable


@lru_cache(maxsize=1)
def _normalizer():  # type: ignore[no-untyped-def]
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError as err:
        raise EvalUnavailable(f"WER needs whisper-normalizer: {EVAL_INSTALL}") from err
    return EnglishTextNormalizer()


def _jiwer():  # type: ignore[no-untyped-def]
    try:
        import jiwer
    except ImportError as err:
        raise EvalUnavailable(f"WER needs jiwer: {EVAL_INSTALL}") from err
    return jiwer


def normalize_words(text: str) -> list[str]:
    """The words of ``text`` as compared for WER (Whisper's English normalisation). Typographic
    apostrophes become straight ones first: the normalizer only knows "'" ("man’s" would
    become "man s", two words)."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    return str(_normalizer()(text)).split()


def fold_compounds(ref: Sequence[str], hyp: Sequence[str]) -> list[str]:
    """``hyp`` with compounds split or joined as ``ref`` writes them: two adjacent words whose
    join is a word of ``ref`` become that word ("rose bush" -> "rosebush"), and a word that is
    the join of two adjacent words of ``ref`` becomes those two ("halfway" -> "half way"). The
    reference is never changed, so the rate's denominator stays its word count."""
    words = set(ref)
    pairs = {a + b: (a, b) for a, b in zip(ref, ref[1:], strict=False)}
    out: list[str] = []
    i = 0
    while i < len(hyp):
        word = hyp[i]
        if i + 1 < len(hyp) and (joined := word + hyp[i + 1]) in words and joined not in pairs:
            out.append(joined)
            i += 2
            continue
        if word in pairs and word not in words:
            out.extend(pairs[word])
        else:
            out.append(word)
        i += 1
    return out


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Substitutions + deletions + insertions turning ``ref`` into ``hyp`` (Levenshtein on words)."""
    if not ref:
        return len(hyp)
    if not hyp:
        return len(ref)
    out = _jiwer().process_words(" ".join(ref), " ".join(hyp))
    return int(out.substitutions + out.deletions + out.insertions)


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


def wer(references: Iterable[str], hypotheses: Iterable[str], fold: bool = True) -> WerResult:
    """Corpus WER: total errors over total reference words, pairing texts in order.
    ``fold=False`` leaves compounds as they are (to measure what folding is worth)."""
    refs, hyps = list(references), list(hypotheses)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    errors = words = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        ref_words, hyp_words = normalize_words(ref), normalize_words(hyp)
        if fold:
            hyp_words = fold_compounds(ref_words, hyp_words)
        errors += edit_distance(ref_words, hyp_words)
        words += len(ref_words)
    return WerResult(errors, words)
