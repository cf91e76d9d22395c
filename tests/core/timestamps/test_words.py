"""What a text word is: the entries of a timestamps file."""

from __future__ import annotations

import pytest

from tts_accel.core.timestamps.words import display_word, is_spoken, text_words


@pytest.mark.parametrize(
    ("token", "word"),
    [('"Don\'t,"', "Don't"), ("planks.", "planks"), ("e.g.", "e.g."), ("Dr.", "Dr."), ("U.S.A.", "U.S.A."),
     ("(b),", "b"), ("me@example.org.", "me@example.org"), ("$5", "$5"), ("42%", "42%"), ("&", "&"),
     ("end?\"", "end"), ("'n'", "n"), ("etc.,", "etc.")],
)  # fmt: skip
def test_display_word(token: str, word: str) -> None:
    assert display_word(token) == word


def test_unspoken_tokens_attach_to_a_word_and_offsets_hold() -> None:
    text = '-- "Well," he said - ... perhaps.'
    words = text_words(text)
    assert [w.word for w in words] == ["Well", "he", "said", "perhaps"]
    assert [w.token for w in words] == ['-- "Well,"', "he", "said - ...", "perhaps."]
    assert " ".join(w.token for w in words) == text  # the tokens cover the whole text
    assert all(text[w.start : w.end] in w.token for w in words)


def test_punctuation_only_text_has_no_words() -> None:
    assert text_words("... -- !") == []
    assert text_words("") == []


def test_is_spoken() -> None:
    assert is_spoken("a") and is_spoken("42%") and is_spoken("é")
    assert not is_spoken("&") and not is_spoken("§§")


def test_japanese_words_are_whitespace_runs_without_their_punctuation() -> None:
    words = text_words("「今日は」 いい 天気 ですね。")
    assert [w.word for w in words] == ["今日は", "いい", "天気", "ですね"]
