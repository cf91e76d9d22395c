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


def test_explain_shows_each_source_and_the_count_flags(tmp_path: Path) -> None:
    args = ["synth", "Hi.", "-o", str(tmp_path / "x.wav"), "--workers", "3", "--threads", "2", "--explain"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {cells[0]: cells[1:] for line in result.output.splitlines()
            if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 3}  # fmt: skip
    assert rows["workers"] == ["3", "flag"] and rows["intra_op_threads"] == ["2", "flag"]
    assert rows["mode"][1] == "heuristic"  # auto, no tuned profile in this test's config dir
    assert rows["graph_optimization"] == ["all", "preset"]  # the generic-cpu preset
    assert not (tmp_path / "x.wav").exists()  # --explain writes nothing


@pytest.mark.parametrize(("args", "message"), [(["--precision", "int4"], "precision 'int4'"),
                                               (["--workers", "0"], "workers = 0"),
                                               (["--threads", "-1"], "intra_op_threads = -1"),
                                               (["--mode", "warp"], "unknown mode")])  # fmt: skip
def test_bad_mode_or_precision_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["synth", "Hi.", "-o", str(tmp_path / "x.wav"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.wav").exists()
