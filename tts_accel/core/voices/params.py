"""Synthesis parameters: what the user asks the voice to do (not how it runs)."""

from __future__ import annotations

from dataclasses import dataclass

from tts_accel.core.errors import InputError

# Bounds outside which a voice produces noise or nothing; checked here so that the CLI
# and the library reject them with one message instead of a model error later.
SPEED_RANGE = (0.1, 10.0)
NOISE_RANGE = (0.0, 2.0)
SILENCE_RANGE = (0.0, 10.0)
VOLUME_RANGE = (0.0, 20.0)


@dataclass(frozen=True)
class SynthParams:
    speed: float = 1.0
    noise_scale: float | None = None  # None: the voice's own default
    noise_w: float | None = None
    sentence_silence: float = 0.2  # seconds of silence after each sentence
    volume: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _check("--speed", self.speed, SPEED_RANGE)
        if self.noise_scale is not None:
            _check("--noise-scale", self.noise_scale, NOISE_RANGE)
        if self.noise_w is not None:
            _check("--noise-w", self.noise_w, NOISE_RANGE)
        _check("--sentence-silence", self.sentence_silence, SILENCE_RANGE)
        _check("--volume", self.volume, VOLUME_RANGE)
        if self.seed is not None and not (0 <= self.seed < 2**31):
            raise InputError(f"--seed {self.seed} is out of range: use an integer from 0 to {2**31 - 1}.")

    @property
    def length_scale(self) -> float:
        return 1.0 / self.speed


def _check(flag: str, value: float, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    if not (lo <= value <= hi):  # also rejects NaN
        raise InputError(f"{flag} {value} is out of range: use a value from {lo} to {hi}.")


#: No randomness: every mode sees the same ids and the same (absent) noise, so runs repeat
#: exactly and modes can be compared sample by sample (bench, tune, verify).
ZERO_NOISE = SynthParams(noise_scale=0.0, noise_w=0.0)
