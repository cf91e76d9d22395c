"""espeak-ng's phonetic words back to the text's words: the rule, and the hard sentences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_accel.core.timestamps import Aligner, align_words, text_words
from tts_accel.core.timestamps.align import edit_distance, edit_distance_table
from tts_accel.core.timestamps.words import is_spoken

from .conftest import hard_sentences


@given(st.text(alphabet="abcɐəɪˈː", max_size=40), st.text(alphabet="abcɐəɪˈː", max_size=40))
@settings(max_examples=400, deadline=None)
def test_bit_parallel_edit_distance_equals_the_table(a: str, b: str) -> None:
    assert edit_distance.__wrapped__(a, b) == edit_distance_table(a, b)


def test_a_joined_pair_is_cut_where_the_second_word_starts() -> None:
    # "on the" is one phonetic word in espeak-ng's output: ɔnðə
    assert align_words(["ˈɔn", "ðə", "smˈuːð"], "ɔnðə smˈuːð") == [(0, 2), (2, 4), (5, 11)]


def test_an_expansion_gives_one_word_all_its_phonetic_words() -> None:
    sentence = "ɪn nˈaɪntiːnhˈʌndɹɪd nˈaɪnti nˈaɪn, dˈɑːktɚ."
    spans = align_words(["ˈɪn", "nˈaɪntiːnhˈʌndɹɪd nˈaɪnti nˈaɪn,", "dˈɑːktɚ."], sentence)
    assert [sentence[a:b] for a, b in spans] == ["ɪn", "nˈaɪntiːnhˈʌndɹɪd nˈaɪnti nˈaɪn", "dˈɑːktɚ"]


def test_a_word_espeak_does_not_say_gets_an_empty_span_in_place() -> None:
    spans = align_words(["hˈɛlou", "", "wˈɜːld"], "hˈɛlou wˈɜːld")
    assert spans[1][0] == spans[1][1] and spans[0][1] <= spans[1][0] <= spans[2][0]


def test_a_word_said_differently_alone_still_lands_in_place() -> None:
    # "a" alone is the letter name (ˈeɪ); in a sentence it is ɐ
    sentence = "ɪt ɪz ɐ ɹˈeə dˈɪʃ."
    spans = align_words(["ɪt", "ɪz", "ˈeɪ", "ɹˈeə", "dˈɪʃ."], sentence)
    assert [sentence[a:b] for a, b in spans] == ["ɪt", "ɪz", "ɐ", "ɹˈeə", "dˈɪʃ"]


@given(st.lists(st.text(alphabet="abɐə ", max_size=8), max_size=12), st.text(alphabet="abɐə ,.", max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_input_gives_one_ordered_span_per_word(words: list[str], sentence: str) -> None:
    spans = align_words(words, sentence)
    assert len(spans) == len(words)
    last = 0
    for a, b in spans:
        assert last <= a <= b <= len(sentence)
        last = b


@pytest.mark.parametrize("sentence", [pytest.param(s, id=s[:40]) for s in hard_sentences()])
def test_hard_sentences_every_word_gets_one_timed_entry_in_order(joe_voice, sentence: str) -> None:
    """Through the real front-end (espeak-ng, joe's id map): one entry per text word, in order,
    and every word with a letter or digit owns at least one model position. The five sentences
    with a decimal point ("9.58s", "$19.99", "3.11.4") lost their tail to the phonemizer before
    core/phonemize.py cut lines where the marks are: they pass like the rest now."""
    aligner = Aligner(joe_voice)
    ids = joe_voice.encode(sentence)
    spans = aligner.spans(sentence, ids, len(ids))
    assert [s.text for s in spans] == text_words(sentence)
    assert aligner.fallbacks == 0  # the ids are exactly what the front-end makes
    last = 0
    for s in spans:
        assert last <= s.first <= s.last <= len(ids)
        last = s.last
        if is_spoken(s.text.word):
            assert s.last > s.first, f"{s.text.word!r} got no sound in {sentence!r}"


def test_joined_words_are_cut_by_their_phonemes(joe_voice) -> None:
    """espeak-ng says "on the" as one phonetic word; each text word still gets its own positions,
    and the cut falls where "the" begins (its ð), not halfway."""
    sentence = "The birch canoe slid on the smooth planks."
    symbols = joe_voice.symbols(sentence)
    assert "ɔnðə" in symbols  # the join this test is about
    ids = joe_voice.encode(sentence)
    spans = {s.text.word: s for s in Aligner(joe_voice).spans(sentence, ids, len(ids))}
    on, the = spans["on"], spans["the"]
    assert on.last == the.first and on.first < on.last < the.last
    mapped = joe_voice.symbol_positions(symbols)
    at = symbols.index("ɔnðə")
    assert mapped.ranges[at + 2][0] == the.first  # ð starts "the"


def test_ids_that_do_not_match_the_text_fall_back_to_phoneme_shares(joe_voice) -> None:
    aligner = Aligner(joe_voice)
    ids = joe_voice.encode("Something else entirely.")
    spans = aligner.spans("Two words", ids, len(ids))
    assert aligner.fallbacks == 1
    assert [s.text.word for s in spans] == ["Two", "words"]
    assert spans[0].first == 0 and spans[-1].last == len(ids) and spans[0].last == spans[1].first


def test_piper_symbol_positions_rebuild_the_ids(joe_voice) -> None:
    """The map word timing reads is the map encode uses: ``^ _ p1 _ … pn _ $``."""
    text = "Rock 'n' roll isn't dead, y'all."
    mapped = joe_voice.symbol_positions(joe_voice.symbols(text))
    assert np.array_equal(mapped.ids, joe_voice.encode(text))
    owned = [r for r in mapped.ranges if r is not None]
    assert owned[0][0] == 2 and owned[-1][1] == len(mapped.ids) - 1  # after "^ _", before "$"
    assert all(b - a == 2 for a, b in owned)  # the symbol's id and the pad after it
