"""Rows to jobs: the command's options apply to every row, a row's own columns override them.

Checked here, before anything starts: duplicate ids, ids that are not safe file names, ``out``
paths that leave OUTDIR, two rows writing the same file. A row whose own values are unusable
(a speed that is not a number, out of range) fails alone, with its line.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tts_accel.core.batch.inputs import Corpus, CorpusRow
from tts_accel.core.errors import InputError, RowError, TTSError
from tts_accel.core.voices.params import SynthParams

MANIFEST = "manifest.jsonl"
ERRORS = "errors.jsonl"
LOCK = ".tts-batch.lock"
RESERVED = {MANIFEST, ERRORS, LOCK}
#: Longest id, in UTF-8 bytes: the file name also needs room for the extension (255 in all).
MAX_ID_BYTES = 200
#: Extensions that name an audio format: an ``out`` ending in one picks that format.
AUDIO_SUFFIXES = ("wav", "raw", "pcm", "flac", "ogg", "oga", "opus", "mp3")
#: How many offending ids an error message lists before "and N more".
LIST_AT_MOST = 8


@dataclass(frozen=True)
class Defaults:
    """What the command line says for every row (``tts synth``'s options)."""

    voice: str
    lang: str | None = None
    speed: float = 1.0
    noise_scale: float | None = None
    noise_w: float | None = None
    sentence_silence: float = 0.2
    volume: float = 1.0
    seed: int | None = None
    fmt: str = "wav"
    timestamps: str | None = None  # json | srt | vtt: word times beside each audio file


@dataclass(frozen=True)
class Job:
    """One utterance to make: everything a worker needs, and nothing it must look up."""

    id: str
    line: int
    text: str
    path: str  # relative to OUTDIR, '/'-separated
    fmt: str
    voice: str
    lang: str | None
    speed: float
    noise_scale: float | None
    noise_w: float | None
    sentence_silence: float
    volume: float
    seed: int | None
    timestamps: str = ""  # the word-times file beside the audio (relative to OUTDIR), "" for none

    def params(self) -> SynthParams:
        return SynthParams(
            speed=self.speed, noise_scale=self.noise_scale, noise_w=self.noise_w,
            sentence_silence=self.sentence_silence, volume=self.volume, seed=self.seed,
        )  # fmt: skip

    def key(self, engine: str) -> str:
        """Fingerprint of what decides the audio (text, voice, parameters, format, ``engine``:
        backend and precision). Resume skips a finished file only when its key is the same."""
        fields = {k: v for k, v in asdict(self).items() if k not in ("id", "line", "path", "timestamps")}
        blob = json.dumps({**fields, "engine": engine}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, blob: str) -> Job:
        return cls(**json.loads(blob))


def unsafe_id(rid: str) -> str | None:
    """Why ``rid`` cannot be a file name in OUTDIR, or None."""
    if not rid:
        return "is empty"
    if "/" in rid or "\\" in rid:
        return "contains a path separator"
    if rid in (".", "..") or rid.startswith("."):
        return "starts with a dot"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in rid):
        return "contains a control character"
    if len(rid.encode("utf-8")) > MAX_ID_BYTES:
        return f"is longer than {MAX_ID_BYTES} bytes"
    return None


def unsafe_out(out: str) -> str | None:
    """Why ``out`` (a row's output path) is not a path inside OUTDIR, or None."""
    if not out.strip():
        return "is empty"
    if os.path.isabs(out) or out.startswith(("/", "\\", "~")) or (len(out) > 1 and out[1] == ":"):
        return "is absolute"
    parts = out.replace("\\", "/").split("/")
    if ".." in parts:
        return "leaves OUTDIR (..)"
    if any(p.startswith(".") and p not in ("", ".") for p in parts):
        return "has a part that starts with a dot"
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in out):
        return "contains a control character"
    if out.endswith("/"):
        return "names a folder"
    return None


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:LIST_AT_MOST])
    return shown + (f" and {len(items) - LIST_AT_MOST} more" if len(items) > LIST_AT_MOST else "")


