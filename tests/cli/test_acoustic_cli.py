"""`tts bench --acoustic` rows and `tts tune --acoustic-only` storing costs, through Typer's runner."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tts_accel.cli.app import app

runner = CliRunner()
HAS_TORCH = importlib.util.find_spec("torch") is not None
TINY = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


@pytest.mark.skipif(not HAS_TORCH, reason="the torch engines need the torch extra")
def test_bench_acoustic_gives_every_engine_a_row_with_its_quality(tmp_path: Path) -> None:
    text = tmp_path / "tiny.txt"
    text.write_text(TINY, encoding="utf-8")
    out = tmp_path / "a.json"
    result = runner.invoke(app, ["bench", "--acoustic", "torch-bf16-eager,ort-int8,torch-fp32", "-i", str(text),
                                 "--repeats", "1", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["engine"]: r for r in json.loads(out.read_text())}
    assert list(rows) == ["ort-fp32", "torch-bf16-eager", "ort-int8", "torch-fp32"]  # the reference first
    assert rows["ort-fp32"]["speedup"] == pytest.approx(1.0)
    assert rows["torch-fp32"]["snr_db"] > 90  # the same decoder, fp32: float rounding only
    assert rows["torch-bf16-eager"]["snr_db"] > 30 and rows["torch-bf16-eager"]["same_voice"] is True
    assert rows["ort-int8"]["same_voice"] is False  # the landed int8 copy is another rendering
    assert all(r["audio_s"] > 4 and r["cpu_s"] > 0 for r in rows.values())
    # the roofline: the decoder's FLOPs over each engine's CPU time, against this CPU's peak
    assert "roofline: the decoder needs 3.9" in result.output and "GFLOP/s" in result.output
    for r in rows.values():
        assert r["decoder_gflop_per_audio_s"] == pytest.approx(3.9, rel=0.02)
        assert r["gflops"] == pytest.approx(r["decoder_gflop_per_audio_s"] * r["audio_s"] / r["cpu_s"], rel=1e-6)
    if rows["ort-fp32"]["peak_gflops"] is not None:  # a clock this machine reports
        ort = rows["ort-fp32"]
        assert 0 < ort["peak_share"] == pytest.approx(ort["gflops"] / ort["peak_gflops"])
        assert rows["ort-fp32"]["peak_fp32_gflops"] >= rows["ort-fp32"]["peak_gflops"]
    assert rows["ort-int8"]["peak_share"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--acoustic", "warp"], "unknown acoustic engine 'warp'"),
        (["--acoustic", "all", "--modes", "sequential"], "give one of them"),
        (["--acoustic", "all", "--voice", "kokoro-jf_alpha"], "no separate acoustic stage"),
    ],
)
def test_bench_acoustic_bad_input_is_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not HAS_TORCH, reason="the torch engines need the torch extra")
def test_tune_stores_the_engines_costs_and_the_planner_reads_them(tmp_path, monkeypatch, config_home) -> None:
    from tts_accel.core.hardware.profile import HardwareProfile
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.plan.profiles import tuned_path
    from tts_accel.core.tune import acoustic as acoustic_tune

    # Kept small: two engines (no compile), one Harvard sentence, the costs given (they are measured
    # in fresh processes, seconds each: test_process_costs_fit_a_line_through_whole_processes);
    # everything else is measured for real.
    monkeypatch.setattr(acoustic_tune, "runnable", lambda voice, hw=None: {"ort-fp32": "", "torch-bf16-eager": ""})
    monkeypatch.setattr(
        acoustic_tune, "_process_costs", lambda voice, names, text, repeats: (dict.fromkeys(names, (0.25, 0.06)), 0.08)
    )
    monkeypatch.setattr(acoustic_tune, "harvard_sentences", lambda limit=None: [TINY.split(". ")[0] + "."])
    text = tmp_path / "tiny.txt"
    text.write_text(TINY, encoding="utf-8")
    result = runner.invoke(app, ["tune", "--acoustic-only", "-i", str(text)])
    assert result.exit_code == 0, result.output
    saved = tuned_path(HardwareProfile.detect())
    profile = saved.read_text()
    assert "[acoustic.costs.ort-fp32]" in profile and "[acoustic.quality.torch-bf16-eager]" in profile
    assert "decision margin: 8%" in result.output  # the runs' spread, wider than the 5 % floor
    from tts_accel.core.plan.profiles import load_tuned

    stored = load_tuned(HardwareProfile.detect())
    assert stored is not None
    ort = stored.acoustic_costs()["ort-fp32"]
    assert (ort["fixed_s"], ort["per_audio_s"]) == (0.25, 0.06) and stored.acoustic["margin"] == 0.08
    assert stored.acoustic["quality"]["torch-bf16-eager"]["decoder_per_audio_s"] > 0
    assert stored.acoustic_same_voice() == {"ort-fp32": True, "torch-bf16-eager": True}
    plan = plan_for("pipelined", text_chars=4 * 3405)  # ORT fp32 measured here, bf16 from the defaults
    assert "(tuned and default costs" in plan.reasons["acoustic"] or "no bf16 instructions" in plan.reasons["acoustic"]


def test_process_costs_fit_a_line_through_whole_processes() -> None:
    """Fresh processes per engine (the first sentence, four Harvard sentences six and eighteen times
    over): a start-up cost and a cost per second of audio, both positive, in CPU seconds of the
    whole process, and the spread of the long runs."""
    from tts_accel.core.text.samples import harvard_sentences
    from tts_accel.core.tune.acoustic import _process_costs

    text = " ".join(harvard_sentences()[:2])  # ~5 s of audio: ~30 and ~90 s repeated
    lines, spread = _process_costs("piper-joe", ["ort-fp32"], text, 1)
    ((fixed, per_audio),) = lines.values()
    assert 0.2 < fixed < 30 and 0.0 < per_audio < 1.0
    assert spread == 0.0  # one run per length: no spread to measure
