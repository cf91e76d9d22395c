"""`tts batch`: a corpus (text lines, CSV, TSV, JSONL) to a folder of audio files, resumable."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from typer.core import TyperCommand

from tts_accel.cli.common import err_console, error_boundary
from tts_accel.core.batch.adapter import DEFAULT_VOICE
from tts_accel.core.errors import Interrupted, RowsFailed, Terminated

EXAMPLES = """

INPUT: one utterance per line, or CSV/TSV/JSONL with id, text (and voice, speed, noise_scale, noise_w, lang, out).

[b]Examples[/b]

[cyan]tts batch lines.txt -o out/[/]

[cyan]tts batch corpus.csv -o out/ --noise-scale 0 --noise-w 0 --workers 2[/]

[cyan]cat rows.jsonl | tts batch - --input-format jsonl -o out/[/]

[cyan]tts batch corpus.csv -o /shared/out --ray auto[/]   ([cyan]--ray[/] alone starts a local Ray)
"""

#: What may follow --ray as its address; anything else (the input file, an option) means a bare
#: --ray, which starts a local Ray for the run.
_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.-]+:\d+)$")


def ray_flag_value(args: list[str]) -> list[str]:
    """``--ray`` not followed by an address becomes ``--ray=local`` (Typer options cannot have an
    optional value)."""
    fixed: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            fixed.extend(args[i:])
            break
        nxt = args[i + 1] if i + 1 < len(args) else None
        if arg == "--ray" and (nxt is None or not _ADDRESS.match(nxt)):
            arg = "--ray=local"
        fixed.append(arg)
    return fixed


class BatchCommand(TyperCommand):
    """Lets ``--ray`` stand alone (a local Ray) or take an address (``--ray auto``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, ray_flag_value(list(args)))


