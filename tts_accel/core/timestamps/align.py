"""espeak-ng's phonetic words mapped back to the text's words.

espeak-ng joins short unstressed words into one phonetic word ("on the" -> ``ɔnðə``, "of the" ->
``ʌvðə``) and expands numbers and abbreviations ("1999" -> three words, "$5" -> two), so its n-th
phonetic word is the n-th text word in only 34-80 % of chunks (docs/timestamps.md). The rule here:
phonemize every text word on its own and align the two sequences with a dynamic program over
*groups* (one text word to several phonetic words, several text words to one, several to
several, or a skip), each group costing the edit distance of its phonemes. A group of several
text words is cut where a character alignment of the words' own phonemes says the next begins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_STRESS = set("ˈˌ")  # before the syllable they mark
_MARKS = _STRESS | set("ːˑ͡‿") | {"\u0329", "\u032f", "\u0361"}  # and length, ties, syllabic: after
_PUNCT_CHARS = set(" !\"'(),-.:;?¡¿—–…«»[]{}/\\*&%$#@+=<>|~`^_")


def _is_sound(ch: str) -> bool:
    """A phoneme character (not a space, punctuation, stress or length mark)."""
    return ch not in _PUNCT_CHARS and ch not in _MARKS and not ch.isspace()


def sounds(phonemes: str) -> str:
    """The sound characters of ``phonemes``: no spaces, punctuation, stress or length marks."""
    return "".join(ch for ch in phonemes if _is_sound(ch))


@dataclass(frozen=True)
class PhoneticWord:
    """One phonetic word of the sentence: its sound characters' span in the phoneme string."""

    core: str
    start: int  # first character that is not punctuation (a stress mark counts)
    end: int  # one past the last sound character (with its length mark)


def phonetic_words(phonemes: str) -> list[PhoneticWord]:
    """espeak-ng's words in a phoneme string (space-separated), without punctuation-only ones."""
    pieces = []
    for match in re.finditer(r"\S+", phonemes):
        text = match.group(0)
        idx = [k for k, ch in enumerate(text) if _is_sound(ch)]
        if not idx:
            continue  # punctuation only: no word says it
        first, last = idx[0], idx[-1] + 1
        while first > 0 and text[first - 1] in _STRESS:  # a stress mark before the first sound
            first -= 1
        while last < len(text) and text[last] in _MARKS - _STRESS:  # a length mark after the last one
            last += 1
        pieces.append(PhoneticWord(sounds(text), match.start() + first, match.start() + last))
    return pieces


