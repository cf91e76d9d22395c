"""WER as tier 3 and the benchmark scripts count it: whisper-normalizer, then jiwer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("jiwer", reason="WER needs the eval extra: pip install 'tts-accel[eval]'")
pytest.importorskip("whisper_normalizer", reason="WER needs the eval extra: pip install 'tts-accel[eval]'")

from tts_accel.core.verify.wer import edit_distance, fold_compounds, normalize_words, wer  # noqa: E402


def test_normalization_matches_what_whisper_writes_to_what_we_said():
    assert normalize_words("The girl at the booth sold fifty bonds.") == normalize_words(
        "the girl at the booth sold 50 bonds"
    )
    # Whisper's English normalizer writes numbers as digits (the hand-written one spelled them out)
    assert normalize_words("Fifty-two, 1,000 and 3.5% on the 21st!") == normalize_words("52 1000 and 3.5% on the 21st")
    assert normalize_words("It's the man\u2019s fall.") == normalize_words("it's the man's fall")


def test_spelling_variants_and_compounds_are_not_errors():
    assert wer(["The busses ran in colour."], ["the buses ran in color"]).errors == 0
    assert wer(["A rosebush grew half way up."], ["a rose bush grew halfway up"]).errors == 0
    assert wer(["A rosebush grew half way up."], ["a rose bush grew halfway up"], fold=False).errors == 4
    assert fold_compounds(["the", "rosebush"], ["the", "rose", "bush"]) == ["the", "rosebush"]
    # a pair the reference really has stays two words
    assert fold_compounds(["rose", "bush", "rosebush"], ["rose", "bush"]) == ["rose", "bush"]


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
