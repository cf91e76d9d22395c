from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"


def hard_sentences() -> list[str]:
    """50 sentences that break the naive word mapping: numbers, money, dates, abbreviations,
    URLs, contractions, joined short words (tests/data/hard_sentences.txt), normalized as the
    engine normalizes them."""
    from tts_accel.core.text.chunking import normalize

    lines = (DATA / "hard_sentences.txt").read_text(encoding="utf-8").splitlines()
    return [normalize(s) for s in lines if s.strip()]


@pytest.fixture(scope="session")
def joe_voice(joe):
    """The real Piper joe voice (its front-end: espeak-ng and the id map)."""
    return joe.voice
