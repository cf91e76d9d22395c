from __future__ import annotations

import dataclasses
import os
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.hardware.fake_trees import arm_big_little, epyc_vm, intel_hybrid, write_tree
from tests.utils import run_python
from tts_accel.core.hardware import gpu as gpu_mod
from tts_accel.core.hardware.gpu import GPUInfo, architecture_of, parse_nvidia_smi
from tts_accel.core.hardware.profile import Cache, HardwareProfile, format_cpu_list, parse_cpu_list


def test_intel_hybrid_desktop(tmp_path):
    hw = HardwareProfile.detect(intel_hybrid(tmp_path), gpus=False)
    assert hw.cpu_model == "13th Gen Intel(R) Core(TM) i5-13600K"
    assert hw.cpu_vendor == "Intel"
    assert (hw.logical_cores, hw.physical_cores) == (20, 14)
    assert hw.core_layout == "hybrid"
    assert hw.performance_cpus == tuple(range(12))
    assert hw.efficiency_cpus == tuple(range(12, 20))
    # one thread per physical P-core: the first SMT sibling of each
    assert hw.performance_core_cpus() == (0, 2, 4, 6, 8, 10)
    assert hw.isa == ("sse4_2", "avx", "avx2", "fma")
    assert not hw.has("avx512f")
    assert Cache(3, "Unified", 24576) in hw.caches
    assert hw.memory_mib == 32 * 1024
    assert hw.cpu_quota is None
    assert hw.effective_cpus == 20


def test_arm_big_little_board(tmp_path):
    hw = HardwareProfile.detect(arm_big_little(tmp_path), gpus=False)
    assert hw.cpu_vendor == "ARM"
    assert hw.cpu_model == "ARM part 0xd05"
    assert hw.core_layout == "big.little"
    assert hw.performance_cpus == (4, 5, 6, 7)
    assert hw.efficiency_cpus == (0, 1, 2, 3)
    assert hw.isa == ("asimd",)
    assert hw.caches == ()
    assert hw.cpu_quota is None  # cgroup v1 quota -1
    assert hw.memory_mib == 8 * 1024


def test_arm_without_cpu_capacity_falls_back_to_cpufreq(tmp_path):
    hw = HardwareProfile.detect(arm_big_little(tmp_path, capacity=False), gpus=False)
    assert hw.core_layout == "cpufreq"
    assert hw.performance_cpus == (4, 5, 6, 7)
    assert hw.efficiency_cpus == (0, 1, 2, 3)


def test_favoured_cores_stay_one_class(tmp_path):
    """Turbo Boost Max favoured cores (5.3 vs 5.1 GHz) are not efficiency cores."""
    root = intel_hybrid(tmp_path)
    for name in ("cpu_core", "cpu_atom"):
        (root / "sys/devices" / name / "cpus").unlink()
    hw = HardwareProfile.detect(root, gpus=False)
    assert hw.core_layout == "cpufreq"
    assert hw.performance_cpus == tuple(range(12))
    assert hw.efficiency_cpus == tuple(range(12, 20))


def test_two_core_vm_with_quota(tmp_path):
    hw = HardwareProfile.detect(epyc_vm(tmp_path), gpus=False)
    assert (hw.cpu_model, hw.cpu_vendor) == ("AMD EPYC", "AMD")
    assert (hw.logical_cores, hw.physical_cores) == (2, 2)
    assert hw.core_layout == "uniform"  # equal cpu_capacity: one class
    assert hw.performance_cpus == (0, 1) and hw.efficiency_cpus == ()
    assert {"avx2", "avx512f", "avx512_vnni", "avx512_bf16"} <= set(hw.isa)
    assert hw.cpu_quota == 2.0
    assert hw.effective_cpus == 2


@pytest.mark.parametrize(("cpu_max", "quota", "effective"), [
    ("150000 100000", 1.5, 1), ("50000 100000", 0.5, 1), ("max 100000", None, 8), ("400000 100000", 4.0, 4),
])  # fmt: skip
def test_cgroup_v2_quota_caps_effective_cpus(tmp_path, cpu_max, quota, effective):
    hw = HardwareProfile.detect(epyc_vm(tmp_path, cpu_max=cpu_max, cpus=8), gpus=False)
    assert hw.cpu_quota == quota
    assert hw.effective_cpus == effective


