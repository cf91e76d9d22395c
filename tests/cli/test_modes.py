"""`tts synth --mode / --precision` through Typer's runner."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tts_accel.cli.app import app

runner = CliRunner()
ZERO = ["--noise-scale", "0", "--noise-w", "0"]
TEXT = "The first sentence is here. A second one follows it."


def _frames(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


def test_every_onnx_mode_writes_the_same_wav_length(tmp_path: Path) -> None:
    lengths = {}
    for mode in ("sequential", "parallel", "batched", "pipelined"):
        out = tmp_path / f"{mode}.wav"
        result = runner.invoke(app, ["synth", TEXT, "-o", str(out), "--mode", mode, *ZERO, "-q"])
        assert result.exit_code == 0, result.output
        lengths[mode] = len(_frames(out))
    assert len(set(lengths.values())) == 1 and lengths["sequential"] > 22050


def test_explain_names_the_mode_and_precision_flags(tmp_path: Path) -> None:
    args = ["synth", "Hi.", "-o", str(tmp_path / "x.wav"), "--mode", "batched", "--precision", "int8"]
    result = runner.invoke(app, [*args, "--explain"])
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 3}
    assert "batched" in lines["mode"] and "flag" in lines["mode"]
    assert "int8" in lines["precision"] and "flag" in lines["precision"]


@pytest.mark.parametrize(("args", "message"), [(["--precision", "int4"], "unknown precision"),
                                               (["--mode", "warp"], "unknown mode")])  # fmt: skip
def test_bad_mode_or_precision_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["synth", "Hi.", "-o", str(tmp_path / "x.wav"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.wav").exists()
