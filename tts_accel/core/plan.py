"""ExecutionPlan: how the model stage runs on this machine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from tts_accel.core.errors import InputError
from tts_accel.core.hardware import format_cpu_list, parse_cpu_list

if TYPE_CHECKING:
    from tts_accel.core.hardware import HardwareProfile
    from tts_accel.profiles.store import Profile

#: Scheduling modes: how chunks are fed to the backend.
SCHEDULING_MODES = ("sequential", "parallel", "batched", "pipelined")


@dataclass(frozen=True)
class ExecutionPlan:
    mode: str = "sequential"
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (one per physical core)
    inter_op_threads: int = 0
    ort_execution_mode: str = "sequential"  # ORT ExecutionMode: sequential | parallel
    graph_optimization: str = "all"  # disable | basic | extended | all
    workers: int = 1  # concurrent model runs (parallel / pipelined)
    batch_size: int = 1  # chunks per model run (batched)
    affinity: tuple[int, ...] = ()  # logical CPUs to pin to, performance cores first
    precision: str = "fp32"  # fp32 | int8 (ONNX); fp32 | fp16 | bf16 (torch)
    backend: str = "onnx"  # onnx | torch
    device: str = "cpu"
    #: where each field's value came from: flag | tuned | preset | heuristic | default
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.workers < 1 or self.batch_size < 1:
            raise InputError("workers and batch size must be at least 1.")
        if self.intra_op_threads < 0 or self.inter_op_threads < 0:
            raise InputError("thread counts cannot be negative: use 0 for the runtime's default.")

    def with_(self, **changes: object) -> ExecutionPlan:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "sources"]


# --- resolution: flag > tuned profile > shipped preset > heuristic > default -------------

#: Modes of the torch backend; the ONNX backend's are SCHEDULING_MODES.
TORCH_MODES = ("torch", "triton", "graph", "hybrid", "compile")
#: Every --mode value the CLI accepts; "auto" lets resolve_plan choose.
CLI_MODES = ("auto", *SCHEDULING_MODES, *TORCH_MODES)
PRECISIONS = {"onnx": ("fp32", "int8"), "torch": ("fp32", "fp16", "bf16")}
#: Fields whose value was chosen for one mode: a profile's value is used only when the
#: resolved mode is the profile's own (4 single-threaded workers make no sense sequentially).
MODE_BOUND = ("workers", "intra_op_threads", "inter_op_threads", "batch_size", "affinity", "device", "precision")
#: Upper bound on workers, threads and batch size: more is a typo, not a plan.
MAX_COUNT = 1024
#: Voice families with a torch port (torch_vits.py ports the VITS graph Piper voices use).
TORCH_FAMILIES = ("piper",)


def backend_of(mode: str) -> str:
    return "torch" if mode in TORCH_MODES else "onnx"


def resolve_plan(
    flags: Mapping[str, object],
    hw: HardwareProfile,
    *,
    tuned: Profile | None,
    preset: Profile | None,
    voice_family: str = "piper",
    torch_available: bool | None = None,
) -> ExecutionPlan:
    """The plan for this run. Each field comes from the first of: a command-line flag (None and
    mode "auto" mean not given), this machine's tuned profile, the shipped preset, a heuristic
    from the hardware, the dataclass default; ``plan.sources`` records which."""
    has_torch = _torch_importable() if torch_available is None else torch_available
    given = {k: v for k, v in flags.items() if v is not None and not (k == "mode" and v == "auto")}
    unknown = sorted(set(given) - set(ExecutionPlan.field_names()))
    if unknown:
        raise InputError(f"unknown plan settings {unknown}: use {', '.join(ExecutionPlan.field_names())}.")
    layers = [("flag", _concrete(given, hw, "the command line"))]
    for source, profile in (("tuned", tuned), ("preset", preset)):
        if profile is not None:
            layers.append((source, _concrete(profile.plan, hw, f"profile {profile.name!r}")))

    mode, mode_source = _resolve_mode(layers, hw, has_torch, voice_family)
    backend = backend_of(mode)
    if given.get("backend", backend) != backend:
        raise InputError(f"--mode {mode} runs on the {backend} backend, not {given['backend']}: drop one.")
    if backend == "torch" and not has_torch:
        raise InputError(f"mode {mode!r} needs torch: pip install 'tts-accel[torch]', or use --mode auto.")
    heuristic = _heuristics(hw, mode)
    values: dict[str, object] = {"mode": mode, "backend": backend}
    sources = {"mode": mode_source, "backend": "flag" if "backend" in given else mode_source}
    for name in ExecutionPlan.field_names():
        if name in values:
            continue
        for source, layer in layers:
            usable = source == "flag" or name not in MODE_BOUND or layer.get("mode", mode) == mode
            if name in layer and usable:
                values[name], sources[name] = layer[name], source
                break
        else:
            if name in heuristic:
                values[name], sources[name] = heuristic[name], "heuristic"
            else:
                sources[name] = "default"
    precision = values.get("precision", "fp32")
    if precision not in PRECISIONS[backend]:
        raise InputError(
            f"precision {precision!r} ({sources['precision']}) is not available on the {backend} backend: "
            f"use {' or '.join(PRECISIONS[backend])}."
        )
    return ExecutionPlan(**values, sources=sources)  # type: ignore[arg-type]


def resolve_for_machine(
    flags: Mapping[str, object],
    *,
    voice_family: str = "piper",
    hw: HardwareProfile | None = None,
    use_tuned: bool = True,
) -> ExecutionPlan:
    """resolve_plan on this machine: detect it, load its tuned profile, pick its preset.
    ``use_tuned=False`` leaves the tuned profile out (bench and verify measure each mode as
    defined, not as tuned). A tuned profile that cannot be read is an InputError naming it."""
    from tts_accel.core.hardware import HardwareProfile
    from tts_accel.profiles.store import load_tuned, pick_preset

    machine = hw or HardwareProfile.detect()
    has_torch = _torch_importable()
    return resolve_plan(
        flags, machine, tuned=load_tuned(machine) if use_tuned else None,
        preset=pick_preset(machine, torch_available=has_torch), voice_family=voice_family, torch_available=has_torch,
    )  # fmt: skip


def _resolve_mode(
    layers: list[tuple[str, dict[str, object]]], hw: HardwareProfile, has_torch: bool, family: str
) -> tuple[str, str]:
    flag = layers[0][1]
    wanted_backend = flag.get("backend")
    for source, layer in layers:
        mode = layer.get("mode")
        if mode is None:
            continue
        if mode not in CLI_MODES[1:]:
            raise InputError(f"unknown mode {mode!r} ({source}): use one of {', '.join(CLI_MODES)}.")
        compatible = wanted_backend in (None, backend_of(str(mode)))
        if source == "flag" or (compatible and (has_torch or backend_of(str(mode)) == "onnx")):
            return str(mode), source
    gpu = bool(hw.gpus) and has_torch and family in TORCH_FAMILIES
    if wanted_backend == "torch":
        return ("hybrid" if gpu else "torch"), "heuristic"
    if gpu and wanted_backend is None:
        return "hybrid", "heuristic"
    # Pipelined: the parallel mode's throughput (same workers, same samples) and the earliest
    # first audio, since each chunk goes to a worker the moment it is phonemized.
    return ("pipelined" if _cpu_workers(hw) >= 2 else "sequential"), "heuristic"


def _cpu_workers(hw: HardwareProfile) -> int:
    """One per usable physical performance core, no more than the cgroup quota allows."""
    cores = len(hw.performance_core_cpus()) or len(hw.usable_cpus) or 1
    return max(1, min(cores, hw.effective_cpus))


def _performance_affinity(hw: HardwareProfile) -> tuple[int, ...]:
    first = hw.performance_core_cpus()
    return first + tuple(c for c in hw.usable_performance_cpus if c not in first)


def _heuristics(hw: HardwareProfile, mode: str) -> dict[str, object]:
    """Measured on the 2-core EPYC VM (Piper joe, 33 s of audio): ORT defaults 1.42 s; 2 workers
    sharing one session with 1 intra-op thread each 1.33 s; batch 2 no gain, batch 8 0.79x;
    int8 1.3x faster but at a worse WER (docs/benchmarks.md)."""
    if backend_of(mode) == "torch":
        return {"device": "cuda" if hw.gpus else "cpu", "workers": 1, "batch_size": 1, "precision": "fp32"}
    n = _cpu_workers(hw)
    concurrent = mode in ("parallel", "pipelined")
    found: dict[str, object] = {
        "device": "cpu",
        "precision": "fp32",
        "workers": n if concurrent else 1,
        # concurrent: 1 thread per worker; otherwise the run gets every usable core, said
        # explicitly so ORT neither exceeds a cgroup quota nor spreads onto efficiency cores
        "intra_op_threads": 1 if concurrent else n,
        "batch_size": 2 if mode == "batched" else 1,
    }
    if hw.efficiency_cpus and hw.usable_performance_cpus:
        found["affinity"] = _performance_affinity(hw)
    return found


def _concrete(layer: Mapping[str, object], hw: HardwareProfile, source: str) -> dict[str, object]:
    """Profile values as plan values: lists become tuples; presets' symbolic values
    ("performance-cores" workers, "performance" / "all" / "none" affinity) are sized to ``hw``."""
    out: dict[str, object] = {}
    for name, value in layer.items():
        if name == "affinity":
            value = _affinity(value, hw, source)
        elif name in ("workers", "intra_op_threads", "inter_op_threads", "batch_size"):
            if value == "performance-cores":
                value = _cpu_workers(hw)
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


def _torch_importable() -> bool:
    from tts_accel.core.gpu import torch_available

    return torch_available()


def explain_rows(plan: ExecutionPlan) -> list[tuple[str, str, str]]:
    """(field, value, source) rows for `tts synth --explain`."""
    rows = []
    for name in ExecutionPlan.field_names():
        value = getattr(plan, name)
        text = format_cpu_list(value) if name == "affinity" else str(value)
        if name == "affinity" and not value:
            text = "none (the OS scheduler decides)"
        elif name in ("intra_op_threads", "inter_op_threads") and value == 0:
            text = "0 (runtime default)"
        rows.append((name, text, plan.sources.get(name, "default")))
    return rows
