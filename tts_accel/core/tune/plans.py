"""`tts tune`: search execution plans on this machine within a time budget, keep the fastest.

Measured, not guessed (the Kokoro ONNX CPU tuning report's lesson): every candidate is
loaded, warmed up and timed on the same text with zero noise. The first pass times each
candidate once, most promising first; time left over re-times the leaders, taking turns, so
the winner is a median, not one lucky run. The ORT-default sequential plan always runs first:
it is the baseline the winner's speedup is quoted against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from tts_accel.core.bench.measure import load_case, measure_once
from tts_accel.core.errors import InputError, ModeNotApplicable
from tts_accel.core.hardware.gpu import torch_available
from tts_accel.core.hardware.profile import HardwareProfile, cpu_count
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.modes import STAGED_MODES, spec
from tts_accel.core.plan.resolve import resolve_plan
from tts_accel.core.voices.params import ZERO_NOISE
from tts_accel.core.voices.registry import DEFAULT_VOICE, family_of

LEADERS = 3  # candidates re-timed with the budget left after the first pass
#: A candidate says every plan field: what it does not set is ExecutionPlan's default (ORT's own).
#: The acoustic engine is not searched: it depends on each run's length (the planner chooses it
#: from the costs `tts tune --acoustic` measures), so a saved profile leaves it to ``auto``.
_DEFAULTS = {
    f.name: f.default for f in fields(ExecutionPlan) if f.name in ExecutionPlan.field_names()
    and f.name not in ("backend", "acoustic")
}


def describe(plan: ExecutionPlan) -> str:
    parts = [plan.mode]
    if spec(plan.mode).schedule != "sequential" and plan.workers > 1:
        parts.append(f"workers={plan.workers}")
    if plan.batch_size > 1:
        parts.append(f"batch={plan.batch_size}")
    parts.append(f"intra={plan.intra_op_threads or 'default'}")
    if plan.inter_op_threads:
        parts.append(f"inter={plan.inter_op_threads}")
    if plan.ort_execution_mode != "sequential":
        parts.append(f"ort={plan.ort_execution_mode}")
    if plan.graph_optimization != "all":
        parts.append(f"opt={plan.graph_optimization}")
    if plan.precision != "fp32":
        parts.append(plan.precision)
    return " ".join(parts)


def _settings(cpus: int, int8: bool) -> Iterator[dict[str, object]]:
    """Plan settings worth timing on ``cpus`` logical CPUs, most promising first (threads x
    workers x batch x mode x ORT options). int8 only on request: it must also be checked for WER."""
    yield {"mode": "sequential"}  # baseline: ORT defaults
    for workers in dict.fromkeys((cpus, 2 * cpus, max(2, cpus // 2))):
        yield {"mode": "pipelined", "workers": workers, "intra_op_threads": 1, "inter_op_threads": 1}
    yield {"mode": "sequential", "intra_op_threads": cpus, "inter_op_threads": 1}
    if cpus >= 4:
        yield {"mode": "pipelined", "workers": cpus // 2, "intra_op_threads": 2, "inter_op_threads": 1}
    yield {"mode": "batched", "batch_size": 2, "intra_op_threads": cpus}
    yield {"mode": "batched", "batch_size": 2, "workers": cpus, "intra_op_threads": 1, "inter_op_threads": 1}
    yield {"mode": "sequential", "ort_execution_mode": "parallel", "inter_op_threads": cpus}
    yield {"mode": "pipelined", "workers": cpus, "intra_op_threads": 1, "graph_optimization": "extended"}
    yield {"mode": "batched", "batch_size": 4, "intra_op_threads": cpus}
    yield {"mode": "sequential", "intra_op_threads": 1}
    if int8:
        yield {"mode": "pipelined", "workers": cpus, "intra_op_threads": 1, "precision": "int8"}
        yield {"mode": "sequential", "precision": "int8"}


def candidates(
    cpus: int | None = None,
    int8: bool = False,
    *,
    voice: str = DEFAULT_VOICE,
    hw: HardwareProfile | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> Iterator[ExecutionPlan]:
    """Plans worth timing, each made by the one resolver (every field given, as flags), most
    promising first. A candidate the voice's family cannot run (batched or int8 on Kokoro) is
    left out and reported through ``on_skip(label, reason)``."""
    cpus = cpus or cpu_count()
    machine = hw or HardwareProfile.detect(gpus=False)  # the candidates are all CPU plans
    family = family_of(voice)
    for settings in _settings(cpus, int8):
        flags = {**_DEFAULTS, **settings}
        try:
            yield resolve_plan(flags, machine, tuned=None, preset=None, family=family,
                               torch_available=torch_available())  # fmt: skip
        except ModeNotApplicable as err:
            if on_skip is not None:
                on_skip(describe(ExecutionPlan(**flags)), str(err))  # type: ignore[arg-type]


@dataclass
class Trial:
    plan: ExecutionPlan
    load_s: float
    walls: list[float] = field(default_factory=list)
    ttfas: list[float] = field(default_factory=list)
    audio_s: float = 0.0

    @property
    def wall_s(self) -> float:
        return float(np.median(self.walls))

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else float("nan")

    @property
    def ttfa_s(self) -> float:
        return float(np.median(self.ttfas))

    @property
    def label(self) -> str:
        return describe(self.plan)


@dataclass
class TuneResult:
    trials: list[Trial]  # fastest first
    baseline: Trial
    spent_s: float

    @property
    def winner(self) -> Trial:
        return self.trials[0]

    def speedup(self, trial: Trial) -> float:
        return self.baseline.wall_s / trial.wall_s

    def measured(self) -> dict[str, float]:
        w = self.winner
        return {
            "wall_s": round(w.wall_s, 4), "rtf": round(w.rtf, 5), "ttfa_s": round(w.ttfa_s, 4),
            "speedup": round(self.speedup(w), 3), "runs": len(w.walls), "candidates": len(self.trials),
            "audio_s": round(w.audio_s, 3),
        }  # fmt: skip


def save(
    result: TuneResult, hw: HardwareProfile | None = None, voice: str = DEFAULT_VOICE,
    acoustic: dict[str, object] | None = None,
) -> Path:  # fmt: skip
    """Store the winner as this machine's tuned profile for ``voice``'s family (one TOML file per
    hardware fingerprint and family, in the user config dir); `tts synth --mode auto` on a voice
    of that family resolves its plan from it from then on. ``acoustic``: the acoustic engines'
    measurements (``acoustic_tune``); without them an earlier profile's are kept."""
    from tts_accel.core.plan.profiles import Profile, save_tuned

    plan = result.winner.plan
    fields = {name: getattr(plan, name) for name in ExecutionPlan.field_names()}
    if plan.mode in STAGED_MODES:
        fields["acoustic"] = "auto"  # chosen per run, from the input's length and the measured costs
    speedup = result.speedup(result.winner)
    description = f"tts tune: {result.winner.label}, {speedup:.2f}x the ORT-default sequential plan"
    machine = hw or HardwareProfile.detect()
    family = family_of(voice).name
    if acoustic is None:
        earlier = earlier_profile(machine, family)
        acoustic = earlier.acoustic if earlier is not None else {}
    profile = Profile(name="", kind="tuned", description=description, plan=fields, measured=result.measured(),
                      acoustic=dict(acoustic))  # fmt: skip
    return save_tuned(profile, machine, family)


