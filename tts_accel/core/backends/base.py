"""The backend interface every model runtime implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from tts_accel.core.params import SynthParams


class Backend(ABC):
    """Turns id sequences into float32 audio for one voice.

    ``infer`` may be called from several threads at once (the parallel modes share one
    backend); implementations keep no per-call state on ``self``.
    """

    sample_rate: int
    #: True when ``infer_batch`` runs several sequences in one model call.
    supports_batch: bool = False
    #: Why this model cannot run the batched mode at all (None: it can, padded or one by one).
    batch_unsupported_reason: str | None = None

    def unsupported(self, mode: str) -> str | None:
        """Why this backend cannot run scheduling ``mode`` at all; None when it can."""
        return self.batch_unsupported_reason if mode == "batched" else None

    @abstractmethod
    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        """ids: (T,) int64 -> audio: (N,) float32 in [-1, 1] (roughly)."""

    def infer_batch(self, batch: list[np.ndarray], params: SynthParams) -> list[np.ndarray]:
        """Several sequences; the default runs them one by one."""
        return [self.infer(ids, params) for ids in batch]

    def reseed(self, seed: int) -> None:
        """Seed the model's noise so that runs with noise repeat exactly."""

    def warmup(self) -> None:
        """Run once on a tiny input so that the first real call is not the slow one."""

    def close(self) -> None:
        """Release sessions, graphs and device memory."""
