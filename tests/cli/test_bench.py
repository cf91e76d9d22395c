"""`tts bench` through Typer's runner: files written, bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tts_accel.cli.app import app

runner = CliRunner()


def test_bench_writes_json_and_csv(tmp_path: Path) -> None:
    text = tmp_path / "mine.txt"
    text.write_text("A tiny text to bench. It has two sentences.", encoding="utf-8")
    result = runner.invoke(
        app,
        ["bench", "-i", str(text), "--modes", "sequential,batched", "--repeats", "1",
         "--json", str(tmp_path / "b.json"), "--csv", str(tmp_path / "b.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [(r["mode"], r["text"]) for r in rows] == [("sequential", "mine"), ("batched", "mine")]
    assert (tmp_path / "b.csv").read_text().splitlines()[0].startswith("mode,text,rtf,")
    assert "model load" in result.output and "speedup" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--modes", "warp"], "cannot bench 'warp'"),
        (["--repeats", "0"], "--repeats"),
        (["--texts", "nosuch"], "nosuch"),
        (["-i", "/no/such/file.txt"], "cannot read benchmark text"),
    ],
)
def test_bench_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_plot_without_matplotlib_says_how_to_install(tmp_path: Path) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        result = runner.invoke(app, ["bench", "--texts", "short", "--plot", str(tmp_path / "p.png")])
        assert result.exit_code == 2 and "pip install 'tts-accel[plot]'" in result.output
    else:
        text = tmp_path / "t.txt"
        text.write_text("Plot me.", encoding="utf-8")
        args = [
            "bench",
            "-i",
            str(text),
            "--modes",
            "sequential",
            "-n",
            "1",
            "--plot",
            str(tmp_path / "p.png"),
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--texts", "", "-q"], 2, "--texts names no text"),
        (["--texts", ",", "--json", "{d}/b.json"], 2, "--texts names no text"),
        (["--plot", "{d}/p.xyz"], 2, "unknown extension .xyz; use "),
        (["--json", "{d}/no/such/b.json"], 4, "the folder {d}/no/such does not exist"),
        (["--csv", "{d}"], 4, "is a folder"),
        (["--acoustic", "all", "--json", "{d}/no/b.json"], 4, "does not exist"),
    ],
)
def test_output_paths_and_texts_are_refused_before_the_work(tmp_path: Path, args, code, message) -> None:
    """Through the real process; --voice no-such-voice would be exit 3 once the work began, so an
    exit 2 or 4 here proves the refusal came first (it used to come after the whole bench)."""
    from tests.utils import run_cli

    if "--plot" in args:
        pytest.importorskip("matplotlib")
    given = [a.format(d=tmp_path) for a in args]
    proc = run_cli("bench", *given, "--voice", "no-such-voice", timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert message.format(d=tmp_path) in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert proc.stdout == b"" and sorted(p.name for p in tmp_path.iterdir()) == []
