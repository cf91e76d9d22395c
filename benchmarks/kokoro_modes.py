"""Kokoro-82M real-time factor per scheduling mode on this machine.

Loads one Synthesizer per mode (session creation and one warm-up run are kept out of the
timing), then times ``synthesize(text)`` for every mode in turn, ``--rounds`` times,
alternating modes so that noise from other processes spreads over all of them. Prints one
JSON row per mode: RTF min / median / max, seconds of audio, and whether the samples equal
the sequential ones. Batched is listed with the reason it cannot run.

    pip install 'tts-accel[kokoro]'; python benchmarks/kokoro_modes.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TEXTS = Path(os.environ.get("TTS_ACCEL_TEXTS", REPO.parent / "shared" / "texts"))


def plans(cpus: int):  # type: ignore[no-untyped-def]
    from tts_accel.core.plan import ExecutionPlan

    # Concurrent modes: one intra-op thread per worker, as many workers as cores (KittenTTS #147).
    workers = max(2, cpus)
    return {
        "sequential": ExecutionPlan(mode="sequential"),
        "parallel": ExecutionPlan(mode="parallel", workers=workers, intra_op_threads=1, inter_op_threads=1),
        "pipelined": ExecutionPlan(mode="pipelined", workers=workers, intra_op_threads=1, inter_op_threads=1),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voice", default="kokoro-jf_alpha")
    ap.add_argument("--lang", default=None, help="front-end language, e.g. ja (default: the voice's)")
    ap.add_argument("--text", type=Path, default=TEXTS / "paragraph.txt")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from tts_accel.core.engine import Synthesizer
    from tts_accel.core.voices.kokoro.backend import BATCH_UNSUPPORTED

    text = args.text.read_text(encoding="utf-8")
    cpus = len(os.sched_getaffinity(0))
    synths = {m: Synthesizer(args.voice, p, lang=args.lang) for m, p in plans(cpus).items()}
    for s in synths.values():
        s.backend.warmup()
    reference = synths["sequential"].synthesize(text)  # also warms the phoneme cache
    same = {m: bool(np.array_equal(s.synthesize(text), reference)) for m, s in synths.items()}
    audio_s = len(reference) / synths["sequential"].sample_rate
    times: dict[str, list[float]] = {m: [] for m in synths}
    for _ in range(args.rounds):
        for mode, synth in synths.items():
            start = time.perf_counter()
            synth.synthesize(text)
            times[mode].append(time.perf_counter() - start)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    base = {"voice": args.voice, "text": args.text.name, "audio_s": round(audio_s, 2), "cpus": cpus,
            "cpu": cpu_model(), "rounds": args.rounds, "time": stamp}  # fmt: skip
    for mode, ts in times.items():
        rtf = sorted(t / audio_s for t in ts)
        row = {**base, "mode": mode, "workers": synths[mode].plan.workers, "rtf_min": round(rtf[0], 3),
               "rtf_median": round(statistics.median(rtf), 3), "rtf_max": round(rtf[-1], 3),
               "same_samples_as_sequential": same[mode]}  # fmt: skip
        print(json.dumps(row), flush=True)
    print(json.dumps({**base, "mode": "batched", "skipped": BATCH_UNSUPPORTED}), flush=True)


if __name__ == "__main__":
    main()
