from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tts_accel.core.text.chunking import chunk_text, iter_blocks, normalize, split_sentences


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


def test_word_longer_than_budget_is_kept_whole():
    word = "x" * 40
    chunks = list(chunk_text(f"a {word} b.", budget=10, measure=len))
    assert word in [c.text for c in chunks]


words = st.text(alphabet="abcdefghij,.!?;:'\"-", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=60), st.integers(min_value=1, max_value=40),
       st.sampled_from([" ", "\n", "\n\n", "  \t"]))  # fmt: skip
def test_chunking_never_loses_a_word_and_respects_the_budget(tokens, budget, sep):
    norm = normalize(sep.join(tokens))
    chunks = list(chunk_text(norm, budget=budget, measure=len))
    assert " ".join(c.text for c in chunks).split() == norm.split()
    for c in chunks:
        assert len(c.text) <= budget or " " not in c.text  # only a lone word may exceed it


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
