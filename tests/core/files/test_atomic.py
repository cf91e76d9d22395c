"""fsio: the one "temporary file beside the target, fsync, rename" of the package."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from tests.utils import run_python, symlink_traps
from tts_accel.core.files.atomic import AtomicFile, is_temp_name, temp_name, write_atomic


@pytest.fixture
def umask():
    """Set the process umask for one test, and put it back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, umask, mask, mode):
    umask(mask)
    write_atomic(tmp_path / "new.toml", "a = 1\n")
    assert stat.S_IMODE(os.stat(tmp_path / "new.toml").st_mode) == mode
    assert (tmp_path / "new.toml").read_text() == "a = 1\n"
    assert os.listdir(tmp_path) == ["new.toml"]


def test_an_existing_file_keeps_its_mode_and_owner(tmp_path, umask):
    umask(0o077)
    target = tmp_path / "kept.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        os.chown(target, *owner)
    write_atomic(target, b"new")
    st = os.stat(target)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(st.st_mode) == 0o640 and (st.st_uid, st.st_gid) == owner


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "file.txt").write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to("real/file.txt")
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == "real/file.txt"
    assert (tmp_path / "real" / "file.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path / "real")) == ["file.txt"]  # the temporary file went beside the target
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to("real/missing.txt")
    write_atomic(dangling, "created")
    assert dangling.is_symlink() and (tmp_path / "real" / "missing.txt").read_text() == "created"


def test_a_symlink_loop_is_refused_and_left_alone(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError) as err:
        write_atomic(tmp_path / "a", "x")
    assert err.value.errno == errno.ELOOP
    assert (tmp_path / "a").is_symlink() and sorted(os.listdir(tmp_path)) == ["a", "b"]


def test_a_failed_write_leaves_the_target_untouched_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), AtomicFile(target) as out:
        out.write(b"half")
        assert is_temp_name(out.tmp.name) and out.tmp.parent == tmp_path
        raise RuntimeError("the run failed")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.wav"]


def test_a_missing_directory_or_a_directory_target_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        write_atomic(tmp_path / "no" / "x", b"")
    assert err.value.filename == str(tmp_path / "no")
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, b"")


def test_something_not_regular_appearing_under_the_name_is_not_renamed_over(tmp_path):
    target = tmp_path / "out"
    out = AtomicFile(target)
    out.write(b"data")
    os.mkfifo(target)  # another program made a FIFO there during the run
    with pytest.raises(OSError, match="no longer a regular file"):
        out.commit()
    assert stat.S_ISFIFO(os.lstat(target).st_mode) and os.listdir(tmp_path) == ["out"]


def test_temporary_names_are_recognisable_and_fit_in_a_name(tmp_path):
    name = temp_name("song.wav")
    assert name.startswith(".song.wav.tts-") and name.endswith(".part") and is_temp_name(name)
    assert not is_temp_name("song.wav") and not is_temp_name(".song.wav.swp")
    long = "é" * 127 + ".wav"  # 258 bytes in UTF-8: over NAME_MAX already
    assert len(os.fsencode(temp_name(long))) <= 255
    write_atomic(tmp_path / ("x" * 250), b"fits")  # the temporary name is shortened, the target is not
    assert (tmp_path / ("x" * 250)).read_bytes() == b"fits"


def test_a_file_size_limit_fails_cleanly():
    """RLIMIT_FSIZE: the write fails half-way with EFBIG (Python ignores SIGXFSZ); the old
    content stays, no temporary file is left."""
    code = """
import errno, os, resource, shutil, tempfile
from tts_accel.core.files.atomic import write_atomic
d = tempfile.mkdtemp()
target = os.path.join(d, "big.bin")
write_atomic(target, b"old")
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    write_atomic(target, b"x" * 1_000_000)
except OSError as err:
    assert err.errno == errno.EFBIG, err
else:
    raise SystemExit("no error")
assert open(target, "rb").read() == b"old", "target changed"
assert os.listdir(d) == ["big.bin"], os.listdir(d)
shutil.rmtree(d)
print("ok")
"""
    assert run_python(code, timeout=60).stdout.strip() == "ok"


