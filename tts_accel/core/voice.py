"""The voice interface: a text front-end (phonemes -> ids) plus a backend factory."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from tts_accel.core.backends.base import Backend
from tts_accel.core.errors import InputError
from tts_accel.core.params import SynthParams
from tts_accel.core.plan import ExecutionPlan


class Voice(ABC):
    """One loaded voice. ``encode`` runs on one thread only (espeak is not thread-safe)."""

    name: str
    family: str
    language: str
    sample_rate: int
    #: Longest id sequence one chunk may have; the chunker splits text to stay under it.
    chunk_budget: int

    @abstractmethod
    def encode(self, text: str) -> np.ndarray:
        """Text -> (T,) int64 ids for the model. Empty when nothing is pronounceable."""

    def measure(self, text: str) -> int:
        return len(self.encode(text))

    @abstractmethod
    def create_backend(self, plan: ExecutionPlan) -> Backend:
        """A backend running this voice's model as ``plan`` says."""

    #: Front-end languages ``for_language`` accepts (the first is the default).
    languages: tuple[str, ...] = ()

    def for_language(self, lang: str) -> Voice:
        """This voice reading text of language ``lang`` (``tts synth --lang``)."""
        if lang in self.languages or lang == self.language:
            return self
        choices = ", ".join(self.languages or (self.language,))
        raise InputError(f"voice {self.name!r} cannot read --lang {lang!r}: use one of {choices}.")

    def notes(self) -> list[str]:
        """One-line remarks on what the front-end did so far (symbols dropped...), for --verbose."""
        return []

    def resolve(self, params: SynthParams) -> SynthParams:
        """Fill the parameters the user left to the voice (noise scales) with its defaults."""
        return params
