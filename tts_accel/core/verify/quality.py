"""Reference measures of a lower-precision acoustic stage against the fp32 output of the same
latent (same text, zero noise: the same length, sample for sample), and the same-voice gate.

* ``snr_db``: signal-to-noise ratio of the difference over the utterance (the cheap smoke check);
* ``mcd_db``: mel-cepstral distortion (24 coefficients, all-pass warped, no time warping: the
  durations are identical by construction), over frames within 50 dB of the loudest;
* ``mcd16_db``: the same after resampling both to 16 kHz, the band PESQ-WB and Whisper hear;
* ``pesq_wb``: PESQ wideband (ITU-T P.862.2) at 16 kHz, with the ``pesq`` package (eval extra).

A precision keeps "the same voice" (``same_voice``) when its Whisper WER is at most fp32's + 1
point on the Harvard sentences AND PESQ-WB >= 4.5 AND MCD16 <= 0.8 dB; SNR >= 30 dB is the tier-2
smoke check. WER alone cannot tell renderings apart (audio identical to 1e-6 moved it by one word
of 159; an int8 copy with PESQ 3.15 still scored fp32's WER), so the reference measures carry the
gate. Why these thresholds, with the measurements: docs/verify.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

#: The gate (docs/verify.md): fp32 against itself scores PESQ-WB 4.64 (its ceiling) and MCD 0;
#: compiled bf16 4.62 and 0.54 dB; int8 of the 12 least sensitive decoder convs 3.99 and 1.59 dB.
WER_POINTS = 1.0
PESQ_WB_MIN = 4.5
MCD16_MAX_DB = 0.8
SNR_MIN_DB = 30.0
#: all-pass warping constant per sample rate (SPTK's usual choices)
ALPHAS = {16000: 0.42, 22050: 0.455, 24000: 0.46, 44100: 0.544, 48000: 0.554}


def _pair(ref: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if ref.shape != x.shape:
        raise ValueError(
            f"reference and output differ in length ({ref.size} vs {x.size} samples): "
            "a precision change must not change durations"
        )
    return ref, x


def snr_db(ref: np.ndarray, x: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - x)^2); +inf for identical signals."""
    ref, x = _pair(ref, x)
    noise = float(np.sum((ref - x) ** 2))
    if noise == 0.0:
        return float("inf")
    signal = float(np.sum(ref**2))
    return 10.0 * float(np.log10(signal / noise)) if signal > 0 else float("-inf")


