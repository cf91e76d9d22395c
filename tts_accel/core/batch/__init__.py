"""Corpus synthesis: many utterances to a folder of audio files, resumable, on every core or on Ray.

``run_batch`` is the whole run; ``batch`` is its keyword-argument form for library use. The
modules, bottom up: ``inputs`` (readers), ``jobs`` (rows + options -> jobs, checks), ``adapter``
(the only door to the engine), ``worker`` (one utterance -> one file), ``manifest`` (OUTDIR's
bookkeeping and resume), ``local`` (worker processes), ``cluster`` (Ray), ``run`` (the run).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tts_accel.core.batch.adapter import DEFAULT_VOICE
from tts_accel.core.batch.jobs import Defaults
from tts_accel.core.batch.run import BatchOptions, BatchResult, run_batch

__all__ = ["BatchOptions", "BatchResult", "Defaults", "batch", "run_batch"]


def batch(
    source: str | Path | Sequence[object],
    outdir: str | Path,
    *,
    voice: str = DEFAULT_VOICE,
    lang: str | None = None,
    speed: float = 1.0,
    noise_scale: float | None = None,
    noise_w: float | None = None,
    sentence_silence: float = 0.2,
    volume: float = 1.0,
    seed: int | None = None,
    format: str = "wav",
    mode: str = "auto",
    precision: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    input_format: str | None = None,
    ray: str | None = None,
) -> BatchResult:
    """Synthesize every row of ``source`` into ``outdir``: one file per row, ``manifest.jsonl``,
    and ``errors.jsonl`` for rows that failed (``result.failed`` counts them; no exception).

    ``source``: a path (text lines, .csv, .tsv, .jsonl; ``-`` for stdin), or a list of strings
    (ids 1, 2, ...) or of dicts with ``text`` and optionally ``id``, ``voice``, ``speed``,
    ``noise_scale``, ``noise_w``, ``lang``, ``out``. ``ray``: None (local processes), ``"local"``
    (a Ray started for the run), or a cluster address (``"auto"``, ``"ray://host:10001"``).
    """
    defaults = Defaults(
        voice=voice, lang=lang, speed=speed, noise_scale=noise_scale, noise_w=noise_w,
        sentence_silence=sentence_silence, volume=volume, seed=seed, fmt=format,
    )  # fmt: skip
    options = BatchOptions(
        defaults=defaults, mode=mode, precision=precision, workers=workers, threads=threads,
        overwrite=overwrite, input_format=input_format, ray=ray,
    )  # fmt: skip
    return run_batch(source, outdir, options)
