"""The one atomic write every cache, profile and derived graph goes through."""

from __future__ import annotations

import os
import stat

import pytest

from tts_accel.core import fsio


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "p.toml"
    path.write_text("old = 1\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    monkeypatch.setattr(os, "rename", boom)
    with pytest.raises(OSError):
        fsio.write_atomic(path, "new = 2\n")
    assert path.read_text() == "old = 1\n"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_writes_bytes_and_text_whole_with_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        fsio.write_atomic(tmp_path / "a.bin", b"\x00\x01")
        fsio.write_atomic(tmp_path / "b.txt", "ünïcode\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "ünïcode\n"
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt"]
