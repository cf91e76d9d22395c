"""`tts synth -o TARGET` through the real process, on real targets: regular files (atomic, modes,
owners, symlinks), private devices, FIFOs, sockets, /dev/fd/N, stdout; every format; write
errors (a full device, a full disk, a file size limit, a read-only file system, no permission);
SIGTERM; two writers at once. Devices are made with mknod inside a temporary directory, never
the machine's /dev."""

from __future__ import annotations

import ctypes
import io
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from tests.utils import TEXTS, cli_env, private_device
from tts_accel.core.audio.sinks import writable_formats
from tts_accel.core.files.atomic import is_temp_name

ZERO = ["--noise-scale", "0", "--noise-w", "0"]
TTS = [sys.executable, "-m", "tts_accel", "synth"]
SAME = "The same samples, wherever they go."


def tts(*args: str, env: dict[str, str] | None = None, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [*TTS, *args], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env(**(env or {})),
        timeout=timeout, **kw,
    )  # fmt: skip


def one_line(proc: subprocess.CompletedProcess | bytes) -> str:
    err = (proc.stderr if isinstance(proc, subprocess.CompletedProcess) else proc).decode()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def no_temporary_files(*dirs: Path) -> bool:
    return not any(is_temp_name(name) for d in dirs for name in os.listdir(d))


def complete_wav(path: Path) -> int:
    """Frames of a WAV whose header sizes match the file exactly (a whole file, not a stream)."""
    info = sf.info(path)
    assert info.format == "WAV" and path.stat().st_size == 44 + 2 * info.frames
    return info.frames


