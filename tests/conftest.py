"""Keep every test's caches and profiles out of the user's home."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def graph_cache_dir(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    # Shared by the session: building the derived graphs once keeps the suite fast.
    return tmp_path_factory.mktemp("graph-cache")


@pytest.fixture(autouse=True)
def _isolated_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path, graph_cache_dir) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(graph_cache_dir))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
