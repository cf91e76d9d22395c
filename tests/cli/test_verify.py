from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from tests.utils import cli_env
from tts_accel.cli.verify import exit_code, fmt_value, report_json, verify_command
from tts_accel.core.verify import parity as verify_parity
from tts_accel.core.verify.report import FAIL, PASS, SKIP, Row, VerifyReport

# The lead registers the command on the real app; these tests mount it on a bare one so
# they do not depend on that wiring.
APP_SOURCE = """
import typer
from tts_accel.cli.verify import verify_command
app = typer.Typer(context_settings={"help_option_names": ["-h", "--help"]})
app.callback()(lambda: None)
app.command("verify")(verify_command)
app()
"""


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("verify")(verify_command)
    return app


runner = CliRunner()


@pytest.fixture(autouse=True)
def short_texts(tmp_path, monkeypatch):
    """Three short sentences instead of the Harvard list: the command's wiring, not the model,
    is under test here (tests/core/verify/test_verify.py runs the real list)."""
    (tmp_path / "harvard.txt").write_text("Hello there.\nA red fox.\nGood night.\n", encoding="utf-8")
    monkeypatch.setenv("TTS_ACCEL_TEXTS", str(tmp_path))


def invoke(*args: str):
    return runner.invoke(make_app(), ["verify", *args])


def test_quick_tier2_prints_each_figure_beside_its_threshold_and_writes_json(tmp_path):
    out = tmp_path / "verify.json"
    result = invoke("--tier", "2", "--quick", "--json", str(out))
    assert result.exit_code == 0, result.output
    assert "tier 2: model parity" in result.output and "<= 1e-06" in result.output
    data = json.loads(out.read_text())
    assert data["exit_code"] == 0 and data["tiers"] == [2] and data["quick"] is True
    modes = [r for r in data["rows"] if r["metric"] == "max abs diff" and not r["item"].startswith("windows")]
    assert len(modes) == 2 and all(r["status"] == "pass" and 0 <= r["value"] < 1e-3 for r in modes)
    assert next(r for r in modes if r["item"] == "parallel")["value"] == 0  # identical samples
    # the two-stage split: windows against one whole run of the stage, and against the voice's graph
    windows = [r for r in data["rows"] if r["item"].startswith("windows")]
    assert len(windows) == 3 and all(r["status"] == "pass" and r["value"] <= 1e-4 for r in windows)


def test_a_failing_check_exits_1_and_says_fail(monkeypatch, tmp_path):
    monkeypatch.setattr(verify_parity, "DEFAULT_TOLERANCE", -1.0)  # nothing can be that close
    result = invoke("--tier", "2", "--quick", "--json", str(tmp_path / "v.json"))
    assert result.exit_code == 1 and "fail" in result.output
    assert json.loads((tmp_path / "v.json").read_text())["exit_code"] == 1


def test_a_tier_that_cannot_run_exits_6_with_the_reason(monkeypatch):
    import tts_accel.kernels as kernels

    monkeypatch.setattr(kernels, "registry", lambda: [], raising=False)  # nothing to check
    result = invoke("--tier", "1", "--quick")
    assert result.exit_code == 6
    assert "tier 1 did not run" in result.output
    assert "torch" in result.output or "no kernels" in result.output


def test_an_unknown_voice_is_a_voice_error():
    result = invoke("--tier", "2", "--quick", "--voice", "no-such-voice")
    assert result.exit_code == 3 and "unknown voice" in result.output


def test_unwritable_json_path_is_an_output_error_before_any_tier_runs(tmp_path):
    # an unknown voice would be exit 3 once tier 2 began: exit 4 proves the path was checked first
    json_path = tmp_path / "no" / "such" / "dir.json"
    proc = subprocess.run(
        [sys.executable, "-c", APP_SOURCE, "verify", "--tier", "2", "--quick", "--voice", "no-such-voice",
         "--json", str(json_path)], capture_output=True, timeout=120, env=cli_env(),
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 4, err
    assert f"--json {json_path}: the folder {json_path.parent} does not exist" in err and "Traceback" not in err
    assert proc.stdout == b""


def row(tier: int, status: str) -> Row:
    return Row(tier, "x", "m", 1.0 if status != SKIP else None, "t", status, "why" if status != PASS else "")


def test_exit_code_failure_beats_unavailable_and_skips_never_pass_an_explicit_tier():
    report = VerifyReport((2, 3), True, "piper-joe", True, [row(2, PASS), row(3, FAIL)], {1: "no torch"})
    assert exit_code(report) == 1
    only_skips = VerifyReport((1,), True, "piper-joe", True, [row(1, SKIP)])
    assert exit_code(only_skips) == 6 and only_skips.not_run() == {1: "why"}
    # --tier all: a tier that cannot run here is reported but does not fail the others...
    lenient = VerifyReport((1, 2, 3), False, "v", True, [row(2, PASS), row(3, PASS)], {1: "no torch"})
    assert exit_code(lenient) == 0 and lenient.not_run() == {1: "no torch"}
    # ...unless nothing ran at all.
    nothing = VerifyReport((1, 2, 3), False, "v", True, [], {1: "a", 2: "b", 3: "c"})
    assert exit_code(nothing) == 6


def test_report_json_keeps_infinite_values_readable():
    report = VerifyReport((2,), True, "v", True, [Row(2, "int8", "SNR dB", math.inf, "info", "info")])
    data = json.loads(json.dumps(report_json(report)))
    assert data["rows"][0]["value"] == "inf" and data["exit_code"] == 6 and "timestamp" in data


def test_value_formatting():
    assert [fmt_value(v) for v in (None, 0.0, 5.6604, 1e-7, float("inf"))] == ["—", "0", "5.66", "1.00e-07", "inf"]


@pytest.mark.parametrize(("args", "code", "text"), [(["--tier", "7"], 2, "not a tier"), (["-h"], 0, "--quick")])
def test_real_process_exit_codes(args, code, text):
    proc = subprocess.run(
        [sys.executable, "-c", APP_SOURCE, "verify", *args], capture_output=True, timeout=120, env=cli_env()
    )
    assert proc.returncode == code, proc.stderr.decode()
    assert text in (proc.stdout + proc.stderr).decode()


@pytest.mark.eval
def test_tier3_without_its_model_exits_6_naming_the_fix(tmp_path, monkeypatch):
    pytest.importorskip("faster_whisper", reason="needs the eval extra")
    from tts_accel.core.verify import asr

    monkeypatch.setenv(asr.MODEL_ENV, str(tmp_path))
    asr.default_transcriber.cache_clear()
    try:
        result = invoke("--tier", "3", "--quick")
    finally:
        asr.default_transcriber.cache_clear()
    assert result.exit_code == 6
    assert "tier 3 did not run" in result.output and "TTS_ACCEL_ASR_MODEL" in result.output
