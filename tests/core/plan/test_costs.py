"""The cost model and the chooser: pure decisions on given facts (no torch, no timing)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_accel.core.plan import costs
from tts_accel.core.plan.costs import CostTable, EngineCost, Facts, choose, compare

AMX = costs.default_costs("amx")


def facts(audio_s: float | None, *, warm: bool = True, isa: str = "amx", torch: bool = True, **kw) -> Facts:
    return Facts(audio_s, torch, isa, warm, kw.pop("table", AMX), **kw)


def test_a_short_sentence_stays_on_onnx_runtime_even_with_a_warm_cache() -> None:
    engine, why = choose(facts(2.5))
    assert engine == "ort-fp32"
    assert "bf16 wins by the margin from ~" in why and "expected 2.5 s of audio" in why
    assert "ONNX Runtime fp32 is" in why and "cheaper than bf16 for this text" in why


def test_a_book_gets_bf16_when_its_shapes_are_compiled() -> None:
    engine, why = choose(facts(700.0))
    assert engine == "torch-bf16" and why.startswith("bf16 acoustic stage: expected 700.0 s")
    assert "bf16 is" in why and "cheaper than ONNX Runtime fp32 for this text" in why


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


def test_the_avx512_bf16_defaults_differ_by_vendor() -> None:
    """Intel without AMX (measured on the Xeon model 207 VM): bf16 is dearer per second, never
    chosen. AMD Zen 4 (issue 18's whole processes): bf16 for a long text only."""
    intel = costs.default_costs("avx512_bf16", "Intel")
    assert intel.unit == costs.WHOLE and intel is costs.default_costs("avx512_bf16")  # the class's own row
    assert choose(facts(3600.0, isa="avx512_bf16", table=intel))[0] == "ort-fp32"
    assert costs.break_even_s(intel.costs["ort-fp32"], intel.costs["torch-bf16"]) is None
    zen = costs.default_costs("avx512_bf16", "AMD")
    assert choose(facts(630.0, isa="avx512_bf16", table=zen))[0] == "torch-bf16"
    assert choose(facts(33.0, isa="avx512_bf16", table=zen))[0] == "ort-fp32"
    even = costs.break_even_s(zen.costs["ort-fp32"], zen.costs["torch-bf16"])
    assert even is not None and 100 < even < 200
    assert costs.default_costs("amx", "AMD") is costs.default_costs("amx")  # no vendor row: the class's


def test_a_failed_quality_verdict_rules_bf16_out() -> None:
    engine, why = choose(facts(3600.0, same_voice={"torch-bf16": False}))
    assert engine == "ort-fp32" and "same-voice gate" in why


def test_tuned_costs_move_the_break_even() -> None:
    slow = AMX.with_cost("torch-bf16", EngineCost(40.0, AMX.costs["torch-bf16"].per_audio_s))  # 40 s to start
    assert choose(facts(600.0))[0] == "torch-bf16"
    assert choose(facts(600.0, table=slow))[0] == "ort-fp32"
    even = costs.break_even_s(AMX.costs["ort-fp32"], AMX.costs["torch-bf16"])
    assert even is not None and 200 < even < 450  # about 260 s of audio with the defaults (whole processes)
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


# --- the sentence says what its numbers say (property-style) ---------------------------------

COST = st.builds(EngineCost, st.floats(0.0, 20.0), st.floats(0.001, 0.2))
NUM = r"([0-9.]+)"


@settings(max_examples=400, deadline=None)
@given(ort=COST, fast=COST, audio_s=st.floats(0.1, 5000.0), margin=st.sampled_from([0.05, 0.1, 0.2]))
def test_the_sentence_agrees_with_its_numbers(ort: EngineCost, fast: EngineCost, audio_s: float, margin: float) -> None:
    v = compare(audio_s, ort, fast, margin)
    t_ort, t_fast = (float(x) for x in re.findall(r"~" + NUM + r" s \(", v.figures))
    assert t_ort == pytest.approx(ort.total(audio_s), abs=0.006)
    assert t_fast == pytest.approx(fast.total(audio_s), abs=0.006)
    # which is cheaper, and by how much, as printed
    named = re.match(r"(ONNX Runtime fp32|bf16) is (\d+) % cheaper than (ONNX Runtime fp32|bf16)", v.sentence)
    if v.ort_s == v.fast_s:
        assert v.sentence.startswith("both cost the same")
    else:
        assert named is not None, v.sentence
        cheap = "bf16" if v.fast_s < v.ort_s else "ONNX Runtime fp32"
        assert named.group(1) == cheap and named.group(3) != cheap
        share = 100 * (1 - min(v.ort_s, v.fast_s) / max(v.ort_s, v.fast_s))
        assert abs(int(named.group(2)) - share) <= 0.5 + 1e-9
    # per second and fixed: the signs printed are the signs of the differences
    d_per, d_fixed = fast.per_audio_s - ort.per_audio_s, fast.fixed_s - ort.fixed_s
    if abs(d_per) >= 5e-5:
        assert f"{abs(d_per):.4f} CPU-s {'more' if d_per > 0 else 'less'} per second of audio" in v.sentence
    else:
        assert "the same per second of audio" in v.sentence
    if abs(d_fixed) >= 5e-3:
        assert f"{abs(d_fixed):.2f} CPU-s {'more' if d_fixed > 0 else 'less'} to start" in v.sentence
    else:
        assert "the same to start" in v.sentence
    # the choice: the cheaper one past the margin, else the one cheaper to start
    share = 1 - min(v.ort_s, v.fast_s) / max(v.ort_s, v.fast_s) if max(v.ort_s, v.fast_s) > 0 else 0.0
    low_fixed = "torch-bf16" if fast.fixed_s < ort.fixed_s else "ort-fp32"
    cheap_engine = "torch-bf16" if v.fast_s < v.ort_s else "ort-fp32"
    assert v.engine == (cheap_engine if share > margin else low_fixed)
    assert ("inside the" in v.sentence) == (v.engine != cheap_engine)
    # a printed break-even is where the choice turns
    even = re.search(r"(ONNX Runtime fp32|bf16) wins by the margin from ~" + NUM + " s of audio", v.sentence)
    if even is not None and float(even.group(2)) > 5:
        at = float(even.group(2))
        winner = "torch-bf16" if even.group(1) == "bf16" else "ort-fp32"
        assert compare(at * 1.05 + 1, ort, fast, margin).engine == winner
        assert compare(at * 0.95 - 1, ort, fast, margin).engine != winner or winner == low_fixed


def test_the_issue_18_figures_read_true() -> None:
    """The Zen 4 tune of issue 18 (ORT 0.0633 + 1.07 s, bf16 0.0359 + 4.72 s) on a 10.5-minute text:
    bf16 is cheaper per second and for the text; the sentence says so, with its numbers."""
    ort, fast = EngineCost(1.07, 0.0633), EngineCost(4.72, 0.0359)
    engine, why = choose(facts(630.0, isa="avx512_bf16", table=CostTable({"ort-fp32": ort, "torch-bf16": fast})))
    assert engine == "torch-bf16"
    assert "ONNX Runtime fp32 ~40.95 s" in why and "bf16 ~27.34 s" in why
    assert "bf16 is 33 % cheaper than ONNX Runtime fp32 for this text" in why
    assert "0.0274 CPU-s less per second of audio and 3.65 CPU-s more to start" in why
    assert "not faster" not in why


def test_a_near_tie_keeps_the_engine_cheaper_to_start() -> None:
    ort, fast = EngineCost(1.0, 0.070), EngineCost(5.0, 0.060)
    at = 500.0  # ORT 36.0, bf16 35.0: bf16 3 % cheaper, inside the 5 % margin
    v = compare(at, ort, fast)
    assert v.engine == "ort-fp32" and "inside the 5 % margin: ONNX Runtime fp32 stays" in v.sentence
    # one tune's noise (a few per cent either way) cannot flip it
    for jitter in (0.98, 1.0, 1.02):
        assert compare(at, ort, EngineCost(5.0, 0.060 * jitter)).engine == "ort-fp32"
    assert compare(at, ort, fast, margin=0.01).engine == "torch-bf16"


def test_a_tunes_margin_widens_the_tie() -> None:
    table = CostTable.from_profile(AMX.to_profile(), margin=0.12)
    assert table.margin == 0.12 and table.unit == costs.WHOLE
    assert CostTable.from_profile(AMX.to_profile(), margin=0.01).margin == costs.MARGIN  # never below the floor
    assert CostTable.from_profile(AMX.to_profile(), margin=3.0).margin == costs.MAX_MARGIN


def test_fit_line_keeps_each_runs_noise_in_its_own_term() -> None:
    from tts_accel.core.tune.acoustic import fit_line

    def line(a: float) -> float:
        return 1.07 + 0.0633 * a

    lengths = (3.0, 33.0, 200.0)
    fixed, per = fit_line([(a, line(a)) for a in lengths])
    assert fixed == pytest.approx(1.07) and per == pytest.approx(0.0633)
    # 5 % too slow on the long run: the slope moves by about that share, the fixed cost little
    fixed, per = fit_line([(a, line(a) * (1.05 if a == 200.0 else 1.0)) for a in lengths])
    assert per == pytest.approx(0.0633 * 1.05, rel=0.02) and fixed == pytest.approx(1.07, abs=0.15)
    # 10 % too slow on the sentence: the fixed cost moves by about that, the slope under 3 %
    fixed, per = fit_line([(a, line(a) * (1.10 if a == 3.0 else 1.0)) for a in lengths])
    assert per == pytest.approx(0.0633, rel=0.03) and fixed == pytest.approx(1.07 + 0.126, abs=0.15)
    assert fit_line([(10.0, 5.0), (20.0, 4.0)]) == (0.0, 0.2)  # noise ate the slope: the whole cost per second


def test_a_handed_over_engines_line_is_its_own_slope_past_the_handoff() -> None:
    """A compiled engine runs ORT's windows until it is warm (here the first 150 s of audio, 4 CPU-s
    to load): the sentence and a 33-s text are ORT's runs plus the load. ``fit_tail`` takes the
    slope between the two long runs (bf16's own); ``fit_line`` through all three, pinned to the short
    runs, reported a slope between ORT's and bf16's (the Xeon AMX VM: 0.059 against 0.030)."""
    from tts_accel.core.tune.acoustic import fit_line, fit_tail

    def handed_over(a: float) -> float:
        return 0.6 + 4.0 + 0.07 * min(a, 150.0) + 0.03 * max(0.0, a - 150.0)

    points = [(a, handed_over(a)) for a in (3.0, 200.0, 600.0)]
    fixed, per = fit_tail(points)
    assert per == pytest.approx(0.03) and fixed == pytest.approx(0.6 + 4.0 + (0.07 - 0.03) * 150.0)
    assert fit_line(points)[1] > 0.035  # the weighted line is pulled towards ORT's slope
    assert fit_tail([(3.0, 2.0), (3.0, 2.2)]) == fit_line([(3.0, 2.0), (3.0, 2.2)])  # one length: no tail