def save_acoustic(acoustic: dict[str, object], hw: HardwareProfile | None = None, voice: str = DEFAULT_VOICE) -> Path:
    """Store the acoustic measurements in this machine's tuned profile for ``voice``'s family,
    keeping its plan (a new profile with no plan fields when there is none yet)."""
    from dataclasses import replace

    from tts_accel.core.plan.profiles import Profile, save_tuned

    machine = hw or HardwareProfile.detect()
    family = family_of(voice).name
    earlier = earlier_profile(machine, family)
    if earlier is None:
        earlier = Profile(name="", kind="tuned", description="tts tune --acoustic-only: acoustic engines measured")
    return save_tuned(replace(earlier, acoustic=dict(acoustic), created=""), machine, family)


def earlier_profile(machine: HardwareProfile, family: str):  # type: ignore[no-untyped-def]
    """This machine's tuned profile for ``family``, or None (also when it cannot be read)."""
    from tts_accel.core.plan.profiles import load_tuned

    try:
        return load_tuned(machine, family)
    except InputError:
        return None


def _time(synth, text: str, trial: Trial) -> None:  # type: ignore[no-untyped-def]
    stats = measure_once(synth, text, ZERO_NOISE)
    trial.walls.append(stats.wall_s)
    trial.ttfas.append(stats.ttfa_s or 0.0)
    trial.audio_s = stats.audio_s


def tune(
    text: str,
    budget_s: float,
    voice: str = DEFAULT_VOICE,
    plans: list[ExecutionPlan] | None = None,
    on_progress: Callable[[float, Trial], None] | None = None,
) -> TuneResult:
    """Time ``plans`` (default: ``candidates()``) on ``text`` until ``budget_s`` is spent.

    The baseline and at least one other candidate always run, even past a tiny budget.
    """
    if budget_s <= 0:
        raise InputError("--budget must be a positive number of seconds, e.g. --budget 60.")
    if not text.strip():
        raise InputError("the tuning text is empty: give a file with words to -i.")
    todo = plans if plans is not None else list(candidates(voice=voice))
    start = time.perf_counter()
    trials: list[Trial] = []
    costs: list[float] = []
    for plan in todo:
        elapsed = time.perf_counter() - start
        if len(trials) >= 2 and elapsed + (max(costs) if costs else 0.0) > budget_s:
            break
        t0 = time.perf_counter()
        synth, load_s = load_case(plan, voice)
        trial = Trial(plan, load_s)
        _time(synth, text, trial)
        synth.backend.close()
        costs.append(time.perf_counter() - t0)
        trials.append(trial)
        if on_progress:
            on_progress(time.perf_counter() - start, trial)
    # Re-time the leaders, taking turns, while the budget lasts (sessions kept loaded).
    leaders = sorted(trials, key=lambda t: t.wall_s)[:LEADERS]
    if trials[0] not in leaders:
        leaders.append(trials[0])  # the baseline's speedup needs a median too
    round_cost = sum(t.wall_s for t in leaders) * 1.2 + sum(t.load_s for t in leaders)
    if time.perf_counter() - start + round_cost <= budget_s:
        loaded = [(t, load_case(t.plan, voice)[0]) for t in leaders]
        while time.perf_counter() - start + round_cost - sum(t.load_s for t in leaders) <= budget_s:
            for trial, synth in loaded:
                _time(synth, text, trial)
                if on_progress:
                    on_progress(time.perf_counter() - start, trial)
        for _, synth in loaded:
            synth.backend.close()
    ranked = sorted(trials, key=lambda t: t.wall_s)
    return TuneResult(ranked, trials[0], time.perf_counter() - start)
