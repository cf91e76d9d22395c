from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tts_accel.core.text.chunking import MEASURE_CHARS_PER_ID, chunk_text, iter_blocks, normalize, split_sentences


def test_normalize_unifies_quotes_dashes_spaces_and_drops_controls():
    raw = "\u201cHi\u201d \u2014 she said\u2026\tit\u2019s\u00a0fine\x07.\r\n\r\n\r\nNext  para."
    assert normalize(raw) == '"Hi", she said...\tit\'s fine .\nNext para.'.replace("\t", " ")


def test_normalize_empty_and_whitespace():
    assert normalize("  \n\t \n ") == ""


def test_sentences_do_not_split_after_abbreviations():
    assert split_sentences("Dr. Smith met Mr. J. Jones. Then they left!") == [
        "Dr. Smith met Mr. J. Jones.",
        "Then they left!",
    ]


def test_long_sentence_splits_at_clauses_before_words():
    text = "one two three, four five six, seven eight nine."
    chunks = list(chunk_text(text, budget=17, measure=len))
    assert [c.text for c in chunks] == ["one two three,", "four five six,", "seven eight nine."]
    assert [c.sentence_end for c in chunks] == [False, False, True]


def test_word_longer_than_budget_is_halved_until_each_piece_fits():
    word = "x" * 40
    chunks = list(chunk_text(f"a {word} b.", budget=10, measure=len))
    assert all(len(c.text) <= 10 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == f"a{word}b."
    assert [c.sentence_end for c in chunks][-1] and not any(c.sentence_end for c in chunks[:-1])


def test_a_long_url_is_cut_at_its_slashes_and_rejoined_without_spaces():
    url = "https://example.com/" + "a/" * 1000
    chunks = [c.text for c in chunk_text(f"url {url}", budget=100, measure=len)]
    assert all(len(c) <= 100 for c in chunks)
    assert "".join(chunks) == f"url {url}"  # every cut is inside the token: no space was added
    assert all(c.endswith("/") for c in chunks[:-1])  # cut after a slash, never inside a segment


def _counting(measure):  # type: ignore[no-untyped-def]
    seen: list[int] = []

    def counted(text: str) -> int:
        seen.append(len(text))
        return measure(text)

    return counted, seen


def test_measuring_stays_bounded_and_lazy_on_megabytes_without_punctuation():
    text = " ".join(["word"] * 400_000)  # 2 MB, one sentence
    measure, seen = _counting(len)
    chunks = chunk_text(text, budget=600, measure=measure)
    first = next(chunks)
    assert len(first.text) <= 600 and len(seen) <= 25  # the first chunk before reading the rest
    rest = list(chunks)
    assert max(seen) <= MEASURE_CHARS_PER_ID * 600  # never the whole sentence
    assert len(seen) <= 6 * (1 + len(rest))  # a few measures per chunk, not one per word
    assert sum(len(c.text) + 1 for c in [first, *rest]) == len(text) + 1


def test_glued_abbreviations_stay_linear():
    text = "Dr. " * 200_000 + "Smith."
    sentences = split_sentences(text)
    assert sentences == [text]


words = st.text(alphabet="abcdefghij,.!?;:'\"-", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=60), st.integers(min_value=1, max_value=40),
       st.sampled_from([" ", "\n", "\n\n", "  \t"]))  # fmt: skip
def test_chunking_never_loses_a_character_and_respects_the_budget(tokens, budget, sep):
    norm = normalize(sep.join(tokens))
    chunks = list(chunk_text(norm, budget=budget, measure=len))
    assert "".join(c.text for c in chunks).replace(" ", "") == norm.replace(" ", "").replace("\n", "")
    assert " ".join(c.text for c in chunks).split() == norm.split() or budget < 12  # words whole when they fit
    for c in chunks:
        assert len(c.text) <= budget


def test_iter_blocks_flushes_at_sentence_ends_and_blank_lines():
    lines = ["The first line\n", "ends here.\n", "Then a title\n", "\n", "and more"]
    assert list(iter_blocks(lines)) == ["The first line\nends here.\n", "Then a title\n", "and more\n"]


def test_iter_blocks_bounds_block_size():
    lines = ["word " * 20 + "\n"] * 100  # no sentence end anywhere
    blocks = list(iter_blocks(lines, max_chars=500))
    assert len(blocks) > 1
    assert "".join(blocks) == "".join(lines)
    assert all(len(b) < 500 + 120 for b in blocks)


def test_chunks_follow_sentence_boundaries():
    chunks = list(chunk_text("One. Two? Three!", budget=100, measure=len))
    assert [c.text for c in chunks] == ["One.", "Two?", "Three!"]
    assert all(c.sentence_end for c in chunks)
    assert not any(re.search(r"\s$", c.text) for c in chunks)


# --- the real voice: any long token costs bounded memory and time -------------------------------

long_tokens = st.text(
    alphabet=st.sampled_from("abcxyz0123456789/.-_:?=#@,ÄéЖ中"), min_size=200, max_size=3000
)


@settings(max_examples=12, deadline=None)
@given(st.lists(long_tokens, min_size=1, max_size=3))
def test_any_long_token_is_chunked_within_the_budget_in_bounded_memory_and_time(piper_voice, tokens):
    import time
    import tracemalloc

    text = normalize("url " + " ".join(tokens) + " end.")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        chunks = list(chunk_text(text, piper_voice.chunk_budget, piper_voice.measure))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the model's memory follows the longest chunk: none may pass the budget (600 ids)
    assert max(piper_voice.measure(c.text) for c in chunks) <= piper_voice.chunk_budget
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")
    assert peak < 32 * 2**20  # Python's own allocations while chunking (espeak's are C, seen by RSS)
    assert elapsed < 60  # a bound, not a benchmark: 3 x 3000 characters take about 1 s here
