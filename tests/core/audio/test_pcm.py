from __future__ import annotations

import numpy as np
import pytest

from tts_accel.core.audio.pcm import Resampler, to_pcm16, wav_header


def test_pcm16_clips_instead_of_wrapping():
    pcm = to_pcm16(np.array([0.0, 0.5, 1.5, -2.0], dtype=np.float32), volume=1.0)
    assert pcm.tolist() == [0, 16384, 32767, -32768]
    assert to_pcm16(np.array([0.5], dtype=np.float32), volume=4.0).tolist() == [32767]


def test_header_sizes():
    header = wav_header(22050, 200)
    assert len(header) == 44 and header[4:8] == (236).to_bytes(4, "little")
    assert wav_header(22050)[40:44] == b"\xdb\xff\xff\xff"  # a stream: "as long as it goes"


def _sine(rate: int, seconds: float, hz: float = 1000.0) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate) * 10000


@pytest.mark.parametrize(("src", "dst"), [(22050, 24000), (22050, 48000), (24000, 16000)])
def test_resampler_keeps_a_tone_and_the_length_whatever_the_chunking(src, dst):
    x = np.rint(_sine(src, 1.0)).astype(np.int16)
    outs = []
    for sizes in ([len(x)], [1, 7, 333, 5000, 2]):
        r, parts, pos = Resampler(src, dst), [], 0
        for size in sizes + [len(x)]:
            parts.append(r.process(x[pos : pos + size]))
            pos += size
        parts.append(r.flush())
        outs.append(np.concatenate(parts))
    assert np.array_equal(outs[0], outs[1])  # streaming gives the same samples as one call
    y = outs[0]
    assert len(y) == round(len(x) * dst / src)
    ideal = _sine(dst, len(y) / dst)
    edge = dst // 100  # the first and last 10 ms see the zero padding
    assert np.abs(y[edge:-edge] - ideal[edge:-edge]).max() < 15  # -57 dB of the tone, aligned in time
