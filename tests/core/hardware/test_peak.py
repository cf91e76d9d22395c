"""Peak FLOP/s from ISA, cores and clock, on fake machines (formula: cores x GHz x units x lanes x 2)."""

from __future__ import annotations

import pytest

from tests.core.hardware.fake_trees import epyc_vm, intel_hybrid, write_tree
from tts_accel.core.acoustic.flops import DecoderFlops
from tts_accel.core.bench.roofline import engine_roof, machine_peak
from tts_accel.core.hardware.peak import achieved


@pytest.fixture(autouse=True)
def _no_cap(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)


def test_zen4_vm_uses_cpuinfo_mhz_and_one_512_bit_fma_a_cycle(tmp_path) -> None:
    root = epyc_vm(tmp_path)
    text = (root / "proc/cpuinfo").read_text().replace("flags", "cpu family\t: 25\ncpu MHz\t\t: 2600.000\nflags")
    write_tree(root, {"proc/cpuinfo": text})
    peak = machine_peak(root=root)
    assert (peak.cores, peak.ghz, peak.clock_source) == (2, 2.6, "/proc/cpuinfo cpu MHz")
    assert (peak.fp32_per_cycle, peak.bf16_per_cycle) == (32, 64)
    assert peak.gflops("fp32") == pytest.approx(2 * 2.6 * 1 * 16 * 2)  # 166.4
    assert peak.gflops("bf16", cores=1) == pytest.approx(2.6 * 64)
    assert "2 cores x 2.60 GHz" in peak.describe()


def test_intel_hybrid_reads_cpufreq_max_and_has_no_bf16(tmp_path) -> None:
    peak = machine_peak(root=intel_hybrid(tmp_path))
    assert peak.clock_source == "cpufreq max" and peak.ghz == pytest.approx(5.3)  # cpu0's max
    assert peak.cores == 6  # P-cores, one per physical core
    assert peak.gflops("fp32") == pytest.approx(6 * 5.3 * 2 * 8 * 2)  # AVX2: 2 FMA x 8 lanes x 2
    assert peak.gflops("bf16") is None and "no bf16 instructions" in peak.describe()


def test_no_clock_means_no_peak(tmp_path) -> None:
    root = epyc_vm(tmp_path)  # the fake EPYC has neither cpufreq nor cpu MHz
    peak = machine_peak(root=root)
    assert peak.ghz is None and peak.gflops("fp32") is None and "clock unknown" in peak.describe()


def test_an_engines_share_of_one_cores_peak(tmp_path) -> None:
    root = epyc_vm(tmp_path)
    text = (root / "proc/cpuinfo").read_text().replace("flags", "cpu family\t: 25\ncpu MHz\t\t: 2000.000\nflags")
    write_tree(root, {"proc/cpuinfo": text})
    peak = machine_peak(root=root)
    flops = DecoderFlops(3.9e9, 23)
    assert achieved(3.9e9, 0.039) == pytest.approx(100.0)
    ort = engine_roof("ort-fp32", 0.078, flops, peak)  # 50 GFLOP/s of one core's 2.0 x 32 = 64
    assert ort.gflops == pytest.approx(50.0) and ort.share == pytest.approx(50 / 64)
    bf16 = engine_roof("torch-bf16", 0.039, flops, peak)  # 100 of 2.0 x 64 = 128
    assert bf16.precision == "bf16" and bf16.share == pytest.approx(100 / 128)
    assert engine_roof("ort-int8", 0.05, flops, peak).share is None  # no int8 peak estimated
