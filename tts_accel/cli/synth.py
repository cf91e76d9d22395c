"""`tts synth`: text (argument, files, stdin) to an audio file, a device or FIFO, or stdout."""

from __future__ import annotations

import functools
import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from tts_accel.cli.common import CtrlC, err_console, error_boundary, plural
from tts_accel.cli.render import compile_notice, explain_table, progress_for
from tts_accel.core.audio.sinks import FileSink, classify, format_for, open_sink
from tts_accel.core.errors import InputError, Interrupted, Terminated
from tts_accel.core.pipeline.scheduler import Chunk, Piece
from tts_accel.core.text.chunking import iter_blocks
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.registry import DEFAULT_VOICE

if TYPE_CHECKING:
    from tts_accel.core.pipeline.synthesizer import Synthesizer

EXAMPLES = """

[b]Examples[/b]

[cyan]tts synth "Hello world." -o hello.wav[/]

[cyan]tts synth -i chapter1.txt -i chapter2.txt -o book.wav[/]

[cyan]cat book.txt | tts synth - -o - | aplay[/]

[cyan]tts synth "Raw samples." --format raw -o - | sox -t raw -r 22050 -e signed -b 16 -c 1 - out.flac[/]

[cyan]tts synth -i book.txt -o book.mp3[/]   (the format follows the extension, or --format)

[cyan]tts synth -i book.txt -o /dev/null -v[/]   (time synthesis alone)

[cyan]tts synth -i talk.txt -o talk.wav --timestamps talk.srt[/]   (subtitles; .json has every word)
[cyan]tts synth -i book.txt -o book.wav --explain[/]   (the plan for this input, and why its acoustic engine)
"""


class Format(str, Enum):
    wav = "wav"
    raw = "raw"
    flac = "flac"
    ogg = "ogg"
    opus = "opus"
    mp3 = "mp3"


#: A line read from stdin, a FIFO or a device is taken in pieces of at most this many characters,
#: so that an endless source without line breaks (a /dev/zero-like device) never fills memory.
MAX_LINE_CHARS = 16384


def _open_error(path: Path, err: OSError) -> InputError:
    if isinstance(err, FileNotFoundError):
        return InputError(f"input file {path} not found: check the path given to -i.")
    if isinstance(err, IsADirectoryError):
        return InputError(f"input {path} is a directory: give a text file to -i.")
    return InputError(f"cannot read {path}: {err.strerror}; check its permissions.")


