"""The cost model and the chooser: pure decisions on given facts (no torch, no timing)."""

from __future__ import annotations

import pytest

from tts_accel.core.plan import costs
from tts_accel.core.plan.costs import CostTable, EngineCost, Facts, choose

AMX = costs.default_costs("amx")


def facts(audio_s: float | None, *, warm: bool = True, isa: str = "amx", torch: bool = True, **kw) -> Facts:
    return Facts(audio_s, torch, isa, warm, kw.pop("table", AMX), **kw)


def test_a_short_sentence_stays_on_onnx_runtime_even_with_a_warm_cache() -> None:
    engine, why = choose(facts(2.5))
    assert engine == "ort-fp32"
    assert "pays off from" in why and "expected 2.5 s of audio" in why


def test_a_book_gets_bf16_when_its_shapes_are_compiled() -> None:
    engine, why = choose(facts(700.0))
    assert engine == "torch-bf16" and why.startswith("bf16 acoustic stage: expected 700.0 s")


def test_a_book_on_a_cold_cache_never_compiles_in_the_run() -> None:
    engine, why = choose(facts(700.0, warm=False))
    assert engine == "ort-fp32" and "`tts tune` builds them once" in why


@pytest.mark.parametrize("isa", ["avx2", "avx512", "base"])
def test_no_bf16_without_bf16_instructions(isa: str) -> None:
    engine, why = choose(facts(3600.0, isa=isa))
    assert engine == "ort-fp32" and f"this CPU ({isa}) has no bf16 instructions" in why


def test_without_torch_or_length_or_costs_onnx_runtime() -> None:
    assert choose(facts(3600.0, torch=False))[1].startswith("torch is not installed")
    assert "not known in advance" in choose(facts(None))[1]
    assert "run `tts tune`" in choose(facts(3600.0, table=CostTable({})))[1]


def test_the_emulated_avx512_bf16_defaults_keep_onnx_runtime() -> None:
    engine, why = choose(facts(3600.0, isa="avx512_bf16", table=costs.default_costs("avx512_bf16")))
    assert engine == "ort-fp32" and "not faster per second" in why  # 0.071 vs 0.074 s/s: inside the 15 % share


def test_a_failed_quality_verdict_rules_bf16_out() -> None:
    engine, why = choose(facts(3600.0, same_voice={"torch-bf16": False}))
    assert engine == "ort-fp32" and "same-voice gate" in why


def test_tuned_costs_move_the_break_even() -> None:
    slow = AMX.with_cost("torch-bf16", EngineCost(40.0, AMX.costs["torch-bf16"].per_audio_s))  # 40 s to start
    assert choose(facts(600.0))[0] == "torch-bf16"
    assert choose(facts(600.0, table=slow))[0] == "ort-fp32"
    even = costs.break_even_s(AMX.costs["ort-fp32"], AMX.costs["torch-bf16"])
    assert even is not None and 250 < even < 450  # about 350 s of audio with the defaults (whole processes)
    assert choose(facts(even * 0.9))[0] == "ort-fp32" and choose(facts(even * 1.1))[0] == "torch-bf16"
    # long.txt (177 s of audio) ran 0.88x as fast on bf16 as on ORT, whole process: it stays on ORT
    assert choose(facts(177.0))[0] == "ort-fp32"


def test_cost_table_round_trips_through_a_profile() -> None:
    table = CostTable.from_profile(AMX.to_profile())
    assert table.source == "tuned"
    assert table.costs["torch-bf16"].per_audio_s == pytest.approx(AMX.costs["torch-bf16"].per_audio_s, rel=1e-3)


def test_isa_classes_and_the_onednn_cap(monkeypatch) -> None:
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    spr = {"avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}
    assert costs.isa_class(spr) == "amx"
    assert costs.isa_class({"avx2", "fma", "avx512f", "avx512_bf16"}) == "avx512_bf16"  # Zen 4 / Zen 5
    assert costs.isa_class({"avx2", "fma", "avx512f", "avx512_vnni"}) == "avx512"
    assert costs.isa_class({"avx2", "fma"}) == "avx2" and costs.isa_class({"sse4_2"}) == "base"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # emulating a smaller CPU lowers the class
    assert costs.isa_class(spr) == "avx512_bf16"