@pytest.fixture(scope="module")
def reference() -> bytes:
    """SAME as raw PCM on stdout, zero noise: what every other target must hold."""
    proc = tts(SAME, *ZERO, "--format", "raw", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def dev(tmp_path):
    """A private /dev/full (c 1 7) and /dev/null (c 1 3) inside the test's directory."""
    d = tmp_path / "dev"
    d.mkdir()
    private_device(d / "full", 1, 7)
    private_device(d / "null", 1, 3)
    return d


# --- regular files ------------------------------------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_a_new_file_gets_the_umask_mode(tmp_path, mask, mode):
    out = tmp_path / "new.wav"
    proc = tts("Mode check.", "-o", str(out), preexec_fn=lambda: os.umask(mask))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode
    complete_wav(out)
    assert os.listdir(tmp_path) == ["new.wav"]


def test_an_existing_file_keeps_its_mode_and_owner(tmp_path):
    out = tmp_path / "kept.wav"
    out.write_bytes(b"old")
    out.chmod(0o640)
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        os.chown(out, *owner)
    proc = tts("Keep my mode.", "-o", str(out), preexec_fn=lambda: os.umask(0o077))
    assert proc.returncode == 0, proc.stderr
    st = out.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640 and (st.st_uid, st.st_gid) == owner
    complete_wav(out)


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "take.wav").write_bytes(b"old")
    link = tmp_path / "link.wav"
    link.symlink_to("real/take.wav")
    proc = tts("Through the link.", "-o", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "real/take.wav"
    complete_wav(tmp_path / "real" / "take.wav")
    assert sorted(os.listdir(tmp_path)) == ["link.wav", "real"] and os.listdir(tmp_path / "real") == ["take.wav"]


def test_stdout_redirected_to_a_file_gets_the_real_wav_sizes(tmp_path):
    out = tmp_path / "redirected.wav"
    with open(out, "wb") as fh:
        proc = tts("Redirected.", "-o", "-", stdout=fh)
    assert proc.returncode == 0, proc.stderr
    complete_wav(out)


# --- targets written in place -------------------------------------------------------------


def test_private_null_and_full_devices_stay_devices(dev):
    null = tts("Timing run.", "-o", str(dev / "null"))
    assert null.returncode == 0, null.stderr
    assert b"of audio to " + str(dev / "null").encode() in null.stderr
    full = tts("No room.", "-o", str(dev / "full"))
    assert full.returncode == 4
    assert one_line(full).startswith(f"error: cannot write {dev / 'full'}: No space left on device (ENOSPC).")
    if "mp3" in writable_formats():  # the error surfaces through libsndfile's callbacks too
        mp3 = tts("No room.", "--format", "mp3", "-o", str(dev / "full"))
        assert mp3.returncode == 4 and "(ENOSPC)" in one_line(mp3)
    for name in ("null", "full"):
        assert stat.S_ISCHR(os.stat(dev / name).st_mode)
    assert sorted(os.listdir(dev)) == ["full", "null"]  # nothing created beside them


def test_stdout_on_a_full_device_fails_with_exit_4(dev):
    """`tts synth ... -o - > /dev/full` used to exit 0."""
    with open(dev / "full", "wb") as full:
        proc = tts("Nowhere to go.", "-o", "-", stdout=full)
    assert proc.returncode == 4
    assert one_line(proc).startswith("error: cannot write stdout: No space left on device (ENOSPC).")
    for args in (["--version"], ["voices"]):  # outside any command's boundary; a table flushed at the end
        with open(dev / "full", "wb") as full:
            other = subprocess.run([sys.executable, "-m", "tts_accel", *args], stdout=full, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, env=cli_env(), timeout=120)  # fmt: skip
        assert other.returncode == 4 and "cannot write stdout" in one_line(other), args


def _read_fifo(path: Path, into: list[bytes], limit: int | None = None) -> threading.Thread:
    def run() -> None:
        with open(path, "rb") as fh:
            into.append(fh.read() if limit is None else fh.read(limit))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_fifo_is_written_in_place_as_a_stream(tmp_path, reference):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    proc = tts(SAME, *ZERO, "-o", str(fifo))
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["fifo"]
    streamed, sr = sf.read(io.BytesIO(got[0]), dtype="int16")
    assert sr == 22050 and streamed.tobytes() == reference  # the same samples as any other output


def test_a_fifo_reader_that_leaves_early_gives_141(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got, limit=100)
    proc = tts("-i", str(TEXTS / "paragraph.txt"), "-o", str(fifo))
    reader.join(30)
    assert proc.returncode == 141
    assert f"{fifo} was closed by its reader" in one_line(proc)
    assert got[0].startswith(b"RIFF") and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_sigterm_while_waiting_for_a_fifo_reader_exits_143(tmp_path):
    """Opening a FIFO waits for a reader; SIGTERM must end that wait, not be deferred forever."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [*TTS, "Nobody listens.", "-v", "-o", str(fifo)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    err = bytearray()
    fd = proc.stderr.fileno()  # type: ignore[union-attr]
    reader = threading.Thread(target=lambda: [err.extend(b) for b in iter(lambda: os.read(fd, 4096), b"")], daemon=True)
    reader.start()
    deadline = time.monotonic() + 90
    while "└".encode() not in err and time.monotonic() < deadline:  # -v prints the plan just before the open
        assert proc.poll() is None, err.decode()
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    reader.join(10)
    text = err.decode()
    assert "Traceback" not in text and "terminated" in text.strip().splitlines()[-1]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["fifo"]


def test_process_substitution_dev_fd(tmp_path):
    """`tts synth ... -o >(cat > out.wav)`: bash hands over /dev/fd/63."""
    out = tmp_path / "out.wav"
    script = f'"$@" -o >(cat > {out}); rc=$?; wait $!; exit $rc'
    proc = subprocess.run(
        ["bash", "-c", script, "bash", *TTS, "Process substitution.", "-v"],
        stdin=subprocess.DEVNULL, capture_output=True, env=cli_env(), timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert b"of audio to /dev/fd/" in proc.stderr
    data, sr = sf.read(out, dtype="int16")  # a streamed WAV: the header says "length unknown"
    assert sr == 22050 and len(data) > sr // 2


def test_a_unix_socket_is_connected_and_written(tmp_path):
    path = tmp_path / "audio.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    got = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                got.extend(chunk)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        proc = tts("Over a socket.", "-o", str(path))
        thread.join(30)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert len(sf.read(io.BytesIO(bytes(got)))[0]) > 10000


# --- formats ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["flac", "ogg", "opus", "mp3"])
def test_formats_follow_the_extension(tmp_path, fmt, reference):
    if fmt not in writable_formats():
        pytest.skip(f"the installed libsndfile cannot write {fmt}")
    out = tmp_path / f"speech.{fmt}"
    proc = tts(SAME, *ZERO, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    data, sr = sf.read(out, dtype="int16")
    assert sr == (24000 if fmt == "opus" else 22050)  # Opus takes 8/12/16/24/48 kHz: resampled
    if fmt == "flac":  # lossless: the very samples of the raw stream
        assert data.tobytes() == reference
    else:  # the same duration, give or take the codec's delay and padding
        assert len(data) / sr == pytest.approx(len(reference) / 2 / 22050, abs=0.1)
    assert os.listdir(tmp_path) == [out.name]


def test_mp3_streams_on_stdout_with_a_readable_length():
    if "mp3" not in writable_formats():
        pytest.skip("the installed libsndfile cannot write mp3")
    proc = tts("A stream of frames.", *ZERO, "--format", "mp3", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    seconds = float(proc.stderr.decode().split(" s of audio")[0].split()[-1])
    data, sr = sf.read(io.BytesIO(proc.stdout))
    assert len(data) / sr == pytest.approx(seconds, abs=0.15)


def test_an_unavailable_format_says_which_ones_this_machine_can_write(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from tts_accel.cli.app import app
    from tts_accel.core.audio import formats

    monkeypatch.setattr(formats, "writable_formats", lambda: ["wav", "raw", "flac", "ogg"])  # an older libsndfile
    result = CliRunner().invoke(app, ["synth", "Hello.", "-o", str(tmp_path / "x.mp3")])
    assert result.exit_code == 2
    assert "cannot write mp3" in result.output and "formats available here: wav, raw, flac, ogg." in result.output
    assert os.listdir(tmp_path) == []


# --- write errors -------------------------------------------------------------------------


def test_a_disk_that_fills_half_way_leaves_the_old_file(tmp_path):
    """RLIMIT_FSIZE makes writes past 1 MB fail with EFBIG (Python ignores SIGXFSZ): the
    paragraph's 1.4 MB WAV fails two thirds of the way. (Not less: phonemizer copies the
    660 kB espeak-ng library to a temporary directory at start-up.)"""
    from tts_accel.core.voices.piper.split import split_graph
    from tts_accel.core.voices.registry import resolve_voice

    # the split graphs the child reads, built here and not under its limit (on a test worker
    # whose cache is still empty, the child would build them and fail on that instead)
    split_graph(resolve_voice("piper-joe").model_path)
    out = tmp_path / "book.wav"
    out.write_bytes(b"old")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    proc = tts("-i", str(TEXTS / "paragraph.txt"), "-o", str(out), preexec_fn=limit,
               env={"TTS_ACCEL_NO_GRAPH_CACHE": "1"})  # fmt: skip
    assert proc.returncode == 4
    err = one_line(proc)
    assert f"cannot write {out}: File too large (EFBIG); the existing {out} is untouched." in err
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["book.wav"]


def _in_private_mount(
    tmp_path: Path, options: str, tts_args: list[str], setup: str = ""
) -> tuple[int, str, list[str], bytes]:
    """Run tts on a small tmpfs mounted over ``tmp_path/mnt`` in a private mount namespace (gone
    when the command ends): (exit code, stderr, the directory listing, book.wav's content).
    ``setup``: shell commands run in the mount first, after book.wav is made."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        'mount -t tmpfs -o "$1" tmpfs "$2" || exit 99; cd "$2"; [ -w . ] && printf old > book.wav; eval "$3"; shift 3; '
        '"$@" 2> ../err; echo "rc=$?"; ls -A; echo "--"; cat book.wav 2>/dev/null; exit 0'
    )
    try:
        proc = subprocess.run(
            ["unshare", "--mount", "sh", "-c", script, "sh", options, str(mnt), setup, *TTS, *tts_args],
            stdin=subprocess.DEVNULL, capture_output=True, env=cli_env(TTS_ACCEL_NO_GRAPH_CACHE="1"), timeout=180,
        )  # fmt: skip
    except FileNotFoundError:
        pytest.skip("unshare(1) is not installed")
    if proc.returncode != 0 or not proc.stdout.startswith(b"rc="):
        pytest.skip(f"cannot mount a private tmpfs here (needs root): {proc.stderr.decode().strip()[:120]}")
    head, _, content = proc.stdout.partition(b"\n--\n")
    lines = head.decode().splitlines()
    return int(lines[0][3:]), (tmp_path / "err").read_text(), lines[1:], content


