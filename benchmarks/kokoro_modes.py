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
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tts_accel.core.text.samples import texts_dir


def plans(cpus: int, voice: str):  # type: ignore[no-untyped-def]
    """Each mode's plan from the one resolver (no tuned profile), with the measured settings as
    flags; a mode the voice's family cannot run comes back as its reason."""
    from tts_accel.core.errors import ModeNotApplicable
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.plan.modes import ONNX_MODES

    # Sequential with ORT's defaults; concurrent modes: one intra-op thread per worker, as many
    # workers as cores (KittenTTS #147).
    workers = max(2, cpus)
    settings = {"sequential": {"intra_op_threads": 0, "inter_op_threads": 0}}
    found = {}
    for mode in ONNX_MODES:
        flags = settings.get(mode, {"workers": workers, "intra_op_threads": 1, "inter_op_threads": 1})
        try:
            found[mode] = plan_for(mode, voice, tuned=False, **flags)
        except ModeNotApplicable as err:
            found[mode] = str(err)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voice", default="kokoro-jf_alpha")
    ap.add_argument("--lang", default=None, help="front-end language, e.g. ja (default: the voice's)")
    ap.add_argument("--text", type=Path, default=texts_dir() / "paragraph.txt")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from tts_accel.core.hardware.profile import cpu_count, cpu_model
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    text = args.text.read_text(encoding="utf-8")
    cpus = cpu_count()
    found = plans(cpus, args.voice)
    skipped = {m: p for m, p in found.items() if isinstance(p, str)}
    synths = {m: Synthesizer(args.voice, p, lang=args.lang) for m, p in found.items() if m not in skipped}
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
    for mode, reason in skipped.items():
        print(json.dumps({**base, "mode": mode, "skipped": reason}), flush=True)


if __name__ == "__main__":
    main()