def resample(audio: np.ndarray, rate: int, target: int = 16000) -> np.ndarray:
    """Polyphase resampling (scipy's ``resample_poly`` when installed, else an FFT resampler)."""
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if rate == target:
        return audio
    g = gcd(target, rate)
    try:
        from scipy.signal import resample_poly
    except ImportError:
        n = int(round(audio.size * target / rate))
        spectrum = np.fft.rfft(audio)
        keep = min(spectrum.size, n // 2 + 1)
        out = np.fft.irfft(spectrum[:keep], n) * (n / audio.size)
        return np.asarray(out, dtype=np.float64)
    return np.asarray(resample_poly(audio, target // g, rate // g), dtype=np.float64)


def mel_cepstrum(audio: np.ndarray, sample_rate: int, order: int = 24, n_fft: int = 1024,
                 hop: int = 256) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(frames, order + 1) mel-cepstra of ln|X| on an all-pass warped frequency axis, and each
    frame's energy in dB. The log spectrum is sampled where the warping maps a uniform grid,
    then taken to the quefrency domain (a non-iterative mel-cepstrum)."""
    alpha = ALPHAS.get(sample_rate, 0.455)
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if audio.size < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.size))
    n_frames = 1 + (audio.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = audio[idx] * np.hanning(n_fft)[None, :]  # (frames, n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-10  # (frames, n_fft / 2 + 1)
    omega = np.linspace(0.0, np.pi, power.shape[1])
    # inverse warping (all-pass with -alpha): the linear frequency at each uniform warped frequency
    lin = omega - 2.0 * np.arctan(alpha * np.sin(omega) / (1.0 + alpha * np.cos(omega)))
    log_amp = 0.5 * np.log(power)
    warped = np.stack([np.interp(lin, omega, row) for row in log_amp])
    cep = np.fft.irfft(warped, axis=1)[:, : order + 1]  # real cepstrum of the warped log spectrum
    cep[:, 1:] *= 2.0  # one-sided: c_d for d >= 1 carries both halves of the symmetric spectrum
    energy_db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return cep, energy_db


def mcd_db(ref: np.ndarray, x: np.ndarray, sample_rate: int, order: int = 24, floor_db: float = -50.0) -> float:
    """Mean mel-cepstral distortion in dB over c1..c_order, on frames within ``floor_db`` of the
    loudest reference frame (silence would dominate otherwise)."""
    ref, x = _pair(ref, x)
    c_ref, e_ref = mel_cepstrum(ref, sample_rate, order)
    c_x, _ = mel_cepstrum(x, sample_rate, order)
    keep = e_ref > e_ref.max() + floor_db
    diff = c_ref[keep, 1:] - c_x[keep, 1:]
    per_frame = (10.0 / np.log(10.0)) * np.sqrt(2.0 * np.sum(diff**2, axis=1))
    return float(np.mean(per_frame)) if per_frame.size else 0.0


def mcd16_db(ref: np.ndarray, x: np.ndarray, sample_rate: int, order: int = 24) -> float:
    """MCD at 16 kHz. At 22.05 kHz bf16's MCD (1.8-2.1 dB) comes from its noise floor above
    8 kHz, where speech has little energy (per-band SNR 19-22 dB there, 41-43 dB below 2 kHz);
    at 16 kHz it is 0.5-0.6 dB, while a real degradation (int8 of 12 decoder convs) stays 1.6 dB."""
    ref, x = _pair(ref, x)
    return mcd_db(resample(ref, sample_rate), resample(x, sample_rate), 16000, order)


def pesq_wb(ref: np.ndarray, x: np.ndarray, sample_rate: int) -> float | None:
    """PESQ wideband MOS-LQO (1.0-4.64) at 16 kHz; None without the ``pesq`` package."""
    try:
        from pesq import pesq
    except ImportError:
        return None
    ref, x = _pair(ref, x)
    r16, x16 = resample(ref, sample_rate).astype(np.float32), resample(x, sample_rate).astype(np.float32)
    try:
        return float(pesq(16000, r16, x16, "wb"))
    except Exception:  # PESQ refuses utterances it finds no speech in: no verdict, not a crash
        return None


@dataclass(frozen=True)
class Quality:
    """An engine's reference measures over a set of utterances (medians; the worst SNR too)."""

    snr_db: float
    snr_worst_db: float
    mcd16_db: float
    pesq_wb: float | None  # None without the pesq package
    wer: float | None = None  # per cent, with the eval extra
    wer_fp32: float | None = None

    def to_dict(self) -> dict[str, float | bool | str]:
        out: dict[str, float | bool | str] = {"snr_db": _r(self.snr_db), "snr_worst_db": _r(self.snr_worst_db),
                                              "mcd16_db": _r(self.mcd16_db)}  # fmt: skip
        for name in ("pesq_wb", "wer", "wer_fp32"):
            value = getattr(self, name)
            if value is not None:
                out[name] = _r(value)
        ok, why = same_voice(self)
        out["same_voice"], out["verdict"] = ok, why
        return out


def _r(value: float) -> float:
    return round(float(value), 3) if np.isfinite(value) else float(value)


def measure(refs: list[np.ndarray], outs: list[np.ndarray], sample_rate: int, pesq: bool = True) -> Quality:
    """SNR, MCD16 and (when installed and asked) PESQ-WB of ``outs`` against ``refs``, pairwise."""
    snrs = [snr_db(r, o) for r, o in zip(refs, outs, strict=True)]
    mcds = [mcd16_db(r, o, sample_rate) for r, o in zip(refs, outs, strict=True)]
    scores = [pesq_wb(r, o, sample_rate) for r, o in zip(refs, outs, strict=True)] if pesq else []
    known = [s for s in scores if s is not None]
    return Quality(
        snr_db=float(np.median(snrs)), snr_worst_db=float(np.min(snrs)), mcd16_db=float(np.median(mcds)),
        pesq_wb=float(np.median(known)) if known else None,
    )  # fmt: skip


def same_voice(q: Quality) -> tuple[bool, str]:
    """Whether an engine keeps the voice, and why not when it does not. A measure that was not
    taken (no WER without the eval extra, no PESQ without ``pesq``) is named in the reason."""
    if q.wer is not None and q.wer_fp32 is not None and q.wer - q.wer_fp32 > WER_POINTS:
        return False, f"WER {q.wer:.1f} % is more than {WER_POINTS:g} point above fp32's {q.wer_fp32:.1f} %"
    if q.pesq_wb is not None and q.pesq_wb < PESQ_WB_MIN:
        return False, f"PESQ-WB {q.pesq_wb:.2f} against fp32 is below {PESQ_WB_MIN}"
    if q.mcd16_db > MCD16_MAX_DB:
        return False, f"mel-cepstral distortion {q.mcd16_db:.2f} dB (16 kHz) is above {MCD16_MAX_DB} dB"
    missing = [name for name, v in (("WER", q.wer), ("PESQ-WB", q.pesq_wb)) if v is None]
    if missing:
        return True, f"same voice by the measures taken ({' and '.join(missing)} not measured)"
    return True, "same voice: WER, PESQ-WB and MCD16 within the thresholds"
