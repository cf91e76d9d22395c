"""A Piper voice's ``.onnx.json``, parsed once into a typed, frozen config."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tts_accel.core.errors import VoiceError

#: Samples per latent frame of a Piper decoder: it upsamples 8 x 8 x 4 (the split graphs stamp
#: the hop they derive; this is what code without a graph at hand assumes, and checks on use).
HOP = 256
#: Sample rates a config may state: anything else is a broken file (0, -5, 1e12 were tracebacks).
MIN_RATE, MAX_RATE = 1000, 384000
#: Symbols every Piper id sequence uses: pad, start, end (``^ _ p1 _ … pn _ $``).
REQUIRED_SYMBOLS = ("_", "^", "$")


@dataclass(frozen=True)
class PiperConfig:
    sample_rate: int
    #: phoneme symbol -> ids (piper-phonemize's map: a symbol may stand for several ids)
    id_map: Mapping[str, list[int]] = field(repr=False)
    espeak_voice: str = "en-us"
    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w: float = 0.8

    @classmethod
    def from_dict(cls, data: Mapping[str, object], source: str = "the voice config") -> PiperConfig:
        try:
            audio = data["audio"]
            inference = data.get("inference", {}) or {}
            espeak = data.get("espeak", {}) or {}
            config = cls(
                sample_rate=int(audio["sample_rate"]),  # type: ignore[index]
                id_map=dict(data["phoneme_id_map"]),  # type: ignore[call-overload]
                espeak_voice=str(espeak.get("voice", "en-us")),  # type: ignore[union-attr]
                noise_scale=float(inference.get("noise_scale", 0.667)),  # type: ignore[union-attr]
                length_scale=float(inference.get("length_scale", 1.0)),  # type: ignore[union-attr]
                noise_w=float(inference.get("noise_w", 0.8)),  # type: ignore[union-attr]
            )
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as err:
            raise VoiceError(f"{source} is not a Piper config: {err}") from err
        problem = config.problem()
        if problem:
            raise VoiceError(f"{source} is not a usable Piper config: {problem}; fix the file or reinstall the voice.")
        return config

    def problem(self) -> str | None:
        """What makes this config unusable (the one check every Piper config passes), or None."""
        if not MIN_RATE <= self.sample_rate <= MAX_RATE:
            return f"audio.sample_rate {self.sample_rate} is not a sample rate ({MIN_RATE} to {MAX_RATE} Hz)"
        missing = [s for s in REQUIRED_SYMBOLS if s not in self.id_map]
        if missing:
            return f"phoneme_id_map has no {' '.join(repr(s) for s in missing)} (pad, start and end symbols)"
        for symbol, ids in self.id_map.items():
            if not isinstance(ids, list) or not ids or not all(type(i) is int and i >= 0 for i in ids):
                return f"phoneme_id_map[{symbol!r}] is {ids!r}, not a list of ids"
        for name in ("noise_scale", "length_scale", "noise_w"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                return f"inference.{name} {value} is not a finite, non-negative number"
        return None

    @classmethod
    def load(cls, path: Path) -> PiperConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise VoiceError(f"voice config {path} is not a Piper config: {err}") from err
        if not isinstance(data, dict):
            raise VoiceError(f"voice config {path} is not a Piper config: not a JSON object")
        return cls.from_dict(data, f"voice config {path}")
