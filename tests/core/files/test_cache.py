"""The one check of every cached file (files/cache.py): stamped when written, verified on load,
rebuilt when it no longer holds what was written; temporary files of a killed build go. Unit
tests on small files, then the real CLI on the real voice's derived graphs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.utils import cli_env
from tts_accel.core.files.atomic import STALE_AFTER_S, sweep_stale
from tts_accel.core.files.cache import (
    record,
    stamp_path,
    verified,
    write_verified,
)


def test_a_written_file_verifies_without_being_read(tmp_path, monkeypatch):
    path = tmp_path / "g.onnx"
    write_verified(path, b"graph bytes" * 100)
    import tts_accel.core.files.cache as cache

    monkeypatch.setattr(cache, "sha256_file", lambda p: pytest.fail("hashed a file whose stat matched"))
    assert verified(path)


def test_a_same_size_edit_fails_and_an_untouched_copy_is_rehashed_once(tmp_path):
    path = tmp_path / "g.onnx"
    data = bytes(range(256)) * 64
    write_verified(path, data)
    with open(path, "r+b") as fh:  # 4 KB flipped in place: same size
        fh.seek(8192)
        fh.write(bytes(b ^ 0xFF for b in data[8192 : 8192 + 4096]))
    assert not verified(path)
    path.write_bytes(data)  # the right bytes again, new mtime: hashed, then trusted by stat
    assert verified(path)
    assert verified(path)


def test_a_truncated_file_or_one_without_a_stamp_fails(tmp_path):
    path = tmp_path / "g.onnx"
    write_verified(path, b"x" * 5000)
    os.truncate(path, 100)
    assert not verified(path)
    other = tmp_path / "h.onnx"
    other.write_bytes(b"not ours")
    assert not verified(other) and not stamp_path(other).exists()


def test_an_expected_digest_wins_over_the_stamp(tmp_path):
    import hashlib

    path = tmp_path / "m.onnx"
    path.write_bytes(b"abc")
    record(path)
    assert verified(path)
    assert not verified(path, hashlib.sha256(b"abd").hexdigest())
    assert verified(path, hashlib.sha256(b"abc").hexdigest())


def test_stale_temporary_files_go_and_live_ones_stay(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".x.onnx.{dead.pid}.tmp"  # ORT's, its writer killed
    live = tmp_path / f".y.onnx.{os.getpid()}.tmp"  # a build in flight
    old = tmp_path / ".z.onnx.tts-0123abcd.part.onnx"  # ours, from a killed build an hour ago
    young = tmp_path / ".w.onnx.tts-89abcdef.part"
    keep = tmp_path / "a.onnx"
    for p in (left, live, old, young, keep):
        p.write_bytes(b"1")
    past = time.time() - STALE_AFTER_S - 60
    os.utime(old, (past, past))
    assert sweep_stale(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, young, keep))


# --- the real CLI: a broken derived graph is rebuilt, and the audio stays the same -----------------

SENTENCE = "The same samples, wherever they go."


def _synth(cache: Path, out: Path, *extra: str) -> np.ndarray:
    done = subprocess.run(
        [sys.executable, "-m", "tts_accel", "synth", SENTENCE, "--noise-scale", "0", "--noise-w", "0",
         "-o", str(out), "-q", *extra],
        capture_output=True, env=cli_env(TTS_ACCEL_CACHE_DIR=str(cache)), timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    return sf.read(out, dtype="int16")[0]


def _flip(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        block = fh.read(4096)
        fh.seek(size // 2)
        fh.write(bytes(b ^ 0x5A for b in block))
    assert path.stat().st_size == size


@pytest.mark.parametrize("mode", ["pipelined", "sequential"])  # split/ graphs, graphs/ copies
def test_a_corrupted_or_truncated_derived_graph_is_rebuilt_with_the_same_audio(tmp_path, mode):
    cache = tmp_path / "cache"
    first = _synth(cache, tmp_path / "a.wav", "--mode", mode)
    folder = "split" if mode == "pipelined" else "graphs"
    graphs = sorted((cache / folder).rglob("*.onnx"))
    assert graphs
    _flip(graphs[-1])  # same size, other bytes
    assert np.array_equal(_synth(cache, tmp_path / "b.wav", "--mode", mode), first)
    for g in graphs:
        os.truncate(g, g.stat().st_size // 3)
    for g in sorted((cache / "optimized").glob("*.onnx")):
        os.truncate(g, 1000)
    assert np.array_equal(_synth(cache, tmp_path / "c.wav", "--mode", mode), first)


def test_a_temporary_file_of_a_killed_first_build_is_removed_by_the_next_run(tmp_path):
    cache = tmp_path / "cache"
    _synth(cache, tmp_path / "a.wav", "--mode", "sequential")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    optimized = sorted((cache / "optimized").glob("*.onnx"))
    leftover = optimized[0].with_name(f".{optimized[0].name}.{dead.pid}.tmp")
    leftover.write_bytes(b"\0" * 4096)
    for g in optimized:  # the killed build never finished: the next run builds again
        g.unlink()
    _synth(cache, tmp_path / "b.wav", "--mode", "sequential")
    assert not leftover.exists()
    assert not [p for p in (cache / "optimized").iterdir() if p.name.endswith(".tmp")]
