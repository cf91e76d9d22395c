"""The words of a chunk's text, as a listener (and a subtitle) sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEAD = "\"'([{<«‹¿¡“‘「『（"
_TRAIL = "\"')]}>»›,;:!?“”’…。、，；：！？」』）"
#: A token made only of these is not a word: it is said as a pause or not at all.
_SILENT_TOKEN = re.compile(r"^[\s\-–—_*/\\|~`'\".,;:!?()\[\]{}<>«»…]*$")
#: A period that belongs to the word (an abbreviation), not to the sentence.
_ABBREV = re.compile(
    r"^(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|vs|etc|No|Fig|Inc|Ltd|Co|Gen|Col|Lt|Sgt|Capt|Jan|Feb|Mar|Apr|"
    r"Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|ext|approx|dept|est|vol)$|^(?:[A-Za-z]\.)*[A-Za-z]$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TextWord:
    """One word of a chunk's text: what the user sees, and the raw text it covers."""

    word: str  # the token without surrounding quotes, brackets and sentence punctuation
    token: str  # the raw text it stands for, with any unspoken tokens after it ("--", "...")
    start: int  # character offsets of the word's own token in the chunk text
    end: int


def display_word(token: str) -> str:
    """``"Don't,"`` -> ``Don't``; ``e.g.`` and ``Dr.`` keep their period; ``end.`` loses it."""
    word = token.lstrip(_LEAD).rstrip(_TRAIL)
    while word.endswith(".") and not _ABBREV.match(word[:-1]):
        word = word[:-1].rstrip(_TRAIL)
    return word or token


def text_words(text: str) -> list[TextWord]:
    """The words of ``text``: whitespace-separated tokens that are not only punctuation.

    A token such as "-" or "..." is not a word: its text is attached to the word before it (or
    the first word after it) so that the words' tokens still cover the whole text. Text without
    spaces (Japanese) is one word per whitespace-separated run, i.e. per clause or sentence.
    """
    words: list[TextWord] = []
    pending = ""  # unspoken tokens before the first word
    for match in re.finditer(r"\S+", text):
        token = match.group(0)
        if _SILENT_TOKEN.match(token):
            if words:
                last = words[-1]
                words[-1] = TextWord(last.word, f"{last.token} {token}", last.start, last.end)
            else:
                pending = f"{pending} {token}".strip()
            continue
        full = f"{pending} {token}".strip() if pending else token
        pending = ""
        words.append(TextWord(display_word(token), full, match.start(), match.end()))
    return words


def is_spoken(word: str) -> bool:
    """A word with a letter or a digit: one that should take some time to say."""
    return any(ch.isalnum() for ch in word)