class _Bar:
    """The progress bar on stderr: utterances, utterances per second, audio seconds per second, ETA."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: Any = None
        self.start_time = time.perf_counter()
        self.done = 0
        self.audio = 0.0

    def start(self, todo: int, skipped: int, failed: int) -> None:
        self.start_time = time.perf_counter()
        if not self.enabled or todo == 0:
            return
        self.progress = Progress(
            TextColumn("speaking"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"), TimeRemainingColumn(), console=err_console, transient=True,
        )  # fmt: skip
        self.progress.start()
        self.task = self.progress.add_task("batch", total=todo, rate="")

    def advance(self, outcome: Any) -> None:
        self.done += 1
        self.audio += outcome.audio_s
        if self.progress is None:
            return
        elapsed = max(time.perf_counter() - self.start_time, 1e-9)
        rate = f"{self.done / elapsed:.1f} utt/s, {self.audio / elapsed:.1f} s audio/s"
        self.progress.update(self.task, advance=1, rate=rate)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _summary(result: Any) -> str:
    parts = [f"{result.done} made"]
    if result.skipped:
        parts.append(f"{result.skipped} already done")
    parts.append(f"{result.failed} failed")
    hours = result.audio_s / 3600
    audio = f"{hours:.2f} h" if hours >= 0.1 else f"{result.audio_s:.1f} s"
    where = "Ray actor" if result.engine == "ray" else "worker"
    plural = "s" if result.workers != 1 else ""
    thread = "thread" if result.threads == 1 else "threads"
    return (
        f"{result.total} utterances ({', '.join(parts)}): {audio} of audio in {result.wall_s:.1f} s, "
        f"{result.times_real_time:.1f}x real time, {result.workers} {where}{plural} x {result.threads} {thread} "
        f"-> {result.outdir}"
    )


@error_boundary
def batch_command(
    source: Annotated[
        str, typer.Argument(metavar="INPUT", help="Text file (one utterance per line), .csv, .tsv, .jsonl, or -.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the audio files and manifest.jsonl.")],
    input_format: Annotated[
        str | None, typer.Option("--input-format", help="txt, csv, tsv or jsonl (default: by extension; txt).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Audio format of each file: wav or raw.")] = "wav",
    voice: Annotated[str, typer.Option("--voice", help="Voice for rows without a voice column.")] = DEFAULT_VOICE,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language of the text, if the voice reads several.")
    ] = None,
    speed: Annotated[float, typer.Option("--speed", help="Speaking rate, 1.0 is the voice's own.")] = 1.0,
    noise_scale: Annotated[float | None, typer.Option("--noise-scale", help="Voice variation.")] = None,
    noise_w: Annotated[float | None, typer.Option("--noise-w", help="Rhythm variation.")] = None,
    sentence_silence: Annotated[
        float, typer.Option("--sentence-silence", help="Seconds of silence after each sentence.")
    ] = 0.2,
    volume: Annotated[float, typer.Option("--volume", help="Gain; loud peaks are clipped.")] = 1.0,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed the noise: the same row gives the same file (slower).")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="Execution mode of each worker; auto lets the plan choose.")] = (
        "auto"
    ),
    precision: Annotated[str | None, typer.Option("--precision", help="fp32, or int8 (see tts synth).")] = None,
    timestamps: Annotated[
        str | None,
        typer.Option(
            "--timestamps",
            metavar="json|srt|vtt",
            help="Also write each file's word and sentence times beside it (a/b.wav -> a/b.json), as tts synth does.",
        ),
    ] = None,
    acoustic: Annotated[
        str | None,
        typer.Option(
            "--acoustic",
            help="The acoustic stage's engine (ort-fp32, torch-bf16, ...; see tts synth); default: the planner's, "
            "from the corpus's length.",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes (Ray actors with --ray); default from the plan.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="ONNX Runtime threads per worker; default from the plan.")
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Run on Ray: alone, a local Ray for this run; or a cluster address (auto, ray://host:10001).",
        ),
    ] = None,  # fmt: skip
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Make every file again, even those done.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print memory per worker.")] = False,
) -> None:
    """Speak every row of INPUT into its own file in OUTDIR, with manifest.jsonl; run it again to resume."""
    from tts_accel.core.batch import BatchOptions, Defaults, run_batch
    from tts_accel.core.batch.local import StopFlag

    stop = StopFlag()

    def on_signal(signum: int, frame: object) -> None:
        what = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        cls = Terminated if signum == signal.SIGTERM else Interrupted
        stop.request(cls(f"interrupted by {what}: files in flight were finished or discarded; run the same "
                         "command again to resume."))  # fmt: skip

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if fmt.startswith("."):
        fmt = fmt[1:]
    defaults = Defaults(
        voice=voice, lang=lang, speed=speed, noise_scale=noise_scale, noise_w=noise_w,
        sentence_silence=sentence_silence, volume=volume, seed=seed, fmt=fmt.lower(),
        timestamps=timestamps.lower().lstrip(".") if timestamps else None,
    )  # fmt: skip
    options = BatchOptions(
        defaults=defaults, mode=mode, precision=precision, workers=workers, threads=threads,
        overwrite=overwrite, input_format=input_format, ray=ray, acoustic=acoustic,
    )  # fmt: skip
    bar = _Bar(enabled=not quiet and err_console.is_terminal)
    try:
        result = run_batch(source, output, options, progress=bar, stop=stop)
    finally:
        bar.close()
    if not quiet:
        err_console.print(_summary(result), markup=False, soft_wrap=True)
        if verbose and result.worker_peak_rss_mb:
            peaks = ", ".join(f"{mb:.0f}" for mb in sorted(result.worker_peak_rss_mb.values()))
            err_console.print(f"peak RSS per worker: {peaks} MiB", markup=False)
    if result.interrupted and stop.reason is not None:
        raise stop.reason
    if result.failed:
        raise RowsFailed(f"{result.failed} of {result.total} rows failed: see {result.errors_path} (id, line, error).")


batch_command.__doc__ = (batch_command.__doc__ or "") + EXAMPLES
