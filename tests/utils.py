"""Shared test helpers: a fake backend and a real Piper voice."""

from __future__ import annotations

import random
import threading
import time

import numpy as np

from tts_accel.core.backends.base import Backend
from tts_accel.core.params import SynthParams
from tts_accel.core.scheduler import Chunk

TEXT = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well, these days, and the juice of lemons makes fine punch."
)


class FakeBackend(Backend):
    """Audio that names its chunk (every sample = first id), after a random delay."""

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
