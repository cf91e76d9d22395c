"""How close each acoustic engine comes to this CPU's peak: the roofline `tts bench --acoustic` and
`tts profile` report.

The decoder's FLOPs per second of audio come from its graph's convolutions
(``acoustic/flops.py``); the peak from the ISA, cores and clock (``hardware/peak.py``). An engine's
achieved GFLOP/s = FLOPs per second of audio / its CPU seconds per second of audio; its share is
against one core's peak at the engine's precision (the engines run one thread: CPU seconds are
one core's seconds). int8 has no peak here (not estimated): its share is left out.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from tts_accel.core.acoustic.flops import DecoderFlops, decoder_flops
from tts_accel.core.acoustic.registry import ENGINES
from tts_accel.core.errors import TTSError
from tts_accel.core.hardware.peak import Peak, achieved, peak
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan.costs import isa_class
from tts_accel.core.plan.heuristics import cpu_workers


def machine_peak(hw: HardwareProfile | None = None, root: str | os.PathLike[str] = "/") -> Peak:
    """This machine's peak (``hw`` read below ``root`` when None)."""
    machine = hw or HardwareProfile.detect(root, gpus=False)
    return peak(machine, isa_class(machine.isa), cpu_workers(machine), root)


@dataclass(frozen=True)
class EngineRoof:
    engine: str
    precision: str
    cpu_per_audio_s: float  # the engine's CPU seconds per second of audio (decoder only, 1 thread)
    gflops: float | None  # achieved
    peak_gflops: float | None  # one core's peak at the engine's precision
    share: float | None  # gflops / peak_gflops

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def engine_roof(engine: str, cpu_per_audio_s: float, flops: DecoderFlops, roof: Peak) -> EngineRoof:
    precision = ENGINES[engine].precision if engine in ENGINES else "fp32"
    got = achieved(flops.per_audio_s, cpu_per_audio_s)
    top = roof.gflops(precision, cores=1) if precision in ("fp32", "bf16") else None
    share = got / top if got is not None and top else None
    return EngineRoof(engine, precision, cpu_per_audio_s, got, top, share)


def voice_flops(voice: str) -> DecoderFlops | None:
    """The decoder FLOPs per second of audio of ``voice`` (None: no separate acoustic stage, or its
    graph cannot be read or counted here)."""
    from tts_accel.core.voices.registry import family_of, resolve_voice

    try:
        support = family_of(voice).acoustic
        if support is None:
            return None
        lab = support.lab(resolve_voice(voice))
        return decoder_flops(lab.source.decoder("fp32"), lab.hop, lab.sample_rate)
    except TTSError:
        return None


def profile_roofline(
    roof: Peak, flops: DecoderFlops | None, tuned_acoustic: dict[str, Any] | None
) -> dict[str, object]:
    """`tts profile`'s roofline: the peaks, the decoder's FLOPs and, per engine `tts tune` timed
    (its decoder CPU s per second of audio), what it achieved."""
    engines = []
    quality = (tuned_acoustic or {}).get("quality", {})
    if flops is not None and isinstance(quality, dict):
        for name, row in quality.items():
            spent = row.get("decoder_per_audio_s") if isinstance(row, dict) else None
            if isinstance(spent, int | float) and spent > 0:
                engines.append(engine_roof(name, float(spent), flops, roof).to_dict())
    return {
        "peak": roof.to_dict(),
        "decoder_gflop_per_audio_s": None if flops is None else flops.gflop_per_audio_s,
        "decoder_convs": None if flops is None else flops.convs,
        "engines": engines,
    }
