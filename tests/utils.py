"""Shared test helpers: run the real CLI in a subprocess, find the shared texts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tts_accel.core.backends.base import Backend
from tts_accel.core.params import SynthParams

REPO = Path(__file__).resolve().parent.parent
TEXTS = Path(os.environ.get("TTS_ACCEL_TEXTS", REPO.parent / "shared" / "texts"))


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


class FakeBackend(Backend):
    """Deterministic stand-in: ``samples_per_id`` samples per id, value = id / 1000."""

    sample_rate = 22050

    def __init__(self, samples_per_id: int = 4):
        self.samples_per_id = samples_per_id
        self.calls = 0

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        self.calls += 1
        return np.repeat(ids.astype(np.float32) / 1000.0, self.samples_per_id)
