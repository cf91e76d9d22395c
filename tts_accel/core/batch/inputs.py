"""Corpus readers: text lines, CSV, TSV and JSONL, from a file or stdin, into rows.

Every row keeps the line it came from, so that a problem names it. A line that is not valid
UTF-8 does not stop the others: it becomes a failed row with its line number. Problems with
the corpus as a whole (no text column, a header that cannot be read) are an InputError.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tts_accel.core.errors import InputError, RowError

#: Columns (CSV/TSV header, JSONL keys) a row may carry besides ``id`` and ``text``.
OPTIONAL_COLUMNS = ("voice", "speed", "noise_scale", "noise_w", "lang", "out")
COLUMNS = ("id", "text", *OPTIONAL_COLUMNS)
INPUT_FORMATS = ("txt", "csv", "tsv", "jsonl")
_BY_SUFFIX = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class CorpusRow:
    line: int  # 1-based line of the input where the row starts
    id: str
    text: str
    fields: dict[str, object] = field(default_factory=dict)  # optional columns given for this row


@dataclass
class Corpus:
    rows: list[CorpusRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    folder: Path | None = None  # the input file's folder: a row's relative voice path is read from here


#: The most a corpus read from stdin, a FIFO or a character device may hold (a regular file,
#: whose size is known, has no limit): an endless source (a /dev/zero-like device) is refused
#: with an error instead of filling memory.
MAX_STREAM_BYTES = 256 << 20
_READ_BLOCK = 1 << 20


def input_format(source: str, given: str | None) -> str:
    """``given`` (--input-format), else by the file's extension; text lines otherwise and on stdin."""
    if given is not None:
        if given not in INPUT_FORMATS:
            raise InputError(f"unknown input format {given!r}: use one of {', '.join(INPUT_FORMATS)}.")
        return given
    return _BY_SUFFIX.get(Path(source).suffix.lower(), "txt") if source != "-" else "txt"


def read_corpus(source: str | Path, fmt: str | None = None) -> Corpus:
    """Rows of ``source`` (a path, or ``-`` for stdin) in the format ``fmt`` or its extension's."""
    source = str(source)
    kind = input_format(source, fmt)
    data = _read_bytes(source)
    lines = list(_decoded_lines(data))
    corpus = {"txt": _text_rows, "csv": _table_rows, "tsv": _table_rows, "jsonl": _json_rows}[kind](lines, kind)
    corpus.folder = Path(os.path.abspath(source)).parent if source != "-" else None
    return corpus


def corpus_from_items(items: list[object]) -> Corpus:
    """Rows from Python objects (library use): strings (id = position, from 1) or mappings."""
    corpus = Corpus()
    records: list[tuple[int, dict[str, object]]] = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, str):
            records.append((n, {"id": str(n), "text": item}))
        elif isinstance(item, dict):
            records.append((n, dict(item)))
        else:
            raise InputError(f"item {n} is a {type(item).__name__}: give strings or dicts with a 'text' key.")
    _check_has_text([r for _, r in records], "the items")
    for n, record in records:
        _add_record(corpus, n, record)
    return corpus


def _read_bytes(source: str) -> bytes:
    if source == "-":
        return _read_bounded(sys.stdin.buffer, "stdin")
    path = Path(source)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not path.is_dir():
            with open(path, "rb", buffering=0) as stream:  # a FIFO or a device: bounded
                return _read_bounded(stream, source)  # type: ignore[arg-type]
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"input {path} not found: check the path, or give - to read stdin.") from None
    except IsADirectoryError:
        raise InputError(f"input {path} is a directory: give a text, CSV, TSV or JSONL file.") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}; check its permissions.") from None


def _read_bounded(stream: BinaryIO, name: str) -> bytes:
    """All of a stream, refused (InputError) past MAX_STREAM_BYTES."""
    parts: list[bytes] = []
    size = 0
    while block := stream.read(_READ_BLOCK):
        size += len(block)
        if size > MAX_STREAM_BYTES:
            raise InputError(
                f"{name} gave more than {MAX_STREAM_BYTES >> 20} MiB: save the corpus to a file and give its path "
                "(a regular file has no limit)."
            )
        parts.append(block)
    return b"".join(parts)


