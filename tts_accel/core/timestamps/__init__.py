"""Word timestamps: words and sentences of the output in time, and the files that hold them.

``words`` (what a text word is), ``align`` (espeak-ng's phonetic words back to text words),
``timeline`` (text words onto model positions onto output samples) and ``writers`` (.json, .srt,
.vtt). Times come from each chunk's frames per model position, which the voice's own graph
computes, and the exact sample count of the output; docs/timestamps.md has the rule and its
measurements. The module imports numpy only: no ONNX Runtime, no espeak-ng (the voice phonemizes).
"""

from __future__ import annotations

from tts_accel.core.timestamps.align import align_words
from tts_accel.core.timestamps.timeline import Aligner, ChunkSpan, Sentence, Timeline, Word, WordSpan
from tts_accel.core.timestamps.words import TextWord, text_words
from tts_accel.core.timestamps.writers import (
    FORMATS,
    MAX_LINE,
    MAX_LINES,
    Cue,
    check_path,
    check_target,
    cues,
    to_json,
    to_srt,
    to_vtt,
    wrap,
    write_timestamps,
)

__all__ = [
    "FORMATS",
    "MAX_LINE",
    "MAX_LINES",
    "Aligner",
    "ChunkSpan",
    "Cue",
    "Sentence",
    "TextWord",
    "Timeline",
    "Word",
    "WordSpan",
    "align_words",
    "check_path",
    "check_target",
    "cues",
    "text_words",
    "to_json",
    "to_srt",
    "to_vtt",
    "wrap",
    "write_timestamps",
]
