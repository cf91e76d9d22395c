"""`tts tune`: time execution plans on this machine and keep the fastest as its profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tts_accel.cli.common import err_console, error_boundary
from tts_accel.core.errors import InputError
from tts_accel.core.voices.registry import DEFAULT_VOICE

EXAMPLES = """

[b]Examples[/b]

[cyan]tts tune --budget 120[/]

[cyan]tts tune -i my_typical_text.txt --budget 60 --int8[/]
"""


@error_boundary
def tune_command(
    budget: Annotated[float, typer.Option("--budget", help="Seconds to spend searching.")] = 60.0,
    input_file: Annotated[
        Path | None, typer.Option("--input", "-i", help="Tune on this text (default: the shared paragraph).")
    ] = None,
    voice: Annotated[str, typer.Option("--voice", help="Voice to tune for.")] = DEFAULT_VOICE,
    int8: Annotated[
        bool, typer.Option("--int8", help="Also try int8 graphs (check their WER before keeping one).")
    ] = False,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Save the winner as this machine's profile.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the saved profile's path.")] = False,
) -> None:
    """Search plans (threads x workers x batch x mode x ORT options) within --budget; save the fastest."""
    from rich import box
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from tts_accel.core import tune
    from tts_accel.core.texts import load_texts

    if budget <= 0:
        raise InputError("--budget must be a positive number of seconds, e.g. --budget 60.")
    text = next(iter(load_texts(["paragraph"], [input_file] if input_file else []).values()))

    def skipped(label: str, reason: str) -> None:
        if not quiet:
            err_console.print(f"skipped {label}: {reason}", markup=False)

    plans = list(tune.candidates(int8=int8, voice=voice, on_skip=skipped))
    columns = (TextColumn("tuning"), BarColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as progress:
        task = progress.add_task("", total=budget)

        def on_progress(elapsed: float, trial: tune.Trial) -> None:
            progress.update(task, completed=min(elapsed, budget), description=f"{trial.label}: {trial.wall_s:.2f} s")

        result = tune.tune(text, budget, voice, plans, on_progress)
    if not quiet:
        table = Table(
            title=f"Leaderboard: {len(result.trials)} of {len(plans)} plans in {result.spent_s:.0f} s, "
            f"{result.winner.audio_s:.1f} s of audio each",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for col in ("#", "plan", "wall s", "RTF", "1st audio s", "runs", "speedup"):
            table.add_column(col, justify="left" if col == "plan" else "right")
        for rank, trial in enumerate(result.trials, 1):
            table.add_row(
                str(rank), trial.label, f"{trial.wall_s:.3f}", f"{trial.rtf:.3f}", f"{trial.ttfa_s:.2f}",
                str(len(trial.walls)), f"{result.speedup(trial):.2f}x",
            )  # fmt: skip
        err_console.print(table)
    if save:
        path = tune.save(result, voice=voice)
        if quiet:
            typer.echo(str(path))
        else:
            err_console.print(
                f"saved [b]{result.winner.label}[/] to {path}: `tts synth` uses it from now on "
                "(`tts synth --explain` shows it)."
            )


tune_command.__doc__ = (tune_command.__doc__ or "") + EXAMPLES
