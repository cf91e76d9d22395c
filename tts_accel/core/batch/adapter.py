"""The one place where corpus synthesis touches the rest of the engine: plans, voices, the
synthesizer and the sinks. When those move or are renamed, only this file changes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tts_accel.core.acoustic.registry import INT8, REFERENCE
from tts_accel.core.errors import VoiceError
from tts_accel.core.plan.model import NO_ACOUSTIC
from tts_accel.core.voices.registry import DEFAULT_VOICE

if TYPE_CHECKING:
    from tts_accel.core.pipeline.synthesizer import Synthesizer
    from tts_accel.core.plan.model import ExecutionPlan
    from tts_accel.core.voices.params import SynthParams

__all__ = [
    "DEFAULT_VOICE",
    "check_voice",
    "formats",
    "is_voice_path",
    "open_synthesizer",
    "pool_shape",
    "timestamp_formats",
    "worker_plan",
    "write_file",
]

#: Modes that schedule chunks of one text over several threads. In a batch the parallelism is
#: across utterances (worker processes or actors), so a worker runs one utterance at a time:
#: the whole graph (sequential), or the two stages on one thread when a faster acoustic engine pays.
_CONCURRENT = ("auto", "parallel", "pipelined")


def formats() -> tuple[str, ...]:
    """Audio formats a file sink can write here (the first is the default)."""
    from tts_accel.core.audio.formats import writable_formats

    return tuple(writable_formats())


def timestamp_formats() -> tuple[str, ...]:
    """What `--timestamps` can write beside each file (those of `tts synth --timestamps`)."""
    from tts_accel.core.timestamps import FORMATS

    return tuple(f.lstrip(".") for f in FORMATS)


def check_voice(name: str) -> None:
    """Refuse, before anything starts, a voice that is unknown or not installed (with the
    command that installs it). Registered voices are not loaded here, paths are only parsed."""
    from tts_accel.core.voices.registry import registry, resolve_voice

    entry = registry().get(name)
    if entry is None:
        resolve_voice(name)  # a path to a Piper .onnx, or the "unknown voice" error
    elif not entry.installed():
        raise VoiceError(f"voice {name!r} is not installed: {entry.install}")


def is_voice_path(name: str) -> bool:
    """Whether a voice value is a file path rather than a registered name (the registry's rule)."""
    from tts_accel.core.voices.registry import is_voice_path as rule

    return rule(name)


def worker_mode(mode: str) -> str:
    return "sequential" if mode in _CONCURRENT else mode


def pool_shape(
    mode: str, voice: str, precision: str | None, workers: int | None, threads: int | None
) -> tuple[int, int]:
    """(worker processes, ONNX Runtime intra-op threads per worker). Unless given, from the plan:
    as many workers as the plan would run concurrent model runs (one per usable physical core,
    or a tuned profile's count), each with the plan's threads; a given count of one sizes the
    other to fill the same cores."""
    from tts_accel.core.pipeline.planning import plan_for

    if workers is not None and workers < 1:
        from tts_accel.core.errors import InputError

        raise InputError(f"--workers {workers}: use 1 or more.")
    if mode not in _CONCURRENT:  # a mode the user chose for each worker (batched, torch...)
        plan = plan_for(mode, voice, precision, intra_op_threads=threads)
        return workers or 1, plan.intra_op_threads
    plan = plan_for("pipelined", voice, precision, intra_op_threads=threads)
    cores = max(1, plan.workers * max(1, plan.intra_op_threads))
    if workers is None and threads is None:
        return plan.workers, max(1, plan.intra_op_threads)
    if workers is None:
        assert threads is not None
        return max(1, cores // max(1, threads)), threads
    return workers, threads if threads is not None else max(1, cores // workers)


def worker_plan(
    mode: str,
    voice: str,
    precision: str | None,
    threads: int,
    corpus_chars: int | None = None,
    acoustic: str | None = None,
) -> ExecutionPlan:
    """The plan one worker runs: one utterance at a time, ``threads`` intra-op threads.

    For the concurrent modes the worker's engine is chosen from the work it will do
    (``corpus_chars``: its share of the corpus), as `tts synth` chooses from the input's length:
    where the planner gives the two-stage path a faster acoustic engine than ONNX Runtime fp32
    (bf16 on a CPU with the instructions, its shapes compiled by `tts tune`), each row runs the
    text stage and then the acoustic stage on that engine; otherwise each row runs the voice's
    whole graph (``sequential``), which on ONNX Runtime fp32 is the fastest way through a sentence.
    ``acoustic`` given (--acoustic) always runs the two-stage path on that engine. The two-stage
    path runs every row on the steady window schedule (``WindowPlan.steady_only``): a file has no
    listener waiting for its first audio."""
    from tts_accel.core.pipeline.planning import plan_for

    acoustic = None if acoustic == "auto" else acoustic  # --acoustic auto: the planner's choice, as without it
    if mode in _CONCURRENT:
        settings = {"workers": 1, "intra_op_threads": threads, "text_chars": corpus_chars, "acoustic": acoustic}
        staged = plan_for("pipelined", voice, precision, **settings)
        if acoustic is not None or staged.acoustic not in (NO_ACOUSTIC, REFERENCE, INT8):
            if staged.window_plan is None:
                return staged
            # Files nobody plays while they are made: no row needs the opening's small first
            # windows (every row opens a stream), which cost 12 % of a corpus on the Xeon AMX VM.
            return plan_for("pipelined", voice, precision, windows=staged.window_plan.steady_only(), **settings)
    elif acoustic is not None:
        return plan_for(mode, voice, precision, workers=1, intra_op_threads=threads, acoustic=acoustic)
    return plan_for(worker_mode(mode), voice, precision, workers=1, intra_op_threads=threads)


def engine_label(plan: ExecutionPlan) -> str:
    """What changes the samples besides the text and parameters (part of the resume key)."""
    label = f"{plan.backend}:{plan.precision}"
    # An acoustic engine other than the whole graph's own ORT run changes the samples (bf16): it
    # joins the key, so a resume never mixes engines; ORT fp32 keeps the keys manifests have.
    return label if plan.acoustic in (NO_ACOUSTIC, REFERENCE, INT8) else f"{label}:{plan.acoustic}"


def open_synthesizer(voice: str, plan: ExecutionPlan, lang: str | None) -> Synthesizer:
    from tts_accel.core.pipeline.synthesizer import Synthesizer

    return Synthesizer(voice, plan, lang=lang)


def write_file(  # type: ignore[no-untyped-def]
    synth: Synthesizer,
    text: str,
    path: Path,
    fmt: str,
    params: SynthParams,
    on_chunk=None,
    timestamps: Path | None = None,
    within: Path | None = None,
) -> int:
    """Speak ``text`` into ``path`` atomically (a temporary file beside it, renamed on success),
    and, with ``timestamps``, its words' times into that file (by its extension), both committed
    together. ``within`` (OUTDIR): no symlink below it is followed (a row through one fails, an
    InputError). Returns the number of samples written."""
    from tts_accel.core.audio.sinks import FileSink

    timeline = None
    hooks = {}
    if timestamps is not None:
        from tts_accel.core.timestamps import Timeline

        timeline = Timeline.for_voice(synth.voice)  # InputError for a voice with no durations
        hooks = {"on_piece": timeline.on_piece, "on_skip": timeline.on_skip}
    sink = FileSink(path, synth.sample_rate, fmt, within=within, hold=timeline is not None)
    try:
        synth.write([text], sink, params, on_chunk=on_chunk, **hooks)
        if timeline is not None and timestamps is not None:
            from tts_accel.core.timestamps import write_timestamps

            write_timestamps(timestamps, timeline.finish(), audio=sink.file, within=within)
    finally:
        sink.file.discard()  # nothing once committed
    return sink.frames
