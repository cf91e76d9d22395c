"""HardwareProfile: what this machine offers, read from /proc and /sys below a root.

Reading below a root lets tests describe a hybrid Intel desktop, an ARM big.LITTLE board
and a 2-core VM as small fake trees.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from tts_accel.core.hardware.gpu import GPUInfo, probe_gpus

#: The instruction-set flags that change which kernels ONNX Runtime and torch pick.
ISA_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "neon", "asimd",
)  # fmt: skip

# Cores split into two classes at the widest gap between their capacities (or top clocks)
# when that gap is at least this ratio. 1.2 splits ARM little cores (1024/446 = 2.3; 2.4 vs
# 1.8 GHz = 1.33 on an RK3588) and Intel E-cores (5.1 vs 3.9 GHz = 1.31 on the i5-13600K)
# but keeps Intel's "favoured" P-cores (5.3 vs 5.1 GHz = 1.04) in one class.
CLASS_GAP = 1.2

_ARM_IMPLEMENTERS = {
    "0x41": "ARM", "0x42": "Broadcom", "0x43": "Cavium", "0x48": "HiSilicon", "0x4e": "NVIDIA",
    "0x51": "Qualcomm", "0x53": "Samsung", "0x61": "Apple", "0xc0": "Ampere",
}  # fmt: skip
_X86_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "HygonGenuine": "Hygon"}


@dataclass(frozen=True)
class Cache:
    level: int
    kind: str  # Data | Instruction | Unified
    size_kib: int


@dataclass(frozen=True)
class HardwareProfile:
    cpu_model: str
    cpu_vendor: str
    logical_cores: int
    physical_cores: int
    #: logical CPUs of each physical core, e.g. ((0, 1), (2, 3)) with SMT
    cores: tuple[tuple[int, ...], ...]
    performance_cpus: tuple[int, ...]
    efficiency_cpus: tuple[int, ...]
    #: uniform | hybrid (Intel cpu_core/cpu_atom) | big.little (cpu_capacity) | cpufreq
    core_layout: str
    isa: tuple[str, ...]
    caches: tuple[Cache, ...]
    memory_mib: int
    #: CPUs granted by the cgroup CPU quota, None when unlimited
    cpu_quota: float | None
    #: logical CPUs this process may run on (sched_getaffinity)
    usable_cpus: tuple[int, ...]
    gpus: tuple[GPUInfo, ...] = field(default=())

    @classmethod
    def detect(cls, root: str | os.PathLike[str] = "/", *, gpus: bool = True) -> HardwareProfile:
        """Read the machine below ``root``; ``gpus=False`` skips GPU probing (fake roots)."""
        return _detect(Path(root), probe=gpus)

    @property
    def effective_cpus(self) -> int:
        """How many CPUs' worth of work can run at once: affinity, capped by the cgroup quota.
        The quota is rounded down: CFS stalls the whole group for the rest of the period once
        it overshoots, so a third worker on 2.5 CPUs costs more than it brings."""
        n = len(self.usable_cpus) or self.logical_cores
        if self.cpu_quota is not None:
            n = min(n, math.floor(self.cpu_quota + 1e-6))
        return max(1, n)

    @property
    def usable_performance_cpus(self) -> tuple[int, ...]:
        usable = set(self.usable_cpus)
        return tuple(c for c in self.performance_cpus if c in usable)

    def performance_core_cpus(self) -> tuple[int, ...]:
        """One usable logical CPU per physical performance core (its first SMT thread):
        one ORT thread per physical core, as ORT's own default does."""
        perf = set(self.usable_performance_cpus)
        return tuple(min(c for c in core if c in perf) for core in self.cores if perf.intersection(core))

    def has(self, flag: str) -> bool:
        return flag in self.isa

    def fingerprint(self) -> str:
        """A short stable hash of what decides performance; keys tuned profiles."""
        key = {
            "cpu": self.cpu_model,
            "logical": self.logical_cores,
            "physical": self.physical_cores,
            "p": list(self.performance_cpus),
            "e": list(self.efficiency_cpus),
            "isa": sorted(self.isa),
            "gpus": sorted(g.name for g in self.gpus),
            "cpus": self.effective_cpus,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["effective_cpus"] = self.effective_cpus
        data["fingerprint"] = self.fingerprint()
        for gpu_data, gpu in zip(data["gpus"], self.gpus, strict=True):
            gpu_data["architecture"] = gpu.architecture
            gpu_data["sm"] = gpu.sm
        return data


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """Kernel CPU lists such as ``0-3,8,10-11``."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return tuple(sorted(set(cpus)))


def format_cpu_list(cpus: tuple[int, ...] | list[int]) -> str:
    """The inverse of parse_cpu_list: (0, 1, 2, 3, 8) -> ``0-3,8``."""
    runs: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _this_cpuinfo() -> str:
    """/proc/cpuinfo of this machine, read once per process (it does not change)."""
    return _read(Path("/proc/cpuinfo")) or ""


def _cpuinfo(root: Path) -> str:
    return _this_cpuinfo() if Path(root).resolve() == Path("/") else (_read(root / "proc/cpuinfo") or "")


def _cpuinfo_blocks(root: Path) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = [{}]
    for line in _cpuinfo(root).splitlines():
        if not line.strip():
            blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if sep:
            blocks[-1].setdefault(key.strip(), value.strip())
    return [b for b in blocks if b]


def _model_and_vendor(blocks: list[dict[str, str]]) -> tuple[str, str]:
    info: dict[str, str] = {}
    for block in blocks:  # ARM puts "Hardware"/"Model" in a trailing block of its own
        for key, value in block.items():
            info.setdefault(key, value)
    vendor = _X86_VENDORS.get(info.get("vendor_id", ""), info.get("vendor_id", ""))
    if not vendor:
        vendor = _ARM_IMPLEMENTERS.get(info.get("CPU implementer", "").lower(), "")
    model = info.get("model name") or info.get("Model") or info.get("Hardware") or info.get("cpu model", "")
    if not model and "CPU part" in info:
        model = f"{vendor or 'ARM'} part {info['CPU part']}"
    return model or "unknown", vendor or "unknown"


def _isa(blocks: list[dict[str, str]]) -> tuple[str, ...]:
    words: set[str] = set()
    for block in blocks[:1]:  # every core reports the same flags
        words.update((block.get("flags") or block.get("Features") or "").split())
    return tuple(f for f in ISA_FLAGS if f in words)


def _online_cpus(root: Path, blocks: list[dict[str, str]]) -> tuple[int, ...]:
    cpu_dir = root / "sys/devices/system/cpu"
    online = _read(cpu_dir / "online")
    if online:
        return parse_cpu_list(online)
    found = sorted(int(p.name[3:]) for p in cpu_dir.glob("cpu[0-9]*") if p.name[3:].isdigit())
    if found:
        return tuple(found)
    ids = [int(b["processor"]) for b in blocks if b.get("processor", "").isdigit()]
    return tuple(sorted(ids)) or tuple(range(os.cpu_count() or 1))


def _cores(root: Path, cpus: tuple[int, ...], blocks: list[dict[str, str]]) -> tuple[tuple[int, ...], ...]:
    groups: dict[tuple[int, int], list[int]] = {}
    by_proc = {b.get("processor"): b for b in blocks}
    for cpu in cpus:
        topo = root / f"sys/devices/system/cpu/cpu{cpu}/topology"
        core_id = _read_int(topo / "core_id")
        package = _read_int(topo / "physical_package_id")
        if core_id is None:  # no sysfs topology: cpuinfo's core id, else one core per CPU
            block = by_proc.get(str(cpu), {})
            core_id = int(block["core id"]) if block.get("core id", "").isdigit() else cpu
            package = int(block["physical id"]) if block.get("physical id", "").isdigit() else 0
        groups.setdefault((package or 0, core_id), []).append(cpu)
    return tuple(sorted(tuple(sorted(g)) for g in groups.values()))


def _split_by_value(values: dict[int, int]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(performance, efficiency) split at the widest ratio between distinct values, or None."""
    levels = sorted({v for v in values.values() if v > 0})
    if len(levels) < 2:
        return None
    ratio, cut = max((hi / lo, hi) for lo, hi in zip(levels, levels[1:], strict=False))
    if ratio < CLASS_GAP:
        return None
    perf = tuple(sorted(c for c, v in values.items() if v >= cut))
    return perf, tuple(sorted(c for c in values if c not in perf))


def _core_classes(root: Path, cpus: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    devices = root / "sys/devices"
    p_text, e_text = _read(devices / "cpu_core/cpus"), _read(devices / "cpu_atom/cpus")
    if p_text and e_text:
        online = set(cpus)
        perf = tuple(c for c in parse_cpu_list(p_text) if c in online)
        eff = tuple(c for c in parse_cpu_list(e_text) if c in online)
        return perf, eff, "hybrid"
    cpu_dir = devices / "system/cpu"
    for layout, rel in (("big.little", "cpu_capacity"), ("cpufreq", "cpufreq/cpuinfo_max_freq")):
        values = {c: v for c in cpus if (v := _read_int(cpu_dir / f"cpu{c}/{rel}")) is not None}
        split = _split_by_value(values)
        if split:
            return split[0], split[1], layout
    return cpus, (), "uniform"


def _caches(root: Path, cpu: int) -> tuple[Cache, ...]:
    """The caches of ``cpu`` (a performance core: on ARM cpu0 is usually a little one), else cpu0's."""
    folder = root / f"sys/devices/system/cpu/cpu{cpu}/cache"
    if not folder.is_dir():
        folder = root / "sys/devices/system/cpu/cpu0/cache"
    found = []
    for index in sorted(folder.glob("index[0-9]*")):
        level, size = _read_int(index / "level"), _read(index / "size")
        match = re.fullmatch(r"(\d+)\s*([KMG]?)", size or "")
        if level is None or not match:
            continue
        scale = {"": 1 / 1024, "K": 1, "M": 1024, "G": 1024 * 1024}[match.group(2)]
        found.append(Cache(level, _read(index / "type") or "Unified", int(int(match.group(1)) * scale)))
    return tuple(found)


def _memory_mib(root: Path) -> int:
    for line in (_read(root / "proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def _cgroup_dirs(root: Path, controller: str) -> list[Path]:
    """The process's own cgroup first (from /proc/self/cgroup), then the mount's root."""
    base = root / "sys/fs/cgroup"
    dirs = []
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if (controller == "" and controllers == "") or controller in controllers.split(","):
            dirs.append(base / path.lstrip("/") if controller == "" else base / controller / path.lstrip("/"))
    dirs += [base] if controller == "" else [base / controller, base / "cpu,cpuacct"]
    return dirs


def _cpu_quota(root: Path) -> float | None:
    for d in _cgroup_dirs(root, ""):  # cgroup v2: "max 100000" or "200000 100000"
        text = _read(d / "cpu.max")
        if text:
            quota, _, period = text.partition(" ")
            if quota == "max":
                return None
            try:
                return int(quota) / int(period or 100000)
            except (ValueError, ZeroDivisionError):
                return None
    for d in _cgroup_dirs(root, "cpu"):  # cgroup v1: quota -1 means unlimited
        quota_us, period_us = _read_int(d / "cpu.cfs_quota_us"), _read_int(d / "cpu.cfs_period_us")
        if quota_us is not None and period_us:
            return None if quota_us < 0 else quota_us / period_us
    return None


def _usable(root: Path, online: tuple[int, ...]) -> tuple[int, ...]:
    if Path(root).resolve() == Path("/") and hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    return online  # a fake root describes another machine: this process's affinity is not its


def _detect(root: Path, *, probe: bool) -> HardwareProfile:
    blocks = _cpuinfo_blocks(root)
    online = _online_cpus(root, blocks)
    model, vendor = _model_and_vendor(blocks)
    cores = _cores(root, online, blocks)
    perf, eff, layout = _core_classes(root, online)
    return HardwareProfile(
        cpu_model=model,
        cpu_vendor=vendor,
        logical_cores=len(online),
        physical_cores=len(cores),
        cores=cores,
        performance_cpus=perf,
        efficiency_cpus=eff,
        core_layout=layout,
        isa=_isa(blocks),
        caches=_caches(root, perf[0] if perf else 0),
        memory_mib=_memory_mib(root),
        cpu_quota=_cpu_quota(root),
        usable_cpus=_usable(root, online),
        gpus=probe_gpus() if probe else (),
    )


@lru_cache(maxsize=1)
def this_machine() -> HardwareProfile:
    """This machine, detected once per process (cache keys and labels; plans detect afresh)."""
    return HardwareProfile.detect()


def cpu_count() -> int:
    """Logical CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def cpu_model() -> str:
    """This machine's CPU model name (from /proc/cpuinfo, read once), else the platform's."""
    model, _ = _model_and_vendor(_cpuinfo_blocks(Path("/")))
    return model if model != "unknown" else (platform.processor() or platform.machine())


def machine_label() -> str:
    """``CPU model, N CPUs, OS``: the machine column of bench rows."""
    return f"{cpu_model()}, {cpu_count()} CPUs, {platform.system()}"
