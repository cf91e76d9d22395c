"""Timestamps files: JSON, SubRip (.srt) and WebVTT (.vtt), and writing them where asked.

JSON has every word and sentence; the subtitle formats have one cue per sentence, or per clause
when a sentence does not fit in two lines of at most 42 characters (the usual broadcast and
streaming subtitle limits).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from tts_accel.core.errors import InputError, OutputError, output_error
from tts_accel.core.files.atomic import AtomicFile, commit_together
from tts_accel.core.timestamps.timeline import Timeline, Word

#: Subtitle lines: at most this many characters, and this many lines per cue, where possible.
MAX_LINE = 42
MAX_LINES = 2


def to_json(timeline: Timeline) -> str:
    """``{"sample_rate", "words": [{"word", "start", "end"}], "sentences": [{"text", "start", "end"}]}``,
    seconds rounded to the microsecond (a sample is 42-45 us: ``round(t * sample_rate)`` gives it
    back exactly), one entry per line."""
    s = timeline.seconds

    def rows(items: list[dict[str, object]]) -> str:
        return ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)

    words = [{"word": w.word, "start": s(w.start), "end": s(w.end)} for w in timeline.words]
    sentences = [{"text": x.text, "start": s(x.start), "end": s(x.end)} for x in timeline.sentences]
    return (
        f'{{"sample_rate": {timeline.sample_rate},\n "words": [\n{rows(words)}\n ],\n'
        f' "sentences": [\n{rows(sentences)}\n ]}}\n'
    )


def wrap(text: str, width: int = MAX_LINE) -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces; two lines are balanced (the break
    that makes the longer line shortest). A word longer than ``width`` gets a line of its own."""
    words = text.split()
    if not words:
        return []
    if len(text) <= width:
        return [" ".join(words)]
    best: tuple[int, int] | None = None  # (longer line, break index)
    for k in range(1, len(words)):
        a, b = " ".join(words[:k]), " ".join(words[k:])
        if len(a) <= width and len(b) <= width and (best is None or max(len(a), len(b)) < best[0]):
            best = (max(len(a), len(b)), k)
    if best is not None:
        return [" ".join(words[: best[1]]), " ".join(words[best[1] :])]
    lines, cur = [], ""
    for word in words:
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    lines.append(cur)
    return lines


def _fits(text: str, width: int, max_lines: int) -> bool:
    return all(len(line) <= width for line in wrap(text, width)) and len(wrap(text, width)) <= max_lines


_CLAUSE_END = re.compile(r"""[,;:.!?…)"'\]。、，；：！？」』）]$""")


@dataclass(frozen=True)
class Cue:
    start: int  # samples
    end: int
    lines: tuple[str, ...]


def cues(timeline: Timeline, width: int = MAX_LINE, max_lines: int = MAX_LINES) -> list[Cue]:
    """One cue per sentence; a sentence that does not fit in ``max_lines`` lines of ``width``
    characters is cut at clause punctuation, clauses packed greedily; a clause that still does
    not fit is cut between words. Times come from the cue's first and last timed words."""
    out: list[Cue] = []
    for sentence in timeline.sentences:
        words = list(sentence.words)
        if not words:
            if sentence.text.strip():
                out.append(Cue(sentence.start, sentence.end, tuple(wrap(sentence.text, width))))
            continue
        clauses: list[list[Word]] = [[]]
        for w in words:
            clauses[-1].append(w)
            if _CLAUSE_END.search(w.token):
                clauses.append([])
        clauses = [c for c in clauses if c]
        blocks: list[list[Word]] = []
        for clause in clauses:
            if not _fits(_text(clause), width, max_lines):
                for part in _split_words(clause, width, max_lines):
                    blocks.append(part)
                continue
            if blocks and _fits(_text(blocks[-1] + clause), width, max_lines):
                blocks[-1] = blocks[-1] + clause
            else:
                blocks.append(clause)
        if len(blocks) == 1 or _fits(sentence.text, width, max_lines):
            blocks = [words]
        for block in blocks:
            timed = [w for w in block if w.end > w.start] or block
            out.append(Cue(timed[0].start, max(timed[-1].end, timed[0].start), tuple(wrap(_text(block), width))))
    # a cue must end after it starts, and never run into the next one
    fixed: list[Cue] = []
    for k, cue in enumerate(out):
        nxt = out[k + 1].start if k + 1 < len(out) else None
        end = max(cue.end, cue.start + 1)
        if nxt is not None and end > nxt:
            end = max(nxt, cue.start + 1)
        fixed.append(Cue(cue.start, end, cue.lines))
    return fixed


def _text(words: Sequence[Word]) -> str:
    return " ".join(w.token for w in words)


def _split_words(words: list[Word], width: int, max_lines: int) -> list[list[Word]]:
    """The fewest blocks that fit, cut where the text's length is shared most evenly (no orphan
    "days old." after a full cue)."""
    total = len(_text(words))
    for k in range(2, len(words) + 1):
        blocks: list[list[Word]] = [[]]
        done = 0
        for w in words:
            if blocks[-1] and done + len(w.token) / 2 > total * len(blocks) / k and len(blocks) < k:
                blocks.append([])
            blocks[-1].append(w)
            done += len(w.token) + 1
        if all(_fits(_text(b), width, max_lines) for b in blocks):
            return blocks
    return [[w] for w in words]


