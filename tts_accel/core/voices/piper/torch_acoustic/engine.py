"""TorchDecoderEngine: the acoustic stage's ``DecoderEngine`` on PyTorch (eager or AOTInductor).

Contract (``core.acoustic.engine.DecoderEngine``): ``run(z_ctx)`` takes one window's context,
(192, W) float32 latent frames, and returns exactly W * hop float32 samples. A compiled engine
has fixed context lengths (``shapes``): a window runs at the smallest one >= W, right-padded and
masked inside the net (exact: 0.0 difference in fp32), so any W up to ``max(shapes)`` works and
the caller cuts the core out as it does for ONNX Runtime. An eager engine takes any W.

Compiled packages are built once per (model sha256, torch version, shape, precision, threads,
ISA class, CPU flags, net version) and cached (``aoti.AotiStore``); a run that finds them on
disk only loads them (``load``; ``prepare`` also calls each shape once, because the first call
after loading sets up oneDNN's kernels and costs about 10x a steady one). ``allow_compile=False``
refuses to compile (a ``ModelError`` naming `tts tune`), which is how `tts synth` keeps its
promise of never compiling unless asked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tts_accel.core.errors import ModelError
from tts_accel.core.voices.piper.config import HOP
from tts_accel.core.voices.piper.torch_acoustic._runtime import torch
from tts_accel.core.voices.piper.torch_acoustic.aoti import AotiStore
from tts_accel.core.voices.piper.torch_acoustic.artifacts import ArtifactKey, keys_for
from tts_accel.core.voices.piper.torch_acoustic.net import CHANNELS, Decoder2d, build_decoder


class TorchDecoderEngine:
    """The decoder on torch. ``precision`` fp32 | bf16; ``compiled``: AOTInductor at ``shapes``
    (context lengths, frames), else eager at any length. ``threads``: OpenMP threads per call
    (baked into a package); ``runners``: calls that may run at once (workers sharing it)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        precision: str = "bf16",
        compiled: bool = True,
        shapes: Sequence[int] = (),
        threads: int = 1,
        runners: int = 1,
        margins: Any = None,
        cache_root: Path | None = None,
        allow_compile: bool = True,
        on_compile: Callable[[ArtifactKey], None] | None = None,
        net: Decoder2d | None = None,
    ) -> None:
        if compiled and not shapes:
            raise ValueError("a compiled engine needs at least one window shape (frames)")
        if net is not None and net.precision != precision:
            raise ValueError(f"the given net is {net.precision}, not {precision}")
        if threads < 1:
            raise ValueError("threads must be at least 1")
        torch.set_num_threads(threads)
        self.model_path = Path(model_path)
        self.precision = precision
        self.compiled = compiled
        self.shapes: tuple[int, ...] | None = tuple(sorted({int(s) for s in shapes})) if compiled else None
        self.threads = threads
        self.margins = margins
        self.hop = net.hop if net is not None else HOP
        self.allow_compile = allow_compile
        self.on_compile = on_compile
        self.store = AotiStore(cache_root, runners) if compiled else None
        self._net = net  # built from the ONNX weights only when needed: a package holds its own
        self._fns: dict[int, Callable[..., Any]] = {}
        self._lock = threading.Lock()
        self._keys: dict[int, ArtifactKey] = {}
        if compiled:
            assert self.shapes is not None
            self._keys = dict(zip(self.shapes, keys_for(self.model_path, precision, self.shapes, threads), strict=True))

    # -- public --------------------------------------------------------------------------------
    @property
    def net(self) -> Decoder2d:
        if self._net is None:
            self._net = build_decoder(self.model_path, self.precision)
            self.hop = self._net.hop
        return self._net

    @property
    def max_frames(self) -> int | None:
        return self.shapes[-1] if self.shapes else None

    def artifacts(self) -> list[Path]:
        """The package files this engine uses (compiled engines), whether or not they exist yet."""
        return [self.store.path(k) for k in self._keys.values()] if self.store is not None else []

    def load(self) -> TorchDecoderEngine:
        """Load (or build, where allowed) every compiled shape now (0.006 CPU-s each through the C++
        loader); a shape's first call then sets up oneDNN's kernels (about 10x a steady call).
        Eager: builds the net from the ONNX weights."""
        if not self.compiled:
            _ = self.net
        for length in self.shapes or ():
            self._callable(length)
        return self

    def prepare(self) -> TorchDecoderEngine:
        """Load every shape and call each once, so that no window pays for a first call."""
        self.load()
        with torch.no_grad():
            for length in self.shapes or ():
                self._callable(length)(*_example(length))
        return self

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        """z_ctx (192, W) float32 -> (W * hop,) float32 samples of those W frames."""
        z = np.asarray(z_ctx, dtype=np.float32)
        if z.ndim != 2 or z.shape[0] != CHANNELS or z.shape[1] == 0:
            raise ModelError(f"a decoder window is ({CHANNELS}, W) with W >= 1 latent frames, got {z.shape}")
        frames = z.shape[1]
        length = self._bucket(frames)
        x = torch.zeros((1, CHANNELS, length), dtype=torch.float32)  # (1, 192, L): right-padded
        x[0, :, :frames] = torch.from_numpy(z)
        valid = torch.tensor([frames], dtype=torch.int64)
        fn = self._callable(length) if self.compiled else self.net
        with torch.no_grad():
            audio = fn(x, valid)  # (1, L * hop)
        hop = int(audio.shape[-1]) // length
        if hop != self.hop:
            raise ModelError(f"the decoder gave {hop} samples per frame, expected {self.hop}")
        return audio[0, : frames * hop].numpy().copy()

    # -- internals -----------------------------------------------------------------------------
    def _bucket(self, frames: int) -> int:
        if self.shapes is None:
            return frames
        for length in self.shapes:
            if frames <= length:
                return length
        raise ModelError(
            f"a window of {frames} frames exceeds the largest compiled shape ({self.shapes[-1]}): "
            "the schedule and the compiled shapes disagree"
        )

    def _callable(self, length: int) -> Callable[..., Any]:
        fn = self._fns.get(length)
        if fn is not None:
            return fn
        with self._lock:
            if length not in self._fns:
                self._fns[length] = self._load_or_build(length)
            return self._fns[length]

    def _load_or_build(self, length: int) -> Callable[..., Any]:
        assert self.store is not None
        key = self._keys[length]
        if not self.allow_compile:
            runner = self.store.load(key)
            if runner is None:
                raise ModelError(
                    f"the bf16 acoustic stage's {length}-frame window shape is not compiled on this machine "
                    "and this run may not compile it: run `tts tune` (builds every shape once), or pass "
                    "--acoustic torch-bf16 explicitly"
                )
            return runner

        def export():  # type: ignore[no-untyped-def]
            with torch.no_grad():
                return torch.export.export(self.net, _example(length))

        return self.store.get_or_build(key, export, self.on_compile)


def _example(length: int) -> tuple[Any, Any]:
    return torch.zeros((1, CHANNELS, length), dtype=torch.float32), torch.tensor([length], dtype=torch.int64)
