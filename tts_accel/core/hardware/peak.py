"""This CPU's peak arithmetic throughput (fp32 and bf16), from its ISA, cores and clock.

    peak FLOP/s = cores x clock (Hz) x FLOPs per cycle per core
    FLOPs per cycle per core = vector units x lanes x 2       (a fused multiply-add is 2 FLOPs)

* cores: physical cores this process may use (one per core: SMT siblings share the vector
  units), no more than the cgroup quota allows (the caller's count: ``plan.heuristics.cpu_workers``);
* clock: ``/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq`` (the highest the kernel
  reports), else ``/proc/cpuinfo``'s ``cpu MHz`` (a VM reports its nominal clock there; turbo
  may run higher, so the peak is then a lower bound of the hardware's and an upper bound of what
  a loaded host gives), else unknown (no peak);
* vector units and lanes, per ISA class (``plan.costs.isa_class``) and vendor, from the vendors'
  optimization manuals and instruction tables (uops.info): estimates, not measurements:

  ======================  ===============================  ======================================
  class                   fp32 (units x lanes x 2)         bf16
  ======================  ===============================  ======================================
  amx                     2 x 16 x 2 = 64 (AVX-512 FMA)    AMX TDPBF16PS: 16x16x32 multiply-adds
                                                           per 16 cycles = 512 x 2 = 1024
  avx512_bf16, Intel      2 x 16 x 2 = 64                  VDPBF16PS on one port: 1 x 32 x 2 = 64
                                                           (no more than fp32: measured alike on
                                                           the Xeon model 207 VM)
  avx512_bf16, AMD Zen 4  1 x 16 x 2 = 32 (two 256-bit     1 x 32 x 2 = 64
                          pipes: one 512-bit FMA a cycle)
  avx512_bf16, AMD Zen 5  2 x 16 x 2 = 64                  2 x 32 x 2 = 128
  avx512 (no bf16)        2 x 16 x 2 = 64                  none (no bf16 instructions)
  avx2 + fma              2 x 8 x 2 = 32                   none
  ARM NEON / ASIMD        2 x 4 x 2 = 16                   none
  other                   1 x 4 x 2 = 8                    none
  ======================  ===============================  ======================================

An engine's achieved GFLOP/s is its FLOPs (``acoustic/flops.py``, counted from the decoder's
convolutions) over its CPU seconds; its share of the peak is against the peak of the cores it
ran on (the acoustic engines run one thread: one core's peak).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tts_accel.core.hardware.profile import HardwareProfile, _cpuinfo_blocks, _read_int

#: AMD families: 0x19 (25) is Zen 3 and Zen 4 (Zen 4 is the one with AVX-512), 0x1a (26) Zen 5.
_ZEN5_FAMILY = 26


@dataclass(frozen=True)
class Peak:
    """Peak throughput of this CPU and how it was estimated."""

    cores: int
    ghz: float | None
    clock_source: str  # cpufreq max | /proc/cpuinfo cpu MHz | unknown
    fp32_per_cycle: int  # FLOPs per cycle per core
    bf16_per_cycle: int  # 0: no bf16 instructions
    basis: str  # the units x lanes x 2 the per-cycle figures come from

    def gflops(self, precision: str, cores: int | None = None) -> float | None:
        """Peak GFLOP/s at ``precision`` (fp32 | bf16) on ``cores`` (all when None); None when the
        clock is unknown or the CPU has no instructions for it."""
        per_cycle = self.fp32_per_cycle if precision == "fp32" else self.bf16_per_cycle
        if self.ghz is None or per_cycle == 0:
            return None
        return (self.cores if cores is None else cores) * self.ghz * per_cycle

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "fp32_gflops": self.gflops("fp32"), "bf16_gflops": self.gflops("bf16"),
                "fp32_gflops_per_core": self.gflops("fp32", 1),
                "bf16_gflops_per_core": self.gflops("bf16", 1)}  # fmt: skip

    def describe(self) -> str:
        """One line: the peaks and the formula's terms."""
        clock = f"{self.ghz:.2f} GHz ({self.clock_source})" if self.ghz else "clock unknown"
        fp32, bf16 = self.gflops("fp32"), self.gflops("bf16")
        bf16_text = "no bf16 instructions" if self.bf16_per_cycle == 0 else _g(bf16, "bf16")
        return (f"{_g(fp32, 'fp32')}, {bf16_text}: {self.cores} cores x {clock} x FLOPs per cycle "
                f"(fp32 {self.fp32_per_cycle}, bf16 {self.bf16_per_cycle}: {self.basis})")  # fmt: skip


def _g(value: float | None, what: str) -> str:
    return f"{what} {value:.0f} GFLOP/s" if value is not None else f"{what} unknown"


def _clock(root: Path) -> tuple[float | None, str]:
    khz = _read_int(root / "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if khz:
        return khz / 1e6, "cpufreq max"
    for block in _cpuinfo_blocks(root):
        try:
            mhz = float(block.get("cpu MHz", ""))
        except ValueError:
            continue
        if mhz > 0:
            return mhz / 1e3, "/proc/cpuinfo cpu MHz"
    return None, "unknown"


def _per_cycle(hw: HardwareProfile, isa: str, family: int | None) -> tuple[int, int, str]:
    amd = hw.cpu_vendor in ("AMD", "Hygon")
    if isa == "amx":
        return 64, 1024, "AVX-512: 2 FMA units x 16 lanes x 2; AMX: 16x16x32 bf16 multiply-adds per 16 cycles x 2"
    if isa == "avx512_bf16" and amd and family != _ZEN5_FAMILY:
        return 32, 64, "Zen 4: 1 x 512-bit FMA a cycle (two 256-bit pipes) x 16 lanes x 2; VDPBF16PS 32 lanes"
    if isa == "avx512_bf16":
        return 64, 64, "AVX-512: 2 FMA units x 16 lanes x 2; VDPBF16PS on one port: 1 x 32 bf16 lanes x 2"
    if isa == "avx512":
        return 64, 0, "AVX-512: 2 FMA units x 16 lanes x 2"
    if isa == "avx2":
        return 32, 0, "AVX2: 2 FMA units x 8 lanes x 2"
    if hw.has("asimd") or hw.has("neon"):
        return 16, 0, "NEON: 2 FMA units x 4 lanes x 2"
    return 8, 0, "SSE: 1 unit x 4 lanes x 2 (separate multiply and add)"


def peak(hw: HardwareProfile, isa: str, cores: int, root: str | os.PathLike[str] = "/") -> Peak:
    """The peak of ``hw`` of ISA class ``isa`` (``plan.costs.isa_class``) on ``cores`` cores, its
    clock read below ``root``."""
    ghz, source = _clock(Path(root))
    family = None
    for block in _cpuinfo_blocks(Path(root))[:1]:
        family = int(block["cpu family"]) if block.get("cpu family", "").isdigit() else None
    fp32, bf16, basis = _per_cycle(hw, isa, family)
    return Peak(cores, ghz, source, fp32, bf16, basis)


def achieved(flops_per_audio_s: float, cpu_per_audio_s: float) -> float | None:
    """GFLOP/s an engine reached: FLOPs per second of audio over its CPU seconds per second of audio."""
    return flops_per_audio_s / cpu_per_audio_s / 1e9 if cpu_per_audio_s > 0 else None
