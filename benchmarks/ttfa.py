"""Time to first audio on stdout: `tts synth -i paragraph.txt -o - --format raw` per mode.

For each mode, one process per round (modes take turns): seconds from process start to the
first PCM byte on stdout, and to the last. The figure judged is first audio as a fraction of
the whole run (target < 1/4 for pipelined).

    python benchmarks/ttfa.py --rounds 5 --modes sequential,parallel,pipelined
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one(text: Path, mode: str) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "tts_accel", "synth", "-i", str(text), "-o", "-", "--format", "raw", "-q",
           "--mode", mode, "--noise-scale", "0", "--noise-w", "0"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.read(1)
    first = time.perf_counter() - start
    proc.stdout.read()
    if proc.wait() != 0:
        sys.exit(f"tts synth --mode {mode} failed")
    return first, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from tts_accel.core.text.samples import texts_dir

    texts = texts_dir()  # the shipped texts, or $TTS_ACCEL_TEXTS
    ap.add_argument("--text", type=Path, default=texts / "paragraph.txt")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--modes", default="sequential,parallel,pipelined")
    args = ap.parse_args()
    modes = args.modes.split(",")
    res: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for m in modes:
            res[m].append(one(args.text, m))
    for m, runs in res.items():
        first = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        frac = statistics.median(r[0] / r[1] for r in runs)
        print(f"{m:10s} first audio {first:.2f} s, whole run {total:.2f} s, fraction {frac:.2f} "
              f"(medians of {args.rounds}, {args.text.name})")  # fmt: skip


if __name__ == "__main__":
    main()
