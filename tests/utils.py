"""Shared test helpers: run the real CLI in a subprocess, find the benchmark texts."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from tts_accel.core.pipeline.scheduler import Chunk
from tts_accel.core.text.samples import texts_dir
from tts_accel.core.voices.base import Backend
from tts_accel.core.voices.params import SynthParams

REPO = Path(__file__).resolve().parent.parent
#: The texts shipped in the package (tts_accel/data/texts), or $TTS_ACCEL_TEXTS: never a folder
#: outside the repository, so that a fresh clone runs the suite.
TEXTS = texts_dir()


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("TTS_ACCEL_DEBUG", None)
    return env


def run_cli(*args: str, input: bytes | None = None, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """`tts ARGS` as a real process: real pipes, real exit codes."""
    return subprocess.run(
        [sys.executable, "-m", "tts_accel", *args],
        input=input if input is not None else b"",
        capture_output=True,
        timeout=timeout,
        env=cli_env(),
        **kw,
    )


def run_python(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -c CODE`` in a fresh process (for per-process state: threads, imports, affinity);
    fails the test with its stderr when it exits non-zero."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done


class FakeBackend(Backend):
    """Deterministic stand-in: ``samples_per_id`` samples per id, value = id / 1000."""

    sample_rate = 22050

    def __init__(self, samples_per_id: int = 4):
        self.samples_per_id = samples_per_id
        self.calls = 0

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        self.calls += 1
        return np.repeat(ids.astype(np.float32) / 1000.0, self.samples_per_id)


MODES_TEXT = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well, these days, and the juice of lemons makes fine punch."
)


class DelayBackend(Backend):
    """Audio that names its chunk (every sample = first id), after a random delay; counts overlap."""

    sample_rate = 100
    supports_batch = True

    def __init__(self, max_delay: float = 0.01, seed: int = 0):
        self.max_delay = max_delay
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.batch_sizes: list[int] = []

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            delay = self.rng.uniform(0, self.max_delay)
        time.sleep(delay)
        with self.lock:
            self.active -= 1
        return np.full(len(ids), float(ids[0]), dtype=np.float32)

    def infer_batch(self, batch: list[np.ndarray], params: SynthParams) -> list[np.ndarray]:
        self.batch_sizes.append(len(batch))
        return [self.infer(ids, params) for ids in batch]


def fake_chunks(n: int) -> list[Chunk]:
    return [Chunk(i, f"chunk {i}", np.full(3 + i % 5, i, dtype=np.int64), 0.0) for i in range(n)]


# --- `tts serve` as a real process (the serve, bench --serve and page tests) ----------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`tts serve ARGS` as a real process on free loopback ports (HTTP, and Wyoming unless told not),
    ready (``/health`` 200) when constructed; ``kill()`` ends it."""

    def __init__(self, *args: str, key: str | None = None, wyoming: bool = True):
        import httpx

        self.key = key
        self.port = free_port()
        self.wyoming_port = free_port() if wyoming else None
        cmd = [sys.executable, "-m", "tts_accel", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args]
        if wyoming:
            cmd += ["--wyoming-uri", f"tcp://127.0.0.1:{self.wyoming_port}"]
        if key:
            cmd += ["--api-key", key]
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tts serve exited {self.proc.returncode}: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError("tts serve did not become ready in 90 s")

    def client(self):  # an openai.OpenAI on this server
        import openai

        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.key or "none", max_retries=0, timeout=60)

    def post(self, body, **kw):  # an httpx.Response
        import httpx

        return httpx.post(self.url + "/v1/audio/speech", json=body, headers=self.headers, timeout=60, **kw)

    def metrics(self) -> dict[str, float]:
        import httpx

        text = httpx.get(self.url + "/metrics", headers=self.headers, timeout=10).text
        return {m[0]: float(m[1]) for m in re.findall(r"^(\S+) (\S+)$", text, re.M)}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def symlink_traps(root: Path, outside: Path) -> None:
    """Two ways out of ``root`` for a careless writer: ``root/link`` -> ``outside`` and
    ``root/victim.wav`` -> ``outside/victim.txt`` (which holds "keep"); both folders must exist."""
    (outside / "victim.txt").write_text("keep")
    (root / "link").symlink_to(outside)
    (root / "victim.wav").symlink_to(outside / "victim.txt")


def private_device(path: Path, major: int, minor: int, mode: int = 0o666) -> Path:
    """A character device node at ``path`` (1, 5 is a /dev/zero; 1, 3 /dev/null; 1, 7 /dev/full),
    made inside a test's temporary folder, never the machine's /dev; skips the test with the
    reason where mknod is not permitted."""
    import stat

    import pytest

    try:
        os.mknod(path, mode | stat.S_IFCHR, os.makedev(major, minor))
    except OSError as err:
        pytest.skip(f"cannot make a private device node here (mknod: {err.strerror}; needs root)")
    return path


class FakeBatchEngine:
    """An engine that batches: its output is the window's column sums, its calls are recorded."""

    hop = 1
    margins = None  # not read by a batch

    def __init__(self, shapes=None, limit: int = 8) -> None:  # type: ignore[no-untyped-def]
        self.shapes = shapes
        self.max_batch = limit
        self.sizes: list[int] = []

    def run(self, z: np.ndarray) -> np.ndarray:
        self.sizes.append(1)
        return z.sum(0)

    def run_batch(self, zs):  # type: ignore[no-untyped-def]
        self.sizes.append(len(zs))
        return [z.sum(0) for z in zs]
