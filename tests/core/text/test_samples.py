"""The benchmark texts ship in the package; $TTS_ACCEL_TEXTS replaces their folder."""

from __future__ import annotations

import pytest

from tts_accel.core.errors import InputError
from tts_accel.core.text import samples as texts


def test_the_shipped_texts_are_found_without_anything_beside_the_repository(monkeypatch):
    monkeypatch.delenv(texts.TEXTS_ENV, raising=False)
    assert texts.texts_dir() == texts.PACKAGED and texts.PACKAGED.parts[-3:] == ("tts_accel", "data", "texts")
    assert set(texts.load_texts()) == {"short", "paragraph", "long"}
    assert len(texts.harvard_sentences()) == 20


def test_a_folder_in_the_environment_replaces_the_shipped_one(monkeypatch, tmp_path):
    (tmp_path / "paragraph.txt").write_text("Mine.", encoding="utf-8")
    monkeypatch.setenv(texts.TEXTS_ENV, str(tmp_path))
    assert texts.read_text("paragraph") == "Mine."
    with pytest.raises(InputError, match="'harvard' is not in"):
        texts.read_text("harvard")
    monkeypatch.setenv(texts.TEXTS_ENV, str(tmp_path / "no-such-folder"))
    assert texts.texts_dir() == texts.PACKAGED
