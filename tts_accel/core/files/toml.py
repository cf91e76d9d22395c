"""TOML in and out for profiles: tomllib reads, a small writer covers the flat tables we write.

A profile is top-level scalars plus tables whose values are scalars, lists of scalars or further
tables (written as ``[a.b]`` headers), so a full TOML writer (and a dependency) is not needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TOMLDecodeError = tomllib.TOMLDecodeError

def loads(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to a profile: use str, int, float, bool or a list")


def _key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key) and key.isascii()
    return key if bare else _quote(key)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _quote(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters (DEL too) escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dumps(data: Mapping[str, object], header: str = "") -> str:
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    for key, value in data.items():
        if key not in tables and value is not None:
            lines.append(f"{_key(key)} = {_scalar(value)}")
    for name, table in tables.items():
        _table(lines, [name], table)
    return "\n".join(lines) + "\n"


def _table(lines: list[str], path: list[str], table: Mapping[str, object]) -> None:
    """``[a.b]`` with the table's scalars, then its sub-tables, each under its own header."""
    subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    scalars = [(k, v) for k, v in table.items() if k not in subtables and v is not None]
    if scalars or not subtables:
        lines += ["", "[" + ".".join(_key(p) for p in path) + "]"]
        lines += [f"{_key(key)} = {_scalar(value)}" for key, value in scalars]
    for key, sub in subtables.items():
        _table(lines, [*path, key], sub)
