"""tts-accel: fast, measured text-to-speech on whatever hardware you have."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["__version__", "batch", "synthesize"]


def synthesize(text: str, voice: str = "piper-joe", **params: Any) -> tuple[np.ndarray, int]:
    """Synthesize ``text`` and return ``(float32 samples, sample_rate)``.

    Keyword arguments are those of :class:`tts_accel.core.voices.params.SynthParams`
    (``speed``, ``noise_scale``, ``noise_w``, ``sentence_silence``, ``volume``, ``seed``)
    plus ``mode`` (``sequential`` by default, ``auto`` or any mode `tts synth --mode` takes)
    and ``precision``. The plan comes from the same resolver as `tts synth`'s: a mode this voice
    or machine cannot run is an error that says why, never a silent fallback.
    """
    from tts_accel.core.pipeline.synthesizer import synthesize as _synthesize

    return _synthesize(text, voice=voice, **params)


def batch(source: Any, outdir: Any, **options: Any) -> Any:
    """Synthesize a corpus into ``outdir``: one audio file per row, ``manifest.jsonl``, resumable.

    ``source`` is a path (text lines, CSV, TSV, JSONL) or a list of strings or dicts; the keyword
    arguments are those of :func:`tts_accel.core.batch.batch` (``voice``, ``speed``, ``workers``,
    ``ray``...). Returns a :class:`tts_accel.core.batch.BatchResult`.
    """
    from tts_accel.core.batch import batch as _batch

    return _batch(source, outdir, **options)
