from __future__ import annotations

import dataclasses
import os

import pytest

from tests.core.hardware.fake_trees import arm_big_little, epyc_vm, intel_hybrid
from tts_accel.core.errors import InputError
from tts_accel.core.hardware.gpu import GPUInfo
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan.explain import explain_rows
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.profiles import Profile, pick_preset
from tts_accel.core.plan.resolve import resolve_plan
from tts_accel.core.voices.registry import family_named

H100 = GPUInfo("NVIDIA H100 80GB HBM3", "9.0", 81559)


@pytest.fixture
def vm(tmp_path) -> HardwareProfile:
    return HardwareProfile.detect(epyc_vm(tmp_path), gpus=False)


@pytest.fixture
def hybrid(tmp_path) -> HardwareProfile:
    return HardwareProfile.detect(intel_hybrid(tmp_path), gpus=False)


def resolve(hw, flags=None, *, tuned=None, torch=False, preset="auto", **kw) -> ExecutionPlan:
    chosen = pick_preset(hw, torch_available=torch) if preset == "auto" else preset
    return resolve_plan(flags or {}, hw, tuned=tuned, preset=chosen, torch_available=torch, **kw)


def test_two_core_vm_runs_two_single_threaded_workers(vm):
    plan = resolve(vm, {"mode": "auto"})
    assert (plan.mode, plan.workers, plan.intra_op_threads) == ("pipelined", 2, 1)
    assert (plan.backend, plan.device, plan.precision, plan.batch_size) == ("onnx", "cpu", "fp32", 1)
    assert plan.affinity == ()  # one class of cores: nothing to steer away from
    assert plan.sources["mode"] == "heuristic" and plan.sources["workers"] == "heuristic"
    assert plan.sources["precision"] == "preset"  # generic-cpu
    assert plan.sources["inter_op_threads"] == "default"
    assert set(plan.sources) == set(ExecutionPlan.field_names())


def test_one_core_runs_sequentially_with_one_thread(tmp_path):
    one = HardwareProfile.detect(epyc_vm(tmp_path, cpus=1, cpu_max="max 100000"), gpus=False)
    plan = resolve(one)
    assert (plan.mode, plan.workers, plan.intra_op_threads) == ("sequential", 1, 1)


def test_quota_of_one_cpu_on_eight_cores_is_one_core(tmp_path):
    hw = HardwareProfile.detect(epyc_vm(tmp_path, cpus=8, cpu_max="100000 100000"), gpus=False)
    plan = resolve(hw)
    # ORT's default would start 8 threads and be throttled by the quota
    assert (plan.mode, plan.intra_op_threads) == ("sequential", 1)


def test_hybrid_intel_uses_performance_cores_only(hybrid):
    plan = resolve(hybrid)
    assert (plan.mode, plan.workers, plan.intra_op_threads) == ("pipelined", 6, 1)
    assert plan.affinity[:6] == (0, 2, 4, 6, 8, 10)  # one thread per P-core first
    assert set(plan.affinity) == set(range(12))  # never an E-core
    assert {plan.sources[f] for f in ("mode", "workers", "intra_op_threads", "affinity")} == {"preset"}


def test_hybrid_heuristics_alone_agree_with_the_preset(hybrid):
    plan = resolve(hybrid, preset=None)
    assert (plan.mode, plan.workers, plan.intra_op_threads) == ("pipelined", 6, 1)
    assert set(plan.affinity) == set(range(12)) and plan.sources["affinity"] == "heuristic"


def test_arm_big_little_uses_big_cores(tmp_path):
    hw = HardwareProfile.detect(arm_big_little(tmp_path), gpus=False)
    plan = resolve(hw)
    assert (plan.mode, plan.workers, plan.affinity) == ("pipelined", 4, (4, 5, 6, 7))


def test_gpu_with_torch_goes_hybrid_on_cuda(vm):
    gpu_vm = dataclasses.replace(vm, gpus=(H100,))
    plan = resolve(gpu_vm, torch=True)
    assert (plan.backend, plan.mode, plan.device) == ("torch", "hybrid", "cuda")
    assert plan.sources["mode"] == "preset"  # nvidia-hopper
    heuristic = resolve(gpu_vm, torch=True, preset=None)
    assert (heuristic.backend, heuristic.mode, heuristic.device) == ("torch", "hybrid", "cuda")
    assert heuristic.sources["mode"] == "heuristic"


def test_gpu_without_torch_stays_on_onnx(vm):
    plan = resolve(dataclasses.replace(vm, gpus=(H100,)), torch=False)
    assert (plan.backend, plan.mode, plan.device) == ("onnx", "pipelined", "cpu")


def test_kokoro_has_no_torch_port_so_gpu_heuristic_stays_onnx(vm):
    plan = resolve(dataclasses.replace(vm, gpus=(H100,)), torch=True, preset=None, family=family_named("kokoro"))
    assert plan.backend == "onnx"


def test_order_flag_beats_tuned_beats_preset_beats_heuristic(hybrid):
    tuned = Profile(name="t", kind="tuned", plan={"mode": "parallel", "workers": 3, "intra_op_threads": 2})
    preset = Profile(name="p", plan={"mode": "parallel", "workers": 5, "intra_op_threads": 1, "batch_size": 1,
                                     "graph_optimization": "extended"})  # fmt: skip
    plan = resolve(hybrid, {"workers": 4, "precision": None}, tuned=tuned, preset=preset)
    assert (plan.workers, plan.sources["workers"]) == (4, "flag")
    assert (plan.intra_op_threads, plan.sources["intra_op_threads"]) == (2, "tuned")
    assert (plan.graph_optimization, plan.sources["graph_optimization"]) == ("extended", "preset")
    assert plan.sources["affinity"] == "heuristic" and plan.sources["precision"] == "heuristic"
    assert plan.sources["mode"] == "tuned"