def test_a_full_file_system_enospc_leaves_the_old_file(tmp_path):
    rc, err, listing, content = _in_private_mount(
        tmp_path, "size=256k", ["-i", str(TEXTS / "paragraph.txt"), "-o", "book.wav"]
    )
    assert rc == 4, err
    assert one_line(err.encode()).startswith("error: cannot write book.wav: No space left on device (ENOSPC)")
    assert listing == ["book.wav"] and content == b"old"


def test_a_read_only_file_system_erofs(tmp_path):
    rc, err, listing, _ = _in_private_mount(tmp_path, "ro,size=64k", ["Read only.", "-o", "new.wav"])
    assert rc == 4, err
    assert "cannot write new.wav: Read-only file system (EROFS)" in one_line(err.encode())
    assert listing == []


def _drop_dac_override() -> None:
    """As root: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so that the
    exec'd tts is subject to file permissions like any user (it stays uid 0, so it can still
    run the interpreter that lives under /root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            os._exit(98)


def test_no_permission_eacces(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:
        os.chown(locked, 65534, 65534)  # someone else's directory, mode 0755
        locked.chmod(0o755)
        preexec = _drop_dac_override
    else:
        locked.chmod(0o500)
        preexec = None
    try:
        proc = tts("Locked out.", "-o", str(locked / "x.wav"), preexec_fn=preexec,
                   env={"TTS_ACCEL_NO_GRAPH_CACHE": "1"})  # fmt: skip
        if proc.returncode == 98:
            pytest.skip("cannot drop CAP_DAC_OVERRIDE here (prctl PR_CAPBSET_DROP refused)")
        assert proc.returncode == 4
        assert f"cannot write {locked / 'x.wav'}: Permission denied (EACCES)" in one_line(proc)
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)


# --- signals and concurrency --------------------------------------------------------------


def test_sigterm_mid_run_removes_the_temporary_file_and_exits_143(tmp_path):
    out = tmp_path / "long.wav"
    out.write_bytes(b"old")
    proc = subprocess.Popen(
        [*TTS, "-i", str(TEXTS / "long.txt"), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cli_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while no_temporary_files(tmp_path):  # synthesis has begun
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in one_line(err)
    assert os.listdir(tmp_path) == ["long.wav"] and out.read_bytes() == b"old"


def test_two_writers_to_one_name_always_leave_one_whole_wav(tmp_path):
    out = tmp_path / "same.wav"
    texts = ["The first writer says one thing.", "The second writer says something else, at much greater length."]
    procs = [
        subprocess.Popen([*TTS, text, *ZERO, "-o", str(out)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())
        for text in texts
    ]  # fmt: skip
    seen = set()
    while any(p.poll() is None for p in procs):
        if out.exists():
            seen.add(complete_wav(out))  # whenever it is there, it is whole
        time.sleep(0.01)
    errs = [p.stderr.read().decode() if p.stderr else "" for p in procs]
    assert [p.wait() for p in procs] == [0, 0], errs
    seconds = [float(e.split(" s of audio")[0].split()[-1]) for e in errs]  # each run's own summary
    final = complete_wav(out)
    assert any(abs(final / 22050 - s) < 0.006 for s in seconds)  # one writer's file, whole
    assert all(any(abs(f / 22050 - s) < 0.006 for s in seconds) for f in seen)
    assert os.listdir(tmp_path) == ["same.wav"]
