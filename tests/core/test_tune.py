"""Plan search, and the tuned profile `tts synth` picks up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tts_accel.core import tune, tuned
from tts_accel.core.errors import InputError
from tts_accel.core.modes import plan_for
from tts_accel.core.plan import ExecutionPlan

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


def test_saved_profile_drives_auto_and_says_so(config_home: Path) -> None:
    assert plan_for("auto").sources["mode"] == "heuristic"
    winner = ExecutionPlan(mode="batched", batch_size=3, intra_op_threads=2, graph_optimization="extended")
    path = tuned.save(winner, {"wall_s": 1.25, "speedup": 1.1})
    assert path.is_relative_to(config_home)  # XDG_CONFIG_HOME is honoured
    assert tuned.fingerprint() in path.name
    plan = plan_for("auto")
    assert plan == winner
    assert set(plan.sources.values()) == {"tuned"}
    assert plan_for("sequential").mode == "sequential"  # a flag still wins over the profile


def test_broken_profile_falls_back_to_heuristics(config_home: Path) -> None:
    path = tuned.tuned_path()
    path.parent.mkdir(parents=True)
    path.write_text("[plan]\nworkers = 0\n", encoding="utf-8")  # invalid plan
    assert tuned.load() is None
    path.write_text("this is not toml [", encoding="utf-8")
    assert plan_for("auto").sources["mode"] == "heuristic"