@lru_cache(maxsize=65536)
def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, bit-parallel (Myers 1999, in Hyyrö's form): one pass over ``b`` with
    ``a`` as bit masks: 8x faster in Python than the table on 5-40 symbol strings (3000 random
    pairs, dev VM, preliminary), which took the alignment of long.txt from 0.62 to 0.24 ms per word."""
    if a == b:
        return 0
    if len(a) > len(b):
        a, b = b, a
    m = len(a)
    if m == 0:
        return len(b)
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def edit_distance_table(a: str, b: str) -> int:
    """The textbook table, kept as the reference the tests hold ``edit_distance`` to."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


#: The most text words one phonetic word may stand for ("state of the art" is one token already).
MAX_JOIN = 4
#: Tie-breakers: a group of k words costs this much per extra word on either side, so that
#: one-to-one wins whenever it explains the phonemes as well.
GROUP_PENALTY = 0.1
#: Cost of leaving a phonetic word or a text word unexplained, on top of its phoneme count.
SKIP_PENALTY = 1.0
#: States whose cost is this far above the best state of the same text word are dropped.
BEAM = 6.0

Span = tuple[int, int]


def align_words(word_phonemes: Sequence[str], sentence_phonemes: str) -> list[Span]:
    """For each text word (given as its phonemes said alone), its ``(start, end)`` character span
    in ``sentence_phonemes``, in order; ``start == end`` for a word that has no sound of its own
    there. Spans never overlap and never go backwards.
    """
    n = len(word_phonemes)
    pieces = phonetic_words(sentence_phonemes)
    m = len(pieces)
    q_core = [sounds(p) for p in word_phonemes]
    q_count = [sum(1 for w in p.split() if sounds(w)) for p in word_phonemes]
    if n == 0:
        return []
    # best[(i, j)] = (cost, previous state, group): i text words and j pieces explained
    best: dict[tuple[int, int], tuple[float, tuple[int, int] | None, tuple[int, int, int, int] | None]] = {
        (0, 0): (0.0, None, None)
    }

    def relax(src: tuple[int, int], dst: tuple[int, int], cost: float, group: tuple[int, int, int, int]) -> None:
        old = best.get(dst)
        if old is None or cost < old[0] - 1e-9:
            best[dst] = (cost, src, group)

    for i in range(n + 1):
        row = [best[(i, j)][0] for j in range(m + 1) if (i, j) in best]
        if not row:
            continue
        floor = min(row)
        for j in range(m + 1):  # moves within row i only raise j: increasing j is topological
            if (i, j) not in best:
                continue
            cost = best[(i, j)][0]
            if cost > floor + BEAM:
                continue
            if j < m:  # a phonetic word no text word explains
                relax((i, j), (i, j + 1), cost + len(pieces[j].core) + SKIP_PENALTY, (i, i, j, j + 1))
            if i == n:
                continue
            if not q_core[i]:  # a word espeak says nothing for alone: no sound of its own
                relax((i, j), (i + 1, j), cost, (i, i + 1, j, j))
            else:
                relax((i, j), (i + 1, j), cost + len(q_core[i]) + SKIP_PENALTY, (i, i + 1, j, j))
            for a in range(1, min(MAX_JOIN, n - i) + 1):
                q = "".join(q_core[i : i + a])
                if not q:
                    continue
                expected = sum(q_count[i : i + a])
                p = ""
                for b in range(1, min(expected + 1, m - j) + 1):
                    p += pieces[j + b - 1].core
                    if len(p) - len(q) > BEAM:
                        break  # p only grows: the edit distance is at least the length difference
                    if a > 1 and b > 1 and b >= expected:
                        continue  # several words to as many pieces: one-to-one groups say it better
                    penalty = GROUP_PENALTY * (a - 1 + b - 1)
                    known = best.get((i + a, j + b))
                    if known is not None and cost + abs(len(p) - len(q)) + penalty >= known[0]:
                        continue  # cannot beat what the destination has
                    relax((i, j), (i + a, j + b), cost + edit_distance(q, p) + penalty, (i, i + a, j, j + b))
    end = (n, m)
    if end not in best:  # cannot happen (skips always reach it), but never fail on a sentence
        end = max((k for k in best if k[0] == n), key=lambda k: (k[1], -best[k][0]))
    groups = []
    state: tuple[int, int] | None = end
    while state is not None and best[state][2] is not None:
        groups.append(best[state][2])
        state = best[state][1]
    groups.reverse()
    spans: list[Span | None] = [None] * n
    for i0, i1, j0, j1 in groups:
        if i1 == i0:
            continue
        if j1 == j0:
            at = pieces[j0].start if j0 < m else len(sentence_phonemes)
            for i in range(i0, i1):
                spans[i] = (at, at)
            continue
        start, end_ = pieces[j0].start, pieces[j1 - 1].end
        if i1 - i0 == 1:
            spans[i0] = (start, end_)
        else:
            cuts = _split_group(q_core[i0:i1], sentence_phonemes, start, end_)
            for k, i in enumerate(range(i0, i1)):
                spans[i] = (cuts[k], cuts[k + 1])
    # words left without a span (only after an unexplained tail) sit where the previous one ended
    out: list[Span] = []
    last = 0
    for span in spans:
        if span is None:
            span = (last, last)
        span = (max(span[0], last), max(span[1], last))
        out.append(span)
        last = span[1]
    return out


def _split_group(words: Sequence[str], phonemes: str, start: int, end: int) -> list[int]:
    """Cut points (len(words) + 1 of them) in ``phonemes[start:end]`` between the words of a
    joined group, from a character alignment of the words' own phonemes to the group's."""
    positions = [k for k in range(start, end) if _is_sound(phonemes[k])]
    target = "".join(phonemes[k] for k in positions)
    labels = [w for w, text in enumerate(words) for _ in text]
    source = "".join(words)
    # Levenshtein table, then walk back and give each target character the word of the source
    # character it was matched or substituted with (an inserted character takes its neighbour's).
    rows, cols = len(source) + 1, len(target) + 1
    table = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        table[r][0] = r
    for c in range(cols):
        table[0][c] = c
    for r in range(1, rows):
        for c in range(1, cols):
            table[r][c] = min(
                table[r - 1][c] + 1, table[r][c - 1] + 1, table[r - 1][c - 1] + (source[r - 1] != target[c - 1])
            )
    owner: list[int | None] = [None] * len(target)
    r, c = rows - 1, cols - 1
    while r > 0 and c > 0:
        if table[r][c] == table[r - 1][c - 1] + (source[r - 1] != target[c - 1]):
            owner[c - 1] = labels[r - 1]
            r, c = r - 1, c - 1
        elif table[r][c] == table[r][c - 1] + 1:
            c -= 1
        else:
            r -= 1
    filled: list[int] = []
    for k, o in enumerate(owner):  # insertions take the previous owner (the next one at the start)
        if o is None:
            o = filled[-1] if filled else next((x for x in owner[k:] if x is not None), 0)
        filled.append(max(o, filled[-1]) if filled else o)  # owners never go backwards
    cuts = [start]
    for w in range(1, len(words)):
        first = next((positions[k] for k, o in enumerate(filled) if o >= w), end)
        while start < first < end and phonemes[first - 1] in _STRESS:  # a stress mark goes with its sound
            first -= 1
        cuts.append(max(first, cuts[-1]))
    cuts.append(end)
    return cuts