def _is_regular(path: Path) -> bool:
    """A regular file is read whole; anything else (a FIFO, a character device) is streamed."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True  # the read reports it
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def _read_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise _open_error(path, err) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path} is not valid UTF-8 (byte {err.start}): convert it, e.g. iconv -f latin1 -t utf-8."
        ) from None


def _stream_lines(raw: BinaryIO, name: str, ctrl_c: CtrlC) -> Iterator[str]:
    """Lines of a stream (stdin, a FIFO, a character device) as they arrive, each at most
    MAX_LINE_CHARS long: memory stays bounded whatever the source sends."""
    stream = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict")
    try:
        while True:
            with ctrl_c.blocking():  # a signal ends a read that waits for input
                line = stream.readline(MAX_LINE_CHARS)
            if not line:
                return
            yield line
    except UnicodeDecodeError as err:
        fix = "iconv -t utf-8" if name == "stdin" else "iconv -f latin1 -t utf-8"
        raise InputError(f"{name} is not valid UTF-8 ({err.reason}): convert it, e.g. {fix}.") from None


def _stdin_lines(ctrl_c: CtrlC) -> Iterator[str]:
    return _stream_lines(sys.stdin.buffer, "stdin", ctrl_c)


def _input_lines(inputs: list[Path], ctrl_c: CtrlC) -> Iterator[str]:
    """Every -i in order, a blank line between them; regular files read whole, the rest streamed."""
    for n, path in enumerate(inputs):
        if n:
            yield "\n"
        if _is_regular(path):
            yield from _read_file(path).splitlines(keepends=True)
            continue
        try:
            with ctrl_c.blocking():  # opening a FIFO waits for its writer
                raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except OSError as err:
            raise _open_error(path, err) from None
        with raw:
            yield from _stream_lines(raw, str(path), ctrl_c)  # type: ignore[arg-type]


def _text_source(text: str | None, inputs: list[Path], ctrl_c: CtrlC) -> tuple[Iterable[str], int | None]:
    """(blocks of text, total characters when known) from the argument, files or stdin."""
    if text is not None and text != "-" and inputs:
        raise InputError("give the text either as an argument or with -i, not both.")
    if inputs and not all(_is_regular(p) for p in inputs):
        return iter_blocks(_input_lines(inputs, ctrl_c)), None  # a FIFO or a device: read as it comes
    if inputs:
        content = "\n\n".join(_read_file(p) for p in inputs)
    elif text is not None and text != "-":
        content = text
    elif text == "-" or not sys.stdin.isatty():
        return iter_blocks(_stdin_lines(ctrl_c)), None
    else:
        raise InputError('no text: pass it as an argument, with -i FILE, or on stdin (tts synth - < file.txt).')
    if not content.strip():
        raise InputError("the text is empty: give some words to say.")
    return iter_blocks(content.splitlines(keepends=True)), len(content)


@error_boundary
def synth_command(
    text: Annotated[
        str | None,
        typer.Argument(help="Text to speak; '-' (or nothing, when piped) reads stdin.", show_default=False),
    ] = None,
    inputs: Annotated[
        list[Path] | None,
        typer.Option("--input", "-i", help="UTF-8 text file; repeat for several, read in order."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (atomically: never a partial file), a device, FIFO, socket or /dev/fd/N "
            "(written in place, streaming), or '-' for stdout (default when piped).",
        ),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="wav, raw (16-bit mono PCM), flac, ogg (Vorbis), opus, mp3. Default: by -o's extension, else wav.",
        ),
    ] = None,
    voice: Annotated[str, typer.Option("--voice", help="Voice name (tts voices) or a Piper .onnx path.")] = (
        DEFAULT_VOICE
    ),
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language of the text, if the voice reads several (e.g. ja).")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="Execution mode; auto lets the plan choose.")] = "auto",
    precision: Annotated[
        str | None, typer.Option("--precision", help="fp32, or int8 (a quantized copy of the graph, cached).")
    ] = None,
    acoustic: Annotated[
        str | None,
        typer.Option(
            "--acoustic",
            help="Acoustic-stage engine of the two-stage modes: auto (cost-aware: bf16 for long inputs where "
            "the CPU has bf16 and `tts tune` compiled it), ort-fp32, torch-bf16, torch-bf16-eager, torch-fp32, "
            "ort-int8. See docs/acoustic.md.",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Model runs in flight at once (parallel, pipelined, batched).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="ONNX Runtime intra-op threads per run (0: its default).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Chunks per model run (batched).")] = None,
    windows: Annotated[
        str | None,
        typer.Option(
            "--windows",
            help="Pipelined mode: stream each sentence window by window on this schedule of latent frames "
            "(e.g. w200:32x128x512/512, see docs/streaming.md), or off for whole sentences. Default: the voice's.",
        ),
    ] = None,
    speed: Annotated[float, typer.Option("--speed", help="Speaking rate, 1.0 is the voice's own.")] = 1.0,
    noise_scale: Annotated[
        float | None, typer.Option("--noise-scale", help="Voice variation (default: the voice's).")
    ] = None,
    noise_w: Annotated[
        float | None, typer.Option("--noise-w", help="Rhythm variation (default: the voice's).")
    ] = None,
    sentence_silence: Annotated[
        float, typer.Option("--sentence-silence", help="Seconds of silence after each sentence.")
    ] = 0.2,
    volume: Annotated[float, typer.Option("--volume", help="Gain; loud peaks are clipped, never wrapped.")] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed the noise for repeatable output.")] = None,
    timestamps: Annotated[
        str | None,
        typer.Option(
            "--timestamps",
            help="Also write when each word and sentence is said: FILE.json (every word), .srt or .vtt "
            "(subtitles). Written once the audio is complete; works with -o -.",
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print the execution plan and where each value came from, then exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print the plan and per-run figures.")] = False,
) -> None:
    """Speak TEXT into an audio file, or stream it to stdout, a device or a FIFO."""
    ctrl_c = CtrlC()
    ctrl_c.install()
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    params = SynthParams(
        speed=speed, noise_scale=noise_scale, noise_w=noise_w,
        sentence_silence=sentence_silence, volume=volume, seed=seed,
    )  # fmt: skip
    to_stdout = output == "-" or (output is None and not sys.stdout.isatty())
    target = "-" if to_stdout else None if output is None else str(output)
    # stdout, a FIFO or a device: the plan streams window by window unless a mode is given
    streaming = target is not None and classify(target).kind != "file"

    # Everything that can be refused is refused before the voice loads; stdin is read lazily, so
    # a bad flag is refused before any of it is read. --explain alone needs no text.
    given = bool(inputs) or text not in (None, "-")
    _refuse_overwriting_inputs(inputs or [], target, timestamps)
    blocks, total = _text_source(text, inputs or [], ctrl_c) if given or not explain else (iter(()), None)
    # resolved once; the input's length sizes the run (the acoustic engine is chosen from the work)
    plan = plan_for(
        mode, voice, precision, workers=workers, intra_op_threads=threads, batch_size=batch_size, windows=windows,
        streaming=streaming, acoustic=acoustic, text_chars=total, speed=speed,
    )  # fmt: skip
    if explain:
        err_console.print(explain_table(plan))
        return
    if target is None:
        raise InputError("no output: add -o FILE.wav, or -o - to stream to stdout.")
    audio_format = format_for(target, fmt.value if fmt else None)
    if timestamps is not None:
        _check_timestamps(timestamps, target)
    notice = compile_notice(plan, voice)
    if notice and not quiet:
        err_console.print(notice, markup=False, soft_wrap=True)
    synth = Synthesizer(voice, plan, lang=lang)
    timeline = _timeline_for(synth.voice) if timestamps is not None else None
    if verbose:
        err_console.print(explain_table(plan))
    # audio and timestamps to files are committed together: both complete, then both renamed
    hold = timestamps is not None and classify(target).kind == "file"
    sink = open_sink(target, synth.sample_rate, audio_format, guard=ctrl_c.blocking, hold=hold)
    held = sink.file if isinstance(sink, FileSink) and hold else None

    def on_chunk(chunk: Chunk) -> None:
        advance(len(chunk.text) + 1)
        ctrl_c.check()

    def on_piece(piece: Piece) -> None:
        ctrl_c.check()  # a long sentence streams in many windows: stop between them
        if timeline is not None:
            timeline.on_piece(piece)

    try:
        with sink, progress_for(total, enabled=not quiet and err_console.is_terminal) as advance:
            ctrl_c.check()  # a signal while the voice loaded: the temporary file goes
            hooks: dict[str, Any] = {"on_skip": timeline.on_skip} if timeline else {}
            if notice:  # the shapes this run compiles are built before its file commits (or fail it)
                hooks["before_commit"] = functools.partial(_finish_compile, synth, ctrl_c)
            stats = synth.write(
                blocks, sink, params, on_chunk=on_chunk, on_piece=on_piece, cancel=ctrl_c.cancel, **hooks
            )
        if timeline is not None and timestamps is not None:  # the audio is complete
            from tts_accel.core.timestamps import write_timestamps

            write_timestamps(timestamps, timeline, guard=ctrl_c.blocking, audio=held)
    except Interrupted as err:  # say what the output holds now
        what = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
        raise type(err)(f"{what}: {sink.left()}.") from None
    finally:
        if held is not None:
            held.discard()  # nothing once committed: else the held audio goes too
    if not quiet:
        where = "stdout" if to_stdout else output
        pieces = f" in {stats.pieces} pieces" if stats.pieces > stats.chunks else ""
        err_console.print(
            f"{stats.audio_s:.2f} s of audio to {where} in {stats.wall_s:.2f} s "
            f"(RTF {stats.rtf:.3f}, first audio after {stats.ttfa_s or 0:.2f} s, "
            f"{plural(stats.chunks, 'chunk')}{pieces})",
            soft_wrap=True,  # one line, whatever the path's length
            markup=False,  # a path such as take[1].wav prints as written
        )
    if verbose:
        for note in [*synth.voice.notes(), *synth.backend.notes()]:
            err_console.print(note, markup=False)
    if timeline is not None and (verbose or (not quiet and (timeline.estimated or timeline.aligner.fallbacks))):
        err_console.print(_timing_note(timeline, timestamps), markup=False, soft_wrap=True)


def _refuse_overwriting_inputs(inputs: list[Path], target: str | None, timestamps: str | None) -> None:
    """-o or --timestamps naming an -i file (also through a link, or stdout redirected onto it)
    would destroy the text before it is read: exit 2, before any work."""
    from tts_accel.core.files.paths import refuse_same_file

    outputs: list[tuple[str, str | int]] = [] if target is None else [("-o " + target, target)]
    if target == "-":
        outputs = [("stdout", 1)]
    if timestamps is not None:
        outputs.append(("--timestamps " + timestamps, timestamps))
    refuse_same_file(outputs, [(os.fspath(p), p) for p in inputs])


def _check_timestamps(path: str, audio_target: str) -> None:
    """--timestamps refused before synthesis: an unknown extension (exit 2), a path that cannot be
    written (exit 4), or the audio's own file (exit 2)."""
    import os

    from tts_accel.core.timestamps import check_path, check_target

    check_path(path)
    if audio_target != "-" and os.path.realpath(path) == os.path.realpath(audio_target):
        raise InputError(f"--timestamps {path} is the audio output too: give the timestamps their own file.")
    check_target(path)


def _timeline_for(voice):  # type: ignore[no-untyped-def]
    from tts_accel.core.timestamps import Timeline

    return Timeline.for_voice(voice)  # InputError for a voice that reports no durations


def _timing_note(timeline, path: str | None) -> str:  # type: ignore[no-untyped-def]
    timeline.finish()
    note = f"timestamps: {plural(len(timeline.words), 'word')}, {plural(len(timeline.sentences), 'sentence')} to {path}"
    if timeline.aligner is not None and timeline.aligner.fallbacks:
        note += f"; {timeline.aligner.fallbacks} chunks spread by phoneme count (ids not the text's)"
    if timeline.estimated:
        note += f"; {timeline.estimated} chunks estimated (the backend gave no durations)"
    return note


synth_command.__doc__ = (synth_command.__doc__ or "") + EXAMPLES


def _finish_compile(synth: Synthesizer, ctrl_c: CtrlC) -> None:
    """Wait for the compile this run announced (minutes; a signal stops the wait at once): a
    process that exited first cut it off at interpreter shutdown and kept no shape."""
    with ctrl_c.blocking():
        synth.backend.finish_loading()
