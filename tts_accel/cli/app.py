"""The `tts` Typer app: one module per command."""

from __future__ import annotations

from typing import Annotated

import typer

from tts_accel import __version__
from tts_accel.cli.batch import BatchCommand, batch_command
from tts_accel.cli.bench import bench_command
from tts_accel.cli.common import Group, run_app
from tts_accel.cli.profile import profile_app
from tts_accel.cli.serve import serve_command
from tts_accel.cli.synth import synth_command
from tts_accel.cli.tune import tune_command
from tts_accel.cli.verify import verify_command
from tts_accel.cli.voices import voices_command

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    cls=Group,
    name="tts",
    help="Fast, measured text-to-speech on whatever hardware you have.",
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tts-accel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Fast, measured text-to-speech: `tts synth`, `tts voices`."""


app.command("synth", context_settings=CONTEXT)(synth_command)
app.command("voices", context_settings=CONTEXT)(voices_command)
app.command("batch", context_settings=CONTEXT, cls=BatchCommand)(batch_command)
app.command("bench", context_settings=CONTEXT)(bench_command)
app.command("tune", context_settings=CONTEXT)(tune_command)
app.command("verify", context_settings=CONTEXT)(verify_command)
app.command("serve", context_settings=CONTEXT)(serve_command)
app.add_typer(profile_app, name="profile")


def main() -> None:
    run_app(app)