def test_cgroup_v1_quota(tmp_path):
    root = arm_big_little(tmp_path)
    write_tree(root, {"sys/fs/cgroup/cpu/cpu.cfs_quota_us": "300000"})
    hw = HardwareProfile.detect(root, gpus=False)
    assert hw.cpu_quota == 3.0
    assert hw.effective_cpus == 3


def test_cgroup_follows_the_process_cgroup_path(tmp_path):
    root = epyc_vm(tmp_path, cpu_max="max 100000", cpus=4)
    write_tree(root, {"proc/self/cgroup": "0::/app.slice/tts", "sys/fs/cgroup/app.slice/tts/cpu.max": "100000 100000"})
    assert HardwareProfile.detect(root, gpus=False).effective_cpus == 1


def test_affinity_limits_usable_performance_cpus(tmp_path):
    hw = HardwareProfile.detect(intel_hybrid(tmp_path), gpus=False)
    pinned = dataclasses.replace(hw, usable_cpus=(2, 3, 12, 13))
    assert pinned.usable_performance_cpus == (2, 3)
    assert pinned.performance_core_cpus() == (2,)
    assert pinned.effective_cpus == 4


def test_empty_root_gives_safe_defaults(tmp_path):
    hw = HardwareProfile.detect(tmp_path, gpus=False)
    assert hw.logical_cores >= 1 and hw.physical_cores >= 1
    assert hw.cpu_model == "unknown" and hw.memory_mib == 0
    assert hw.effective_cpus >= 1


def test_fingerprint_is_stable_and_tracks_performance_facts(tmp_path):
    a = HardwareProfile.detect(epyc_vm(tmp_path / "a"), gpus=False)
    b = HardwareProfile.detect(epyc_vm(tmp_path / "b"), gpus=False)
    assert a.fingerprint() == b.fingerprint() and len(a.fingerprint()) == 12
    assert dataclasses.replace(a, memory_mib=1).fingerprint() == a.fingerprint()  # memory: not a key
    changed = [
        dataclasses.replace(a, cpu_model="AMD EPYC 9654"),
        dataclasses.replace(a, isa=("avx2",)),
        dataclasses.replace(a, cpu_quota=1.0),
        dataclasses.replace(a, gpus=(GPUInfo("NVIDIA A100", "8.0", 40960),)),
        HardwareProfile.detect(intel_hybrid(tmp_path / "c"), gpus=False),
    ]
    assert len({a.fingerprint(), *(c.fingerprint() for c in changed)}) == len(changed) + 1


def test_to_dict_is_json_ready(tmp_path):
    import json

    hw = dataclasses.replace(
        HardwareProfile.detect(epyc_vm(tmp_path), gpus=False), gpus=(GPUInfo("NVIDIA H100", "9.0", 81559),)
    )
    data = json.loads(json.dumps(hw.to_dict()))
    assert data["gpus"][0]["architecture"] == "Hopper" and data["gpus"][0]["sm"] == "sm_90"
    assert data["fingerprint"] == hw.fingerprint() and data["effective_cpus"] == 2


def test_cpu_list_parsing():
    assert parse_cpu_list("0-3,8,10-11\n") == (0, 1, 2, 3, 8, 10, 11)
    assert parse_cpu_list("") == ()


@pytest.mark.parametrize(("cc", "arch"), [
    ("8.0", "Ampere"), ("8.6", "Ampere"), ("8.9", "Ada"), ("9.0", "Hopper"), ("10.0", "Blackwell"),
    ("12.0", "Blackwell"), ("7.5", "Turing"), ("x", "unknown"),
])  # fmt: skip
def test_architecture_names(cc, arch):
    assert architecture_of(cc) == arch


def test_nvidia_smi_rows_parse():
    text = "NVIDIA H100 80GB HBM3, 9.0, 81559 MiB\nNVIDIA GeForce RTX 4090, 8.9, 24564 MiB\n\ngarbage\n"
    gpus = parse_nvidia_smi(text)
    assert [(g.name, g.sm, g.architecture, g.memory_mib) for g in gpus] == [
        ("NVIDIA H100 80GB HBM3", "sm_90", "Hopper", 81559),
        ("NVIDIA GeForce RTX 4090", "sm_89", "Ada", 24564),
    ]


