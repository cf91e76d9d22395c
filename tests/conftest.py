from __future__ import annotations

import pytest

from tts_accel.core.engine import Synthesizer
from tts_accel.core.params import SynthParams


@pytest.fixture(scope="session")
def joe() -> Synthesizer:
    """The real default voice on the real ONNX Runtime backend, loaded once."""
    return Synthesizer("piper-joe")


@pytest.fixture
def zero_noise() -> SynthParams:
    return SynthParams(noise_scale=0.0, noise_w=0.0)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """User config/cache dirs go to a temporary folder: tests never touch the real ones."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
