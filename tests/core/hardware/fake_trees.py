"""Fake /proc and /sys trees for three machines HardwareProfile.detect must understand."""

from __future__ import annotations

from pathlib import Path

MIB_KB = 1024


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


def _cpu_files(cpu: int, core_id: int, package: int = 0) -> dict[str, str]:
    topo = f"sys/devices/system/cpu/cpu{cpu}/topology"
    return {f"{topo}/core_id": str(core_id), f"{topo}/physical_package_id": str(package)}


def _caches(sizes: list[tuple[int, str, str]]) -> dict[str, str]:
    files = {}
    for i, (level, kind, size) in enumerate(sizes):
        base = f"sys/devices/system/cpu/cpu0/cache/index{i}"
        files.update({f"{base}/level": str(level), f"{base}/type": kind, f"{base}/size": size})
    return files


def _x86_cpuinfo(n: int, vendor: str, model: str, flags: str, cores: int) -> str:
    blocks = [
        f"processor\t: {i}\nvendor_id\t: {vendor}\nmodel name\t: {model}\nphysical id\t: 0\n"
        f"core id\t\t: {i}\ncpu cores\t: {cores}\nflags\t\t: {flags}\n"
        for i in range(n)
    ]
    return "\n".join(blocks)


def intel_hybrid(root: Path) -> Path:
    """i5-13600K: 6 P-cores with Hyper-Threading (CPUs 0-11) + 8 E-cores (12-19), AVX2, no AVX-512."""
    flags = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 avx_vnni sha_ni"
    files = {
        "proc/cpuinfo": _x86_cpuinfo(20, "GenuineIntel", "13th Gen Intel(R) Core(TM) i5-13600K", flags, 14),
        "proc/meminfo": f"MemTotal:       {32 * 1024 * MIB_KB} kB\nMemFree:        1000 kB",
        "sys/devices/system/cpu/online": "0-19",
        "sys/devices/cpu_core/cpus": "0-11",
        "sys/devices/cpu_atom/cpus": "12-19",
        "sys/fs/cgroup/cpu.max": "max 100000",
        "proc/self/cgroup": "0::/",
    }
    for cpu in range(20):
        files.update(_cpu_files(cpu, core_id=cpu // 2 * 4 if cpu < 12 else 100 + cpu))
        # favoured P-cores turbo to 5.3 GHz, others to 5.1; E-cores 3.9: ignored, cpu_core wins
        freq = 3900000 if cpu >= 12 else (5300000 if cpu < 4 else 5100000)
        files[f"sys/devices/system/cpu/cpu{cpu}/cpufreq/cpuinfo_max_freq"] = str(freq)
    files.update(_caches([(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "2048K"),
                          (3, "Unified", "24576K")]))  # fmt: skip
    return write_tree(root, files)


def arm_big_little(root: Path, *, capacity: bool = True) -> Path:
    """An 8-core board: 4 little Cortex-A55 (CPUs 0-3) + 4 big Cortex-A76 (4-7), no model name,
    no cache sysfs, cgroup v1 without a quota. ``capacity=False`` leaves only cpufreq."""
    features = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm asimddp"
    blocks = []
    files: dict[str, str] = {}
    for cpu in range(8):
        big = cpu >= 4
        blocks.append(
            f"processor\t: {cpu}\nBogoMIPS\t: 48.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
            f"CPU architecture: 8\nCPU part\t: {'0xd0b' if big else '0xd05'}\n"
        )
        files.update(_cpu_files(cpu, core_id=cpu))
        if capacity:
            files[f"sys/devices/system/cpu/cpu{cpu}/cpu_capacity"] = "1024" if big else "446"
        files[f"sys/devices/system/cpu/cpu{cpu}/cpufreq/cpuinfo_max_freq"] = "2400000" if big else "1800000"
    files.update({
        "proc/cpuinfo": "\n".join(blocks),
        "proc/meminfo": f"MemTotal:        {8 * 1024 * MIB_KB} kB",
        "sys/devices/system/cpu/online": "0-7",
        "proc/self/cgroup": "2:cpu,cpuacct:/\n0::/",
        "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1",
        "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
    })  # fmt: skip
    return write_tree(root, files)


def epyc_vm(root: Path, *, cpu_max: str = "200000 100000", cpus: int = 2) -> Path:
    """The dev VM: AMD EPYC, 2 vCPUs, AVX2 + AVX-512, a cgroup v2 quota (cpu.max)."""
    flags = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx avx2 avx512f avx512_vnni avx512_bf16 hypervisor"
    files = {
        "proc/cpuinfo": _x86_cpuinfo(cpus, "AuthenticAMD", "AMD EPYC", flags, cpus),
        "proc/meminfo": f"MemTotal:       {24105 * MIB_KB} kB",
        "sys/devices/system/cpu/online": "0" if cpus == 1 else f"0-{cpus - 1}",
        "sys/fs/cgroup/cpu.max": cpu_max,
        "proc/self/cgroup": "0::/",
    }
    for cpu in range(cpus):
        files.update(_cpu_files(cpu, core_id=cpu))
        files[f"sys/devices/system/cpu/cpu{cpu}/cpu_capacity"] = "1024"
    files.update(_caches([(1, "Data", "32K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
                          (3, "Unified", "32768K")]))  # fmt: skip
    return write_tree(root, files)
