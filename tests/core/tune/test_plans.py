"""Plan search, and the tuned profile `tts synth` picks up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tts_accel.core.errors import InputError
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.profiles import tuned_path
from tts_accel.core.tune import plans as tune

TEXT = "Hello there. This is a short test of the speech engine."


@pytest.mark.parametrize("cpus", [1, 2, 8])
def test_candidates_start_with_the_baseline_and_are_distinct(cpus: int) -> None:
    plans = list(tune.candidates(cpus))
    assert plans[0] == ExecutionPlan(mode="sequential")
    assert len(plans) == len(set(plans)) >= 6
    assert {p.mode for p in plans} == {"sequential", "pipelined", "batched"}
    assert all(p.precision == "fp32" for p in plans)
    assert any(p.precision == "int8" for p in tune.candidates(cpus, int8=True))


def test_tiny_budget_still_times_baseline_and_one_more() -> None:
    plans = [ExecutionPlan(mode="sequential"), ExecutionPlan(mode="pipelined", workers=2, intra_op_threads=1),
             ExecutionPlan(mode="batched", batch_size=2)]  # fmt: skip
    seen = []
    result = tune.tune(TEXT, 0.01, plans=plans, on_progress=lambda _t, trial: seen.append(trial.label))
    assert len(result.trials) == 2  # the budget stops the search after the minimum
    assert result.baseline.plan == plans[0]
    assert result.trials == sorted(result.trials, key=lambda t: t.wall_s)
    assert result.speedup(result.baseline) == 1.0
    assert seen[:2] == [tune.describe(plans[0]), tune.describe(plans[1])]
    assert result.measured()["candidates"] == 2


def test_bad_budget_and_empty_text_are_refused() -> None:
    with pytest.raises(InputError, match="budget"):
        tune.tune(TEXT, 0)
    with pytest.raises(InputError, match="empty"):
        tune.tune("  ", 5)


def _result(plan: ExecutionPlan) -> tune.TuneResult:
    base = tune.Trial(ExecutionPlan(mode="sequential"), 0.4, walls=[1.5], ttfas=[0.2], audio_s=30.0)
    winner = tune.Trial(plan, 0.4, walls=[1.25], ttfas=[0.3], audio_s=30.0)
    return tune.TuneResult([winner, base], base, 10.0)


def test_saved_profile_drives_auto_and_says_so(config_home: Path) -> None:
    assert plan_for("auto").sources["mode"] == "heuristic"
    winner = ExecutionPlan(mode="batched", batch_size=3, intra_op_threads=2, graph_optimization="extended")
    path = tune.save(_result(winner))
    assert path.is_relative_to(config_home)  # XDG_CONFIG_HOME is honoured
    assert path == tuned_path(HardwareProfile.detect())  # keyed by this machine's fingerprint
    assert "speedup = 1.2" in path.read_text()
    plan = plan_for("auto")
    assert plan == winner
    assert {plan.sources[f] for f in ExecutionPlan.field_names()} == {"tuned"}
    assert plan_for("sequential").mode == "sequential"  # a flag still wins over the profile
    assert plan_for("auto", workers=3).workers == 3
    assert plan_for("auto", tuned=False).sources["mode"] == "heuristic"  # bench and verify leave it out


def test_broken_profile_is_named_with_its_fix(config_home: Path) -> None:
    path = tuned_path(HardwareProfile.detect())
    path.parent.mkdir(parents=True)
    path.write_text("[plan]\nworkers = 0\n", encoding="utf-8")  # invalid plan
    with pytest.raises(InputError, match=r"workers = 0 \(profile"):
        plan_for("auto")
    path.write_text("this is not toml [", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML.*delete it"):
        plan_for("auto")
    assert plan_for("auto", tuned=False).mode == "pipelined"