def test_a_flagged_mode_drops_profile_values_tuned_for_another_mode(vm):
    tuned = Profile(name="t", kind="tuned", plan={"mode": "parallel", "workers": 4, "intra_op_threads": 1,
                                                  "graph_optimization": "basic"})  # fmt: skip
    plan = resolve(vm, {"mode": "sequential"}, tuned=tuned)
    assert (plan.mode, plan.workers, plan.intra_op_threads) == ("sequential", 1, 2)
    assert plan.sources["workers"] == "heuristic"
    assert (plan.graph_optimization, plan.sources["graph_optimization"]) == ("basic", "tuned")


def test_batched_flag_uses_a_batch_of_two(vm):
    plan = resolve(vm, {"mode": "batched"})
    assert (plan.batch_size, plan.workers, plan.intra_op_threads) == (2, 1, 2)


def test_torch_mode_flag_implies_torch_backend(vm):
    plan = resolve(vm, {"mode": "triton"}, torch=True)
    assert (plan.backend, plan.device, plan.sources["backend"]) == ("torch", "cpu", "flag")


def test_torch_mode_without_torch_says_how_to_install(vm):
    with pytest.raises(InputError, match=r"tts-accel\[torch\]"):
        resolve(vm, {"mode": "graph"}, torch=False)


def test_tuned_torch_profile_is_ignored_when_torch_is_gone(vm):
    tuned = Profile(name="t", kind="tuned", plan={"mode": "hybrid", "device": "cuda", "workers": 1})
    plan = resolve(dataclasses.replace(vm, gpus=(H100,)), tuned=tuned, torch=False)
    assert (plan.backend, plan.mode, plan.device) == ("onnx", "pipelined", "cpu")


@pytest.mark.parametrize(("flags", "message"), [
    ({"mode": "turbo"}, "unknown mode 'turbo'"),
    ({"precision": "int4"}, "precision 'int4'"),
    ({"mode": "parallel", "backend": "torch"}, "drop one"),
    ({"threads": 2}, "unknown plan settings"),
    ({"workers": 0}, "from 1 to 1024"),
    ({"batch_size": 100000}, "from 1 to 1024"),
    ({"affinity": "0-x"}, "CPU numbers"),
])  # fmt: skip
def test_bad_flags_are_input_errors(vm, flags, message):
    with pytest.raises(InputError, match=message):
        resolve(vm, flags)


def test_int8_is_only_for_onnx(vm):
    assert resolve(vm, {"precision": "int8"}).precision == "int8"
    with pytest.raises(InputError, match="fp32 or fp16 or bf16"):
        resolve(vm, {"precision": "int8", "mode": "torch"}, torch=True)


def test_symbolic_preset_values_follow_the_machine(hybrid):
    preset = Profile(name="p", plan={"mode": "parallel", "workers": "performance-cores", "affinity": "all"})
    plan = resolve(dataclasses.replace(hybrid, usable_cpus=(0, 1, 2, 3, 12)), preset=preset)
    assert plan.workers == 2 and plan.affinity == (0, 1, 2, 3, 12)
    with pytest.raises(InputError, match="whole number"):
        resolve(hybrid, preset=Profile(name="p", plan={"workers": "lots"}))


def test_explain_rows(hybrid):
    rows = explain_rows(resolve(hybrid, {"precision": "fp32"}))
    by_field = {f: (v, s) for f, v, s in rows}
    assert [f for f, _, _ in rows] == ExecutionPlan.field_names()
    assert by_field["precision"] == ("fp32", "flag")
    assert by_field["affinity"] == ("0-11", "preset")
    assert by_field["inter_op_threads"] == ("0 (runtime default)", "default")


def test_resolve_for_machine_uses_the_tuned_profile_of_this_machine(vm, tmp_path, monkeypatch):
    from tts_accel.core.pipeline.planning import resolve_for_machine
    from tts_accel.core.plan.profiles import save_tuned

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert resolve_for_machine({}, hw=vm).sources["workers"] == "heuristic"
    save_tuned(Profile(name="", plan={"mode": "parallel", "workers": 4, "intra_op_threads": 1}), vm)
    plan = resolve_for_machine({"mode": "auto"}, hw=vm)
    assert (plan.workers, plan.sources["workers"], plan.sources["mode"]) == (4, "tuned", "tuned")
    assert resolve_for_machine({"workers": 3}, hw=vm).workers == 3


def test_real_machine_plan_is_sane():
    from tts_accel.core.pipeline.planning import resolve_for_machine

    plan = resolve_for_machine({})
    assert plan.backend in ("onnx", "torch")
    assert 1 <= plan.workers <= (os.cpu_count() or 1)


def test_affinity_flag_accepts_a_cpu_list(hybrid):
    plan = resolve(hybrid, {"affinity": "0-3,8"})
    assert (plan.affinity, plan.sources["affinity"]) == ((0, 1, 2, 3, 8), "flag")


def test_a_plan_is_frozen_with_its_sources_and_reasons_and_parses_its_windows_once() -> None:
    plan = ExecutionPlan(mode="pipelined", windows="w200:32x128x512/512", sources={"mode": "flag"},
                         reasons={"acoustic": "why"})  # fmt: skip
    with pytest.raises(TypeError):
        plan.reasons["acoustic"] = "rewritten later"  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.sources["mode"] = "tuned"  # type: ignore[index]
    assert plan.window_plan is not None and str(plan.window_plan) == "w200:32x128x512/512"
    assert plan.window_plan is plan.window_plan and plan.streams_windows
    assert ExecutionPlan(mode="pipelined", windows="off").window_plan is None
    assert "window_plan" not in ExecutionPlan.field_names()  # not a setting: derived from windows
