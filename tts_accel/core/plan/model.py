"""ExecutionPlan: how the model stage runs on this machine, and the one resolver that makes it.

``resolve_plan`` is pure: it takes the flags, the hardware, the tuned profile and the preset
(or None), and the voice family's capabilities, and returns a validated plan whose ``sources``
say where each value came from. ``tts_accel.core.pipeline.planning`` feeds it this machine's facts; every
run (`tts synth`, ``tts_accel.synthesize``, bench, tune, verify) gets its plan that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Protocol

from tts_accel.core.acoustic.registry import NAMES as ENGINE_NAMES
from tts_accel.core.acoustic.registry import spec as acoustic_spec
from tts_accel.core.acoustic.windows import OFF, parse_windows
from tts_accel.core.errors import InputError, ModeNotApplicable, torch_missing
from tts_accel.core.hardware.profile import format_cpu_list, parse_cpu_list
from tts_accel.core.plan import costs
from tts_accel.core.plan.modes import AUTO, CLI_MODES, PRECISIONS, STAGED_MODES, backend_of, spec

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.hardware.profile import HardwareProfile
    from tts_accel.core.voices.base import Family

ORT_EXECUTION_MODES = ("sequential", "parallel")
GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")


@dataclass(frozen=True)
class ExecutionPlan:
    """A validated plan: mode, backend and precision agree (``backend`` left empty is the mode's)."""

    mode: str = "sequential"
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (one per physical core)
    inter_op_threads: int = 0
    ort_execution_mode: str = "sequential"  # ORT ExecutionMode: sequential | parallel
    graph_optimization: str = "all"  # disable | basic | extended | all
    workers: int = 1  # concurrent model runs (parallel / pipelined)
    batch_size: int = 1  # chunks per model run (batched)
    affinity: tuple[int, ...] = ()  # logical CPUs to pin to, performance cores first
    precision: str = "fp32"  # fp32 | int8 (ONNX); fp32 | fp16 | bf16 (torch)
    backend: str = ""  # onnx | torch; empty: the mode's own
    device: str = "cpu"
    #: the pipelined mode's window schedule (``core/windows.py``: ``w200:32x128x512/512``), or
    #: "" / "off": whole chunks. Only the pipelined mode streams windows; it gets the family's.
    windows: str = ""
    #: the acoustic stage's engine in the two-stage modes (``modes.STAGED_MODES``): ort-fp32 |
    #: ort-int8 | torch-fp32 | torch-bf16-eager | torch-bf16; "none" where the mode runs the voice's
    #: whole graph (sequential, batched, the torch modes) or the family has no separate stage.
    #: Empty: the mode's own (ort-fp32, or ort-int8 with precision int8, in a staged mode).
    acoustic: str = ""
    #: where each field's value came from: flag | tuned | preset | heuristic | default
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: why a field has its value, where a rule decided it (the acoustic engine's costs): --explain
    reasons: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        mode_backend = spec(self.mode).backend  # UnknownMode names the valid ones
        if not self.backend:
            object.__setattr__(self, "backend", mode_backend)
        elif self.backend != mode_backend:
            raise InputError(f"--mode {self.mode} runs on the {mode_backend} backend, not {self.backend}: drop one.")
        staged = self.mode in STAGED_MODES and parse_windows(self.windows) is not None
        if not self.acoustic:
            own = ("ort-int8" if self.precision == "int8" else "ort-fp32") if staged else NO_ACOUSTIC
            object.__setattr__(self, "acoustic", own)
        _check_acoustic(self.mode, self.backend, self.precision, self.acoustic, staged)
        if self.precision not in PRECISIONS[self.backend]:
            raise InputError(
                f"precision {self.precision!r} is not available on the {self.backend} backend: "
                f"use {' or '.join(PRECISIONS[self.backend])}."
            )
        if self.backend == "onnx" and self.device != "cpu":
            raise InputError(f"the onnx backend runs on the CPU, not {self.device!r}: use a torch mode for a GPU.")
        if self.workers < 1 or self.batch_size < 1:
            raise InputError("workers and batch size must be at least 1.")
        if self.intra_op_threads < 0 or self.inter_op_threads < 0:
            raise InputError("thread counts cannot be negative: use 0 for the runtime's default.")
        if self.ort_execution_mode not in ORT_EXECUTION_MODES:
            raise InputError(f"ort_execution_mode {self.ort_execution_mode!r}: use {' or '.join(ORT_EXECUTION_MODES)}.")
        if parse_windows(self.windows) is not None and spec(self.mode).schedule != "pipelined":
            raise InputError(
                f"--windows streams the pipelined mode; --mode {self.mode} runs whole chunks: "
                "drop --windows or use --mode pipelined."
            )
        if self.graph_optimization not in GRAPH_OPTIMIZATIONS:
            raise InputError(
                f"graph_optimization {self.graph_optimization!r}: use one of {', '.join(GRAPH_OPTIMIZATIONS)}."
            )

    @property
    def streams_windows(self) -> bool:
        """The pipelined mode with a window schedule: text stage, then the acoustic stage window
        by window (when the voice's graph splits; else whole chunks)."""
        return parse_windows(self.windows) is not None

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in ("sources", "reasons")]


#: The acoustic field of a plan whose mode runs the voice's whole graph (no separate stage).
NO_ACOUSTIC = "none"


def _check_acoustic(mode: str, backend: str, precision: str, acoustic: str, staged: bool) -> None:
    """An acoustic engine agrees with the mode, its windows and the precision (the resolver says
    where a value came from before this runs; this is the plan's own consistency)."""
    if acoustic == NO_ACOUSTIC:
        return
    engine = acoustic_spec(acoustic)
    if mode not in STAGED_MODES:
        raise InputError(
            f"--acoustic {acoustic} applies to the two-stage modes ({', '.join(STAGED_MODES)}): --mode {mode} runs "
            "the voice's whole graph; use --mode auto or pipelined, or drop --acoustic."
        )
    if not staged:
        raise InputError(
            f"--acoustic {acoustic} runs the acoustic stage window by window: --windows off runs whole chunks; "
            "drop one of them."
        )
    if backend != "onnx":  # pragma: no cover - the staged modes are ONNX modes
        raise InputError(f"--acoustic {acoustic} runs beside the ONNX text stage, not on the {backend} backend.")
    if (precision == "int8") != (engine.precision == "int8"):
        raise InputError(
            f"--precision {precision} and --acoustic {acoustic} disagree: int8 is the ort-int8 acoustic engine "
            "(give one of them, or --precision fp32 with another engine)."
        )


class PlanLayer(Protocol):
    """A named set of plan values: a tuned profile or a shipped preset."""

    name: str
    plan: Mapping[str, object]


# --- resolution: flag > tuned profile > shipped preset > heuristic > default -------------

#: Fields whose value was chosen for one mode: a profile's value is used only when the
#: resolved mode is the profile's own (4 single-threaded workers make no sense sequentially).
MODE_BOUND = (
    "workers", "intra_op_threads", "inter_op_threads", "batch_size", "affinity", "device", "precision", "windows",
)  # fmt: skip
#: Upper bound on workers, threads and batch size: more is a typo, not a plan.
MAX_COUNT = 1024


def resolve_plan(
    flags: Mapping[str, object],
    hw: HardwareProfile,
    *,
    tuned: PlanLayer | None,
    preset: PlanLayer | None,
    family: Family | None = None,
    torch_available: bool = False,
    acoustic: costs.Facts | None = None,
    streaming: bool = False,
) -> ExecutionPlan:
    """The plan for this run. Each field comes from the first of: a command-line flag (None and
    mode "auto" mean not given), this machine's tuned profile, the shipped preset, a heuristic
    from the hardware, the dataclass default; ``plan.sources`` records which. A mode the family
    cannot run is a ModeNotApplicable error with the family's reason; a profile's mode the family
    cannot run is passed over (the profile was made for another family or machine).

    ``acoustic`` holds what the cost-aware choice of the acoustic engine needs (expected audio,
    a warm compile cache, this machine's costs; gathered without importing torch): without it an
    unset engine stays ONNX Runtime fp32.

    ``streaming``: the output is not a regular file (stdout, a FIFO, a device): a mode not given
    as a flag becomes ``pipelined`` on the ONNX backend, which streams window by window. So does
    a ``windows`` flag without a mode. The pipelined mode's window schedule is the family's
    (``Family.windows``) unless a flag or profile gives one."""
    given = {k: v for k, v in flags.items() if v is not None and not (k in ("mode", "acoustic") and v == AUTO)}
    unknown = sorted(set(given) - set(ExecutionPlan.field_names()))
    if unknown:
        raise InputError(f"unknown plan settings {unknown}: use {', '.join(ExecutionPlan.field_names())}.")
    layers = [("flag", _concrete(given, hw, "the command line"))]
    for source, profile in (("tuned", tuned), ("preset", preset)):
        if profile is not None:
            layers.append((source, _concrete(profile.plan, hw, f"profile {profile.name!r}")))

    wants_windows = parse_windows(str(given.get("windows", ""))) is not None
    mode, mode_source = _resolve_mode(layers, hw, torch_available, family, streaming or wants_windows)
    backend = backend_of(mode)
    if given.get("backend", backend) != backend:
        raise InputError(f"--mode {mode} runs on the {backend} backend, not {given['backend']}: drop one.")
    if backend == "torch" and not torch_available:
        raise torch_missing(f"mode {mode!r}")
    heuristic = _heuristics(hw, mode)
    values: dict[str, object] = {"mode": mode, "backend": backend}
    sources = {"mode": mode_source, "backend": "flag" if "backend" in given else mode_source}
    for name in ExecutionPlan.field_names():
        if name in values or name == "acoustic":
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
    precision = str(values.get("precision", "fp32"))
    if precision not in PRECISIONS[backend]:
        raise InputError(
            f"precision {precision!r} ({sources['precision']}) is not available on the {backend} backend: "
            f"use {' or '.join(PRECISIONS[backend])}."
        )
    if family is not None:
        family.check(mode, precision)
    _resolve_windows(values, sources, mode, family)
    reasons: dict[str, str] = {}
    values["acoustic"], sources["acoustic"], reason = _resolve_acoustic(
        layers, mode, precision, sources["precision"], hw, family, torch_available, acoustic,
        staged=parse_windows(str(values.get("windows", "") or "")) is not None,
    )
    if reason:
        reasons["acoustic"] = reason
    if values["acoustic"] == "ort-int8" and precision != "int8":
        if sources["precision"] == "flag":
            raise InputError("--precision fp32 and --acoustic ort-int8 disagree: give one of them.")
        values["precision"], sources["precision"] = "int8", sources["acoustic"]  # one engine, two names
    return ExecutionPlan(**values, sources=sources, reasons=reasons)  # type: ignore[arg-type]


def _resolve_acoustic(
    layers: list[tuple[str, dict[str, object]]],
    mode: str,
    precision: str,
    precision_source: str,
    hw: HardwareProfile,
    family: Family | None,
    has_torch: bool,
    facts: costs.Facts | None,
    *,
    staged: bool,
) -> tuple[str, str, str]:
    """(engine, source, reason) for the acoustic stage: a flag, else a profile's value, else the
    precision's engine (int8), else the cost-aware choice between ONNX Runtime fp32 and bf16.
    ``staged``: the plan streams windows (the pipelined mode with a window schedule)."""
    engines = ENGINE_NAMES if family is None else family.acoustic_engines
    windowed = staged
    staged = mode in STAGED_MODES and windowed and bool(engines)
    chosen: tuple[str, str] | None = None
    for source, layer in layers:
        value = layer.get("acoustic")
        # a profile's "none" was written for a mode without a stage: it says nothing about this one
        if value is None or value == AUTO or (staged and source != "flag" and value == NO_ACOUSTIC):
            continue
        chosen = (str(value), source)
        break
    if chosen is not None and chosen[0] == NO_ACOUSTIC and staged:
        raise InputError(f"--acoustic none: --mode {mode} runs an acoustic stage; use auto or an engine.")
    if not staged:
        if chosen is not None and chosen[1] == "flag" and chosen[0] != NO_ACOUSTIC:
            acoustic_spec(chosen[0], "the command line")  # an unknown name is named as such first
            if mode in STAGED_MODES and not engines:
                raise ModeNotApplicable(f"--acoustic {chosen[0]}: these voices have no separate acoustic stage.")
            _check_acoustic(mode, backend_of(mode), precision, chosen[0], windowed)
        where = f"--mode {mode} runs the voice's whole graph"
        if mode in STAGED_MODES:
            where = "whole chunks (--windows off)" if engines else "the voice's family has no separate acoustic stage"
        source = chosen[1] if chosen is not None and chosen[0] == NO_ACOUSTIC else "default"
        return NO_ACOUSTIC, source, where
    if chosen is None and precision == "int8":
        return "ort-int8", precision_source, "--precision int8 is the int8 acoustic engine"
    if chosen is None:
        if facts is None:
            return "ort-fp32", "default", ""
        engine, reason = costs.choose(facts)
        return engine, "heuristic", reason
    name, source = chosen
    where = "the command line" if source == "flag" else f"the {source} profile"
    engine = acoustic_spec(name, where)
    if name not in engines:
        raise ModeNotApplicable(f"--acoustic {name} is not available for these voices: use {', '.join(engines)}.")
    if engine.runtime == "torch" and not has_torch:
        raise torch_missing(f"--acoustic {name}")
    if engine.precision == "bf16":
        isa = facts.isa if facts is not None else costs.isa_class(hw.isa)
        if isa not in costs.BF16_ISAS:
            raise ModeNotApplicable(
                f"--acoustic {name}: this CPU ({isa}) has no bf16 instructions (avx512_bf16 or AMX), where bf16 "
                "convolutions run about 380x slower than fp32; use --acoustic ort-fp32."
            )
    return name, source, ""


def _resolve_windows(values: dict[str, object], sources: dict[str, str], mode: str, family: Family | None) -> None:
    """The pipelined mode streams with the family's window schedule unless a flag or profile
    set one; a family whose graphs cannot be split has none: refused as a flag, dropped from a
    profile."""
    family_windows = str(getattr(family, "windows", "") or "")
    given = str(values.get("windows", "") or "")
    if sources["windows"] == "default" and spec(mode).schedule == "pipelined" and family_windows:
        values["windows"], sources["windows"] = family_windows, "heuristic"
    elif parse_windows(given) is not None and not family_windows:
        if sources["windows"] == "flag":
            reasons = getattr(family, "reasons", {}) or {}
            raise ModeNotApplicable(
                reasons.get("windows")
                or f"{getattr(family, 'name', 'these')} voices cannot stream window by window (their graph has no "
                "split into a text and a windowed acoustic stage): drop --windows; chunks stream whole."
            )
        values["windows"] = ""
    elif given and spec(mode).schedule != "pipelined" and sources["windows"] != "flag":
        values["windows"] = ""  # a profile's schedule for another mode


def _resolve_mode(
    layers: list[tuple[str, dict[str, object]]],
    hw: HardwareProfile,
    has_torch: bool,
    family: Family | None,
    streaming: bool = False,
) -> tuple[str, str]:
    flag = layers[0][1]
    wanted_backend = flag.get("backend")
    if streaming and "mode" not in flag and wanted_backend in (None, "onnx"):
        # a stream (stdout, FIFO, device) or --windows: window by window, whatever a profile says
        for source, layer in layers:
            if layer.get("mode") == "pipelined":
                return "pipelined", source
        return "pipelined", "heuristic"
    for source, layer in layers:
        mode = layer.get("mode")
        if mode is None:
            continue
        backend = spec(str(mode), source).backend  # an unknown mode is an error, wherever it comes from
        if source == "flag":
            return str(mode), source
        compatible = wanted_backend in (None, backend)
        runs_here = has_torch or backend == "onnx"
        fits_family = family is None or family.why_not(str(mode)) is None
        if compatible and runs_here and fits_family:
            return str(mode), source
    torch_port = family is None or family.torch_port
    gpu = bool(hw.gpus) and has_torch and torch_port
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


def explain_notes(plan: ExecutionPlan) -> list[str]:
    """``field: reason`` lines for the fields a rule decided (the acoustic engine's costs)."""
    return [f"{name}: {why}" for name, why in plan.reasons.items()]


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
        elif name == "windows":
            windows = parse_windows(value)
            text = windows.describe() if windows else f"{value or OFF} (whole chunks)"
        rows.append((name, text, plan.sources.get(name, "default")))
    return rows


__all__ = ["CLI_MODES", "MAX_COUNT", "MODE_BOUND", "NO_ACOUSTIC", "ExecutionPlan", "PlanLayer", "explain_notes",
           "explain_rows", "resolve_plan"]  # fmt: skip
