"""PCM conversion, silence, the WAV header and a streaming resampler.

The sinks themselves (atomic file, in-place target, stdout; every format) are in
:mod:`tts_accel.core.audio.sinks`.
"""

from __future__ import annotations

import math
import struct

import numpy as np


def to_pcm16(audio: np.ndarray, volume: float = 1.0) -> np.ndarray:
    """float32 in [-1, 1] -> int16, scaled by ``volume`` and clipped (never wraps around)."""
    scaled = audio.astype(np.float32, copy=False) * np.float32(volume * 32767.0)
    return np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.float32)


def wav_header(sample_rate: int, data_bytes: int = 0xFFFFFFFF - 36) -> bytes:
    """A 44-byte PCM16 mono WAV header. The default sizes mark a stream of unknown length."""
    riff_size = min(36 + data_bytes, 0xFFFFFFFF)
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", riff_size, b"WAVE", b"fmt ", 16, 1, 1,
        sample_rate, sample_rate * 2, 2, 16, b"data", min(data_bytes, 0xFFFFFFFF),
    )  # fmt: skip


class Resampler:
    """Streaming polyphase resampler for int16 mono PCM (windowed-sinc, Kaiser beta 8.6).

    For codecs that accept only some rates (Opus: 8/12/16/24/48 kHz; the Piper voices are
    22.05 kHz). ``process`` takes any number of samples and returns what can be computed so
    far; ``flush`` returns the rest, so the total is ``round(n * dst / src)`` samples, aligned
    with the input (the filter's delay is compensated). The pass band ends at 0.45 of the lower
    rate: below speech's Nyquist for 22.05 -> 24 kHz, far from audible for speech.
    """

    def __init__(self, src: int, dst: int, taps: int = 32):
        g = math.gcd(src, dst)
        self.up, self.down, self.taps = dst // g, src // g, taps
        length = taps * self.up  # filter length at the upsampled rate
        self.delay = (length - 1) // 2  # upsampled samples; an integer, so no fractional lag
        cutoff = 0.45 / max(self.up, self.down)  # cycles per upsampled sample
        n = np.arange(length) - self.delay
        window = np.i0(8.6 * np.sqrt(np.clip(1 - (n / (length / 2)) ** 2, 0, None))) / np.i0(8.6)  # Kaiser
        h = 2 * cutoff * np.sinc(2 * cutoff * n) * window * self.up
        # phases[p, i] = h[p + i * up]; reversed so that a window of input in time order dots with it
        self.phases = h.reshape(taps, self.up).T[:, ::-1].astype(np.float64)  # (up, taps)
        self.buf = np.zeros(taps - 1, dtype=np.float64)  # input history; buf[0] is input index base
        self.base = -(taps - 1)
        self.consumed = 0  # input samples seen
        self.produced = 0  # output samples given out

    def _run(self, last_output: int) -> np.ndarray:
        ks = np.arange(self.produced, last_output)
        if ks.size == 0:
            return np.zeros(0, dtype=np.int16)
        t = ks * self.down + self.delay
        newest = t // self.up  # input index of the window's newest sample
        idx = newest[:, None] - (self.taps - 1) - self.base + np.arange(self.taps)[None, :]  # (K, taps)
        y = np.einsum("kt,kt->k", self.buf[idx], self.phases[t % self.up])
        self.produced = last_output
        # drop the input that no later output's window reaches
        keep_from = max(0, (last_output * self.down + self.delay) // self.up - (self.taps - 1) - self.base)
        self.buf, self.base = self.buf[keep_from:], self.base + keep_from
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)

    def process(self, pcm: np.ndarray) -> np.ndarray:
        self.buf = np.concatenate([self.buf, pcm.astype(np.float64)])
        self.consumed += len(pcm)
        available = self.base + len(self.buf) - 1  # newest input index held
        # output k needs input index (k * down + delay) // up <= available
        last = ((available + 1) * self.up - self.delay + self.down - 1) // self.down
        return self._run(max(self.produced, last))

    def flush(self) -> np.ndarray:
        total = (self.consumed * self.up + self.down // 2) // self.down
        self.buf = np.concatenate([self.buf, np.zeros(self.taps + self.delay // self.up + 1)])
        return self._run(max(self.produced, total))