def test_nvidia_smi_on_path_is_used_without_torch(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA A100-SXM4-40GB, 8.0, 40960 MiB'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(gpu_mod, "torch_available", lambda: False)
    (gpu,) = gpu_mod.probe_gpus()
    assert (gpu.architecture, gpu.memory_mib) == ("Ampere", 40960)


def test_hung_nvidia_smi_times_out(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setattr(gpu_mod, "torch_available", lambda: False)
    monkeypatch.setattr(gpu_mod, "NVIDIA_SMI_TIMEOUT_S", 0.3)
    assert gpu_mod.probe_gpus() == ()


def test_real_machine():
    hw = HardwareProfile.detect("/")
    assert hw.logical_cores >= 1 and 1 <= hw.physical_cores <= hw.logical_cores
    assert hw.performance_cpus and set(hw.usable_performance_cpus) <= set(hw.usable_cpus)
    assert 1 <= hw.effective_cpus <= (os.cpu_count() or 1)
    assert set(hw.usable_cpus) == set(os.sched_getaffinity(0))
    assert hw.memory_mib > 0
    assert hw.cpu_model != "unknown"


@given(st.sets(st.integers(min_value=0, max_value=300), max_size=40))
def test_cpu_list_format_round_trips(cpus):
    text = format_cpu_list(sorted(cpus))
    assert parse_cpu_list(text) == tuple(sorted(cpus))
    assert len(text) <= len(",".join(map(str, sorted(cpus))))  # ranges only ever shorten


def test_importing_the_hardware_and_plan_modules_does_not_import_torch():
    code = (
        "import sys, tts_accel.core.hardware.profile, tts_accel.core.plan.model, tts_accel.core.plan.profiles, "
        "tts_accel.cli.profile; print('torch' in sys.modules)"
    )
    assert run_python(code, timeout=60).stdout.strip() == "False"


def test_caches_are_read_from_a_performance_core(tmp_path):
    root = arm_big_little(tmp_path)
    for cpu, size in ((0, "128K"), (4, "512K")):  # little cpu0, big cpu4
        base = f"sys/devices/system/cpu/cpu{cpu}/cache/index0"
        write_tree(root, {f"{base}/level": "2", f"{base}/type": "Unified", f"{base}/size": size})
    assert HardwareProfile.detect(root, gpus=False).caches == (Cache(2, "Unified", 512),)


def test_installed_torch_decides_even_when_nvidia_smi_sees_a_gpu(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA A100-SXM4-40GB, 8.0, 40960 MiB'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(gpu_mod, "torch_available", lambda: True)
    monkeypatch.setattr(gpu_mod, "_from_torch", lambda: ())  # a CPU-only torch build
    assert gpu_mod.probe_gpus() == ()


def test_gpus_through_torch(monkeypatch):
    """torch.cuda's view, read through a stand-in module (no GPU and no torch on the test machine)."""
    import types

    props = types.SimpleNamespace(name="NVIDIA RTX 6000 Ada Generation", major=8, minor=9, total_memory=48 << 30)
    cuda = types.SimpleNamespace(
        is_available=lambda: True, device_count=lambda: 2, get_device_properties=lambda i: props
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    monkeypatch.setattr(gpu_mod, "torch_available", lambda: True)
    monkeypatch.setattr(gpu_mod, "driver_present", lambda: True)
    gpus = gpu_mod.probe_gpus()
    assert [(g.sm, g.architecture, g.memory_mib) for g in gpus] == [("sm_89", "Ada", 48 * 1024)] * 2
    cuda.is_available = lambda: False
    assert gpu_mod.probe_gpus() == ()
    cuda.is_available = lambda: 1 / 0  # a broken driver: no GPU, no crash
    assert gpu_mod.probe_gpus() == ()


def test_without_a_gpu_driver_torch_is_not_imported(tmp_path, monkeypatch):
    """`tts synth` detects the machine on every run: importing torch there costs seconds."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    monkeypatch.setattr(gpu_mod, "DRIVER_PATHS", (str(tmp_path / "nvidiactl"),))
    monkeypatch.setattr(gpu_mod, "torch_available", lambda: True)
    monkeypatch.setattr(gpu_mod, "_from_torch", lambda: 1 / 0)  # would fail the test if called
    assert not gpu_mod.driver_present()
    assert gpu_mod.probe_gpus() == ()
    (tmp_path / "nvidiactl").touch()
    assert gpu_mod.driver_present()
