from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tts_accel.core.wer import edit_distance, normalize_words, number_to_words, ordinal_words, wer


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"), (13, "thirteen"), (40, "forty"), (50, "fifty"), (105, "one hundred five"),
        (2024, "two thousand twenty four"), (1_000_000, "one million"),
        (3_000_017, "three million seventeen"),
    ],
)  # fmt: skip
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize(("n", "words"), [(1, "first"), (3, "third"), (12, "twelfth"), (21, "twenty first"),
                                         (40, "fortieth"), (100, "one hundredth")])  # fmt: skip
def test_ordinal_words(n, words):
    assert ordinal_words(n) == words


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_different_numbers_never_spell_the_same(a, b):
    if a != b:
        assert number_to_words(a) != number_to_words(b)


def test_normalization_matches_what_whisper_writes_to_what_we_said():
    assert normalize_words("The girl at the booth sold fifty bonds.") == normalize_words(
        "the girl at the booth sold 50 bonds"
    )
    assert normalize_words("Fifty-two, 1,000 and 3.5% on the 21st!") == (
        "fifty two one thousand and three point five percent on the twenty first".split()
    )
    assert normalize_words("It's the man\u2019s fall.") == ["it's", "the", "man's", "fall"]


def test_edit_distance_counts_each_kind_of_error():
    ref = "the birch canoe slid".split()
    assert edit_distance(ref, ref) == 0
    assert edit_distance(ref, "the birch canoe".split()) == 1  # deletion
    assert edit_distance(ref, "the big birch canoe slid".split()) == 1  # insertion
    assert edit_distance(ref, "a birch canoe slid".split()) == 1  # substitution
    assert edit_distance(ref, "the birch can use lid".split()) == 3


@given(st.lists(st.sampled_from("abcd"), max_size=8), st.lists(st.sampled_from("abcd"), max_size=8))
def test_edit_distance_is_a_symmetric_bounded_distance(a, b):
    d = edit_distance(a, b)
    assert d == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
    assert (d == 0) == (a == b)


def test_corpus_wer_pools_errors_over_reference_words():
    refs = ["The birch canoe slid on the smooth planks.", "Rice is often served in round bowls."]
    hyps = ["The birch can use lid on the smooth planks.", "rice is often served in round bowls"]
    result = wer(refs, hyps)
    assert (result.errors, result.words) == (3, 15)
    assert result.rate == pytest.approx(0.2)
    assert wer([], []).rate == 0.0
    with pytest.raises(ValueError, match="2 references but 1"):
        wer(refs, hyps[:1])
