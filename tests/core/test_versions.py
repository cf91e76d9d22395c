"""Version lookups that start-up pays for: the same answers as importlib.metadata, cheaper."""

from __future__ import annotations

from importlib import metadata

import pytest

from tts_accel.core.versions import dist_version, ort_version


@pytest.mark.parametrize("name", ["onnx", "onnxruntime", "numpy"])
def test_dist_version_agrees_with_importlib_metadata(name: str) -> None:
    assert dist_version(name) == metadata.version(name) != ""


def test_dist_version_of_what_is_not_installed_is_empty() -> None:
    assert dist_version("no_such_distribution_here") == ""


def test_two_dist_info_folders_fall_back_to_importlib_metadata(tmp_path, monkeypatch) -> None:
    """A stale second ``.dist-info`` beside the module: the folder name is ambiguous, the metadata is not."""
    pkg = tmp_path / "twinpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    for version in ("1.0", "2.0"):
        info = tmp_path / f"twinpkg-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: twinpkg\nVersion: {version}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert dist_version("twinpkg") == metadata.version("twinpkg") in ("1.0", "2.0")


def test_ort_version_is_the_installed_onnxruntime() -> None:
    assert ort_version() == metadata.version("onnxruntime")
