"""Whole process: start to the first audio byte on stdout, for a long sentence against "Hi.".

    python benchmarks/first_byte.py --rounds 7
    python benchmarks/first_byte.py --modes auto,sequential --rounds 5

Each round runs, in turn, one `tts synth TEXT -o - --format raw -q` process per text and mode:
``Hi.`` (start-up: imports, voice, sessions, espeak, one tiny model run), the longest sentence of
long.txt (377 ids), the 60-word sentence, and long.txt itself. The figure judged is a text's
first byte minus Hi.'s, same mode, same round (target: at most 0.15 s for the streamed default).
The graph caches are warm (a first run fills them). Medians [min-max] in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from tts_accel.core.text.samples import texts_dir

SENTENCE_60 = (
    "People measured time by the church bell and the arrival of the mail coach, which came twice a week "
    "from the city and brought newspapers that were already three days old, and she rented the room above "
    "the bakery, and every morning she walked out along the river with her instruments, counting paces and "
    "writing numbers in tiny, careful columns."
)


def longest_sentence() -> str:
    from tts_accel.core.text.chunking import chunk_text, normalize
    from tts_accel.core.voices.registry import resolve_voice

    voice = resolve_voice("piper-joe")
    text = (texts_dir() / "long.txt").read_text(encoding="utf-8")
    return max((c.text for c in chunk_text(normalize(text), 600, voice.measure)), key=lambda s: len(voice.encode(s)))


def first_byte(args: list[str]) -> tuple[float, float]:
    """(seconds to the first byte on stdout, seconds to exit)."""
    cmd = [sys.executable, "-m", "tts_accel", "synth", *args, "-o", "-", "--format", "raw", "-q"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.read(1)
    first = time.perf_counter() - start
    proc.stdout.read()
    if proc.wait() != 0:
        sys.exit(f"tts synth {' '.join(args[:1])[:40]} failed")
    return first, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--modes", default="auto", help="comma-separated --mode values")
    args = p.parse_args()
    texts = {
        "Hi. (start-up)": ["Hi."],
        "longest sentence of long.txt": [longest_sentence()],
        "60-word sentence": [SENTENCE_60],
        "long.txt": ["-i", str(texts_dir() / "long.txt")],
    }
    modes = args.modes.split(",")
    for mode in modes:  # warm the caches (split graphs, optimized graphs, digests)
        first_byte([*texts["Hi. (start-up)"], "--mode", mode])
    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for mode in modes:
            for name, text in texts.items():
                res.setdefault((mode, name), []).append(first_byte([*text, "--mode", mode]))
    for mode in modes:
        print(f"\n--mode {mode}: {args.rounds} rounds, seconds, median [min-max]")
        base = [f for f, _ in res[(mode, "Hi. (start-up)")]]
        for name in texts:
            runs = res[(mode, name)]
            fb = sorted(f for f, _ in runs)
            over = sorted(f - b for (f, _), b in zip(runs, base, strict=True))
            done = statistics.median(t for _, t in runs)
            print(f"  {name:30s} first byte {statistics.median(fb):.3f} [{fb[0]:.3f}-{fb[-1]:.3f}]  "
                  f"over start-up {statistics.median(over):+.3f}  exit {done:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