def _decoded_lines(data: bytes) -> Iterator[tuple[int, str | None]]:
    """(line number, text without its line break), or None for a line that is not valid UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for n, raw in enumerate(data.split(b"\n"), start=1):
        try:
            yield n, raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            yield n, None


def _bad_utf8(n: int) -> RowError:
    return RowError(n, None, f"line {n} is not valid UTF-8: convert the file, e.g. iconv -f latin1 -t utf-8.")


def _text_rows(lines: list[tuple[int, str | None]], kind: str) -> Corpus:
    corpus = Corpus()
    for n, text in lines:
        if text is None:
            corpus.errors.append(_bad_utf8(n))
        elif text.strip():
            corpus.rows.append(CorpusRow(n, str(n), text))
    return corpus


def _table_rows(lines: list[tuple[int, str | None]], kind: str) -> Corpus:
    corpus = Corpus()
    good = [(n, t) for n, t in lines if t is not None]
    first_good = good[0][0] if good else None
    for n, t in lines:
        if t is None:
            if first_good is None or n < first_good:
                raise InputError(f"the header (line {n}) is not valid UTF-8: convert the file to UTF-8.")
            corpus.errors.append(_bad_utf8(n))
    if not any(t.strip() for _, t in good):
        raise InputError(f"the {kind.upper()} input is empty: it needs a header line with id and text.")
    delimiter = "\t" if kind == "tsv" else ","
    numbers = [n for n, _ in good]
    reader = csv.reader((t for _, t in good), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
        _check_header(header, kind)
        while True:
            start = reader.line_num  # index in ``numbers`` of the record's first line
            values = next(reader, None)
            if values is None:
                break
            n = numbers[min(start, len(numbers) - 1)]
            if not any(v.strip() for v in values):
                continue  # a blank line
            if len(values) != len(header):
                corpus.errors.append(
                    RowError(n, None, f"line {n} has {len(values)} fields, the header {len(header)}: quote the text.")
                )
                continue
            _add_record(corpus, n, dict(zip(header, values, strict=True)))
    except csv.Error as err:
        raise InputError(f"the {kind.upper()} input cannot be parsed near line {reader.line_num}: {err}.") from None
    corpus.ignored_columns = [h for h in header if h not in COLUMNS]
    return corpus


def _check_header(header: list[str], kind: str) -> None:
    if "text" not in header:
        raise InputError(
            f"the {kind.upper()} header has no text column (found: {', '.join(header) or 'nothing'}): "
            "the first line must name the columns, e.g. id,text."
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"the {kind.upper()} header names {', '.join(dupes)} twice: keep one of each.")


def _json_rows(lines: list[tuple[int, str | None]], kind: str) -> Corpus:
    corpus = Corpus()
    records: list[tuple[int, dict[str, object]]] = []
    for n, t in lines:
        if t is None:
            corpus.errors.append(_bad_utf8(n))
            continue
        if not t.strip():
            continue
        try:
            record = json.loads(t)
        except ValueError as err:
            corpus.errors.append(RowError(n, None, f"line {n} is not valid JSON ({err.msg}): one object per line."))
            continue
        if not isinstance(record, dict):
            corpus.errors.append(RowError(n, None, f'line {n} is not a JSON object: use {{"id": ..., "text": ...}}.'))
            continue
        records.append((n, record))
    if records:
        _check_has_text([r for _, r in records], "the JSONL input")
    elif not corpus.errors:
        raise InputError('the JSONL input is empty: give one object per line, e.g. {"id": "a1", "text": "Hello."}')
    ignored: set[str] = set()
    for n, record in records:
        ignored.update(k for k in record if k not in COLUMNS)
        _add_record(corpus, n, record)
    corpus.ignored_columns = sorted(ignored)
    return corpus


def _check_has_text(records: list[dict[str, object]], what: str) -> None:
    if not any("text" in r for r in records):
        raise InputError(f'{what} has no "text" key in any row: each row needs one, e.g. {{"id": "a1", "text": "Hi."}}')


def _add_record(corpus: Corpus, n: int, record: dict[str, object]) -> None:
    rid = record.get("id")
    rid = str(n) if rid is None or (isinstance(rid, str) and not rid.strip()) else rid
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        corpus.errors.append(RowError(n, None, f"line {n}: the id must be a string or a whole number."))
        return
    rid = str(rid).strip()
    text = record.get("text")
    if not isinstance(text, str):
        what = "no text" if text is None else f"a text that is a {type(text).__name__}"
        corpus.errors.append(RowError(n, rid, f"line {n} (id {rid}) has {what}: give the words to say."))
        return
    if not text.strip():
        corpus.errors.append(RowError(n, rid, f"line {n} (id {rid}) has an empty text: give the words to say."))
        return
    extra = {k: v for k, v in record.items() if k in OPTIONAL_COLUMNS and v is not None and v != ""}
    corpus.rows.append(CorpusRow(n, rid, text, extra))
