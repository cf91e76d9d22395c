"""Text normalization and chunking under a phoneme budget.

Chunks are sentences; a sentence over the budget splits at clause punctuation, then at
word boundaries, and a token over ``MAX_TOKEN_CHARS`` characters (a URL, a long number) into
pieces that rejoin without a space while they fit. Nothing is ever dropped, and no chunk
exceeds the budget: a piece that alone measures more is halved until it fits. Paragraphs
(blank lines) always end a chunk. docs/text.md has the rules and the cost bound.
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
    text = "\n".join(_no_controls(line) for line in text.split("\n"))
    paragraphs = (" ".join(p.split()) for p in _PARAGRAPH.split(text))
    return "\n".join(p for p in paragraphs if p)


def _no_controls(line: str) -> str:
    """``line`` with each control character (Unicode category C) but a tab made a space. A
    printable line has none (``isprintable`` is False for every C character): checked in C, so a
    2 MB line is not walked character by character in Python (0.53 s of the 0.75 s normalize took
    on the dev VM), and a signal during it waits that much less."""
    if line.isprintable():
        return line
    return "".join(ch if ch == "\t" or unicodedata.category(ch)[0] != "C" else " " for ch in line)


def split_sentences(paragraph: str) -> list[str]:
    out: list[list[str]] = []
    for part in _split_after(_SENTENCE_END, paragraph):
        # glue back splits made after an abbreviation ("Dr. Smith"); the longest one is 5
        # characters, so its last 8 decide, and glued parts join once: linear on any text
        if out and _ABBREV.search(out[-1][-1][-8:]):
            out[-1].append(part)
        else:
            out.append([part])
    return [" ".join(parts) for parts in out]


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


#: A token (the text between two spaces) longer than this is read in pieces of at most this many
#: characters, cut after the last "/", ".", "-", "_", ":", "?", "&", "=", "#", "@" or "," in its
#: second half (a URL cuts at its slashes), else at this length (a long number, a row of letters).
#: Pieces of one token are joined back without a space while they fit the budget.
MAX_TOKEN_CHARS = 40
#: Text is measured (phonemized) only in stretches of at most this many characters per id of the
#: budget: longer sentences and clauses go straight to being packed from their words.
MEASURE_CHARS_PER_ID = 4
_TOKEN_CUTS = frozenset("/.-_:?&=#@,")


def chunk_text(text: str, budget: int, measure: Callable[[str], int]) -> Iterator[TextChunk]:
    """Yield chunks of normalized ``text`` whose ``measure`` (ids) stays within ``budget``.

    The cost is bounded on any text: ``measure`` only ever sees strings of at most
    ``MEASURE_CHARS_PER_ID * budget`` characters, about ``log2`` of a chunk's word count of them
    per chunk, and chunks come out lazily, so a sentence of megabytes streams. Every chunk fits the
    budget, except a single character that alone measures more (none does for a real voice).
    """
    if budget < 1:
        raise ValueError("budget must be positive")
    limit = MEASURE_CHARS_PER_ID * budget
    for paragraph in text.split("\n"):
        for sentence in split_sentences(paragraph):
            if len(sentence) <= limit and measure(sentence) <= budget:
                yield TextChunk(sentence, True)
                continue
            previous = None
            for piece in _pack(_pieces(sentence, budget, measure, limit), budget, measure, limit):
                if previous is not None:
                    yield TextChunk(previous, False)
                previous = piece
            if previous is not None:
                yield TextChunk(previous, True)


def _pieces(sentence: str, budget: int, measure: Callable[[str], int], limit: int) -> Iterator[tuple[str, str]]:
    """(separator, text): the sentence's clauses, or the words of a clause over the budget, or the
    cut pieces of a token over ``MAX_TOKEN_CHARS`` (separator "": they join without a space)."""
    for clause in _split_after(_CLAUSE_END, sentence):
        if len(clause) <= limit and measure(clause) <= budget:
            yield " ", clause
            continue
        for word in clause.split(" "):
            for k, cut in enumerate(_cut_token(word)):
                yield (" " if k == 0 else ""), cut


def _cut_token(token: str) -> Iterator[str]:
    while len(token) > MAX_TOKEN_CHARS:
        at = MAX_TOKEN_CHARS
        for i in range(MAX_TOKEN_CHARS - 1, MAX_TOKEN_CHARS // 2 - 1, -1):
            if token[i] in _TOKEN_CUTS:
                at = i + 1
                break
        yield token[:at]
        token = token[at:]
    if token:
        yield token


def _pack(
    pieces: Iterator[tuple[str, str]], budget: int, measure: Callable[[str], int], limit: int
) -> Iterator[str]:
    """Join consecutive pieces into the longest runs that fit the budget, greedily in text order.

    The run's length is searched, not grown piece by piece: it starts from the previous run's
    count, gallops up (1, 2, 4 ... more) while the run fits, and halves back into the last step,
    so a run of n pieces costs about 2 + 2 log2(n) measures (not n) of bounded strings.
    """
    buf: list[tuple[str, str]] = []
    guess = 1

    def have(k: int) -> int:  # pieces available, reading at most up to k
        while len(buf) < k:
            nxt = next(pieces, None)
            if nxt is None:
                break
            buf.append(nxt)
        return min(k, len(buf))

    def joined(k: int) -> str | None:  # the first k pieces as text; None when past the limit
        if sum(len(sep) + len(t) for sep, t in buf[:k]) > limit + 1:
            return None
        return buf[0][1] + "".join(sep + t for sep, t in buf[1:k])

    def fits(k: int) -> bool:
        text = joined(k)
        return text is not None and measure(text) <= budget

    while have(1):
        lo, hi = 1, 0  # lo pieces fit (one always goes); hi > lo: known not to fit (0: unknown)
        k = have(guess)
        if k > 1:
            lo, hi = (k, 0) if fits(k) else (1, k)
        step = 1
        while not hi and have(lo + step) > lo:
            k = have(lo + step)
            if fits(k):
                lo, step = k, step * 2
            else:
                hi = k
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        text = joined(lo) or buf[0][1]
        del buf[:lo]
        guess = lo
        if lo == 1 and measure(text) > budget:
            yield from _halve(text, budget, measure)
        else:
            yield text


def _halve(text: str, budget: int, measure: Callable[[str], int]) -> Iterator[str]:
    """``text`` cut in halves until each fits the budget (or is one character)."""
    if len(text) <= 1 or measure(text) <= budget:
        yield text
        return
    mid = len(text) // 2
    yield from _halve(text[:mid], budget, measure)
    yield from _halve(text[mid:], budget, measure)


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
