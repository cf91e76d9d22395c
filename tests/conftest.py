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


@pytest.fixture(scope="session")
def graph_cache_dir(tmp_path_factory):
    """One cache of derived ONNX graphs for the session: built once, the suite stays fast."""
    return tmp_path_factory.mktemp("graph-cache")


@pytest.fixture(autouse=True)
def _isolated_graph_cache(monkeypatch, graph_cache_dir):
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(graph_cache_dir))


@pytest.fixture
def config_home(monkeypatch, tmp_path):
    """XDG_CONFIG_HOME of this test alone: tuned profiles written here vanish with it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"