def _ms_cues(timeline: Timeline) -> list[tuple[int, int, tuple[str, ...]]]:
    """Cues in whole milliseconds, each at least 1 ms long and not overlapping the next."""
    sr = timeline.sample_rate
    raw = [
        (int(math.floor(c.start * 1000 / sr + 0.5)), int(math.floor(c.end * 1000 / sr + 0.5)), c.lines)
        for c in cues(timeline)
    ]
    out = []
    for k, (a, b, lines) in enumerate(raw):
        b = max(b, a + 1)
        if k + 1 < len(raw):
            b = min(b, max(raw[k + 1][0], a + 1))
        out.append((a, b, lines))
    return out


def _fmt_ms(ms: int, sep: str) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, rest = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{rest:03d}"


def to_srt(timeline: Timeline) -> str:
    blocks = []
    for k, (a, b, lines) in enumerate(_ms_cues(timeline), 1):
        text = "\n".join(line.replace("-->", "->") for line in lines)
        blocks.append(f"{k}\n{_fmt_ms(a, ',')} --> {_fmt_ms(b, ',')}\n{text}\n")
    return "\n".join(blocks)


def _vtt_escape(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(timeline: Timeline) -> str:
    blocks = ["WEBVTT\n"]
    for a, b, lines in _ms_cues(timeline):
        text = "\n".join(_vtt_escape(line) for line in lines)
        blocks.append(f"{_fmt_ms(a, '.')} --> {_fmt_ms(b, '.')}\n{text}\n")
    return "\n".join(blocks)


WRITERS: dict[str, Callable[[Timeline], str]] = {".json": to_json, ".srt": to_srt, ".vtt": to_vtt}
#: Extensions ``--timestamps`` understands.
FORMATS = tuple(WRITERS)

Guard = Callable[[], AbstractContextManager[object]]


def check_path(path: str | os.PathLike[str]) -> str:
    """The format of ``path`` by its extension; InputError naming the choices otherwise. The CLI
    calls this before the voice loads, so a typo never costs a run."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        raise InputError(
            f"--timestamps {os.fspath(path)}: unknown extension {suffix or '(none)'!r}; use .json, .srt or .vtt."
        )
    return suffix


def check_target(path: str | os.PathLike[str]) -> None:
    """Refuse, before synthesis, a timestamps path that cannot be written: a directory, a missing
    or read-only folder (OutputError, one line). Devices and FIFOs are fine: written in place."""
    from tts_accel.core.audio.sinks import classify

    name = os.fspath(path)
    check_path(name)
    try:
        where = classify(name)
    except OutputError as err:
        raise OutputError(f"--timestamps {err}") from None
    if where.kind != "file":
        return
    folder = Path(os.path.realpath(name)).parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {name}: the folder {folder} does not exist; create it or choose another.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {name}: the folder {folder} is not writable; choose another place.")


def write_timestamps(
    path: str | os.PathLike[str],
    timeline: Timeline,
    *,
    guard: Guard | None = None,
    audio: AtomicFile | None = None,
    within: str | os.PathLike[str] | None = None,
) -> None:
    """Write ``timeline`` in the format the extension names. A regular file (or a new name) is
    replaced atomically (a temporary file beside it, renamed on success); a FIFO, a device, a
    socket or an open descriptor is written in place, never replaced. ``guard`` wraps a write that
    may block (a FIFO waiting for its reader), as the audio sinks do. ``audio``: the audio file,
    complete but not yet renamed (``FileSink(hold=True)``): both are committed together
    (``commit_together``), so a failure here leaves the old audio and the old timestamps as they
    were and the message says so. ``within``: no symlink below this folder is followed (batch).
    Every OSError becomes one OutputError line naming the path."""
    from tts_accel.core.audio.sinks import classify, open_in_place

    name = os.fspath(path)
    data = WRITERS[check_path(name)](timeline.finish()).encode("utf-8")
    where = classify(name) if within is None else None
    try:
        if where is None or where.kind == "file":
            stamps = AtomicFile(name, within=within)
            try:
                stamps.write(data)
            except BaseException:
                stamps.discard()
                raise
            commit_together([f for f in (audio, stamps) if f is not None])
            return
        with (guard or nullcontext)():
            fd = open_in_place(where)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        if audio is not None:
            audio.commit()
    except OSError as err:
        raise _stale_note(output_error(name, err), audio) from None
    finally:
        if audio is not None:
            audio.discard()  # nothing once committed; else the new audio goes with its failed timestamps


def _stale_note(error: OutputError, audio: AtomicFile | None) -> OutputError:
    if audio is None:
        return error
    if audio.committed:
        return OutputError(f"{str(error).rstrip('.')}; {audio.path} is new, so these timestamps are stale.")
    return OutputError(f"{str(error).rstrip('.')}; {audio.path} was not replaced either (they stay in step).")