def build_jobs(corpus: Corpus, defaults: Defaults, formats: tuple[str, ...]) -> tuple[list[Job], list[RowError]]:
    """Jobs for every usable row, and the rows that fail on their own (unreadable, bad values). Problems that make
    the whole run wrong (duplicate ids, unsafe ids or paths, two rows on one file) raise InputError."""
    _refuse_duplicates(corpus.rows + [CorpusRow(e.line, e.id, "") for e in corpus.errors if e.id is not None])
    bad_ids = [f"{r.id!r} (line {r.line}) {why}" for r in corpus.rows if (why := unsafe_id(r.id))]
    if bad_ids:
        raise InputError(f"ids that are not safe file names: {_listing(bad_ids)}; use letters, digits, - _ and .")
    bad_outs = [
        f"{r.fields['out']!r} (line {r.line}) {why}"
        for r in corpus.rows
        if "out" in r.fields and (why := unsafe_out(str(r.fields["out"])))
    ]
    if bad_outs:
        raise InputError(
            f"out paths must stay inside OUTDIR: {_listing(bad_outs)}; give a relative path such as a/b.wav"
        )
    jobs: list[Job] = []
    errors: list[RowError] = list(corpus.errors)
    for row in corpus.rows:
        try:
            jobs.append(_job(row, defaults, formats, corpus.folder))
        except TTSError as err:
            errors.append(RowError(row.line, row.id, f"line {row.line} (id {row.id}): {err}"))
    _refuse_collisions(jobs)
    return jobs, sorted(errors, key=lambda e: e.line)


def _refuse_duplicates(rows: list[CorpusRow]) -> None:
    counts = Counter(r.id for r in rows)
    dupes = [rid for rid, n in counts.items() if n > 1]
    if dupes:
        where = [f"{rid!r} (lines {', '.join(str(r.line) for r in rows if r.id == rid)})" for rid in dupes]
        raise InputError(f"duplicate ids: {_listing(where)}; every row needs its own id.")


def _refuse_collisions(jobs: list[Job]) -> None:
    files = [(j, p) for j in jobs for p in (j.path, j.timestamps) if p]
    by_path = Counter(p.casefold() for _, p in files)  # case-insensitive file systems too
    clash = [j for j, p in files if by_path[p.casefold()] > 1]
    if clash:
        where = [f"{j.path} (id {j.id}, line {j.line})" for j in clash]
        raise InputError(f"rows that would write the same file: {_listing(where)}; give each its own id or out.")
    reserved = [j.path for j in jobs if j.path in RESERVED]
    if reserved:
        raise InputError(f"out {reserved[0]!r} is the name of the run's own bookkeeping: choose another name.")


def _number(row: CorpusRow, name: str, value: object, kind: type) -> float | int:
    if isinstance(value, bool):
        raise InputError(f"{name} {value!r} is not a number")
    try:
        number = kind(value) if not isinstance(value, str) else kind(value.strip())
    except (TypeError, ValueError):
        raise InputError(f"{name} {value!r} is not a number: give one such as 1.0") from None
    return number


def row_voice(value: object, folder: Path | None) -> str:
    """A row's voice: a name as it is; a path (``/`` in it, or ``.onnx``) relative to the input
    file's folder (``folder``; the current one for stdin and library items), made absolute."""
    from tts_accel.core.batch import adapter

    voice = str(value).strip()
    if folder is None or not adapter.is_voice_path(voice) or os.path.isabs(os.path.expanduser(voice)):
        return voice
    return os.path.join(folder, voice)


def _job(row: CorpusRow, defaults: Defaults, formats: tuple[str, ...], folder: Path | None = None) -> Job:
    f = row.fields
    job = Job(
        id=row.id, line=row.line, text=row.text, path="", fmt=defaults.fmt,
        voice=row_voice(f["voice"], folder) if str(f.get("voice", "")).strip() else defaults.voice,
        lang=str(f["lang"]).strip() if "lang" in f else defaults.lang,
        speed=float(_number(row, "speed", f["speed"], float)) if "speed" in f else defaults.speed,
        noise_scale=float(_number(row, "noise_scale", f["noise_scale"], float))
        if "noise_scale" in f else defaults.noise_scale,
        noise_w=float(_number(row, "noise_w", f["noise_w"], float)) if "noise_w" in f else defaults.noise_w,
        sentence_silence=defaults.sentence_silence, volume=defaults.volume, seed=defaults.seed,
    )  # fmt: skip
    job.params()  # range checks, with the flag names the user knows
    if "out" in f:
        out = posixpath.normpath(str(f["out"]).replace("\\", "/"))
        suffix = posixpath.splitext(out)[1].lstrip(".").lower()
        if suffix in formats:
            return _with_timestamps(replace(job, path=out, fmt=suffix), defaults)
        if suffix in AUDIO_SUFFIXES:
            raise InputError(f"out {out!r}: {suffix} cannot be written here; use {', '.join(formats)}")
        return _with_timestamps(replace(job, path=f"{out}.{defaults.fmt}"), defaults)
    return _with_timestamps(replace(job, path=f"{row.id}.{defaults.fmt}"), defaults)


def _with_timestamps(job: Job, defaults: Defaults) -> Job:
    """The word-times file sits beside the audio: a/b.wav -> a/b.json."""
    if not defaults.timestamps:
        return job
    return replace(job, timestamps=f"{posixpath.splitext(job.path)[0]}.{defaults.timestamps}")
