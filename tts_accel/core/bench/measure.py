"""Measuring one run: the code `tts bench` and `tts tune` share.

A case is loaded once (load time reported apart), warmed up on a sentence that is not
measured, then each measured run goes through ``Synthesizer.stream`` with zero noise, so
every mode does the same work. Peak memory is sampled every 10 ms; VRAM comes from torch on
CUDA GPUs.
"""

from __future__ import annotations

import threading
import time

from tts_accel.core.hardware.gpu import cuda_available
from tts_accel.core.pipeline.stats import RunStats
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.voices.params import ZERO_NOISE, SynthParams

WARMUP_TEXT = "A short warm-up sentence, not measured."


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


class RssPeak:
    """The highest resident set size of this process seen while the block runs (10 ms samples)."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.start_mb = self.peak_mb = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)
            if self._stop.wait(0.01):
                return

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)


class VramPeak:
    """torch.cuda.max_memory_allocated over the block, for torch plans on a CUDA GPU;
    ``peak_mb`` stays None elsewhere (and torch is not imported)."""

    def __init__(self, plan: ExecutionPlan) -> None:
        self.on_gpu = plan.backend == "torch" and cuda_available()
        self.peak_mb: float | None = None

    def __enter__(self) -> VramPeak:
        if self.on_gpu:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.on_gpu:
            import torch

            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20


def measure_once(synth: Synthesizer, text: str, params: SynthParams = ZERO_NOISE) -> RunStats:
    """One measured run of ``text`` through ``synth.stream``; audio is produced and dropped."""
    stats = RunStats()
    for _ in synth.stream([text], params, stats):
        pass
    return stats


def load_case(plan: ExecutionPlan, voice: str) -> tuple[Synthesizer, float]:
    """(Synthesizer, load seconds) with one unmeasured warm-up run done. A plan this machine
    cannot run (a CUDA-graph mode without a GPU) raises ModeNotApplicable with the reason."""
    start = time.perf_counter()
    synth = Synthesizer(voice, plan)
    getattr(synth.backend, "session", None)  # the ONNX session loads on a thread: wait for it
    load_s = time.perf_counter() - start
    measure_once(synth, WARMUP_TEXT)
    return synth, load_s
