"""Does batching utterances of matched length pay in `tts batch`? Model time only, one worker.

The corpus's sentences are phonemized, sorted by id length (so each batch pads little), and
run through the voice's ONNX graph one at a time (B=1) or B at a time in one padded run, with
the thread count one batch worker would get. The contenders take turns, ``--rounds`` times.

    python benchmarks/batch_grouping.py --rounds 3 --threads 1

Measured here (docs/batch.md): B=2, 4 and 8 were all slower than B=1, so `tts batch` runs one
utterance at a time per worker and spends its cores on workers instead.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "benchmarks" / "corpus.txt")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--every", type=int, default=2, help="use every Nth sentence (after sorting by length)")
    args = ap.parse_args()
    from tts_accel.core.plan.model import ExecutionPlan
    from tts_accel.core.voices import resolve_voice
    from tts_accel.core.voices.params import SynthParams

    voice = resolve_voice("piper-joe")
    lines = [ln.strip() for ln in args.corpus.read_text(encoding="utf-8").splitlines() if ln.strip()]
    ids = sorted((voice.encode(line) for line in lines), key=len)[:: args.every]
    params = voice.resolve(SynthParams(noise_scale=0.0, noise_w=0.0))
    single = voice.create_backend(ExecutionPlan(mode="sequential", intra_op_threads=args.threads))
    batched = voice.create_backend(ExecutionPlan(mode="batched", batch_size=8, intra_op_threads=args.threads))
    single.warmup()
    batched.warmup()
    sizes = [int(s) for s in args.sizes.split(",")]

    def run(size: int) -> float:
        start = time.perf_counter()
        if size == 1:
            for seq in ids:
                single.infer(seq, params)
        else:
            for k in range(0, len(ids), size):
                batched.infer_batch(ids[k : k + size], params)
        return time.perf_counter() - start

    times: dict[int, list[float]] = {s: [] for s in sizes}
    for _ in range(args.rounds):
        for size in sizes:
            times[size].append(run(size))
    base = statistics.median(times[sizes[0]])
    print(f"{len(ids)} sentences sorted by length, {args.threads} thread(s), {args.rounds} alternated rounds")
    for size, ts in times.items():
        med = statistics.median(ts)
        print(f"B={size}: {med:.2f} s (min {min(ts):.2f}, max {max(ts):.2f}), {base / med:.2f}x B={sizes[0]}")


if __name__ == "__main__":
    main()
