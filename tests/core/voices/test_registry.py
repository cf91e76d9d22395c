"""Families are data: the planner, bench, tune and verify read what a family can do and never
ask which family it is. A third family is one package and one line in the registry."""

from __future__ import annotations

import pytest

from tts_accel.core.bench import modes as bench
from tts_accel.core.errors import ModeNotApplicable
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.tune import plans as tune
from tts_accel.core.verify.data import mode_plans
from tts_accel.core.verify.e2e import wer_max
from tts_accel.core.voices import registry
from tts_accel.core.voices.base import Family, VoiceEntry


def test_each_family_declares_what_it_can_run():
    piper, kokoro = registry.family_named("piper"), registry.family_named("kokoro")
    assert {"batched", "torch", "compile"} <= set(piper.modes) and piper.torch_port
    assert piper.extra_precisions("onnx") == ("int8",)
    assert kokoro.modes == ("sequential", "parallel", "pipelined") and not kokoro.torch_port
    assert "one sequence per run" in (kokoro.why_not("batched") or "")
    assert "ships as int8 already" in (kokoro.why_not("sequential", "int8") or "")
    assert "no torch port" in (kokoro.why_not("torch") or "")
    assert piper.why_not("batched", "int8") is None
    assert registry.family_of("kokoro-jm_kumo") is kokoro
    assert registry.family_of("/any/where/voice.onnx") is piper  # voice files by suffix


def test_the_registry_lists_every_family_and_voice():
    names = [f.name for f in registry.FAMILIES]
    assert names[:2] == ["piper", "kokoro"] and len(set(names)) == len(names)
    assert registry.DEFAULT_FAMILY == "piper" and registry.DEFAULT_VOICE in registry.registry()


@pytest.fixture
def third_family(monkeypatch):
    """A family that exists only as data: one voice, ONNX fp32 only, no batching, its own ceiling."""
    entry = VoiceEntry(
        name="third-voice", family="third", language="en-us", sample_rate=16000, package="third-voice",
        module="third_voice", install="pip install third-voice", files=lambda: [], load=lambda: None,  # type: ignore[arg-type,return-value]
    )  # fmt: skip
    family = Family(
        name="third", entries=lambda: [entry], precisions={"onnx": ("fp32",)}, batching=False, wer_max=12.5,
        reasons={"batched": "third voices take one sequence per run: use pipelined."},
    )  # fmt: skip
    monkeypatch.setattr(registry, "FAMILIES", (*registry.FAMILIES, family))
    return family


def test_a_third_family_is_read_as_data_everywhere(third_family):
    assert registry.family_of("third-voice") is third_family and "third-voice" in registry.registry()
    assert plan_for("pipelined", "third-voice", tuned=False).mode == "pipelined"
    with pytest.raises(ModeNotApplicable, match="take one sequence per run"):
        plan_for("batched", "third-voice", tuned=False)
    cases = {c.name: c for c in bench.parse_modes("sequential,batched", "third-voice")}
    assert cases["sequential"].plan is not None and "one sequence per run" in cases["batched"].skip
    skipped: list[tuple[str, str]] = []
    plans = list(tune.candidates(2, int8=True, voice="third-voice", on_skip=lambda *s: skipped.append(s)))
    assert plans and all(p.mode != "batched" and p.precision == "fp32" for p in plans)
    assert {label.split()[0] for label, _ in skipped} == {"batched", "pipelined", "sequential"}
    assert wer_max("third-voice") == 12.5
    verify_plans = mode_plans(quick=False, voice="third-voice")
    assert isinstance(verify_plans["batched"], ModeNotApplicable) and "torch" not in verify_plans
