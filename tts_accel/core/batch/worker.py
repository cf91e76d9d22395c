"""One worker: voices loaded once, utterances written one at a time, each atomically.

The same class runs in a local worker process and in a Ray actor, so both write the same
bytes for the same job. A worker never touches the manifest: it reports what it wrote, and
the coordinator records it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tts_accel.core.batch import adapter
from tts_accel.core.batch.jobs import Job
from tts_accel.core.errors import InputError, ModelError, OutputError, TTSError, VoiceError
from tts_accel.core.files.cache import sha256_file
from tts_accel.core.pipeline.stats import peak_rss_mb

#: Errors after which no further row can succeed: the run stops (exit code of the class).
FATAL = {"OutputError": OutputError, "VoiceError": VoiceError}


@dataclass(frozen=True)
class WorkerConfig:
    """How every worker of a run synthesizes (picklable, JSON-able for Ray)."""

    outdir: str
    mode: str = "auto"
    precision: str | None = None
    threads: int = 1
    corpus_chars: int | None = None  # this worker's share of the corpus: the planner weighs engines by it
    acoustic: str | None = None  # --acoustic: the two-stage path on this engine


@dataclass(frozen=True)
class Outcome:
    """What became of one job: a manifest record, or an error (fatal: the class to raise)."""

    id: str
    line: int
    record: dict[str, object] | None = None
    error: str | None = None
    fatal: str | None = None
    pid: int = 0
    peak_rss_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return self.record is not None

    @property
    def audio_s(self) -> float:
        return float(self.record["duration_s"]) if self.record else 0.0  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, blob: str) -> Outcome:
        return cls(**json.loads(blob))


class Worker:
    def __init__(self, config: WorkerConfig):
        self.config = config
        self.outdir = Path(config.outdir)
        self._synths: dict[tuple[str, str | None], object] = {}
        self._plans: dict[str, object] = {}

    def engine(self, voice: str) -> str:
        return adapter.engine_label(self._plan(voice))

    def _plan(self, voice: str):  # type: ignore[no-untyped-def]
        if voice not in self._plans:  # resolving reads the hardware profile: once per voice
            c = self.config
            self._plans[voice] = adapter.worker_plan(c.mode, voice, c.precision, c.threads, c.corpus_chars, c.acoustic)
        return self._plans[voice]

    def synthesizer(self, voice: str, lang: str | None):  # type: ignore[no-untyped-def]
        key = (voice, lang)
        if key not in self._synths:
            self._synths[key] = adapter.open_synthesizer(voice, self._plan(voice), lang)
        return self._synths[key]

    def run(self, job: Job, on_chunk: Callable[[object], None] | None = None) -> Outcome:
        """Write ``job``'s file and describe it; errors become an Outcome, never an exception
        (except an interruption, which the caller asked for)."""
        pid = os.getpid()
        try:
            record = self._write(job, on_chunk)
        except (OutputError, VoiceError) as err:
            return Outcome(job.id, job.line, error=str(err), fatal=type(err).__name__, pid=pid)
        except (InputError, ModelError) as err:
            return Outcome(job.id, job.line, error=f"line {job.line} (id {job.id}): {err}", pid=pid)
        except TTSError:
            raise  # Interrupted: the caller stops
        except OSError as err:  # a directory for an `out` path that cannot be made, a read-back
            name = err.filename or job.path
            msg = f"cannot write {name}: {err.strerror}; free space or choose a writable OUTDIR."
            return Outcome(job.id, job.line, error=msg, fatal="OutputError", pid=pid)
        except Exception as err:  # a bug on one row must not lose a night's work: record it
            msg = f"line {job.line} (id {job.id}): internal error: {type(err).__name__}: {err}"
            return Outcome(job.id, job.line, error=msg, pid=pid)
        return Outcome(job.id, job.line, record=record, pid=pid, peak_rss_mb=round(peak_rss_mb(), 1))

    def _write(self, job: Job, on_chunk: Callable[[object], None] | None) -> dict[str, object]:
        synth = self.synthesizer(job.voice, job.lang)
        path = self.outdir / job.path  # folders below OUTDIR are made as the file is opened, no link followed
        times = self.outdir / job.timestamps if job.timestamps else None
        params = job.params()
        samples = adapter.write_file(synth, job.text, path, job.fmt, params, on_chunk, times, within=self.outdir)  # type: ignore[arg-type]
        rate = int(synth.sample_rate)  # type: ignore[attr-defined]
        extra = {"timestamps": job.timestamps} if job.timestamps else {}
        return {
            "id": job.id,
            "path": job.path,
            "text": job.text,
            "voice": job.voice,
            "sample_rate": rate,
            "duration_s": round(samples / rate, 6),
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
            "key": job.key(self.engine(job.voice)),
            **extra,
        }
