"""A corpus run from start to end: read, check, resume, dispatch, record, summarize."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tts_accel.core.batch import adapter
from tts_accel.core.batch.inputs import Corpus, corpus_from_items, read_corpus
from tts_accel.core.batch.jobs import RESERVED, Defaults, Job, build_jobs
from tts_accel.core.batch.local import StopFlag, run_local
from tts_accel.core.batch.manifest import ErrorLog, Manifest, OutDir, intact
from tts_accel.core.batch.worker import FATAL, Outcome, Worker, WorkerConfig
from tts_accel.core.errors import InputError, RowError, VoiceError
from tts_accel.core.files.paths import escape_reason, refuse_same_file
from tts_accel.core.voices.params import SynthParams


@dataclass(frozen=True)
class BatchOptions:
    defaults: Defaults
    mode: str = "auto"
    precision: str | None = None
    workers: int | None = None  # worker processes (or Ray actors); None: from the plan
    threads: int | None = None  # ONNX Runtime intra-op threads per worker; None: from the plan
    overwrite: bool = False
    input_format: str | None = None
    ray: str | None = None  # None: local processes; "local": a Ray started for the run; else an address
    acoustic: str | None = None  # the acoustic engine (two-stage path); None: the planner's choice


@dataclass
class BatchResult:
    outdir: Path
    total: int = 0  # rows in the input, failed ones included
    done: int = 0  # made by this run
    skipped: int = 0  # intact from an earlier run
    failed: int = 0
    audio_s: float = 0.0  # made by this run
    wall_s: float = 0.0
    workers: int = 1
    threads: int = 1
    engine: str = "local"
    interrupted: str | None = None  # the signal that stopped the run early
    errors_path: Path | None = None
    worker_peak_rss_mb: dict[int, float] = field(default_factory=dict)

    @property
    def times_real_time(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


class Progress:
    """What a front-end (the CLI's progress bar) hears; the default hears nothing."""

    def start(self, todo: int, skipped: int, failed: int) -> None: ...

    def advance(self, outcome: Outcome) -> None: ...


def load_corpus(source: str | Path | Sequence[object], input_format: str | None) -> Corpus:
    if isinstance(source, str | Path):
        return read_corpus(source, input_format)
    return corpus_from_items(list(source))


def check_options(options: BatchOptions) -> None:
    """The command line's own values, refused before the input is even read."""
    d = options.defaults
    if d.fmt not in adapter.formats():
        raise InputError(f"--format {d.fmt}: use one of {', '.join(adapter.formats())}.")
    if d.timestamps is not None and d.timestamps not in adapter.timestamp_formats():
        raise InputError(f"--timestamps {d.timestamps}: use one of {', '.join(adapter.timestamp_formats())}.")
    SynthParams(d.speed, d.noise_scale, d.noise_w, d.sentence_silence, d.volume, d.seed)  # range checks
    for flag, value in (("--workers", options.workers), ("--threads", options.threads)):
        if value is not None and value < (1 if flag == "--workers" else 0):
            raise InputError(f"{flag} {value}: use a whole number of at least {1 if flag == '--workers' else 0}.")


def plan_jobs(corpus: Corpus, options: BatchOptions, outdir: Path | None = None) -> tuple[list[Job], list[RowError]]:
    """Jobs and failed rows. Before anything starts: --voice must be usable (else the run stops,
    exit 3, with the install command); a row whose own voice is not, or whose files would leave
    ``outdir`` through a symlink, fails alone (errors.jsonl)."""
    jobs, errors = build_jobs(corpus, options.defaults, adapter.formats())
    adapter.check_voice(options.defaults.voice)
    refused: dict[str, str] = {}
    for voice in sorted({j.voice for j in jobs} - {options.defaults.voice}):
        try:
            adapter.check_voice(voice)
        except VoiceError as err:
            refused[voice] = str(err)
    kept: list[Job] = []
    for job in jobs:
        why = refused.get(job.voice) or (_escapes(outdir, job) if outdir is not None else None)
        if why is None:
            kept.append(job)
        else:
            errors.append(RowError(job.line, job.id, f"line {job.line} (id {job.id}): {why}"))
    return kept, sorted(errors, key=lambda e: e.line)


def _escapes(outdir: Path, job: Job) -> str | None:
    """Why one of ``job``'s files would be written outside OUTDIR (through a symlink), or None."""
    for rel in (job.path, job.timestamps):
        why = escape_reason(outdir, rel) if rel else None
        if why is not None:
            return f"out {rel} {why}; remove the link or choose another out"
    return None


def _refuse_overwriting_input(source: object, outdir: Path, jobs: list[Job]) -> None:
    """An output (a row's file, its timestamps, the bookkeeping) that is the input itself: exit 2."""
    if source == "-":
        inputs: list[tuple[str, str | int]] = [("stdin", 0)]
    elif isinstance(source, str | Path):
        inputs = [(str(source), str(source))]
    else:
        return
    names = [p for j in jobs for p in (j.path, j.timestamps) if p] + sorted(RESERVED)
    refuse_same_file(((f"the output {outdir / n}", outdir / n) for n in names), inputs)


def run_batch(
    source: str | Path | Sequence[object],
    outdir: str | Path,
    options: BatchOptions,
    progress: Progress | None = None,
    stop: StopFlag | None = None,
    on_ready: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """Synthesize every row of ``source`` into ``outdir``; see docs/batch.md."""
    clock = time.perf_counter()
    progress = progress or Progress()
    stop = stop or StopFlag()
    outdir = Path(outdir)
    if options.ray not in (None, "local") and not outdir.is_absolute():
        raise InputError(
            f"OUTDIR {outdir} is relative: on a cluster give an absolute path that every node shares (e.g. NFS)."
        )
    check_options(options)
    corpus = load_corpus(source, options.input_format)
    if not corpus.rows and not corpus.errors:
        raise InputError("the input has no rows: give at least one non-empty line of text.")
    jobs, row_errors = plan_jobs(corpus, options, outdir)
    _refuse_overwriting_input(source, outdir, jobs)
    d = options.defaults
    workers, threads = adapter.pool_shape(options.mode, d.voice, options.precision, options.workers, options.threads)
    result = BatchResult(outdir, total=len(jobs) + len(row_errors), workers=workers, threads=threads)
    share = sum(len(j.text) for j in jobs) // max(1, workers)  # of every row, done or not: a stable key
    config = WorkerConfig(str(outdir.resolve()), options.mode, options.precision, threads, share, options.acoustic)
    keys = _keys(jobs, config)

    out = OutDir(outdir)
    out.open()
    outcomes: Iterator[Outcome] = iter(())
    manifest, errors = Manifest(outdir), ErrorLog(outdir)
    try:
        out.remove_leftovers(jobs)
        todo, kept, rewrite = _resume(outdir, jobs, keys, manifest, options.overwrite)
        result.skipped = len(jobs) - len(todo)
        manifest.start(kept, rewrite)
        errors.clear()
        for err in row_errors:
            errors.add(err)
        result.failed = len(row_errors)
        todo.sort(key=lambda j: len(j.text), reverse=True)  # longest first: no long straggler at the end
        if on_ready is not None:
            on_ready(result)
        progress.start(len(todo), result.skipped, result.failed)
        if options.ray is not None:
            from tts_accel.core.batch.cluster import run_ray

            result.engine = "ray"

            def on_shape(actors: int, threads: int) -> None:
                result.workers, result.threads = actors, threads

            outcomes = run_ray(todo, config, options.ray, options.workers, stop, on_shape)
        else:
            outcomes = run_local(todo, config, workers, stop, (d.voice, d.lang))
        for outcome in outcomes:
            _record(outcome, manifest, errors, result)
            progress.advance(outcome)
        if stop.soft.is_set():
            result.interrupted = str(stop.reason) if stop.reason else "interrupted"
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:  # a run that stopped early (exit 4, 5): its workers are stopped now, not at exit
            close()
        errors.close()
        try:
            manifest.close()
        finally:
            out.remove_leftovers(jobs, every=False)  # the temporary files of workers that died
            out.close()
    result.errors_path = errors.path if errors.count else None
    result.wall_s = time.perf_counter() - clock
    return result


def _keys(jobs: list[Job], config: WorkerConfig) -> dict[str, str]:
    probe = Worker(config)  # plans only: no voice is loaded
    return {j.id: j.key(probe.engine(j.voice)) for j in jobs}


def _resume(
    outdir: Path, jobs: list[Job], keys: dict[str, str], manifest: Manifest, overwrite: bool
) -> tuple[list[Job], list[dict[str, object]], bool]:
    """(jobs to make, manifest records to keep, whether the manifest must be rewritten)."""
    records, clean = manifest.read()
    ids = {j.id for j in jobs}
    todo: list[Job] = []
    kept = [r for rid, r in records.items() if rid not in ids]  # rows of other inputs: untouched
    for job in jobs:
        record = records.get(job.id)
        if not overwrite and intact(outdir, record, job, keys[job.id]):
            kept.append(record)  # type: ignore[arg-type]
        else:
            todo.append(job)
    stale = any(j.id in records for j in todo)
    return todo, kept, stale or not clean


def _record(outcome: Outcome, manifest: Manifest, errors: ErrorLog, result: BatchResult) -> None:
    if outcome.pid:
        peak = result.worker_peak_rss_mb.get(outcome.pid, 0.0)
        result.worker_peak_rss_mb[outcome.pid] = max(peak, outcome.peak_rss_mb)
    if outcome.fatal is not None:
        raise FATAL[outcome.fatal](outcome.error or "the run cannot go on")
    if outcome.record is not None:
        manifest.add(outcome.record)
        result.done += 1
        result.audio_s += outcome.audio_s
    else:
        errors.add(RowError(outcome.line, outcome.id, outcome.error or "failed"))
        result.failed += 1
