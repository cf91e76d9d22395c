"""`tts synth` imports only what it needs: a real process under ``python -X importtime`` speaks
one short sentence to a file, and every module it imported is checked against what that call has
no use for (other commands' packages, torch, Ray, the server, plotting, ASR, Rich's progress on a
non-terminal, joblib's process pool). A behaviour test, not a timing test: the figures are in
docs/benchmarks.md (`python benchmarks/startup.py --imports`)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import soundfile as sf

from tests.utils import cli_env
from tts_accel.cli.app import COMMANDS, app
from tts_accel.core.hardware.gpu import driver_present

#: Runs the real entry point, then lists every module the process holds (stdout is a pipe here,
#: as under a script: not a terminal).
CODE = """
import sys
sys.argv = ["tts", *{args!r}]
try:
    from tts_accel.__main__ import main
    main()
except SystemExit as done:
    code = done.code or 0
else:
    code = 0
with open({listing!r}, "w") as f:
    f.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""

#: Module prefixes a one-sentence `tts synth` has no use for, and why.
UNNEEDED = {
    "torch": "the default voice runs on ONNX Runtime",
    "triton": "kernels are for the torch paths",
    "ray": "only `tts batch --ray`",
    "tts_accel.cli.batch": "another command",
    "tts_accel.core.batch": "another command's package",
    "tts_accel.cli.bench": "another command",
    "tts_accel.cli.verify": "another command",
    "tts_accel.core.verify": "`tts verify`'s package",
    "tts_accel.cli.serve": "another command",
    "tts_accel.core.serve": "`tts serve`'s package",
    "fastapi": "the server",
    "uvicorn": "the server",
    "matplotlib": "plots",
    "whisper": "ASR (WER checks)",
    "faster_whisper": "ASR (WER checks)",
    "ctranslate2": "ASR (WER checks)",
    "jiwer": "WER",
    "joblib": "phonemizer's process pool (njobs > 1, never asked)",
    "rich.progress": "no progress bar when stderr is not a terminal",
    "rich.live": "no progress bar when stderr is not a terminal",
    "pydantic": "typer 0.29 validates options through it (~90 ms): pyproject keeps typer below it",
}
#: Printing nothing (-q) needs no Rich console either.
UNNEEDED_QUIET = {**UNNEEDED, "rich.console": "-q prints nothing", "rich.table": "-q prints nothing"}

IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| +(\S+)$")


def _synth(tmp_path, *flags: str) -> tuple[set[str], set[str]]:
    """(modules named by -X importtime, modules held at exit) of one `tts synth` to a file."""
    out = tmp_path / "hello.wav"
    listing = tmp_path / "modules.txt"
    args = ["synth", "Hello there, a short sentence.", "-o", str(out), *flags]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CODE.format(args=args, listing=str(listing))],
        capture_output=True, text=True, env=cli_env(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert sf.info(out).duration > 0.5  # it really spoke
    timed = {m[1] for line in done.stderr.splitlines() if (m := IMPORT_LINE.match(line))}
    held = set(listing.read_text().split())
    # the check sees the run: the command and the runtime it used were imported and timed
    assert {"tts_accel.cli.synth", "onnxruntime", "phonemizer"} <= timed
    return timed, held


def _offenders(modules: set[str], unneeded: dict[str, str]) -> dict[str, str]:
    if driver_present():  # with a GPU driver, `auto` looks for a CUDA GPU through torch
        unneeded = {k: v for k, v in unneeded.items() if k not in ("torch", "triton")}
    return {
        name: why
        for name in sorted(modules)
        for prefix, why in unneeded.items()
        if name == prefix or name.startswith(prefix + ".")
    }


def test_synth_to_a_file_imports_nothing_it_does_not_need(tmp_path):
    timed, held = _synth(tmp_path)
    assert _offenders(timed | held, UNNEEDED) == {}
    assert "rich.console" in held  # it printed its summary line through Rich


def test_quiet_synth_imports_no_rich_console(tmp_path):
    timed, held = _synth(tmp_path, "-q")
    assert _offenders(timed | held, UNNEEDED_QUIET) == {}


def test_the_check_catches_an_unneeded_import(tmp_path):
    """The same check on a run that does import the batch package (`tts batch`'s module, through
    its command's help) reports it: the test above can fail."""
    listing = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", CODE.format(args=["batch", "--help"], listing=str(listing))],
        capture_output=True, text=True, env=cli_env(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    offenders = _offenders(set(listing.read_text().split()), UNNEEDED)
    assert "tts_accel.cli.batch" in offenders and "tts_accel.core.batch" in offenders


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_lists_every_command_with_its_help(name):
    """Commands are built when used, yet `tts --help` names each with the first line of its help,
    and `tts NAME --help` shows that command's own help."""
    from typer.testing import CliRunner

    runner = CliRunner()
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    command = app_command(name)
    first_line = (command.help or "").strip().splitlines()[0]
    assert re.search(rf"│ {name}\s+{re.escape(first_line[:60])}", listing.output), listing.output
    own = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
    assert own.exit_code == 0, own.output
    assert first_line[:60] in own.output


def app_command(name: str):  # type: ignore[no-untyped-def]
    import typer

    group = typer.main.get_command(app)
    return group.commands[name]  # type: ignore[attr-defined]


def test_a_mistyped_command_is_refused_with_a_suggestion():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["synht", "Hello."])
    assert result.exit_code == 2
    assert "No such command 'synht'" in result.output and "synth" in result.output


def test_a_lazy_console_is_built_on_first_use_and_drives_rich_progress():
    """The consoles stand for Rich consoles until first used; on a terminal, Rich's progress bar
    runs on one (it enters the console around each refresh) and lines printed meanwhile arrive."""
    import io

    from rich.progress import BarColumn, Progress, TextColumn

    from tts_accel.cli.common import LazyConsole

    sink = io.StringIO()
    console = LazyConsole(file=sink, force_terminal=True, width=60)
    assert console._console is None  # nothing built (or imported for it) yet
    with Progress(TextColumn("speaking"), BarColumn(), console=console, transient=True) as progress:  # type: ignore[arg-type]
        task = progress.add_task("synth", total=3)
        for _ in range(3):
            progress.advance(task)
        console.print("a line while the bar runs")
    assert console._console is not None and console.is_terminal
    assert "speaking" in sink.getvalue() and "a line while the bar runs" in sink.getvalue()
