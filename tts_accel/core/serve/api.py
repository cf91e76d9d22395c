"""OpenAI's speech request, checked field by field, with OpenAI's error shape. No web framework here.

``parse_speech(body, limits, voices)`` turns a decoded JSON body into a :class:`SpeechRequest` or
raises :class:`ApiError` (status, message, the field at fault, a code). Our extensions ride in the
same body: ``noise_scale``, ``noise_w``, ``sentence_silence``, ``seed``, ``lang``, ``timestamps``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tts_accel.core.errors import ApiError, InputError
from tts_accel.core.voices.params import NOISE_RANGE, SILENCE_RANGE, SynthParams

MODEL = "tts-accel"
#: OpenAI's model names, served by the default plan (so off-the-shelf clients work unchanged)
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
#: OpenAI's voice names; each maps to the default voice unless ``--voice-map NAME=VOICE`` says otherwise
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse")
#: response_format -> the project's format name (core.formats); pcm is headerless 16-bit mono
#: at the voice's own rate (the X-Sample-Rate header says which; OpenAI's is 24 kHz)
FORMATS = {"mp3": "mp3", "opus": "opus", "flac": "flac", "wav": "wav", "pcm": "raw"}
MEDIA_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}
SPEED_RANGE = (0.25, 4.0)
STREAM_FORMATS = ("audio", "sse")
FIELDS = {
    "model",
    "input",
    "voice",
    "response_format",
    "speed",
    "stream_format",
    "instructions",
    "noise_scale",
    "noise_w",
    "sentence_silence",
    "seed",
    "lang",
    "timestamps",
}





@dataclass(frozen=True)
class Limits:
    max_input_chars: int = 4096
    formats: tuple[str, ...] = tuple(FORMATS)  # response formats this installation can encode

    @property
    def max_body_bytes(self) -> int:
        """UTF-8 takes up to 4 bytes a character, JSON escapes up to 6 (\\uXXXX); plus the other fields."""
        return 6 * self.max_input_chars + 16_384


@dataclass(frozen=True)
class SpeechRequest:
    input: str
    voice: str  # an installed voice name
    response_format: str = "mp3"
    stream_format: str = "audio"
    params: SynthParams = field(default_factory=SynthParams)
    lang: str | None = None
    timestamps: bool = False


def voice_table(default_voice: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """OpenAI voice name -> installed voice: every OpenAI name to the default voice, then the overrides."""
    table = dict.fromkeys(OPENAI_VOICES, default_voice)
    table.update(overrides or {})
    return table


def _number(body: Mapping[str, Any], name: str, lo: float, hi: float, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError(400, f"{name} must be a number from {lo} to {hi}.", name, "invalid_type")
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} {value} is out of range: use a value from {lo} to {hi}.", name, "out_of_range")
    return float(value)


def _string(body: Mapping[str, Any], name: str, default: str | None) -> str | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string.", name, "invalid_type")
    return value


def parse_speech(
    body: Any, limits: Limits, voices: Mapping[str, str], installed: tuple[str, ...], default_voice: str
) -> SpeechRequest:
    """The request in ``body`` (decoded JSON), or ApiError naming the field at fault."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object.", None, "invalid_json")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise ApiError(
            400,
            f"unknown field {unknown[0]!r}: the fields are {', '.join(sorted(FIELDS))}.",
            unknown[0],
            "unknown_parameter",
        )
    model = _string(body, "model", MODEL)
    if model not in (MODEL, *MODEL_ALIASES):
        raise ApiError(
            400,
            f"unknown model {model!r}: use {MODEL} or one of {', '.join(MODEL_ALIASES)}.",
            "model",
            "model_not_found",
        )
    text = body.get("input")
    if not isinstance(text, str):
        raise ApiError(400, "input is required: the text to speak, as a string.", "input", "missing_input")
    if len(text) > limits.max_input_chars:
        raise ApiError(
            413,
            f"input has {len(text)} characters; this server takes at most {limits.max_input_chars} "
            "(--max-input-chars): split the text.",
            "input",
            "input_too_long",
        )
    if not text.strip():
        raise ApiError(400, "input is empty: give some words to say.", "input", "empty_input")
    voice = _string(body, "voice", default_voice) or default_voice
    voice = voices.get(voice, voice)
    if voice not in installed:
        known = ", ".join([*installed, *sorted(voices)])
        raise ApiError(400, f"unknown voice {voice!r}: use one of {known}.", "voice", "voice_not_found")
    fmt = _string(body, "response_format", "mp3") or "mp3"
    if fmt not in limits.formats:
        raise ApiError(
            400,
            f"response_format {fmt!r} is not available here: use one of {', '.join(limits.formats)}.",
            "response_format",
            "unsupported_format",
        )
    stream_format = _string(body, "stream_format", "audio") or "audio"
    if stream_format not in STREAM_FORMATS:
        raise ApiError(400, f"stream_format {stream_format!r}: use audio or sse.", "stream_format", "invalid_value")
    _string(body, "instructions", None)  # OpenAI's style prompt: accepted, not applied (docs/serve.md)
    speed = _number(body, "speed", *SPEED_RANGE, 1.0)
    noise_scale = _number(body, "noise_scale", *NOISE_RANGE, None)
    noise_w = _number(body, "noise_w", *NOISE_RANGE, None)
    sentence_silence = _number(body, "sentence_silence", *SILENCE_RANGE, 0.2)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31):
        raise ApiError(400, f"seed must be an integer from 0 to {2**31 - 1}.", "seed", "invalid_value")
    lang = _string(body, "lang", None)
    timestamps = body.get("timestamps", False)
    if not isinstance(timestamps, bool):
        raise ApiError(400, "timestamps must be true or false.", "timestamps", "invalid_type")
    try:
        params = SynthParams(
            speed=speed or 1.0,
            noise_scale=noise_scale,
            noise_w=noise_w,
            sentence_silence=0.2 if sentence_silence is None else sentence_silence,
            seed=seed,
        )
    except InputError as err:
        raise ApiError(400, str(err), None, "invalid_value") from None
    return SpeechRequest(text, voice, fmt, stream_format, params, lang, timestamps)
