"""`tts bench --acoustic`: the acoustic stage's engines side by side, speed beside quality.

Every engine renders the same latents (the texts' chunks through the voice's own graph, zero
noise) window by window as a stream does, with one OpenMP / ONNX Runtime thread; engines take
turns within each repeat so a shared machine's noise falls on all of them alike. Speed is the
engine's own CPU time (its windows run on the calling thread) and wall time, medians over
repeats; loading and compiling are measured once and reported apart. Quality is the tier-2
reference measures against the fp32 whole-graph audio of the same latents (SNR, MCD at 16 kHz,
PESQ-WB with the ``pesq`` package) and the same-voice verdict (docs/verify.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tts_accel.core.acoustic.registry import CLI_CHOICES, ENGINES, REFERENCE
from tts_accel.core.errors import InputError, ModeNotApplicable, TTSError
from tts_accel.core.hardware.profile import machine_label
from tts_accel.core.versions import versions_label
from tts_accel.core.voices.registry import family_of, resolve_voice


@dataclass
class AcousticRow:
    engine: str
    text: str
    audio_s: float
    cpu_s: float  # median CPU seconds of the engine over the text's windows
    wall_s: float  # median wall seconds of the same
    rtf: float  # wall seconds per second of audio
    speedup: float | None  # ort-fp32's median CPU time / this engine's, same text, same run
    speedup_wall: float | None
    load_s: float  # creating the engine and loading its shapes (compiled: packages), once
    compile_s: float  # CPU seconds spent compiling window shapes in this run (0: cache warm)
    snr_db: float
    snr_worst_db: float
    mcd16_db: float
    pesq_wb: float | None
    same_voice: bool
    verdict: str
    machine: str
    versions: str
    timestamp: str
    # the roofline (core/bench/roofline.py): the decoder's FLOPs over this engine's CPU seconds,
    # against one core's peak at its precision; the machine's peaks (all usable cores) beside it
    gflops: float | None = None
    peak_gflops: float | None = None  # one core, the engine's precision
    peak_share: float | None = None
    decoder_gflop_per_audio_s: float | None = None
    peak_fp32_gflops: float | None = None
    peak_bf16_gflops: float | None = None


def parse_engines(spec: str, voice: str) -> list[str]:
    """``all`` or a comma list of acoustic engines; ort-fp32 (the reference) always runs first."""
    support = family_of(voice).acoustic
    if support is None:
        raise ModeNotApplicable(f"voice {voice!r} has no separate acoustic stage: --acoustic does not apply.")
    names = list(support.engines) if spec.strip() == "all" else [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        if name not in ENGINES:
            raise InputError(f"unknown acoustic engine {name!r}: use all, or of {', '.join(CLI_CHOICES[1:])}.")
        if name not in support.engines:
            raise ModeNotApplicable(f"acoustic engine {name} is not available for {voice}.")
    if len(set(names)) != len(names):
        raise InputError("an acoustic engine is listed twice in --acoustic.")
    return [REFERENCE, *[n for n in names if n != REFERENCE]]


def unavailable(name: str, isa: str) -> str:
    """Why acoustic engine ``name`` cannot run on this machine (``isa``: its ``costs.isa_class``),
    or "" when it can."""
    from tts_accel.core.hardware.gpu import torch_available
    from tts_accel.core.plan.costs import BF16_ISAS

    spec = ENGINES[name]
    if spec.runtime == "torch" and not torch_available():
        return "torch is not installed: pip install 'tts-accel[torch]'"
    if spec.precision == "bf16" and isa not in BF16_ISAS:
        return f"this CPU ({isa}) has no bf16 instructions: bf16 would run ~380x slower than fp32"
    return ""


def load_engines(
    lab: Any,
    names: Sequence[str],
    on_step: Callable[[str], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> dict[str, tuple[Any, float, float]]:
    """Engine -> (the loaded engine, seconds to load it, CPU seconds spent compiling its window
    shapes in this run) for each of ``names`` that loads; one that fails goes to ``on_skip``."""
    loaded: dict[str, tuple[Any, float, float]] = {}
    for name in names:
        if on_step:
            compiled = ENGINES[name].compiled
            on_step(f"loading {name}" + (" (compiles missing window shapes once)" if compiled else ""))
        t0 = time.perf_counter()
        try:
            engine = lab.engine(name)
            getattr(engine, "load", lambda: None)()
        except TTSError as err:
            if on_skip:
                on_skip(name, str(err))
            continue
        store = getattr(engine, "store", None)
        loaded[name] = (engine, time.perf_counter() - t0, getattr(store, "compile_s", 0.0))
    return loaded


def run_acoustic_bench(
    engines: Sequence[str],
    texts: dict[str, str],
    repeats: int = 3,
    voice: str = "piper-joe",
    on_step: Callable[[str], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    pesq: bool = True,
) -> list[AcousticRow]:
    """Rows per (engine, text). An engine that cannot run here (no torch, no bf16 instructions)
    is reported through ``on_skip(engine, reason)`` and left out."""
    from tts_accel.core.hardware.profile import HardwareProfile
    from tts_accel.core.plan.costs import isa_class
    from tts_accel.core.verify.quality import measure, same_voice

    if repeats < 1:
        raise InputError("--repeats must be at least 1.")
    support = family_of(voice).acoustic
    assert support is not None  # parse_engines refused the others
    lab = support.lab(resolve_voice(voice))
    isa = isa_class(HardwareProfile.detect(gpus=False).isa)
    for name in engines:
        why = unavailable(name, isa)
        if why and on_skip:
            on_skip(name, why)
    loaded = load_engines(lab, [n for n in engines if not unavailable(n, isa)], on_step, on_skip)
    if REFERENCE not in loaded:
        raise InputError("the ort-fp32 reference engine could not run: see the reasons above.")
    from tts_accel.core.acoustic.flops import decoder_flops
    from tts_accel.core.bench.roofline import engine_roof, machine_peak

    flops = decoder_flops(lab.source.decoder("fp32"), lab.hop, lab.sample_rate)
    roof = machine_peak()
    rows = []
    stamp, machine, versions = time.strftime("%Y-%m-%dT%H:%M:%S%z"), machine_label(), versions_label()
    for text_name, text in texts.items():
        utts = lab.utterances([text])
        refs = [u.audio for u in utts]
        audio_s = sum(r.size for r in refs) / lab.sample_rate
        for engine, *_ in loaded.values():  # first calls of every shape, not measured
            lab.render(engine, utts[:2])
        cpu: dict[str, list[float]] = {n: [] for n in loaded}
        wall: dict[str, list[float]] = {n: [] for n in loaded}
        outs: dict[str, list[np.ndarray]] = {}
        for _ in range(repeats):
            for name, (engine, _, _) in loaded.items():  # engines take turns
                if on_step:
                    on_step(f"{text_name}: {name}")
                t0 = time.perf_counter()
                outs[name], spent = lab.render(engine, utts)
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(spent)
        base_cpu, base_wall = float(np.median(cpu[REFERENCE])), float(np.median(wall[REFERENCE]))
        for name, (_, load_s, compile_s) in loaded.items():
            q = measure(refs, outs[name], lab.sample_rate, pesq=pesq)
            ok, why = same_voice(q)
            c, w = float(np.median(cpu[name])), float(np.median(wall[name]))
            reach = engine_roof(name, c / audio_s, flops, roof)
            rows.append(AcousticRow(
                engine=name, text=text_name, audio_s=audio_s, cpu_s=c, wall_s=w, rtf=w / audio_s,
                speedup=base_cpu / c if c else None, speedup_wall=base_wall / w if w else None,
                load_s=load_s, compile_s=compile_s, snr_db=q.snr_db, snr_worst_db=q.snr_worst_db,
                mcd16_db=q.mcd16_db, pesq_wb=q.pesq_wb, same_voice=ok, verdict=why,
                machine=machine, versions=versions, timestamp=stamp, gflops=reach.gflops,
                peak_gflops=reach.peak_gflops, peak_share=reach.share,
                decoder_gflop_per_audio_s=flops.gflop_per_audio_s,
                peak_fp32_gflops=roof.gflops("fp32"), peak_bf16_gflops=roof.gflops("bf16"),
            ))  # fmt: skip
    return rows
