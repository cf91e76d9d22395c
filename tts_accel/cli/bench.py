"""`tts bench`: run execution modes on the same texts and show what each costs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tts_accel.cli.common import err_console, error_boundary
from tts_accel.core.errors import InputError
from tts_accel.core.voices.registry import DEFAULT_VOICE

EXAMPLES = """

[b]Examples[/b]

[cyan]tts bench[/]

[cyan]tts bench --modes sequential,pipelined --repeats 5 --json bench.json[/]

[cyan]tts bench -i chapter1.txt --modes sequential,parallel+int8 --csv bench.csv --plot bench.png[/]

[cyan]tts bench --acoustic all --texts paragraph,long[/]   (the acoustic stage's engines, speed beside quality)

[cyan]tts bench --serve http://127.0.0.1:8880 --concurrency 1,2,4,8,16 --rate 2 --json serve.json[/]
(a speech server under load; tcp://HOST:PORT for Wyoming)
"""


def _fmt(value: float | None, spec: str = ".3f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


@error_boundary
def bench_command(
    modes: Annotated[
        str | None,
        typer.Option("--modes", help="Comma-separated modes, each optionally +int8 (default: all ONNX modes)."),
    ] = None,
    inputs: Annotated[
        list[Path] | None,
        typer.Option("--input", "-i", help="Bench this text file instead of the shared texts."),
    ] = None,
    texts: Annotated[
        str, typer.Option("--texts", help="Which shared texts (short, paragraph, long, harvard).")
    ] = "short,paragraph,long",
    repeats: Annotated[int, typer.Option("--repeats", "-n", help="Measured runs per mode and text.")] = 3,
    voice: Annotated[str, typer.Option("--voice", help="Voice to bench.")] = DEFAULT_VOICE,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows as JSON.")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the rows as CSV.")] = None,
    plot_out: Annotated[Path | None, typer.Option("--plot", help="Draw RTF per mode (needs matplotlib).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No tables, only the files asked for.")] = False,
    acoustic: Annotated[
        str | None,
        typer.Option(
            "--acoustic",
            help="Bench the acoustic stage's engines instead of modes: all, or a list such as "
            "ort-fp32,torch-bf16,ort-int8 (each a row with its quality against fp32).",
        ),
    ] = None,
    serve: Annotated[
        str | None,
        typer.Option(
            "--serve",
            help="Load a running speech server instead: http://HOST:PORT (OpenAI's speech API) "
            "or tcp://HOST:PORT (Wyoming). A Harvard-sentence mix with a long sentence among them, unless -i.",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        str | None,
        typer.Option("--concurrency", help="With --serve: closed-loop levels, clients at once (1,2,4,8,16)."),
    ] = None,
    rate: Annotated[
        str | None, typer.Option("--rate", help="With --serve: open-loop levels, Poisson arrivals per second (0.5,2).")
    ] = None,
    requests: Annotated[int, typer.Option("--requests", help="With --serve: requests per level at most.")] = 20,
    duration: Annotated[
        float, typer.Option("--duration", help="With --serve: seconds per level at most (then in-flight ones finish).")
    ] = 60.0,
    timeout: Annotated[float, typer.Option("--timeout", help="With --serve: seconds one request may take.")] = 60.0,
) -> None:
    """Measure execution modes: RTF (median, p20-p80), wall time, first audio, CPU, memory, speedup."""
    from rich import box
    from rich.table import Table

    from tts_accel.core.bench import modes as bench

    if serve is not None:
        if modes is not None or acoustic is not None:
            raise InputError("--serve loads a server; --modes and --acoustic bench this process: give one of them.")
        _check_outputs(json_out, csv_out, plot_out)
        from tts_accel.cli.bench_serve import bench_serve

        bench_serve(serve, concurrency, rate, requests, duration, timeout, voice, inputs or [], json_out, csv_out,
                    plot_out, quiet)  # fmt: skip
        return
    if concurrency is not None or rate is not None:
        raise InputError("--concurrency and --rate load a server: give its address with --serve URL.")
    names = [t.strip() for t in texts.split(",") if t.strip()]
    if not names and not inputs:
        raise InputError("--texts names no text: give some of short, paragraph, long, harvard, or -i FILE.")
    _check_outputs(json_out, csv_out, plot_out if acoustic is None else None)
    if acoustic is not None:
        if modes is not None:
            raise InputError("--acoustic benches the acoustic stage's engines, --modes whole runs: give one of them.")
        if plot_out is not None:
            raise InputError("--plot draws modes: drop it with --acoustic.")
        text_map = bench.load_texts(names, inputs or [])
        _acoustic(acoustic, text_map, repeats, voice, json_out, csv_out, quiet)
        return
    cases = bench.parse_modes(modes, voice)
    text_map = bench.load_texts(names, inputs or [])
    if repeats < 1:
        raise InputError("--repeats must be at least 1.")
    with err_console.status("benching", spinner="dots") as status:
        rows = bench.run_bench(
            cases,
            text_map,
            repeats,
            voice,
            on_step=lambda s: status.update(f"benching {s}") if not quiet else None,
            on_skip=lambda mode, reason: err_console.print(f"skipped {mode}: {reason}", markup=False),
        )
    if not quiet:
        loads = ", ".join(f"{c.name} {r.load_s:.2f} s" for c in cases for r in rows[: len(cases)] if r.mode == c.name)
        err_console.print(f"model load (session creation, not in the figures below): {loads}")
        for text_name in text_map:
            sel = [r for r in rows if r.text == text_name]
            table = Table(
                title=f"{text_name}: {sel[0].audio_s:.1f} s of audio, {repeats} run{'s' if repeats != 1 else ''} each",
                title_justify="left",
                box=box.SIMPLE_HEAD,
                pad_edge=False,
            )
            gpu = any(r.vram_mb is not None for r in sel)
            cols = ("mode", "RTF", "p20-p80", "wall s", "TTFA s", "stall s", "CPU", "RSS MiB",
                    *(("VRAM MiB",) if gpu else ()))
            for col in (*cols, "speedup"):
                table.add_column(col, justify="left" if col == "mode" else "right", no_wrap=True)
            for r in sel:
                spread = f"{r.rtf_p20:.3f}-{r.rtf_p80:.3f}"
                table.add_row(
                    r.mode, f"{r.rtf:.3f}", spread, f"{r.wall_s:.2f}", f"{r.ttfa_s:.2f}", f"{r.stall_s:.2f}",
                    f"{r.cpu_util:.0%}", f"{r.peak_rss_mb:.0f}",
                    *((_fmt(r.vram_mb, ".0f", ""),) if gpu else ()), _fmt(r.speedup, ".2f", "x"),
                )  # fmt: skip
            err_console.print(table)  # piped or logged, it is wide (cli/common)
        err_console.print(f"[dim]{rows[0].machine}; {rows[0].versions}[/]")
    if json_out:
        bench.write_json(rows, json_out)
    if csv_out:
        bench.write_csv(rows, csv_out)
    if plot_out:
        bench.plot(rows, plot_out)


def _check_outputs(json_out: Path | None, csv_out: Path | None, plot_out: Path | None) -> None:
    """Every file the bench will write, refused before the bench runs (not after it)."""
    from tts_accel.core.files.paths import check_output_file

    for flag, path in (("--json", json_out), ("--csv", csv_out)):
        if path is not None:
            check_output_file(path, flag)
    if plot_out is not None:
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
        except ImportError:
            raise InputError("--plot needs matplotlib: pip install 'tts-accel[plot]'") from None
        check_output_file(plot_out, "--plot", FigureCanvasAgg.get_supported_filetypes())


def _acoustic(
    spec: str, text_map: dict[str, str], repeats: int, voice: str, json_out: Path | None, csv_out: Path | None,
    quiet: bool,
) -> None:  # fmt: skip
    """`tts bench --acoustic`: one table per text, an engine per row."""
    from rich import box
    from rich.table import Table

    from tts_accel.core.bench import acoustic as acoustic_bench
    from tts_accel.core.bench import modes as bench

    if repeats < 1:
        raise InputError("--repeats must be at least 1.")
    engines = acoustic_bench.parse_engines(spec, voice)
    with err_console.status("benching", spinner="dots") as status:
        rows = acoustic_bench.run_acoustic_bench(
            engines, text_map, repeats, voice,
            on_step=lambda s: status.update(f"benching {s}") if not quiet else None,
            on_skip=lambda name, reason: err_console.print(f"skipped {name}: {reason}", markup=False),
        )  # fmt: skip
    if not quiet:
        for text_name in text_map:
            sel = [r for r in rows if r.text == text_name]
            table = Table(
                title=f"{text_name}: acoustic stage over {sel[0].audio_s:.1f} s of audio, 1 thread, "
                f"{repeats} run{'s' if repeats != 1 else ''} each (CPU s: the engine's own; quality vs fp32)",
                title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
            )  # fmt: skip
            cols = ("engine", "CPU s", "wall s", "RTF", "speedup", "GFLOP/s", "of peak", "load s", "compile s",
                    "SNR dB", "MCD16 dB", "PESQ-WB", "same voice")  # fmt: skip
            for col in cols:
                table.add_column(col, justify="left" if col in ("engine", "same voice") else "right", no_wrap=True)
            for r in sel:
                table.add_row(
                    r.engine, f"{r.cpu_s:.3f}", f"{r.wall_s:.3f}", f"{r.rtf:.4f}", _fmt(r.speedup, ".2f", "x"),
                    _fmt(r.gflops, ".1f"), _fmt(None if r.peak_share is None else 100 * r.peak_share, ".1f", " %"),
                    f"{r.load_s:.2f}", f"{r.compile_s:.0f}", f"{r.snr_db:.1f}", f"{r.mcd16_db:.2f}",
                    _fmt(r.pesq_wb, ".2f"), "yes" if r.same_voice else "no",
                )  # fmt: skip
            err_console.print(table)  # piped or logged, it is wide (cli/common)
        from tts_accel.core.bench.roofline import machine_peak

        need = rows[0].decoder_gflop_per_audio_s
        err_console.print(f"roofline: the decoder needs {need:.2f} GFLOP per second of audio (its convolutions); "
                          f"this CPU's peak: {machine_peak().describe()}; \"of peak\" is against one core's peak "
                          "at the engine's precision (1 thread)", markup=False, soft_wrap=True)  # fmt: skip
        err_console.print(f"[dim]{rows[0].machine}; {rows[0].versions}[/]")
    if json_out:
        bench.write_json(rows, json_out)
    if csv_out:
        bench.write_csv(rows, csv_out)


bench_command.__doc__ = (bench_command.__doc__ or "") + EXAMPLES
