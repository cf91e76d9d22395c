"""A Piper voice's ``.onnx.json``, parsed once into a typed, frozen config."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tts_accel.core.errors import VoiceError

#: Samples per latent frame of a Piper decoder: it upsamples 8 x 8 x 4 (the split graphs stamp
#: the hop they derive; this is what code without a graph at hand assumes, and checks on use).
HOP = 256


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
            return cls(
                sample_rate=int(audio["sample_rate"]),  # type: ignore[index]
                id_map=dict(data["phoneme_id_map"]),  # type: ignore[call-overload]
                espeak_voice=str(espeak.get("voice", "en-us")),  # type: ignore[union-attr]
                noise_scale=float(inference.get("noise_scale", 0.667)),  # type: ignore[union-attr]
                length_scale=float(inference.get("length_scale", 1.0)),  # type: ignore[union-attr]
                noise_w=float(inference.get("noise_w", 0.8)),  # type: ignore[union-attr]
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise VoiceError(f"{source} is not a Piper config: {err}") from err

    @classmethod
    def load(cls, path: Path) -> PiperConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise VoiceError(f"voice config {path} is not a Piper config: {err}") from err
        if not isinstance(data, dict):
            raise VoiceError(f"voice config {path} is not a Piper config: not a JSON object")
        return cls.from_dict(data, f"voice config {path}")
