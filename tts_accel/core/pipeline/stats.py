"""RunStats: what a run cost. Timers, CPU time and peak memory."""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class RunStats:
    audio_s: float = 0.0  # seconds of audio produced
    wall_s: float = 0.0  # from the first chunk's text to the last sample
    ttfa_s: float | None = None  # time to first audio
    #: how long a player that starts at first audio would have waited for later audio, in all
    #: (a piece that arrives after what came before it has played out: an underrun)
    stall_s: float = 0.0
    cpu_s: float = 0.0
    chunks: int = 0
    pieces: int = 0  # audio pieces out (a whole chunk each, or its windows when streaming)
    peak_rss_mb: float = 0.0

    @property
    def rtf(self) -> float:
        """Real-time factor: seconds of compute per second of audio (lower is faster)."""
        return self.wall_s / self.audio_s if self.audio_s else float("nan")


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.cpu_start = cpu_seconds()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def cpu(self) -> float:
        return cpu_seconds() - self.cpu_start
