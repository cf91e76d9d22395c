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

[cyan]tts tune --acoustic-only --wer[/]   (build the bf16 window shapes, measure the engines' costs and quality)
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
    acoustic: Annotated[
        bool | None,
        typer.Option(
            "--acoustic/--no-acoustic",
            help="Also build the compiled acoustic stage (bf16) and measure every acoustic engine's costs and "
            "quality, for `auto` to weigh (default: on where the voice has a separate acoustic stage and torch "
            "is installed; the first build takes minutes).",
        ),
    ] = None,
    acoustic_only: Annotated[
        bool, typer.Option("--acoustic-only", help="Only the acoustic part: no plan search (keeps the saved plan).")
    ] = False,
    wer: Annotated[
        bool, typer.Option("--wer", help="Judge the acoustic engines by Whisper's WER too (needs the eval extra).")
    ] = False,
) -> None:
    """Search plans (threads x workers x batch x mode x ORT options) within --budget; save the fastest.
    With the torch extra, also build and measure the acoustic engines (docs/acoustic.md)."""
    from rich import box
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from tts_accel.core.hardware.gpu import torch_available
    from tts_accel.core.text.samples import load_texts
    from tts_accel.core.tune import plans as tune
    from tts_accel.core.voices.registry import family_of

    if budget <= 0:
        raise InputError("--budget must be a positive number of seconds, e.g. --budget 60.")
    text = next(iter(load_texts(["paragraph"], [input_file] if input_file else []).values()))
    staged = family_of(voice).acoustic is not None
    if acoustic is None:
        acoustic = staged and torch_available()
    if acoustic_only and (acoustic is False or not staged):
        raise InputError(f"--acoustic-only: voice {voice!r} has no separate acoustic stage to tune (or --no-acoustic).")

    def skipped(label: str, reason: str) -> None:
        if not quiet:
            err_console.print(f"skipped {label}: {reason}", markup=False)

    measured = _acoustic(voice, text, wer, quiet, skipped) if acoustic and staged else None
    if acoustic_only:
        assert measured is not None
        if save:
            path = tune.save_acoustic(measured, voice=voice)
            if quiet:
                typer.echo(str(path))
            else:
                err_console.print(f"saved the acoustic measurements to {path}: `auto` weighs them from now on")
        return

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
        path = tune.save(result, voice=voice, acoustic=measured)
        if quiet:
            typer.echo(str(path))
        else:
            err_console.print(
                f"saved [b]{result.winner.label}[/] to {path}: `tts synth` uses it from now on "
                "(`tts synth --explain` shows it)."
            )


def _acoustic(voice: str, text: str, wer: bool, quiet: bool, skipped) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Build and measure the acoustic engines, and show what was found."""
    from rich import box
    from rich.table import Table

    from tts_accel.core.hardware.profile import HardwareProfile
    from tts_accel.core.tune.acoustic import tune_acoustic
    from tts_accel.core.tune.plans import earlier_profile
    from tts_accel.core.voices.registry import family_of

    earlier = earlier_profile(HardwareProfile.detect(), family_of(voice).name)
    with err_console.status("acoustic engines", spinner="dots") as status:
        found = tune_acoustic(
            voice, text, wer=wer, previous=earlier.acoustic if earlier is not None else None,
            on_step=lambda s: status.update(s) if not quiet else None, on_skip=skipped,
        )  # fmt: skip
    if not quiet:
        table = Table(title="Acoustic engines: whole-process CPU s (what `auto` weighs) = fixed + per second x "
                      "audio; the decoder's own CPU s/s at 1 thread; quality vs fp32 on harvard.txt",
                      title_justify="left", box=box.SIMPLE_HEAD)  # fmt: skip
        for col in ("engine", "fixed s", "per audio s", "decoder s/s", "compile s", "SNR dB", "MCD16 dB", "PESQ-WB",
                    "WER %", "same voice"):  # fmt: skip
            table.add_column(col, justify="left" if col in ("engine", "same voice") else "right")
        costs, quality = found["costs"], found["quality"]
        for name, q in quality.items():  # type: ignore[union-attr]
            c = costs.get(name, {})  # type: ignore[union-attr]
            table.add_row(
                name, _f(c.get("fixed_s")), _f(c.get("per_audio_s"), ".4f"), _f(q.get("decoder_per_audio_s"), ".4f"),
                _f(c.get("compile_s"), ".0f"), _f(q.get("snr_db"), ".1f"), _f(q.get("mcd16_db")), _f(q.get("pesq_wb")),
                _f(q.get("wer"), ".1f"), "yes" if q.get("same_voice") else f"no: {q.get('verdict')}",
            )  # fmt: skip
        err_console.print(table)
        err_console.print(f"decision margin: {float(found.get('margin', 0.05)):.0%} (the runs' spread "
                          f"{float(found.get('spread', 0.0)):.0%}, at least 5 %)", markup=False)
    return found


def _f(value: object, spec: str = ".2f") -> str:
    return "-" if value is None else format(float(value), spec)  # type: ignore[arg-type]


tune_command.__doc__ = (tune_command.__doc__ or "") + EXAMPLES
