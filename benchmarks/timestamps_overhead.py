"""What `--timestamps` costs: `tts synth -i TEXT -o /dev/null` with and without it, whole process.

The two commands take turns, ``--rounds`` times each, so load on the machine falls on both alike;
prints the median wall time of each, and the ratio (with / without). The alignment runs on the
thread that consumes the audio (one espeak-ng call per new word, then a dynamic program), so in the
concurrent modes it overlaps the model runs.

    python benchmarks/timestamps_overhead.py --rounds 5
    python benchmarks/timestamps_overhead.py --text tts_accel/data/texts/paragraph.txt --mode sequential
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", type=Path, default=REPO / "tts_accel" / "data" / "texts" / "long.txt")
    ap.add_argument("--voice", default="piper-joe")
    ap.add_argument("--mode", default="auto")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    base = [sys.executable, "-m", "tts_accel", "synth", "-q", "-i", str(args.text), "--voice", args.voice]
    base += ["--mode", args.mode, "-o", "/dev/null"]
    times: dict[str, list[float]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as tmp:
        wall(base)  # warm the caches (derived graphs, ORT's optimized copy) outside the measurement
        for _ in range(args.rounds):
            times["without"].append(wall(base))
            times["with"].append(wall([*base, "--timestamps", str(Path(tmp) / "t.json")]))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:8s} --timestamps: median {med[k]:.2f} s (min {min(v):.2f}, max {max(v):.2f}, {len(v)} runs)")
    ratio = med["with"] / med["without"]
    print(f"ratio with / without: {ratio:.3f} ({args.text.name}, {args.voice}, --mode {args.mode})")


if __name__ == "__main__":
    main()
