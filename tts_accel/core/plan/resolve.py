"""The one resolver: flags, this machine's tuned profile, the shipped preset and the hardware's
heuristics, in that order, make a validated ``ExecutionPlan``.

``resolve_plan`` is pure: it takes the flags, the hardware, the tuned profile and the preset (or
None), and the voice family's capabilities, and returns a plan whose ``sources`` say where each
value came from and whose ``reasons`` say why, where a rule decided. ``pipeline.planning`` feeds it
this machine's facts; every run (`tts synth`, ``tts_accel.synthesize``, bench, tune, verify, serve)
gets its plan that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from tts_accel.core.acoustic.registry import INT8, REFERENCE
from tts_accel.core.acoustic.registry import NAMES as ENGINE_NAMES
from tts_accel.core.acoustic.registry import spec as acoustic_spec
from tts_accel.core.acoustic.windows import parse_windows
from tts_accel.core.errors import InputError, ModeNotApplicable, torch_missing
from tts_accel.core.plan import costs
from tts_accel.core.plan.heuristics import concrete, cpu_workers, heuristics
from tts_accel.core.plan.model import NO_ACOUSTIC, ExecutionPlan, check_acoustic
from tts_accel.core.plan.modes import AUTO, PRECISIONS, STAGED_MODES, backend_of, spec

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.hardware.profile import HardwareProfile
    from tts_accel.core.voices.base import Family


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
    layers = [("flag", concrete(given, hw, "the command line"))]
    for source, profile in (("tuned", tuned), ("preset", preset)):
        if profile is not None:
            layers.append((source, concrete(profile.plan, hw, f"profile {profile.name!r}")))

    wants_windows = parse_windows(str(given.get("windows", ""))) is not None
    mode, mode_source = _resolve_mode(layers, hw, torch_available, family, streaming or wants_windows)
    backend = backend_of(mode)
    if given.get("backend", backend) != backend:
        raise InputError(f"--mode {mode} runs on the {backend} backend, not {given['backend']}: drop one.")
    if backend == "torch" and not torch_available:
        raise torch_missing(f"mode {mode!r}")
    heuristic = heuristics(hw, mode)
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
    if values["acoustic"] == INT8 and precision != "int8":
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
            check_acoustic(mode, backend_of(mode), precision, chosen[0], windowed)
        where = f"--mode {mode} runs the voice's whole graph"
        if mode in STAGED_MODES:
            where = "whole chunks (--windows off)" if engines else "the voice's family has no separate acoustic stage"
        source = chosen[1] if chosen is not None and chosen[0] == NO_ACOUSTIC else "default"
        return NO_ACOUSTIC, source, where
    if chosen is None and precision == "int8":
        return INT8, precision_source, "--precision int8 is the int8 acoustic engine"
    if chosen is None:
        if facts is None:
            return REFERENCE, "default", ""
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
    return ("pipelined" if cpu_workers(hw) >= 2 else "sequential"), "heuristic"
