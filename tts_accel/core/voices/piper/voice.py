"""Piper VITS voices: espeak-ng IPA -> ids in the piper-phonemize layout."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from tts_accel.core.errors import VoiceError, torch_missing
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.text.phonemize import phonemize
from tts_accel.core.text.samples import PACKAGED
from tts_accel.core.voices.base import Backend, SymbolPositions, Voice
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.piper.config import HOP, PiperConfig

PAD, BOS, EOS = "_", "^", "$"
#: The plan's precision names (shared with the ONNX backend) -> the torch backend's dtype names.
TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
# Symbols that carry no sound of their own: a chunk made only of these is skipped.
_SILENT = set(" !\"'(),-.:;?" + PAD + BOS + EOS + "ˈˌː")


class PiperVoice(Voice):
    family = "piper"
    hop = HOP  # samples per latent frame

    def __init__(self, model_path: Path, config_path: Path | None = None, name: str | None = None):
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        if not self.model_path.is_file():
            raise VoiceError(f"voice model {self.model_path} not found: give a path to a Piper .onnx file.")
        if not self.config_path.is_file():
            raise VoiceError(
                f"voice config {self.config_path} not found: a Piper voice needs its .onnx.json beside it."
            )
        self.config = PiperConfig.load(self.config_path)
        self.id_map = self.config.id_map
        self.sample_rate = self.config.sample_rate
        self.name = name or self.model_path.name.removesuffix(".onnx")
        self.language = self.config.espeak_voice
        self.default_noise_scale = self.config.noise_scale
        self.default_noise_w = self.config.noise_w
        self._silent_ids = {i for sym in _SILENT if sym in self.id_map for i in self.id_map[sym]}
        self.chunk_budget = 600  # ids: about 300 phonemes, two long sentences

    def phonemes(self, text: str) -> str:
        return phonemize(text, self.language)

    def encode(self, text: str) -> np.ndarray:
        return _encode(self, text)

    def ids_for_phonemes(self, phonemes: str) -> np.ndarray:
        """``^ _ p1 _ p2 _ … pn _ $``; symbols the voice does not know are skipped."""
        arr = self.symbol_positions(unicodedata.normalize("NFD", phonemes)).ids
        if not any(int(i) not in self._silent_ids for i in arr):
            return np.zeros(0, dtype=np.int64)
        return arr

    def symbols(self, text: str) -> str:
        """The NFD phoneme string whose characters map one by one onto ids (word timing)."""
        return unicodedata.normalize("NFD", self.phonemes(text))

    def symbol_positions(self, symbols: str) -> SymbolPositions:
        """Ids ``^ _ p1 _ … pn _ $`` (one duration per id); a character owns its id(s) and the
        pad after them."""
        pad = self.id_map[PAD]
        ids = [*self.id_map[BOS], *pad]
        ranges: list[tuple[int, int] | None] = []
        for ch in symbols:
            mapped = self.id_map.get(ch)
            if mapped is None:
                ranges.append(None)
                continue
            first = len(ids)
            ids.extend(mapped)
            ids.extend(pad)
            ranges.append((first, len(ids)))
        ids.extend(self.id_map[EOS])
        return SymbolPositions(np.asarray(ids, dtype=np.int64), ranges)

    def resolve(self, params: SynthParams) -> SynthParams:
        return replace(
            params,
            noise_scale=self.default_noise_scale if params.noise_scale is None else params.noise_scale,
            noise_w=self.default_noise_w if params.noise_w is None else params.noise_w,
        )

    def create_backend(self, plan: ExecutionPlan) -> Backend:
        if plan.backend == "torch":
            try:
                from tts_accel.core.voices.piper.torch_vits.backend import TorchVitsBackend
            except ImportError as err:
                raise torch_missing(f"mode {plan.mode!r}") from err
            return TorchVitsBackend(
                self.model_path, self.config, mode=plan.mode, device=plan.device,
                dtype=TORCH_DTYPES[plan.precision], threads=plan.intra_op_threads,
            )  # fmt: skip
        from tts_accel.core.voices.piper.onnx import PiperOnnxBackend

        return PiperOnnxBackend(self.model_path, self.sample_rate, plan, calibration=self.calibration_ids)

    def calibration_ids(self) -> list[np.ndarray]:
        """Ids of the shipped paragraph (8 sentences, about 35 s of speech): what int8
        quantization measures activation ranges on. Not the Harvard list that tier 3 scores."""
        from tts_accel.core.text.chunking import chunk_text, normalize

        # the shipped copy, never $TTS_ACCEL_TEXTS: the int8 graph's cache key does not name the text
        text = (PACKAGED / "paragraph.txt").read_text(encoding="utf-8")
        return [self.encode(piece.text) for piece in chunk_text(normalize(text), self.chunk_budget, self.measure)]


@lru_cache(maxsize=8192)
def _encode_cached(voice: PiperVoice, text: str) -> bytes:
    return voice.ids_for_phonemes(voice.phonemes(text)).tobytes()


def _encode(voice: PiperVoice, text: str) -> np.ndarray:
    # Cached as bytes so that callers can never mutate a shared array.
    return np.frombuffer(_encode_cached(voice, text), dtype=np.int64).copy()
