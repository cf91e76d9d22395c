"""`tts tune` with a tiny budget, then `tts synth --explain` shows the tuned plan."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tts_accel.cli.app import app

runner = CliRunner()


def test_tune_saves_a_profile_that_synth_uses(tmp_path: Path, config_home: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("Hello there. This is a short test.", encoding="utf-8")
    result = runner.invoke(app, ["tune", "--budget", "0.5", "-i", str(text)])
    assert result.exit_code == 0, result.output
    assert "Leaderboard" in result.output and "sequential" in result.output
    saved = list((config_home / "tts-accel" / "profiles").glob("*.toml"))
    assert len(saved) == 1 and "[plan]" in saved[0].read_text() and "[measured]" in saved[0].read_text()
    explain = runner.invoke(app, ["synth", "Hi.", "-o", str(tmp_path / "o.wav"), "--explain"])
    assert explain.exit_code == 0
    assert "tuned" in explain.output
    listed = runner.invoke(app, ["profile", "list"])  # the profile commands see what tune wrote
    assert listed.exit_code == 0 and "tuned-" in listed.output


def test_no_save_leaves_no_profile(tmp_path: Path, config_home: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("Hi.", encoding="utf-8")
    result = runner.invoke(app, ["tune", "--budget", "0.1", "-i", str(text), "--no-save", "-q"])
    assert result.exit_code == 0, result.output
    assert not (config_home / "tts-accel").exists()


def test_bad_budget_exits_2_in_one_line() -> None:
    result = runner.invoke(app, ["tune", "--budget", "0"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "--budget" in result.output
