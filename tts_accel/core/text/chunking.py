"""Text normalization and chunking under a phoneme budget.

Chunks are sentences; a sentence over the budget splits at clause punctuation, then at
word boundaries. No word is ever dropped or cut: a single word over the budget becomes a
chunk of its own. Paragraphs (blank lines) always end a chunk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u3000": " ",
    }
)  # fmt: skip

_DASH = re.compile(r"\s*[\u2014\u2015]+\s*")  # an em dash is spoken as a clause break
# Split points: the whitespace after a terminator and any closing quotes or brackets.
# Japanese (and Chinese) full-width marks end a sentence or clause with no space after them.
_SENTENCE_END = re.compile(r"""(?:[.!?]["')\]]*(?=\s)|[。！？][」』）"')\]]*)(\s*)""")
_CLAUSE_END = re.compile(r"""(?:[,;:]["')\]]*(?=\s)|[、，；：])(\s*)""")
_PARAGRAPH = re.compile(r"\n\s*\n")
# Abbreviations after which a period does not end a sentence.
_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|vs|etc|e\.g|i\.e|No|Fig|Inc|Ltd|Co|Gen|Col|Lt|Sgt|Capt)"
    r"|\b[A-Z])\.$"
)


def normalize(text: str) -> str:
    """Unify quotes, dashes and spaces, drop control characters, collapse whitespace.

    Paragraph breaks (blank lines) survive as a single "\\n"; every other run of
    whitespace becomes one space.
    """
    text = _DASH.sub(", ", unicodedata.normalize("NFC", text)).translate(_TRANSLATE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text
    )
    paragraphs = (" ".join(p.split()) for p in _PARAGRAPH.split(text))
    return "\n".join(p for p in paragraphs if p)


def split_sentences(paragraph: str) -> list[str]:
    parts = _split_after(_SENTENCE_END, paragraph)
    out: list[str] = []
    for part in parts:  # glue back splits made after an abbreviation ("Dr. Smith")
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def _split_after(pattern: re.Pattern[str], text: str) -> list[str]:
    """Split ``text`` at the whitespace group of each match, keeping every other character."""
    parts, start = [], 0
    for match in pattern.finditer(text):
        parts.append(text[start : match.start(1)])
        start = match.end(1)
    parts.append(text[start:])
    return [p for p in parts if p]


@dataclass(frozen=True)
class TextChunk:
    text: str
    sentence_end: bool  # the chunk closes a sentence (silence follows it)


def chunk_text(text: str, budget: int, measure: Callable[[str], int]) -> Iterator[TextChunk]:
    """Yield chunks of normalized ``text`` whose ``measure`` (phonemes) stays within ``budget``."""
    if budget < 1:
        raise ValueError("budget must be positive")
    for paragraph in text.split("\n"):
        for sentence in split_sentences(paragraph):
            if measure(sentence) <= budget:
                yield TextChunk(sentence, True)
                continue
            pieces = list(_pack(_split_clauses(sentence, budget, measure), budget, measure))
            for i, piece in enumerate(pieces):
                yield TextChunk(piece, i == len(pieces) - 1)


def _split_clauses(sentence: str, budget: int, measure: Callable[[str], int]) -> Iterator[str]:
    for clause in _split_after(_CLAUSE_END, sentence):
        if measure(clause) <= budget:
            yield clause
        else:
            yield from clause.split(" ")


def _pack(pieces: Iterable[str], budget: int, measure: Callable[[str], int]) -> Iterator[str]:
    """Greedily join consecutive pieces while the joined text stays within the budget."""
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current else piece
        if not current or measure(candidate) <= budget:
            current = candidate
        else:
            yield current
            current = piece
    if current:
        yield current


def iter_blocks(lines: Iterable[str], max_chars: int = 16384) -> Iterator[str]:
    """Group streamed lines into blocks that can be chunked on their own.

    A block ends at a blank line, after a line that ends a sentence, or past ``max_chars``,
    so text piped in line by line starts speaking before the input ends.
    """
    buf: list[str] = []
    size = 0
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if buf:
                yield "".join(buf)
                buf, size = [], 0
            continue
        buf.append(line if line.endswith("\n") else line + "\n")
        size += len(line)
        if size >= max_chars or re.search(r"""[.!?。！？]["')\]」』）]*$""", stripped):
            yield "".join(buf)
            buf, size = [], 0
    if buf:
        yield "".join(buf)