def test_write_atomic_leaves_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "p.toml"
    path.write_text("old = 1\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    monkeypatch.setattr(os, "rename", boom)
    with pytest.raises(OSError):
        write_atomic(path, "new = 2\n")
    assert path.read_text() == "old = 1\n"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_write_atomic_writes_bytes_and_text_with_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.bin", b"\x00\x01")
        write_atomic(tmp_path / "b.txt", "ünïcode\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "ünïcode\n"
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt"]


def test_build_atomic_renames_what_the_builder_wrote_and_removes_it_on_failure(tmp_path) -> None:
    from tts_accel.core.files.atomic import build_atomic, is_temp_name

    target = tmp_path / "graph.onnx"
    seen: list[str] = []

    def build(path: str) -> None:  # a library that writes the file itself, by name
        seen.append(path)
        Path(path).write_bytes(b"new")

    build_atomic(target, build, suffix=".onnx")
    assert target.read_bytes() == b"new" and seen[0].endswith(".onnx")
    assert Path(seen[0]).parent == tmp_path and is_temp_name(Path(seen[0]).name[: -len(".onnx")])

    def fails(path: str) -> None:
        Path(path).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        build_atomic(target, fails)
    assert target.read_bytes() == b"new"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.onnx"]  # no temporary file left


# --- within=ROOT: nothing below ROOT is followed ---------------------------------------------------


def test_within_makes_folders_and_writes_below_the_root(tmp_path):
    from tts_accel.core.files.atomic import AtomicFile

    with AtomicFile("a/b/x.wav", within=tmp_path) as out:
        out.write(b"data")
    assert (tmp_path / "a" / "b" / "x.wav").read_bytes() == b"data"
    assert not [n for n in os.listdir(tmp_path / "a" / "b") if is_temp_name(n)]


@pytest.mark.parametrize("rel", ["link/evil.wav", "victim.wav"])
def test_within_never_writes_through_a_symlink(tmp_path, rel):
    import errno

    from tts_accel.core.files.atomic import AtomicFile

    root, elsewhere = tmp_path / "OUT", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    symlink_traps(root, elsewhere)
    with pytest.raises(OSError) as caught:
        AtomicFile(rel, within=root)
    assert caught.value.errno == errno.ELOOP
    assert sorted(os.listdir(elsewhere)) == ["victim.txt"] and (elsewhere / "victim.txt").read_text() == "keep"


def test_within_a_link_swapped_in_after_the_open_is_replaced_not_followed(tmp_path):
    from tts_accel.core.files.atomic import AtomicFile

    root, outside = tmp_path / "OUT", tmp_path / "outside.txt"
    root.mkdir()
    outside.write_text("keep")
    out = AtomicFile("x.wav", within=root)
    out.write(b"new")
    (root / "x.wav").symlink_to(outside)  # planted while the file was being written
    with pytest.raises(OSError):  # no longer a regular file: left alone
        out.commit()
    assert outside.read_text() == "keep" and (root / "x.wav").is_symlink()


def test_sweep_stale_removes_dead_writers_leftovers_only(tmp_path):
    import subprocess

    from tts_accel.core.files.atomic import sweep_stale

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs
    dead = tmp_path / f".x.wav.tts-{gone.pid}-0123abcd.part"
    live = tmp_path / f".x.wav.tts-{os.getppid()}-0123abcd.part"
    other = tmp_path / f".y.wav.tts-{gone.pid}-0123abcd.part"
    for p in (dead, live, other):
        p.write_bytes(b"partial")
    assert sweep_stale(tmp_path, {"x.wav"}) == 1
    assert not dead.exists() and live.exists() and other.exists()
    assert sweep_stale(tmp_path, every=True) == 2 and not os.listdir(tmp_path)



def test_sweep_stale_removes_a_dead_builds_folder_and_not_a_live_one(tmp_path):
    """The compiled-package cache builds in a temporary folder named like our files: one left by
    a build stopped for good (a signal's fast exit, kill -9) goes at the next build."""
    import subprocess

    from tts_accel.core.files.atomic import sweep_stale, temp_name

    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = tmp_path / temp_name("decoder-288").replace(f"-{os.getpid()}-", f"-{gone.pid}-")
    live = tmp_path / temp_name("decoder-160")  # this process: a build in flight
    for folder in (dead, live):
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "model.so").write_bytes(b"partial")
    keep = tmp_path / "decoder-48.pt2"
    keep.write_bytes(b"package")
    assert sweep_stale(tmp_path) == 1
    assert not dead.exists() and live.exists() and keep.exists()

def test_commit_together_leaves_both_targets_when_one_fails(tmp_path, monkeypatch):
    from tts_accel.core.files.atomic import AtomicFile, commit_together

    a, b = tmp_path / "a.wav", tmp_path / "a.json"
    a.write_bytes(b"old audio")
    b.write_bytes(b"old times")
    fa, fb = AtomicFile(a), AtomicFile(b)
    fa.write(b"new audio")
    fb.write(b"new times")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tts_accel.core.files.atomic.fsync", lambda fd: full(fd) if fd == fb.fd else None)
    with pytest.raises(OSError):
        commit_together([fa, fb])
    assert a.read_bytes() == b"old audio" and b.read_bytes() == b"old times"
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.wav"]
