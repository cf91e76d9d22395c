"""int8 against fp32 on the Piper voice: model speed and word error rate, measured together.

Synthesizes harvard.txt with zero noise on both graphs (sequential plans from the resolver,
no tuned profile), times the whole text ``--rounds`` times (alternated, medians), then
transcribes each sentence with Whisper tiny.en exactly as `tts verify` tier 3 does
(tts_accel.core.verify.asr) and scores it with the same function (tts_accel.core.verify.wer). int8 belongs in
``auto`` only if it is faster at equal WER.

    pip install 'tts-accel[eval]'; python benchmarks/int8_wer.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    from tts_accel.core.text.samples import texts_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--text", type=Path, default=texts_dir() / "harvard.txt")
    args = ap.parse_args()
    from tts_accel.core.errors import EvalUnavailable
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.pipeline.synthesizer import Synthesizer
    from tts_accel.core.verify.asr import default_transcriber
    from tts_accel.core.verify.data import SPEECH_ONLY
    from tts_accel.core.verify.wer import wer
    from tts_accel.core.voices.params import ZERO_NOISE

    try:
        asr = default_transcriber()
    except EvalUnavailable as err:
        sys.exit(str(err))
    text = args.text.read_text(encoding="utf-8")
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    synths = {p: Synthesizer("piper-joe", plan_for("sequential", precision=p, tuned=False)) for p in ("fp32", "int8")}
    for s in synths.values():
        s.synthesize(text, ZERO_NOISE)  # warm-up (and, the first time, building the int8 graph)
    times: dict[str, list[float]] = {p: [] for p in synths}
    for _ in range(args.rounds):
        for p, s in synths.items():
            t = time.perf_counter()
            s.synthesize(text, ZERO_NOISE)
            times[p].append(time.perf_counter() - t)
    for p, s in synths.items():
        heard = [asr.transcribe(s.synthesize(line, SPEECH_ONLY), s.sample_rate) for line in sentences]
        result = wer(sentences, heard)
        size = Path(getattr(s.backend, "graph_path", "")).stat().st_size / 2**20
        print(f"{p}: graph {size:.0f} MiB, synthesis {statistics.median(times[p]):.2f} s (median of {args.rounds}), "
              f"WER {100 * result.rate:.1f} % ({result.errors} of {result.words} words)")  # fmt: skip


if __name__ == "__main__":
    main()
