"""What a plan's fields default to on this machine, and a profile's values made concrete for it:
workers per usable performance core, P-cores-first affinity, symbolic preset values sized to
the hardware."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tts_accel.core.errors import InputError
from tts_accel.core.hardware.profile import parse_cpu_list
from tts_accel.core.plan.modes import backend_of, spec

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.hardware.profile import HardwareProfile

#: Upper bound on workers, threads and batch size: more is a typo, not a plan.
MAX_COUNT = 1024


def cpu_workers(hw: HardwareProfile) -> int:
    """One per usable physical performance core, no more than the cgroup quota allows."""
    cores = len(hw.performance_core_cpus()) or len(hw.usable_cpus) or 1
    return max(1, min(cores, hw.effective_cpus))


def _performance_affinity(hw: HardwareProfile) -> tuple[int, ...]:
    first = hw.performance_core_cpus()
    return first + tuple(c for c in hw.usable_performance_cpus if c not in first)


def heuristics(hw: HardwareProfile, mode: str) -> dict[str, object]:
    """Measured on the 2-core EPYC VM (Piper joe, 33 s of audio): ORT defaults 1.42 s; 2 workers
    sharing one session with 1 intra-op thread each 1.33 s; batch 2 no gain, batch 8 0.79x;
    int8 1.3x faster but at a worse WER (docs/benchmarks.md)."""
    if backend_of(mode) == "torch":
        return {"device": "cuda" if hw.gpus else "cpu", "workers": 1, "batch_size": 1, "precision": "fp32"}
    n = cpu_workers(hw)
    schedule = spec(mode).schedule
    concurrent = schedule in ("parallel", "pipelined")
    found: dict[str, object] = {
        "device": "cpu",
        "precision": "fp32",
        "workers": n if concurrent else 1,
        # concurrent: 1 thread per worker; otherwise the run gets every usable core, said
        # explicitly so ORT neither exceeds a cgroup quota nor spreads onto efficiency cores
        "intra_op_threads": 1 if concurrent else n,
        "batch_size": 2 if schedule == "batched" else 1,
    }
    if hw.efficiency_cpus and hw.usable_performance_cpus:
        found["affinity"] = _performance_affinity(hw)
    return found


def concrete(layer: Mapping[str, object], hw: HardwareProfile, source: str) -> dict[str, object]:
    """Profile values as plan values: lists become tuples; presets' symbolic values
    ("performance-cores" workers, "performance" / "all" / "none" affinity) are sized to ``hw``."""
    out: dict[str, object] = {}
    for name, value in layer.items():
        if name == "affinity":
            value = _affinity(value, hw, source)
        elif name in ("workers", "intra_op_threads", "inter_op_threads", "batch_size"):
            if value == "performance-cores":
                value = cpu_workers(hw)
            elif isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"{name} = {value!r} ({source}): use a whole number.")
            least = 1 if name in ("workers", "batch_size") else 0
            if value < least or value > MAX_COUNT:
                raise InputError(f"{name} = {value} ({source}): use a whole number from {least} to {MAX_COUNT}.")
        out[name] = value
    return out


def _affinity(value: object, hw: HardwareProfile, source: str) -> tuple[int, ...]:
    if value == "performance":
        return _performance_affinity(hw)
    if value == "all":
        return hw.usable_cpus
    if value in ("none", ""):
        return ()
    if isinstance(value, str):
        try:
            return parse_cpu_list(value)
        except ValueError:
            pass
    elif isinstance(value, list | tuple) and all(isinstance(c, int) and c >= 0 for c in value):
        return tuple(value)
    raise InputError(f"affinity = {value!r} ({source}): use CPU numbers such as 0-3,6, or performance/all/none.")
